"""The daemon's log lines: one line per event, for a person (``human``, the default) or for a
machine (``json``, one JSON object per line).

:class:`DaemonNarrator` hands each event's facts to the log record (``record.details``) instead
of writing them into the message, and a formatter lays them out:

- ``human``: ``11:06:26 batch delivered  batch_id=sample_feed.json:0-5 created=5 replayed=false``,
  the local time, ``WARNING``/``ERROR`` when it is not INFO, the message, then ``name=value``
  facts (a request's ``headers`` and ``body`` and a response's ``body`` unwrapped, other nested
  objects as ``outer.inner``);
- ``json``: ``{"time": "2026-12-01T11:06:26Z", "level": "INFO", "logger": "m2m_demo",
  "message": "batch delivered", "batch_id": ..., "created": 5, ...}``, the time in UTC.

CWE-117: a feed's file name, a record's ``external_id`` or a server's error text is attacker
controlled. Every message, name and value goes through ``shared.log_safety.escaped``, so an event
is always one line; a human name or value with a space, a quote or an ``=`` is quoted, so it
cannot pose as a fact of its own either.
"""

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping

from shared.log_safety import escaped
from shared.oidc_client import (
    Narrator,
)

LOG_FORMATS = ("human", "json")
# Printed bare in the human format; anything else is quoted.
BARE_VALUE = re.compile(r"[^\s\"=\\]+")
RUN_OF_SPACES = re.compile(r"\s{2,}")
# Wrappers whose fields are the facts themselves.
UNWRAPPED = ("headers", "body", "claims")


class DaemonNarrator(Narrator):
    """A :class:`Narrator` whose events carry their facts as data, for either log format."""

    def _log(self, level: int, message: str, details: Mapping[str, object]) -> None:
        self.logger.log(level, "%s", message, extra={"details": details})


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``--log-format``: ``human`` or ``json``."""
    return JsonFormatter() if log_format == "json" else HumanFormatter()


class HumanFormatter(logging.Formatter):
    """``HH:MM:SS [LEVEL ]message  name=value ...``, local time, one line."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f"{record.levelname} "
        # Two spaces end the message and start the facts, so the message has no two in a row:
        # a server's reason phrase "OK  created=999" cannot pose as facts.
        message = RUN_OF_SPACES.sub(" ", escaped(record.getMessage()))
        line = f"{self.formatTime(record, '%H:%M:%S')} {level}{message}"
        facts = " ".join(
            f"{_human_value(name)}={_human_value(value)}"
            for name, value in _flattened(getattr(record, "details", {}))
        )
        if facts:
            line += "  " + facts
        if record.exc_info:
            line += "  " + escaped(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, then the event's facts."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in getattr(record, "details", {}).items():
            entry.setdefault(name, value)
        if record.exc_info:
            entry.setdefault("exception", self.formatException(record.exc_info))
        return json.dumps(_escaped_strings(entry), default=str, separators=(",", ":"))


def _flattened(details: Mapping[str, object], prefix: str = "") -> Iterator[tuple[str, object]]:
    """``(name, value)`` pairs: the wrappers' fields as they are, other objects as ``a.b``."""
    for name, value in details.items():
        if isinstance(value, Mapping):
            inner = prefix if not prefix and name in UNWRAPPED else f"{prefix}{name}."
            yield from _flattened(value, inner)
        else:
            yield f"{prefix}{name}", value


def _human_value(value: object) -> str:
    """A name or value of a ``name=value`` fact: bare when it is one plain word, else quoted."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ",".join(value)
    text = escaped(json.dumps(value) if isinstance(value, bool | None) else value)
    if BARE_VALUE.fullmatch(text):
        return text
    return '"' + text.replace('"', '\\"') + '"'


def _escaped_strings(value: object) -> object:
    """``value`` with every string in it (names too) passed through ``escaped``."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, Mapping):
        return {escaped(name): _escaped_strings(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_escaped_strings(item) for item in value]
    return value
