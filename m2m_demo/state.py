"""The daemon's memory between cycles and restarts: a small JSON state file.

Per source it holds the ``position`` (records delivered so far) and, while a batch is on its way,
that batch's ``pending_end`` and ``idempotency_key``. The pending batch is written *before* it is
sent, so a crash, a stopped API or a lost response leaves a record of exactly which records were
in flight: the next cycle sends the same records with the same key, and the API answers a replay
instead of importing them twice.

Every write is atomic: the new content goes to a temporary file in the same directory, is flushed
to disk, and replaces the old file with ``os.replace``. A reader sees the old state or the new one,
never half of each.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from shared.files import write_atomically

DEFAULT_STATE_PATH = Path(".data") / "m2m_demo_state.json"
STATE_VERSION = 1


class StateError(Exception):
    """The state file exists but cannot be used; the daemon stops rather than guess a position."""


@dataclass(frozen=True)
class SourceState:
    position: int = 0
    pending_end: int | None = None
    idempotency_key: str | None = None


class StateFile:
    """Load and atomically save the per-source state."""

    def __init__(self, path: Path):
        self.path = path

    def load(self, source: str) -> SourceState:
        entry = self._read().get(source)
        if entry is None:
            return SourceState()
        try:
            state = SourceState(**entry)
        except TypeError as error:
            raise StateError(f"{self.path}: unexpected fields for source {source!r}") from error
        if not _valid(state):
            raise StateError(f"{self.path}: invalid position for source {source!r}")
        return state

    def save(self, source: str, state: SourceState) -> None:
        sources = self._read()
        sources[source] = asdict(state)
        content = json.dumps(
            {"version": STATE_VERSION, "sources": sources}, indent=2, sort_keys=True
        )
        try:
            write_atomically(self.path, content + "\n")
        except OSError as error:
            raise StateError(
                f"{self.path}: cannot write the state file ({error.strerror})"
            ) from error

    def _read(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise StateError(
                f"{self.path}: cannot read the state file ({error.strerror})"
            ) from error
        try:
            document = json.loads(text)
        except ValueError as error:
            raise StateError(
                f"{self.path}: the state file is not valid JSON; fix or delete it"
            ) from error
        if (
            not isinstance(document, dict)
            or document.get("version") != STATE_VERSION
            or not isinstance(document.get("sources"), dict)
        ):
            raise StateError(
                f"{self.path}: not a state file of this daemon (version {STATE_VERSION})"
            )
        return document["sources"]


def _valid(state: SourceState) -> bool:
    if not _count(state.position):
        return False
    if state.pending_end is None:
        return state.idempotency_key is None
    return (
        _count(state.pending_end)
        and state.pending_end > state.position
        and isinstance(state.idempotency_key, str)
    )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
