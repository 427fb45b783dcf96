"""The limit on failed client authentications at the token and revocation endpoints.

RFC 6749 §2.3.1: "Since this client authentication method involves a password, the
authorization server MUST protect any endpoint utilizing it against brute force attacks."

Failures (``invalid_client``) are counted in two ways, each in a window that opens at its first
failure: per client id *and* address (10 in 5 minutes), and per address (100 in 5 minutes, for
an address that tries many client ids). At a limit, the requests of that client id from that
address, or of that address, are answered 429 until the window closes, without checking any
secret. There is no limit per client id alone: anyone could then lock a daemon out by sending
wrong secrets in its name; here an attacker locks out only the addresses it sends from.

A client id that is not one of the tenant's is counted as one ("an unknown client"), so what is
kept per key is small whatever a request claims.

The counts are kept in the server's SQLite database (``client_authentication_failures``,
:mod:`authserver.storage`), so every gunicorn worker process of ``python -m authserver`` sees the
failures of all of them, and a restart lifts no limit: a window lasts its 5 minutes whatever
happens to the processes. A request that authenticates writes nothing: it reads both of its
windows in one indexed read. Only a failure writes, in one short transaction. The check and the
count are two steps: when several requests fail at once, up to the number of request threads of
all workers (workers × threads, cli.py) more secrets than the limit may be checked (each a cheap
HMAC digest of a 256-bit secret).

A window's end is a time of the application's clock (``CLOCK``, by default ``time.time``, as
every other time the server keeps; whole seconds, rounded up), the only clock that means
something after a reboot. A step of that clock makes the open windows last longer (a step back)
or shorter (a step forward) by the step.

A failure the database cannot store (locked past its busy timeout, read-only, disk full) is
counted in the worker's memory instead, and both counts are added up at the next check: a
storage fault lifts no limit (while it lasts, each worker allows a key its limit at most).

The table is bounded: beyond ``max_keys`` windows of a limit, the closed ones go, then the oldest
ones still under their limit, a tenth of ``max_keys`` at once. A window at its limit is never
dropped before it closes (dropping it would lift the limit); there can be no more of them than
failures in a window allow.
"""

import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass

from shared.log_safety import escaped
from shared.sqlite_files import is_storage_fault

from .storage import Storage

log = logging.getLogger(__name__)

FAILURES_PER_CLIENT_AND_ADDRESS = 10
FAILURES_PER_ADDRESS = 100
WINDOW_SECONDS = 300
MAX_KEYS = 10_000


@dataclass(frozen=True)
class FailureLimit:
    """At most ``limit`` failures per key in a window of ``window`` seconds from the first one;
    its windows are the rows ``counted_by`` it."""

    counted_by: str
    limit: int
    window: float


class ClientAuthenticationThrottle:
    """The two failure limits: per client id and address, and (looser) per address."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        per_client_and_address: int = FAILURES_PER_CLIENT_AND_ADDRESS,
        per_address: int = FAILURES_PER_ADDRESS,
        window: float = WINDOW_SECONDS,
        max_keys: int = MAX_KEYS,
    ):
        self.clock = clock
        self.max_keys = max_keys
        self.by_client_and_address = FailureLimit(
            "client_and_address", per_client_and_address, window
        )
        self.by_address = FailureLimit("address", per_address, window)
        self._uncounted = _UncountedFailures(max_keys)

    def _windows(self, client_id: str, address: str | None) -> tuple[tuple[FailureLimit, str], ...]:
        """Each limit, and the key it counts the request under."""
        return (
            (self.by_client_and_address, json.dumps([client_id, address])),
            (self.by_address, json.dumps([address])),
        )

    def retry_after(self, storage: Storage, client_id: str, address: str | None) -> int | None:
        """Whole seconds until ``client_id`` may authenticate from ``address``; None: now."""
        now = self.clock()
        windows = self._windows(client_id, address)
        stored = {
            (row["counted_by"], row["key"]): (row["failures"], row["closes_at"])
            for row in storage.client_authentication_windows(
                ((limit.counted_by, key) for limit, key in windows), now
            )
        }
        waits = []
        for limit, key in windows:
            found = [
                window
                for window in (
                    stored.get((limit.counted_by, key)),
                    self._uncounted.window(limit.counted_by, key, now),
                )
                if window is not None
            ]
            if sum(failures for failures, _ in found) >= limit.limit:
                waits.append(max(closes_at for _, closes_at in found) - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, storage: Storage, client_id: str, address: str | None) -> None:
        now = self.clock()
        windows = [
            (limit.counted_by, key, limit.limit, math.ceil(now + limit.window))
            for limit, key in self._windows(client_id, address)
        ]
        try:
            storage.count_client_authentication_failure(windows, now, self.max_keys)
        except sqlite3.OperationalError as error:
            if not is_storage_fault(error):
                raise
            log.warning(
                "client %s from %s: failed authentication not counted in the database, which "
                "refused the write (%s): %s; counted in this process's memory",
                escaped(client_id),
                escaped(address),
                escaped(error.sqlite_errorname),
                escaped(str(error)),
            )
            self._uncounted.count(windows, now)


class _UncountedFailures:
    """The failures this process could not store, each key in a window of its own until it
    closes: a storage fault lifts no limit (while it lasts, a key gets its limit of failures per
    worker process more, at most). Bounded as the table is: beyond ``max_keys`` windows, the
    closed ones go, then the oldest one still under its limit."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        # (counted_by, key) -> [failures, closes_at, limit], in the order the windows opened.
        self._windows: dict[tuple[str, str], list[int]] = {}
        self._lock = threading.Lock()

    def window(self, counted_by: str, key: str, now: float) -> tuple[int, int] | None:
        """The failures and end of the open window of ``key``; None when it has none."""
        found = self._windows.get((counted_by, key))
        if found is None or found[1] <= now:
            return None
        return found[0], found[1]

    def count(self, windows: list[tuple[str, str, int, int]], now: float) -> None:
        with self._lock:
            for counted_by, key, limit, closes_at in windows:
                found = self._windows.get((counted_by, key))
                if found is not None and found[1] > now:
                    found[0] += 1
                    continue
                self._windows.pop((counted_by, key), None)
                if len(self._windows) >= self.max_keys:
                    self._make_room(now)
                self._windows[counted_by, key] = [1, closes_at, limit]

    def _make_room(self, now: float) -> None:
        for name in [name for name, (_, closes_at, _) in self._windows.items() if closes_at <= now]:
            del self._windows[name]
        if len(self._windows) >= self.max_keys:
            oldest = next(
                (name for name, (failures, _, limit) in self._windows.items() if failures < limit),
                None,
            )
            if oldest is not None:
                del self._windows[oldest]
