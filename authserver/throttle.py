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
kept per key is small whatever a request claims. The check and the count are two steps: when
several requests fail at once, up to the number of request threads more secrets than the limit
may be checked (each a cheap HMAC digest of a 256-bit secret).

The counts are kept in memory, per process: ``python -m authserver`` runs one gunicorn worker
with several threads (cli.py), so that one process sees every request; a lock guards the counts.
Memory is bounded: expired windows are dropped, and beyond ``max_keys`` windows the oldest one
still under its limit goes. A window at its limit is never dropped before it closes (dropping it
would lift the limit); there can be no more of them than failures in a window allow.
"""

import math
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

FAILURES_PER_CLIENT_AND_ADDRESS = 10
FAILURES_PER_ADDRESS = 100
WINDOW_SECONDS = 300
MAX_KEYS = 10_000


@dataclass
class _Window:
    opened_at: float
    failures: int = 0


class FailureLimit:
    """At most ``limit`` failures per key in a window of ``window`` seconds from the first one."""

    def __init__(
        self, limit: int, window: float, *, max_keys: int = MAX_KEYS, clock: Callable[[], float]
    ):
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        # In the order the windows opened; all last as long, so the expired ones come first.
        self._windows: dict[Hashable, _Window] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys have an open window."""
        with self._lock:
            self._close_expired(self.clock())
            return len(self._windows)

    def retry_after(self, key: Hashable) -> int | None:
        """Whole seconds until ``key`` may try again; None when it may try now."""
        with self._lock:
            now = self.clock()
            self._close_expired(now)
            window = self._windows.get(key)
            if window is None or window.failures < self.limit:
                return None
            return max(1, math.ceil(window.opened_at + self.window - now))

    def record_failure(self, key: Hashable) -> None:
        with self._lock:
            now = self.clock()
            self._close_expired(now)
            window = self._windows.get(key)
            if window is None:
                if len(self._windows) >= self.max_keys:
                    self._drop_oldest_under_the_limit()
                window = self._windows[key] = _Window(opened_at=now)
            window.failures += 1

    def _drop_oldest_under_the_limit(self) -> None:
        under = next(
            (key for key, window in self._windows.items() if window.failures < self.limit), None
        )
        if under is not None:
            del self._windows[under]

    def _close_expired(self, now: float) -> None:
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if window.opened_at + self.window > now:
                return
            del self._windows[key]


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
        self.by_client_and_address = FailureLimit(
            per_client_and_address, window, max_keys=max_keys, clock=clock
        )
        self.by_address = FailureLimit(per_address, window, max_keys=max_keys, clock=clock)

    def retry_after(self, client_id: str | None, address: str | None) -> int | None:
        """Whole seconds until ``client_id`` may authenticate from ``address``; None: now."""
        waits = (
            self.by_client_and_address.retry_after((client_id, address)),
            self.by_address.retry_after(address),
        )
        return max((wait for wait in waits if wait is not None), default=None)

    def record_failure(self, client_id: str | None, address: str | None) -> None:
        self.by_client_and_address.record_failure((client_id, address))
        self.by_address.record_failure(address)
