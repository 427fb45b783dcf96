"""SQLite storage: one connection per request, WAL journal, foreign keys on, schema created at start.

Writes go through ``write_transaction()``, which takes SQLite's write lock at ``BEGIN IMMEDIATE``:
concurrent writers (threads or gunicorn workers) queue up instead of interleaving, so a
check-then-insert inside one transaction is race free, and an exception rolls everything back.

The schema is versioned with ``PRAGMA user_version``. At start, inside one such transaction, a
database of an earlier version is migrated (its data kept), then ``schema.sql`` creates whatever
is missing and the version is set to ``SCHEMA_VERSION``; a failed migration changes nothing. A
database newer than this code stops the start: this code cannot know what the newer schema means.
So does a file that is not this API's database (``check_application``, before anything is written
to it): a corrupt file, or another program's SQLite database, which the API must not change.

A write the storage refuses (the file read-only, the disk full, an I/O error, the write lock not
had in ``BUSY_TIMEOUT_SECONDS``) is answered ``503`` with ``Retry-After``: the request is fine and may
succeed later, once an operator has fixed the fault. Its transaction is rolled back, so nothing of
it is stored; the precise reason goes to the log.
"""

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from flask import Flask, current_app, g
from werkzeug.exceptions import ServiceUnavailable

from shared.log_safety import escaped
from shared.sqlite_files import check_application, is_storage_fault, stamp

BUSY_TIMEOUT_SECONDS = 10
# This API's SQLite files (shared.sqlite_files): "FlAP".
APPLICATION_ID = 0x466C4150
# Every table any version of this API created: a database made before the application id was
# set is recognised by having no other table.
API_TABLES = frozenset({"users", "messages", "import_batches", "imported_records"})
RETRY_AFTER_SECONDS = 10

logger = logging.getLogger(__name__)

# MIGRATIONS[n] brings a database of version n to version n + 1. Version 0 is every database
# made before the version was kept: the schema of the first release.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: each imported record is owned by the client that imported it, keyed by
    # (client_id, source, external_id) instead of (source, external_id). SQLite cannot change a
    # table's UNIQUE constraint, so the table is rebuilt; each kept record gets the client of the
    # batch that created it.
    (
        """CREATE TABLE imported_records_v1 (
            id INTEGER PRIMARY KEY,
            client_id TEXT NOT NULL,
            source TEXT NOT NULL,
            external_id TEXT NOT NULL,
            data TEXT NOT NULL,
            import_batch_id INTEGER NOT NULL REFERENCES import_batches (id),
            UNIQUE (client_id, source, external_id)
        )""",
        """INSERT INTO imported_records_v1 (id, client_id, source, external_id, data, import_batch_id)
            SELECT id, (SELECT client_id FROM import_batches WHERE import_batches.id = import_batch_id),
                   source, external_id, data, import_batch_id
            FROM imported_records""",
        "DROP TABLE imported_records",
        "ALTER TABLE imported_records_v1 RENAME TO imported_records",
    ),
)
# The version schema.sql describes.
SCHEMA_VERSION = len(MIGRATIONS)


class NewerSchemaError(sqlite3.DatabaseError):
    """The database was made by a newer version of the API."""


class StorageUnavailable(ServiceUnavailable):
    """The database refused a write for now; answered 503 with ``Retry-After``."""

    description = "The data cannot be stored right now. Retry later."


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; write_transaction() opens them explicitly.
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def create_schema(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = connect(path)
    try:
        check_application(connection, APPLICATION_ID, API_TABLES)
        connection.execute("PRAGMA journal_mode = WAL")
        with transaction(connection):
            upgrade(connection)
    finally:
        connection.close()


def upgrade(connection: sqlite3.Connection) -> None:
    """Bring the database to ``SCHEMA_VERSION``; run inside a write transaction."""
    version = schema_version(connection)
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"its schema version {version} is newer than this API's {SCHEMA_VERSION}"
        )
    for migration in MIGRATIONS[version:]:
        for statement in migration:
            connection.execute(statement)
    if version < SCHEMA_VERSION:
        logger.info("database migrated from schema version %d to %d", version, SCHEMA_VERSION)
    for statement in statements(
        resources.files(__package__).joinpath("schema.sql").read_text("utf-8")
    ):
        connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    stamp(connection, APPLICATION_ID)


def schema_version(connection: sqlite3.Connection) -> int:
    """The database's schema version; an empty database gets the current schema, so it counts as current."""
    (tables,) = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
    ).fetchone()
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return version if tables else SCHEMA_VERSION


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time (``executescript`` would commit the transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE_PATH"])
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        # https://www.sqlite.org/lang_transaction.html: after SQLITE_FULL, SQLITE_IOERR and a few
        # others "it might be necessary for SQLite to rollback and cancel the entire
        # transaction"; a ROLLBACK then fails, and would hide the error.
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def write_transaction() -> Iterator[sqlite3.Connection]:
    """A transaction of this request; a storage fault becomes :class:`StorageUnavailable`."""
    try:
        with transaction(get_db()) as connection:
            yield connection
    except sqlite3.OperationalError as error:
        if not is_storage_fault(error):
            raise
        logger.warning(
            "the database %s refused a write (%s): %s",
            escaped(str(current_app.config["DATABASE_PATH"])),
            escaped(error.sqlite_errorname),
            escaped(str(error)),
        )
        raise StorageUnavailable(retry_after=RETRY_AFTER_SECONDS) from error


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def init_app(app: Flask) -> None:
    create_schema(app.config["DATABASE_PATH"])
    app.teardown_appcontext(close_db)
