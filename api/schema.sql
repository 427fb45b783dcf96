-- Business data of the protected API. Identities live at the authorization server (Auth0 or the
-- local authserver); rows here reference them by the token's `sub`, as Auth0 advises.
--
-- This is the current schema (api.db.SCHEMA_VERSION, kept in PRAGMA user_version). A database made
-- by an earlier version is brought here by api.db.MIGRATIONS before this file runs; a new table
-- goes here, a change to an existing one needs a migration as well.

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

-- One row per delivered batch. The idempotency key is scoped to the client that sent it, so one
-- client can never replay (and read) another client's stored response.
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

-- Each record is owned by the client that imported it: the key includes client_id, so no client
-- can overwrite, shadow or block another client's record by importing the same external_id first.
CREATE TABLE IF NOT EXISTS imported_records (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    data TEXT NOT NULL,
    import_batch_id INTEGER NOT NULL REFERENCES import_batches (id),
    UNIQUE (client_id, source, external_id)
);
