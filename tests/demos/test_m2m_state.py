"""The m2m daemon's state file: per-source position, atomic replacement, refusal to guess."""

import json
import os
from pathlib import Path

import pytest

from m2m_demo.state import SourceState, StateError, StateFile


def test_a_new_state_file_starts_at_position_zero(tmp_path):
    assert StateFile(tmp_path / "state.json").load("feed.json") == SourceState()


def test_state_round_trips_per_source(tmp_path):
    state = StateFile(tmp_path / "nested" / "state.json")
    state.save("a.json", SourceState(position=5))
    state.save("b.csv", SourceState(position=2, pending_end=4, idempotency_key="m2m-k"))
    assert state.load("a.json") == SourceState(position=5)
    assert state.load("b.csv") == SourceState(position=2, pending_end=4, idempotency_key="m2m-k")


def test_save_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.save("a.json", SourceState(position=1))
    replaced = []
    real_replace = os.replace

    def recording_replace(source, destination):
        replaced.append(
            (
                os.path.dirname(source),
                json.loads(Path(source).read_text())["sources"]["a.json"]["position"],
                destination,
            )
        )
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    state.save("a.json", SourceState(position=2))
    assert replaced == [(str(tmp_path), 2, path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_previous_state(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    state = StateFile(path)
    state.save("a.json", SourceState(position=1))

    def failing_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StateError, match="cannot write the state file"):
        state.save("a.json", SourceState(position=2))
    monkeypatch.undo()
    assert state.load("a.json") == SourceState(position=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{half", "not valid JSON"),
        ('{"version": 2, "sources": {}}', "not a state file of this daemon"),
        ("[]", "not a state file of this daemon"),
        ('{"version": 1, "sources": {"a.json": {"position": -1}}}', "invalid position"),
        ('{"version": 1, "sources": {"a.json": {"position": true}}}', "invalid position"),
        ('{"version": 1, "sources": {"a.json": {"position": "3"}}}', "invalid position"),
        (
            '{"version": 1, "sources": {"a.json": {"position": 3, '
            '"pending_end": 3, "idempotency_key": "k"}}}',
            "invalid position",
        ),
        (
            '{"version": 1, "sources": {"a.json": {"position": 3, "pending_end": 5}}}',
            "invalid position",
        ),
        (
            '{"version": 1, "sources": {"a.json": {"position": 3, "idempotency_key": "k"}}}',
            "invalid position",
        ),
        (
            '{"version": 1, "sources": {"a.json": {"position": 3, "offset": 1}}}',
            "unexpected fields",
        ),
        ('{"version": 1, "sources": {"a.json": [3]}}', "unexpected fields"),
    ],
)
def test_a_damaged_state_file_is_refused_rather_than_guessed(tmp_path, content, message):
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateError, match=message):
        StateFile(path).load("a.json")
