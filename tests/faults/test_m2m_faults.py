"""The m2m daemon on a short schedule while the API is killed (SIGKILL) and started again twice:
every record of a 20-record feed is imported exactly once, the daemon keeps running, and SIGTERM
stops it with status 0.

The parts are the real ones: ``python -m authserver`` (the packaged tenant, whose ``m2m-demo``
client the daemon authenticates as), ``python -m api`` on a fixed port (the daemon's
``API_URL``), restarted on the same database, and ``python -m m2m_demo``. Each kill lands while
a batch is on its way: the daemon writes a batch as pending to its state file before it sends it,
and the test kills the API as soon as it sees one (before the request, during it, or after the
API stored the batch and before the daemon read the answer: the daemon must send the same batch
again with the same key). What was imported is read from the API's database.
"""

from __future__ import annotations

import json
import re
import signal
import time
from functools import partial

import pytest

from tests.authserver.helpers import API_AUDIENCE, ServerProcess
from tests.e2e.demo_process import DemoProcess
from tests.faults.api_runs import APIOnOneDatabase
from tests.support.processes import PROJECT_ROOT, free_port, service_environment

FEED_RECORDS = 20
BATCH_SIZE = 2
# The daemon's schedule and retries, short enough for a test, long enough to retry a few times
# while the API is down.
DAEMON_OPTIONS = (
    "--interval", "0.5",
    "--batch-size", str(BATCH_SIZE),
    "--max-attempts", "3",
    "--backoff-base", "0.2",
    "--backoff-max", "1",
)  # fmt: skip
# Each kill comes once at least this many records are in and a batch is on its way.
KILL_AFTER_RECORDS = (4, 12)
# How long the API stays down: several cycles of the daemon, each with its retries.
OUTAGE_SECONDS = 3.0
WAIT_TIMEOUT = 90.0


@pytest.fixture
def authserver(tmp_path):
    process = ServerProcess(tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def api(tmp_path, authserver):
    directory = tmp_path / "api"
    directory.mkdir()
    running = APIOnOneDatabase(
        directory, port=free_port(), AUTH_ISSUER=authserver.issuer, AUTH_AUDIENCE=API_AUDIENCE
    )
    yield running
    running.stop()


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "inventory.json"
    path.write_text(
        json.dumps([{"external_id": f"sku-{n}", "quantity": n} for n in range(1, FEED_RECORDS + 1)])
    )
    return path


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_TIMEOUT:g} s: {what}")
        time.sleep(0.005)


def imported(api: APIOnOneDatabase) -> int:
    ((count,),) = api.query("SELECT count(*) FROM imported_records")
    return count


def source_state(state_path, feed) -> dict:
    """The daemon's state for the feed (empty before its first save)."""
    try:
        document = json.loads(state_path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return document["sources"].get(feed.name, {})


def batch_on_its_way(api: APIOnOneDatabase, state_path, feed, records: int) -> bool:
    """At least ``records`` are in, and the daemon's state names a batch it is sending."""
    return (
        imported(api) >= records and source_state(state_path, feed).get("pending_end") is not None
    )


def five_xx_answers(api: APIOnOneDatabase) -> int:
    return len(re.findall(r"api\.requests: \S+ \S+ 5\d\d", api.logs()))


def test_the_daemon_imports_every_record_once_across_two_api_kills(
    api, authserver, feed, tmp_path, figures
):
    state_path = tmp_path / "state.json"
    api.start()
    daemon = DemoProcess(
        "m2m_demo",
        "--source", str(feed),
        "--state", str(state_path),
        *DAEMON_OPTIONS,
        env=service_environment(
            AUTH_ISSUER=authserver.issuer, AUTH_AUDIENCE=API_AUDIENCE, API_URL=api.current.base_url
        ),
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    try:
        for records in KILL_AFTER_RECORDS:
            wait_until(
                partial(batch_on_its_way, api, state_path, feed, records),
                f"{records} records imported and a batch on its way",
            )
            api.current.kill()
            time.sleep(OUTAGE_SECONDS)
            api.start()
        wait_until(
            lambda: (
                source_state(state_path, feed)
                == {
                    "position": FEED_RECORDS,
                    "pending_end": None,
                    "idempotency_key": None,
                }
            ),
            "the whole feed delivered",
        )
        still_running = daemon.process.poll() is None
        daemon.deliver_signal(signal.SIGTERM)
        status = daemon.finish(timeout=60)
    finally:
        daemon.kill()

    ((records, distinct),) = api.query(
        "SELECT count(*), count(DISTINCT external_id) FROM imported_records"
    )
    assert still_running, daemon.output
    assert status == 0, daemon.output
    assert (records, distinct) == (FEED_RECORDS, FEED_RECORDS)
    assert api.query("PRAGMA integrity_check") == [("ok",)]
    assert five_xx_answers(api) == 0
    figures(
        api_kills=len(KILL_AFTER_RECORDS),
        records_expected=FEED_RECORDS,
        imported=distinct,
        duplicated=records - distinct,
        batches=len(api.query("SELECT id FROM import_batches")),
        five_xx=five_xx_answers(api),
        daemon_exit=status,
    )
