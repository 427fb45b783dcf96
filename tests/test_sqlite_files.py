"""shared.sqlite_files: which SQLite errors are a storage refusing writes for now."""

import sqlite3

import pytest

from shared.sqlite_files import is_storage_fault


def test_a_locked_database_is_a_storage_fault(tmp_path):
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            other.execute("BEGIN IMMEDIATE")
    finally:
        holder.close()
        other.close()
    assert is_storage_fault(raised.value)


def test_a_mistake_of_the_program_is_no_storage_fault(tmp_path):
    connection = sqlite3.connect(tmp_path / "any.sqlite3")
    with pytest.raises(sqlite3.OperationalError) as raised:
        connection.execute("SELECT * FROM no_such_table")
    connection.close()
    assert not is_storage_fault(raised.value)


def test_an_error_of_the_sqlite3_module_itself_is_no_storage_fault():
    # Raised by Python's module, not by SQLite: it carries no result code.
    assert not is_storage_fault(sqlite3.OperationalError("the module's own error"))
