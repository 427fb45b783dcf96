"""The database file holds private signing keys and password hashes: only its owner may read it."""

import os
import stat

import pytest

from authserver.storage import Storage


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    """The umask of a careless shell: files readable by everyone unless created otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_database_file_is_owner_only(tmp_path):
    path = tmp_path / "authserver.sqlite3"
    Storage.open(path).close()
    assert mode(path) == 0o600


def test_a_database_reached_through_a_link_to_a_file_not_there_yet_is_owner_only(tmp_path):
    target = tmp_path / "volume" / "authserver.sqlite3"
    target.parent.mkdir()
    link = tmp_path / "authserver.sqlite3"
    link.symlink_to(target)
    storage = Storage.open(link)
    storage.initialize()
    storage.close()
    assert mode(target) == 0o600
