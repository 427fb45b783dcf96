"""Exponential backoff with jitter, and Retry-After (RFC 9110 §10.2.3)."""

from datetime import UTC, datetime

import pytest

from m2m_demo.backoff import RetryPolicy, parse_retry_after


def test_backoff_doubles_up_to_the_maximum():
    longest = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=lambda low, high: high)
    assert [longest.backoff_delay(attempt) for attempt in range(1, 7)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
    ]


def test_jitter_spreads_each_delay_over_its_upper_half():
    bounds = RetryPolicy(base_delay=1.0, max_delay=10.0, jitter=lambda low, high: (low, high))
    assert [bounds.backoff_delay(attempt) for attempt in (1, 3, 6)] == [
        (0.5, 1.0),
        (2.0, 4.0),
        (5.0, 10.0),
    ]
    delays = {RetryPolicy(base_delay=1.0).backoff_delay(3) for _ in range(50)}
    assert len(delays) > 1 and all(2.0 <= delay <= 4.0 for delay in delays)


NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("Thu, 01 May 2025 12:00:30 GMT", 30.0),
        ("Thu, 01 May 2025 11:00:00 GMT", 0.0),
        (None, None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
    ids=[
        "delay-seconds",
        "whitespace",
        "http-date",
        "date-in-the-past",
        "absent",
        "garbage",
        "negative",
        "fraction",
    ],
)
def test_retry_after(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds
