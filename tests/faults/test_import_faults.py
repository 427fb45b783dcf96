"""The API killed (SIGKILL, master and workers) during a 1,000-record import, five times, each time
started again on the same database and the same batch sent again with the same Idempotency-Key:
every record is stored exactly once.

The kills land at the two moments that matter, watched from the database file itself:

- *while the import's write transaction is open*: SQLite's write lock is held (a probe's
  ``BEGIN IMMEDIATE`` finds it busy); nothing of the batch may survive, and the next delivery
  must import it whole;
- *just after its commit*, before the client has read the answer: the batch is stored, the client
  does not know it, and the next delivery must be answered as a replay, not imported again.

The import's transaction is stretched to a few hundred milliseconds, as a slow disk would: a
trigger the test adds to the database costs each insert a fraction of a millisecond (SQLite's
``randomblob``). The API's own code runs unchanged; the kill just cannot miss the transaction,
however busy the machine.

Four kills aim at the transaction, the fifth at the commit. A kill aimed at the transaction may
still come a moment after the commit (the signal races the last write); from then on every
delivery is a replay, too short to be watched, and is killed as soon as it is sent. The figures
say where the kills landed.

Tokens are real signed client-credentials-shaped tokens, from the JWKS server the API trusts
(tests/support), as in the API's own process tests.
"""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from tests.faults.api_runs import APIOnOneDatabase

RECORDS = 1000
KEY = "import-under-fire"
# Where each of the five kills is aimed (see the module docstring).
KILLS = ("in the transaction",) * 4 + ("after the commit",)
STORED_NOTHING = (0, 0, 0)
WATCH_TIMEOUT = 60.0
BODY = {
    "batch_id": "nightly-1000",
    "source": "erp",
    "records": [
        {"external_id": f"item-{n}", "data": {"n": n, "name": f"Item {n}"}} for n in range(RECORDS)
    ],
}


def slow_down_inserts(api: APIOnOneDatabase) -> None:
    """About 0.2 ms more per inserted record (see the module docstring)."""
    connection = sqlite3.connect(api.database)
    with connection:
        connection.execute(
            "CREATE TRIGGER slow_disk BEFORE INSERT ON imported_records"
            " BEGIN SELECT length(randomblob(20000)); END"
        )
    connection.close()


@pytest.fixture
def api(tmp_path, issuer, audience):
    running = APIOnOneDatabase(tmp_path, AUTH_ISSUER=issuer, AUTH_AUDIENCE=audience)
    yield running
    running.stop()


def deliver(api: APIOnOneDatabase, token: str) -> requests.Response:
    return requests.post(
        api.current.base_url + "/api/imports",
        json=BODY,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": KEY},
        timeout=60,
    )


class Watch:
    """Looks at the database file, from a connection of its own, for the moment of a kill."""

    def __init__(self, api: APIOnOneDatabase):
        self.api = api
        self.probe = sqlite3.connect(api.database, timeout=0, isolation_level=None)

    def close(self) -> None:
        self.probe.close()

    def in_the_transaction(self) -> bool:
        """Another connection holds SQLite's write lock (only the import's transaction takes it)."""
        try:
            self.probe.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            return True
        self.probe.execute("ROLLBACK")
        return False

    def after_the_commit(self) -> bool:
        (count,) = self.probe.execute(
            "SELECT count(*) FROM import_batches WHERE idempotency_key = ?", (KEY,)
        ).fetchone()
        return count == 1

    def in_flight(self) -> bool:
        """At once: the delivery was just sent."""
        return True

    def kill_at(self, moment: str, delivery: Future) -> bool:
        """Kill the API at ``moment`` of ``delivery``; True if the kill came before its answer."""
        seen = getattr(self, moment.replace(" ", "_"))
        deadline = time.monotonic() + WATCH_TIMEOUT
        while not seen():
            # A delivery answered in the meantime may have passed the moment (a commit) or not.
            if delivery.done() and not seen() or time.monotonic() > deadline:
                pytest.fail(f"never saw the moment {moment!r}: {delivery.result()}")
        self.api.current.kill()
        try:
            delivery.result(timeout=60)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            # Refused, reset, or cut off in the middle of the answer.
            return True
        return False


def stored(api: APIOnOneDatabase) -> tuple[int, int, int]:
    """(batches, records, distinct records) of the batch's key, from an intact database."""
    assert api.query("PRAGMA integrity_check") == [("ok",)]
    ((batches,),) = api.query("SELECT count(*) FROM import_batches")
    ((records, distinct),) = api.query(
        "SELECT count(*), count(DISTINCT external_id) FROM imported_records"
    )
    return batches, records, distinct


def test_five_kills_during_an_import_store_every_record_once(api, token_factory, figures):
    token = token_factory(machine=True)
    cut_off = 0
    after_each_kill = []
    api.start()
    slow_down_inserts(api)
    with ThreadPoolExecutor(max_workers=1) as client:
        for aim in KILLS:
            stored_so_far = after_each_kill[-1] if after_each_kill else STORED_NOTHING
            # Once the batch is stored, a delivery is a replay: killed as soon as it is sent.
            moment = aim if stored_so_far == STORED_NOTHING else "in flight"
            watch = Watch(api)
            delivery = client.submit(deliver, api, token)
            cut_off += watch.kill_at(moment, delivery)
            watch.close()
            after_each_kill.append(stored(api))
            api.start()
    final = deliver(api, token)

    batches, records, distinct = stored(api)
    assert final.status_code == 200, final.text
    assert final.json() == {
        "batch_id": BODY["batch_id"],
        "source": BODY["source"],
        "received": RECORDS,
        "created": RECORDS,
        "replayed": True,
    }
    # Nothing half-written: after each kill the batch is there whole, or not at all.
    assert set(after_each_kill) <= {STORED_NOTHING, (1, RECORDS, RECORDS)}
    assert after_each_kill[0] == STORED_NOTHING
    assert (batches, records, distinct) == (1, RECORDS, RECORDS)
    assert "Traceback" not in api.logs()
    figures(
        kills=len(KILLS),
        kills_before_the_answer=cut_off,
        kills_in_the_transaction=after_each_kill.count(STORED_NOTHING),
        requests=len(KILLS) + 1,
        records_expected=RECORDS,
        imported=distinct,
        duplicated=records - distinct,
        five_xx=0,
    )
