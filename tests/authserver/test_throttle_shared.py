"""The throttle's windows are in the database: shared by every worker process, kept across a
restart, and read (never written) by a request that authenticates.

Each "worker" here is a ``create_app`` of its own on one database file, as gunicorn's forked
workers are; the last test starts ``python -m authserver`` as shipped, with its several workers.
"""

import json
import shutil
import sqlite3

import pytest

from authserver import create_app, storage
from authserver.cli import WORKERS
from authserver.throttle import ClientAuthenticationThrottle
from tests.authserver.helpers import (
    API_AUDIENCE,
    M2M_SECRET,
    ServerProcess,
    tenant_text,
    write_lock_held,
)
from tests.authserver.test_token_endpoint_throttle import (
    ATTACKER,
    DAEMON,
    Clients,
    assert_too_many_attempts,
    fail,
)


@pytest.fixture
def start_worker(tmp_path, database_template, clock):
    """``start_worker()``: an app on the one database of the test, on the test's clock."""
    tenant = tmp_path / "tenant.toml"
    tenant.write_text(tenant_text())
    database = tmp_path / "authserver.sqlite3"
    shutil.copy(database_template, database)
    settings = {
        "ISSUER": "http://127.0.0.1:9000/",
        "TENANT": str(tenant),
        "DATABASE": str(database),
        "CLOCK": clock,
    }
    return lambda: Clients(create_app(settings))


@pytest.fixture
def database(tmp_path):
    return tmp_path / "authserver.sqlite3"


def test_failures_split_between_two_workers_reach_the_limit_at_either(start_worker, clock):
    first, second = start_worker(), start_worker()
    for _ in range(5):
        fail(first, 1)
        fail(second, 1)
    clock.advance(100)
    assert_too_many_attempts(first.token(ATTACKER, "m2m-demo", M2M_SECRET), retry_after=200)
    assert_too_many_attempts(second.token(ATTACKER, "m2m-demo", M2M_SECRET), retry_after=200)
    assert second.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200


def test_a_restart_does_not_lift_a_limit(start_worker, clock):
    fail(start_worker(), 10)
    clock.advance(299)
    restarted = start_worker()
    assert_too_many_attempts(restarted.token(ATTACKER, "m2m-demo", M2M_SECRET), retry_after=1)
    clock.advance(1)
    assert restarted.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 200


def data_version(connection: sqlite3.Connection) -> int:
    # https://www.sqlite.org/pragma.html#pragma_data_version: it changes "if changes were
    # committed to the database by any other connection in the interim".
    return connection.execute("PRAGMA data_version").fetchone()[0]


def test_a_successful_authentication_writes_nothing(start_worker, database):
    worker = start_worker()
    fail(worker, 1)
    watcher = sqlite3.connect(database)
    before = data_version(watcher)
    for _ in range(3):
        assert worker.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 200
    assert data_version(watcher) == before, "a client-credentials grant committed a write"
    fail(worker, 1)
    assert data_version(watcher) != before, "a failure is counted in the database"
    watcher.close()


@pytest.fixture
def locked(database, monkeypatch):
    """``with locked():`` another process holds the write lock (an admin command, say) past the
    busy timeout."""
    monkeypatch.setattr(storage, "LOCK_TIMEOUT_SECONDS", 0.05)
    return lambda: write_lock_held(database)


def test_a_failure_the_locked_database_cannot_store_is_still_a_401(start_worker, locked, caplog):
    worker = start_worker()
    with locked():
        fail(worker, 1)
        assert worker.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200
    assert "failed authentication not counted" in caplog.text
    assert "SQLITE_BUSY" in caplog.text


def test_python_m_authserver_counts_failures_across_its_workers(tmp_path):
    assert WORKERS > 1
    server = ServerProcess(tmp_path)
    server.start()
    try:
        # requests.post without a session: a connection of its own each, which any worker takes.
        wrong = [
            server.client_credentials(audience=API_AUDIENCE, client_secret=f"wrong-{n}")
            for n in range(10)
        ]
        right = [server.client_credentials(audience=API_AUDIENCE) for _ in range(2 * WORKERS)]
    finally:
        server.stop()
    assert [answer.status_code for answer in wrong] == [401] * 10
    assert [answer.status_code for answer in right] == [429] * (2 * WORKERS)
    assert all(int(answer.headers["Retry-After"]) > 0 for answer in right)


def test_failures_the_locked_database_cannot_store_still_reach_the_limit(
    start_worker, locked, clock
):
    # While the database refuses writes, a worker counts the failures in its own memory: a storage
    # fault lifts no limit.
    worker = start_worker()
    with locked():
        fail(worker, 10)
        assert_too_many_attempts(worker.token(ATTACKER, "m2m-demo", M2M_SECRET), retry_after=300)
    clock.advance(100)
    assert_too_many_attempts(worker.token(ATTACKER, "m2m-demo", M2M_SECRET), retry_after=200)
    assert worker.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200
    clock.advance(200)
    assert worker.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 200


@pytest.fixture
def small_table(tmp_path, clock):
    """A database of its own, and a throttle on it that keeps 20 windows per limit."""
    db = storage.Storage.open(tmp_path / "authserver.sqlite3")
    db.initialize()
    yield db, ClientAuthenticationThrottle(clock=clock, max_keys=20)
    db.close()


def test_a_full_table_makes_room_for_a_tenth_more_windows_at_once(small_table):
    db, throttle = small_table
    for address in range(20):
        throttle.record_failure(db, "m2m-demo", f"192.0.2.{address}")
    deletes = []
    db.db.set_trace_callback(
        lambda statement: deletes.append(statement) if "ORDER BY" in statement else None
    )
    for address in range(20, 22):
        throttle.record_failure(db, "m2m-demo", f"192.0.2.{address}")
    db.db.set_trace_callback(None)
    (rows,) = db.db.execute(
        "SELECT count(*) FROM client_authentication_failures WHERE counted_by = 'address'"
    ).fetchone()
    # One sorted DELETE per limit made room for two (20 - 18) windows each; the second new key
    # found room without one.
    assert len(deletes) == 2
    assert rows == 20


def test_when_the_closed_windows_make_room_no_open_one_goes(small_table, clock):
    db, throttle = small_table
    for address in range(5):
        throttle.record_failure(db, "m2m-demo", f"192.0.2.{address}")
    clock.advance(301)  # their windows have closed
    for address in range(5, 21):
        throttle.record_failure(db, "m2m-demo", f"192.0.2.{address}")
    addresses = {
        key
        for (key,) in db.db.execute(
            "SELECT key FROM client_authentication_failures WHERE counted_by = 'address'"
        )
    }
    # The 21st key found the table full: the 5 closed windows went, and every open one stayed.
    assert addresses == {json.dumps([f"192.0.2.{address}"]) for address in range(5, 21)}
