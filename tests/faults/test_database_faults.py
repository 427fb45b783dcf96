"""Disk and database faults: the API's SQLite file turned read-only, and the disk full, during an
import; a corrupt or foreign file where the API or the authorization server keeps its database.

An import that cannot be stored is answered 503 (a JSON error and ``Retry-After``), stores nothing
of its batch, and the same batch goes in once the fault is gone, without a restart.

How the faults are made, without root and without mocking SQLite:

- *read-only*: the database file's mode becomes 0444. Root ignores file modes, so when the tests
  run as root the API is started without the capabilities that let it (``api_runs``).
- *disk full*: the API's processes get an ``RLIMIT_FSIZE`` (``prlimit``) just above the size of
  every file they write, so the import's write of the WAL fails in ``write()`` with EFBIG, the
  error a process sees at a file-size limit, where a full disk says ENOSPC. It is a real failed
  write on the real file, unlike SQLite's ``PRAGMA max_page_count``, which SQLite checks itself
  before writing anything; and unlike a small filesystem it needs no mount, which a container
  without root does not allow. Raising the limit again is the disk freed.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests

from api.db import APPLICATION_ID as API_APPLICATION_ID
from api.db import create_schema
from authserver.storage import APPLICATION_ID as AUTHSERVER_APPLICATION_ID
from authserver.storage import Storage
from tests.faults.api_runs import APIOnOneDatabase
from tests.support.processes import free_port, start_part

RECORDS = 1000
# Each record's data is about 300 bytes: the batch needs well over 300 KB of the WAL.
FILLER = "x" * 300
# Room left for the log and SQLite's own small writes while the disk is "full".
FILE_SIZE_MARGIN = 64 * 1024
START_TIMEOUT = 60

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def batch_body() -> dict:
    return {
        "batch_id": "fault-batch",
        "source": "warehouse",
        "records": [
            {"external_id": f"sku-{n}", "data": {"n": n, "note": FILLER}} for n in range(RECORDS)
        ],
    }


@pytest.fixture
def api(tmp_path: Path, issuer: str, audience: str):
    running = APIOnOneDatabase(
        tmp_path, obey_permissions=True, AUTH_ISSUER=issuer, AUTH_AUDIENCE=audience
    )
    yield running
    running.stop()


def post_batch(api: APIOnOneDatabase, token: str) -> requests.Response:
    return requests.post(
        api.current.base_url + "/api/imports",
        json=batch_body(),
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "fault-key"},
        timeout=60,
    )


def stored(api: APIOnOneDatabase) -> tuple[int, int]:
    """(batches, records) in the database, and the database is intact."""
    assert api.query("PRAGMA integrity_check") == [("ok",)]
    ((batches,),) = api.query("SELECT count(*) FROM import_batches")
    ((records,),) = api.query("SELECT count(*) FROM imported_records")
    return batches, records


def assert_unavailable(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json()) == {"error", "error_description"}
    assert answer.json()["error"] == "service_unavailable"
    assert answer.headers["Retry-After"].isdigit()
    assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()


def test_a_read_only_database_answers_503_stores_nothing_and_recovers(api, token_factory, figures):
    api.start()
    token = token_factory(machine=True)
    os.chmod(api.database, 0o444)

    refused = post_batch(api, token)
    stored_while_read_only = stored(api)
    os.chmod(api.database, 0o644)
    accepted = post_batch(api, token)

    assert_unavailable(refused)
    assert stored_while_read_only == (0, 0)
    assert "readonly" in api.logs()
    assert (accepted.status_code, accepted.json()["created"]) == (201, RECORDS), accepted.text
    assert stored(api) == (1, RECORDS)
    figures(
        requests=2,
        answered_503=1,
        five_xx_other=0,
        records_expected=RECORDS,
        imported=stored(api)[1],
        duplicated=0,
    )


def largest_file(directory: Path) -> int:
    return max(path.stat().st_size for path in directory.iterdir() if path.is_file())


def test_a_full_disk_during_an_import_answers_503_stores_nothing_and_recovers(
    api, token_factory, figures
):
    run = api.start()
    token = token_factory(machine=True)
    run.limit_file_size(largest_file(api.directory) + FILE_SIZE_MARGIN)

    refused = post_batch(api, token)
    stored_while_full = stored(api)
    run.limit_file_size(resource.RLIM_INFINITY)
    accepted = post_batch(api, token)

    assert_unavailable(refused)
    assert stored_while_full == (0, 0)
    assert (accepted.status_code, accepted.json()["created"]) == (201, RECORDS), accepted.text
    assert stored(api) == (1, RECORDS)
    figures(
        requests=2,
        answered_503=1,
        five_xx_other=0,
        records_expected=RECORDS,
        imported=stored(api)[1],
        duplicated=0,
    )


# -- what is at the database's path when a part starts -------------------------------------------


def damaged_database(path: Path) -> None:
    """A real API database whose first page (the schema) is overwritten after the header."""
    create_schema(path)
    with open(path, "r+b") as file:
        file.seek(100)
        file.write(b"\xff" * 3996)


def another_applications_database(path: Path) -> None:
    """Some other program's SQLite file; its schema version happens to be the API's."""
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT);"
        "INSERT INTO photos (path) VALUES ('holiday.jpg');"
        "PRAGMA user_version = 1;"
    )
    connection.close()


UNUSABLE_FILES = {
    "a PNG image": lambda path: path.write_bytes(PNG_SIGNATURE + os.urandom(4096)),
    "random bytes": lambda path: path.write_bytes(os.urandom(8192)),
    "a damaged SQLite database": damaged_database,
    "another application's SQLite database": another_applications_database,
}


def start_with(module: str, directory: Path, **settings: str) -> tuple[int, str]:
    process = start_part(module, directory, **settings)
    try:
        output, _ = process.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"{module} started on the unusable file:\n{output}")
    return process.returncode, output


@pytest.mark.parametrize("part", ["api", "authserver"])
@pytest.mark.parametrize("kind", list(UNUSABLE_FILES))
def test_an_unusable_file_at_the_database_path_stops_the_start_with_one_line(
    tmp_path, part, kind, figures
):
    path = tmp_path / "state.sqlite3"
    UNUSABLE_FILES[kind](path)
    before = path.read_bytes()
    settings = (
        {"DATABASE_URL": f"sqlite:///{path}", "API_PORT": str(free_port())}
        if part == "api"
        else {"AUTHSERVER_DB": str(path), "AUTHSERVER_PORT": str(free_port())}
    )

    status, output = start_with(part, tmp_path, **settings)

    assert status == 1, output
    assert len(output.strip().splitlines()) == 1, output
    assert str(path) in output and "Traceback" not in output
    assert path.read_bytes() == before
    figures(starts=1, exit_status=status, output_lines=1)


def test_a_database_from_before_the_application_id_is_still_taken_by_each_part(tmp_path, figures):
    """A database made before the parts set their SQLite application id (0, the default) is
    recognised by its tables, and gets the id."""
    api_database, authserver_database = tmp_path / "api.sqlite3", tmp_path / "authserver.sqlite3"
    create_schema(api_database)
    storage = Storage.open(authserver_database)
    storage.initialize()
    storage.close()
    for path in (api_database, authserver_database):
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA application_id = 0")
        connection.close()

    create_schema(api_database)
    storage = Storage.open(authserver_database)
    storage.initialize()
    storage.close()

    assert application_id(api_database) == API_APPLICATION_ID
    assert application_id(authserver_database) == AUTHSERVER_APPLICATION_ID
    figures(databases=2, refused=0)


def application_id(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA application_id").fetchone()[0]
    finally:
        connection.close()
