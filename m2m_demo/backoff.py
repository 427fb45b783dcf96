"""Retries with exponential backoff and jitter, honouring ``Retry-After``.

What is retried: connection errors and timeouts, ``429 Too Many Requests`` and the 5xx statuses
that mean "try again later". Anything else is an answer, good or bad, and is returned at once.

The n-th wait is ``base * 2**(n-1)`` capped at ``max_delay``, then "equal jitter": a random value
between half of it and all of it, so many daemons restarted together do not retry in lock step.
When the server sends ``Retry-After`` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) the daemon
waits that long instead; a server asking for more than ``max_delay`` ends this cycle's attempts
and the batch waits for the next cycle.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetriesExhausted(Exception):
    """Every attempt of this cycle failed with a retryable error; the message says the last one."""


class StopRequested(Exception):
    """A signal asked the daemon to stop while it waited between attempts."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    jitter: Callable[[float, float], float] = field(default=random.uniform, repr=False)

    def backoff_delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based) when the server gave no hint."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.jitter(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def send_with_retries(
    send: Callable[[], requests.Response],
    policy: RetryPolicy,
    wait: Callable[[float], bool],
    on_retry: Callable[[int, str, float], None],
) -> requests.Response:
    """Call ``send`` until it gives a non-retryable answer or the attempts run out.

    ``wait(seconds)`` sleeps and returns True if the daemon was asked to stop meanwhile;
    ``on_retry(attempt, reason, delay)`` logs each retry.
    """
    attempt = 0
    while True:
        attempt += 1
        retry_after = None
        try:
            response = send()
        except (requests.ConnectionError, requests.Timeout) as error:
            reason = type(error).__name__
        else:
            if response.status_code not in RETRYABLE_STATUSES:
                return response
            reason = f"HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if attempt >= policy.max_attempts:
            raise RetriesExhausted(f"{reason} after {attempt} attempts")
        if retry_after is not None and retry_after > policy.max_delay:
            raise RetriesExhausted(
                f"{reason}; the server asked to retry after {retry_after:.0f} s, "
                "longer than the backoff maximum"
            )
        delay = retry_after if retry_after is not None else policy.backoff_delay(attempt)
        on_retry(attempt, reason, delay)
        if wait(delay):
            raise StopRequested(f"stopped while waiting to retry ({reason})")
