"""The API's database across an upgrade: a database file made by the first release (no
``PRAGMA user_version``, records unique per ``(source, external_id)``) is migrated at start with
every row kept, and marked as the API's (``PRAGMA application_id``); a migration that fails changes
nothing; a database newer than the code is refused."""

import logging
import sqlite3
from pathlib import Path

import pytest

from api import create_app
from api.config import ConfigurationError
from api.db import APPLICATION_ID, SCHEMA_VERSION
from tests.api.conftest import TABLES, bearer, dump_database

# api/schema.sql as the first release created it, in .data/api.sqlite3 of every installation.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    email TEXT,
    name TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    author_sub TEXT NOT NULL REFERENCES users (sub),
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS import_batches (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    source TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    record_count INTEGER NOT NULL,
    created INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    response TEXT NOT NULL,
    UNIQUE (client_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS imported_records (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data TEXT NOT NULL,
    import_batch_id INTEGER NOT NULL REFERENCES import_batches (id),
    UNIQUE (source, external_id)
);
"""
FIRST_RELEASE_ROWS = [
    "INSERT INTO users VALUES (1, 'auth0|alice', 'alice@flowlab.test', 'Alice', '2024-01-01T00:00:00Z',"
    " '2024-01-02T00:00:00Z')",
    "INSERT INTO messages VALUES (1, 'auth0|alice', 'hello', '2024-01-01T00:00:01Z')",
    "INSERT INTO import_batches VALUES (1, 'key-b', 'b-1', 'partner-daemon', 'shop', 'hash-b', 1, 1,"
    " '2024-01-01T00:00:02Z', '{\"created\": 1}')",
    "INSERT INTO import_batches VALUES (2, 'key-a', 'a-1', 'm2m-demo', 'shop', 'hash-a', 2, 1,"
    " '2024-01-01T00:00:03Z', '{\"created\": 1}')",
    # The poisoned state of the first release: m2m-demo's sku-2 was silently not created.
    "INSERT INTO imported_records VALUES (1, 'shop', 'sku-2', '{\"by\":\"partner-daemon\"}', 1)",
    "INSERT INTO imported_records VALUES (2, 'shop', 'sku-1', '{\"by\":\"m2m-demo\"}', 2)",
]


def first_release_database(path: Path, *rows: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(FIRST_RELEASE_SCHEMA)
        for row in rows:
            connection.execute(row)
        connection.commit()
    finally:
        connection.close()


def read(path: Path, query: str) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def user_version(path: Path) -> int:
    return read(path, "PRAGMA user_version")[0][0]


@pytest.fixture
def database_path(app_config) -> Path:
    return Path(app_config["DATABASE_URL"].removeprefix("sqlite:///"))


@pytest.fixture(autouse=True)
def migration_log(caplog):
    caplog.set_level(logging.INFO, logger="api.db")


def test_a_first_release_database_keeps_every_row_and_its_records_get_the_client_of_their_batch(
    app_config, database_path, caplog
):
    first_release_database(database_path, *FIRST_RELEASE_ROWS)
    before = {table: read(database_path, f"SELECT * FROM {table} ORDER BY id") for table in TABLES}

    app = create_app(app_config)

    after = dump_database(app)
    for table in ("users", "messages", "import_batches"):
        assert after[table] == before[table]
    assert after["imported_records"] == [
        (1, "partner-daemon", "shop", "sku-2", '{"by":"partner-daemon"}', 1),
        (2, "m2m-demo", "shop", "sku-1", '{"by":"m2m-demo"}', 2),
    ]
    assert user_version(database_path) == SCHEMA_VERSION
    # A database from before the API set its SQLite application id is recognised by its tables
    # and gets the id.
    assert read(database_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert f"database migrated from schema version 0 to {SCHEMA_VERSION}" in caplog.text


def test_after_the_migration_each_client_owns_its_records(app_config, database_path, tokens):
    """The record the first release refused to m2m-demo (partner-daemon's sku-2 stood in for it)
    can now be imported by m2m-demo, as its own."""
    first_release_database(database_path, *FIRST_RELEASE_ROWS)
    client = create_app(app_config).test_client()
    token = tokens.machine(("import:data",), azp="m2m-demo", sub="m2m-demo@clients")
    body = {
        "batch_id": "a-2",
        "source": "shop",
        "records": [{"external_id": "sku-2", "data": {"by": "m2m-demo"}}],
    }

    response = client.post("/api/imports", json=body, headers=bearer(token))

    assert response.status_code == 201
    assert response.get_json()["created"] == 1
    assert read(
        database_path, "SELECT client_id, external_id, data FROM imported_records ORDER BY id"
    ) == [
        ("partner-daemon", "sku-2", '{"by":"partner-daemon"}'),
        ("m2m-demo", "sku-1", '{"by":"m2m-demo"}'),
        ("m2m-demo", "sku-2", '{"by":"m2m-demo"}'),
    ]


def test_a_migrated_database_is_not_migrated_again(app_config, database_path, caplog):
    first_release_database(database_path, *FIRST_RELEASE_ROWS)
    migrated = dump_database(create_app(app_config))
    caplog.clear()

    restarted = create_app(app_config)

    assert dump_database(restarted) == migrated
    assert "migrated" not in caplog.text


def test_a_new_database_gets_the_current_schema_and_version(app_config, database_path, caplog):
    create_app(app_config)

    assert user_version(database_path) == SCHEMA_VERSION
    assert read(database_path, "PRAGMA application_id") == [(APPLICATION_ID,)]
    columns = [row[1] for row in read(database_path, "PRAGMA table_info(imported_records)")]
    assert columns == ["id", "client_id", "source", "external_id", "data", "import_batch_id"]
    assert "migrated" not in caplog.text


def test_a_migration_that_fails_changes_nothing_and_stops_the_start(app_config, database_path):
    """A record whose batch is gone (the first release could not make one, but a file can hold
    anything) has no client to own it: the start stops, and the file is as it was."""
    orphan = "INSERT INTO imported_records VALUES (3, 'shop', 'sku-9', '{}', 42)"
    first_release_database(database_path, *FIRST_RELEASE_ROWS, orphan)
    before = read(database_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
    records = read(database_path, "SELECT * FROM imported_records ORDER BY id")

    with pytest.raises(
        ConfigurationError, match="DATABASE_URL: cannot use .*NOT NULL constraint failed"
    ):
        create_app(app_config)

    assert read(database_path, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == before
    assert read(database_path, "SELECT * FROM imported_records ORDER BY id") == records
    assert user_version(database_path) == 0


def test_a_database_of_a_newer_version_stops_the_start(app_config, database_path):
    create_app(app_config)
    connection = sqlite3.connect(database_path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()

    with pytest.raises(
        ConfigurationError, match=f"schema version {SCHEMA_VERSION + 1} is newer than this API's"
    ):
        create_app(app_config)

    assert user_version(database_path) == SCHEMA_VERSION + 1
