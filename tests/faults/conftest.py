"""The fault suite: real processes on 127.0.0.1, broken on purpose.

Each test reports one line of figures through the ``figures`` fixture (requests sent, failures,
5xx, JWKS fetches, records expected / imported / duplicated, seconds, ...); the lines are
printed together at the end of the run, so the result reads at a glance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

_LINES: list[str] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Callable[..., None]]:
    """Record the test's figures: ``figures(requests=1000, failures=0, ...)``; seconds are added."""
    started = time.monotonic()
    recorded: dict[str, object] = {}

    def record(**values: object) -> None:
        recorded.update(values)

    yield record
    if recorded:
        recorded.setdefault("seconds", round(time.monotonic() - started, 1))
        line = ", ".join(f"{name} {value}" for name, value in recorded.items())
        _LINES.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LINES:
        terminalreporter.section("fault suite figures")
        for line in _LINES:
            terminalreporter.write_line(line)
