"""``/api/imports``: batches of records pushed by a machine client (client credentials flow).

``POST /api/imports`` (scope ``import:data``, machine tokens only) is idempotent, following the
IETF "The Idempotency-Key HTTP Header Field" draft:

- the ``Idempotency-Key`` header, or the body's ``batch_id`` when the header is absent, names
  the batch; keys are scoped to the calling client;
- first delivery: the records are stored and the answer is 201;
- the same key with the same body: 200 with the stored answer and ``"replayed": true``, and
  nothing is written;
- the same key with another body: 422, nothing is written;
- each record is owned by the client that imported it: records are unique per
  ``(client_id, source, external_id)``, so even a batch sent again under a new key creates no
  duplicate (``created`` counts the records that were new to this client), and no client can
  overwrite, shadow or block another client's record by importing its ``external_id`` first.

Everything happens in one write transaction that holds SQLite's write lock from its start:
concurrent deliveries of one key queue up, the first stores the batch, the others replay it;
a request that fails changes nothing.

``GET /api/imports`` (scope ``read:imports``) lists the latest batches, each naming its client,
and counts the records of all clients (the same ``external_id`` imported by two clients is two
records).
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, g, request

from api.db import get_db, utc_now, write_transaction
from api.request_body import canonical_json, only_fields, read_json_object, string_field
from shared.flask_auth import require_auth

bp = Blueprint("imports", __name__, url_prefix="/api")

MAX_RECORDS = 1000
MAX_BATCH_ID_LENGTH = 200
MAX_SOURCE_LENGTH = 100
MAX_EXTERNAL_ID_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 255
LIST_LIMIT = 100
BATCH_FIELDS = frozenset({"batch_id", "source", "records"})
RECORD_FIELDS = frozenset({"external_id", "data"})
# Visible ASCII without the comma, which would hide a second Idempotency-Key header joined to
# the first by the server.
IDEMPOTENCY_KEY_CHARACTER = r"[\x21-\x2b\x2d-\x7e]"
IDEMPOTENCY_KEY = re.compile(rf"{IDEMPOTENCY_KEY_CHARACTER}{{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}")


@dataclass(frozen=True)
class Record:
    external_id: str
    data: str


@dataclass(frozen=True)
class Batch:
    batch_id: str
    source: str
    records: tuple[Record, ...]


def parse_batch(body: dict[str, Any]) -> Batch:
    only_fields(body, BATCH_FIELDS, "body")
    batch_id = string_field(body, "batch_id", MAX_BATCH_ID_LENGTH, "body")
    source = string_field(body, "source", MAX_SOURCE_LENGTH, "body")
    records = body.get("records")
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        abort(400, description=f"body.records must be an array of at most {MAX_RECORDS} records.")
    parsed = []
    for position, record in enumerate(records):
        where = f"body.records[{position}]"
        if not isinstance(record, dict):
            abort(400, description=f"{where} must be an object.")
        only_fields(record, RECORD_FIELDS, where)
        external_id = string_field(record, "external_id", MAX_EXTERNAL_ID_LENGTH, where)
        if not isinstance(record.get("data"), dict):
            abort(400, description=f"{where}.data must be an object.")
        parsed.append(Record(external_id, canonical_json(record["data"]).decode("utf-8")))
    if len({record.external_id for record in parsed}) != len(parsed):
        abort(400, description="body.records repeats an external_id.")
    return Batch(batch_id, source, tuple(parsed))


def idempotency_key(batch: Batch) -> str:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return batch.batch_id
    if not IDEMPOTENCY_KEY.fullmatch(key):
        abort(
            400,
            description=f"Idempotency-Key must be one header of 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.",
        )
    return key


@bp.post("/imports")
@require_auth(scopes=["import:data"], machine_only=True)
def import_batch():
    body = read_json_object()
    batch = parse_batch(body)
    key = idempotency_key(batch)
    request_hash = hashlib.sha256(canonical_json(body)).hexdigest()
    client_id = g.claims.client_id or g.claims.subject
    with write_transaction() as db:
        delivered = db.execute(
            "SELECT request_hash, response FROM import_batches WHERE client_id = ? AND idempotency_key = ?",
            (client_id, key),
        ).fetchone()
        if delivered is not None:
            # Idempotency-Key draft: "If there is an attempt to reuse an idempotency key with a
            # different request payload, the resource server SHOULD reply with a HTTP 422 status
            # code".
            if delivered["request_hash"] != request_hash:
                abort(
                    422, description="This idempotency key was already used for a different batch."
                )
            return {**json.loads(delivered["response"]), "replayed": True}, 200
        batch_row_id = db.execute(
            "INSERT INTO import_batches (idempotency_key, batch_id, client_id, source, request_hash,"
            " record_count, created, received_at, response) VALUES (?, ?, ?, ?, ?, ?, 0, ?, '{}')",
            (
                key,
                batch.batch_id,
                client_id,
                batch.source,
                request_hash,
                len(batch.records),
                utc_now(),
            ),
        ).lastrowid
        # Only this client's own record can conflict: it was imported before and stays as it was.
        created = db.executemany(
            "INSERT INTO imported_records (client_id, source, external_id, data, import_batch_id)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (client_id, source, external_id) DO NOTHING",
            [
                (client_id, batch.source, record.external_id, record.data, batch_row_id)
                for record in batch.records
            ],
        ).rowcount
        response = {
            "batch_id": batch.batch_id,
            "source": batch.source,
            "received": len(batch.records),
            "created": created,
        }
        db.execute(
            "UPDATE import_batches SET created = ?, response = ? WHERE id = ?",
            (created, json.dumps(response), batch_row_id),
        )
    return {**response, "replayed": False}, 201


@bp.get("/imports")
@require_auth(scopes=["read:imports"])
def list_imports():
    db = get_db()
    rows = db.execute(
        "SELECT batch_id, source, client_id, record_count, created, received_at"
        " FROM import_batches ORDER BY id DESC LIMIT ?",
        (LIST_LIMIT,),
    )
    imports = [
        {
            "batch_id": row["batch_id"],
            "source": row["source"],
            "client_id": row["client_id"],
            "received": row["record_count"],
            "created": row["created"],
            "received_at": row["received_at"],
        }
        for row in rows
    ]
    (records,) = db.execute("SELECT count(*) FROM imported_records").fetchone()
    return {"imports": imports, "records": records}
