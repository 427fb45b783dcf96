"""An SQLite file of one application: refuse another program's database before writing to it.

SQLite file format, offset 68: "The "Application ID" set by PRAGMA application_id", which
"Applications that use SQLite as their application file-format should set [...] to a unique
integer so that utilities such as file(1) can determine the specific file type". Each part that
keeps an SQLite file stamps its own id on it (:func:`stamp`) and, at start-up, refuses a file
with another id, or with tables it never created (:func:`check_application`): a database made
before the id was stamped (id 0) is recognised by having no other table.
"""

import sqlite3
from collections.abc import Set


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
