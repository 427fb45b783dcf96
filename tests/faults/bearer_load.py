"""Bounded bearer-token load on a real ``python -m api``, and the priming of its workers' JWKS caches.

* :func:`call`: one bearer request, its status, duration and ``Retry-After`` (status 0 when the
  connection failed) as an :class:`Outcome`.
* :class:`Load`: a few threads repeating one step (say, get a token and call the API) until
  stopped or a number of steps each, so that a test breaks something while requests run.
* :func:`prime_every_worker`: sends a token on fresh connections until each of the API's
  ``WORKERS`` processes has downloaded the JWKS (each has its own cache), so that a key is
  "cached" in every worker before a test breaks the issuer.
* :func:`seconds_until_accepted`: how long until every worker accepts a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from api.__main__ import WORKERS

PRIVATE_PATH = "/api/private"
#: Each step of a load thread is followed by this pause: two shared cores serve the parts too.
STEP_PAUSE = 0.005


@dataclass(frozen=True)
class Outcome:
    what: str
    status: int
    seconds: float
    retry_after: str | None = None


def call(session: requests.Session, url: str, token: str, what: str = "api") -> Outcome:
    started = time.monotonic()
    try:
        response = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except requests.RequestException:
        return Outcome(what, 0, time.monotonic() - started)
    return Outcome(
        what, response.status_code, time.monotonic() - started, response.headers.get("Retry-After")
    )


class Load:
    """``threads`` threads each repeating ``step(session) -> [Outcome, ...]`` until :meth:`stop`
    or ``limit`` steps; used as a context manager (stopped on exit)."""

    def __init__(
        self,
        step: Callable[[requests.Session], list[Outcome]],
        *,
        threads: int = 3,
        limit: int = 2000,
    ) -> None:
        self.outcomes: list[Outcome] = []
        self._step = step
        self._limit = limit
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{number}", daemon=True)
            for number in range(threads)
        ]

    def _run(self) -> None:
        with requests.Session() as session:
            for _ in range(self._limit):
                if self._stopped.is_set():
                    return
                outcomes = self._step(session)
                with self._lock:
                    self.outcomes.extend(outcomes)
                time.sleep(STEP_PAUSE)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> list[Outcome]:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.of("api") + self.of("token")

    def of(self, what: str) -> list[Outcome]:
        with self._lock:
            return [outcome for outcome in self.outcomes if outcome.what == what]


def prime_every_worker(url: str, token: str, downloads: Callable[[], int], lifetime: float) -> None:
    """Call ``url`` with ``token`` on fresh connections until ``downloads()`` (JWKS downloads
    seen by the issuer) is ``WORKERS``: one per worker. Sound while the first download is younger
    than the keys' ``lifetime``: until then no worker downloads twice."""
    started = time.monotonic()

    def fresh_call(_: int) -> int:
        with requests.Session() as session:
            return call(session, url, token).status

    with ThreadPoolExecutor(max_workers=4) as pool:
        while downloads() < WORKERS and time.monotonic() - started < lifetime:
            statuses = list(pool.map(fresh_call, range(8)))
            assert set(statuses) == {200}, statuses
    assert downloads() == WORKERS and time.monotonic() - started < lifetime, (
        f"{downloads()} JWKS downloads in {time.monotonic() - started:.1f}s, not one per worker "
        f"({WORKERS}) within the keys' lifetime ({lifetime}s)"
    )


def seconds_until_accepted(url: str, token: str, deadline: float) -> float:
    """Seconds until ``token`` is accepted by every worker (five 200s in a row, each on a fresh
    connection); on the way only 401 and 503 are allowed. Fails after ``deadline`` seconds."""
    started = time.monotonic()
    accepted_in_a_row = 0
    while accepted_in_a_row < 5:
        assert time.monotonic() - started < deadline, f"not accepted within {deadline}s"
        with requests.Session() as session:
            outcome = call(session, url, token)
        assert outcome.status in (200, 401, 503), outcome
        accepted_in_a_row = accepted_in_a_row + 1 if outcome.status == 200 else 0
        time.sleep(0.05)
    return time.monotonic() - started
