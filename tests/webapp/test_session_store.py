"""The session store's file holds every session's tokens: owner-only, whatever the umask."""

import os
import stat

import pytest

from webapp_demo.sessions import SessionStore, id_hash


@pytest.fixture
def permissive_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_store_and_its_folder_are_owner_only(tmp_path, permissive_umask):
    path = tmp_path / "data" / "webapp.sqlite3"
    store = SessionStore(str(path))
    store.create(id_hash("some-session"), 0)
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
    with store.connection() as db:  # while it is open, SQLite's WAL and shared memory exist
        db.execute("UPDATE sessions SET last_seen = 1")
        assert mode(f"{path}-wal") == 0o600
        assert mode(f"{path}-shm") == 0o600


def test_a_link_to_a_store_not_there_yet_creates_the_file_owner_only(tmp_path, permissive_umask):
    target = tmp_path / "real.sqlite3"
    link = tmp_path / "webapp.sqlite3"
    link.symlink_to(target)
    SessionStore(str(link))
    assert mode(target) == 0o600


def test_an_existing_store_keeps_its_mode_and_its_sessions(tmp_path):
    path = tmp_path / "webapp.sqlite3"
    SessionStore(str(path)).create(id_hash("kept"), 0)
    os.chmod(path, 0o640)  # the owner's choice
    assert SessionStore(str(path)).load(id_hash("kept")) is not None
    assert mode(path) == 0o640
