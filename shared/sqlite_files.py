"""An SQLite file of one application: refuse another program's database before writing to it.

SQLite file format, offset 68: "The "Application ID" set by PRAGMA application_id", which
"Applications that use SQLite as their application file-format should set [...] to a unique
integer so that utilities such as file(1) can determine the specific file type". Each part that
keeps an SQLite file stamps its own id on it (:func:`stamp`) and, at start-up, refuses a file
with another id, or with tables it never created (:func:`check_application`): a database made
before the id was stamped (id 0) is recognised by having no other table.

:func:`is_storage_fault` tells an error of a storage that refuses writes for now (each part
answers it without a 500) from an error of the program.
"""

import sqlite3
from collections.abc import Set

#: The primary result codes (the low byte of an extended code) of a storage that refuses writes
#: for now (https://www.sqlite.org/rescode.html): the file read-only, the write lock not had in
#: the busy timeout, an I/O error, the disk full.
STORAGE_FAULTS = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL}
)


def is_storage_fault(error: BaseException | None) -> bool:
    """Whether ``error`` (any exception, or None) comes from a storage that refuses writes for
    now (see STORAGE_FAULTS)."""
    # An error the sqlite3 module raises by itself (not SQLite's) has no result code.
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF in STORAGE_FAULTS)
    )


class ForeignDatabaseError(sqlite3.DatabaseError):
    """The file is an SQLite database of another application."""


def check_application(
    connection: sqlite3.Connection, application_id: int, known_tables: Set[str]
) -> None:
    """Raise :class:`ForeignDatabaseError` for another application's database (reading it
    raises ``sqlite3.DatabaseError`` first when the file is no SQLite database at all, or a
    damaged one)."""
    (found_id,) = connection.execute("PRAGMA application_id").fetchone()
    tables = {
        name
        for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        )
    }
    if found_id not in (0, application_id) or not tables <= known_tables:
        raise ForeignDatabaseError(
            f"it is another application's database (application id {found_id}, "
            f"tables {', '.join(sorted(tables - known_tables)) or 'none'}); "
            "give this server a file of its own"
        )


def stamp(connection: sqlite3.Connection, application_id: int) -> None:
    """Mark the file as this application's."""
    connection.execute(f"PRAGMA application_id = {int(application_id)}")
