"""SQLite storage: one connection per request, WAL journal, foreign keys on, schema created at start.

Writes go through ``write_transaction()``, which takes SQLite's write lock at ``BEGIN IMMEDIATE``:
concurrent writers (threads or gunicorn workers) queue up instead of interleaving, so a
check-then-insert inside one transaction is race free, and an exception rolls everything back.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from flask import Flask, current_app, g

BUSY_TIMEOUT_SECONDS = 10


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
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(resources.files(__package__).joinpath("schema.sql").read_text("utf-8"))
    finally:
        connection.close()


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE_PATH"])
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


@contextmanager
def write_transaction() -> Iterator[sqlite3.Connection]:
    connection = get_db()
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def init_app(app: Flask) -> None:
    create_schema(app.config["DATABASE_PATH"])
    app.teardown_appcontext(close_db)
