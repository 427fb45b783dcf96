"""``/api/messages``: read with scope ``read:messages``; post with ``write:messages`` as a user.

A message's author is the ``sub`` of the token that posted it; posting also records the user's
profile (see ``api.profile``), which the message references.
"""

from typing import Any

from flask import Blueprint, g

from api.db import get_db, utc_now, write_transaction
from api.profile import record_visit
from api.request_body import only_fields, read_json_object, string_field
from shared.flask_auth import require_auth

bp = Blueprint("messages", __name__, url_prefix="/api")

MAX_TEXT_LENGTH = 500
LIST_LIMIT = 100
MESSAGE_FIELDS = frozenset({"text"})


def message_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "author": row["author_sub"],
        "text": row["text"],
        "created_at": row["created_at"],
    }


@bp.get("/messages")
@require_auth(scopes=["read:messages"])
def list_messages():
    rows = get_db().execute(
        "SELECT id, author_sub, text, created_at FROM messages ORDER BY id DESC LIMIT ?",
        (LIST_LIMIT,),
    )
    return {"messages": [message_json(row) for row in rows]}


@bp.post("/messages")
@require_auth(scopes=["write:messages"], user_only=True)
def post_message():
    body = read_json_object()
    only_fields(body, MESSAGE_FIELDS, "body")
    text = string_field(body, "text", MAX_TEXT_LENGTH, "body")
    with write_transaction() as db:
        record_visit(db, g.claims)
        row = db.execute(
            "INSERT INTO messages (author_sub, text, created_at) VALUES (?, ?, ?)"
            " RETURNING id, author_sub, text, created_at",
            (g.claims.subject, text, utc_now()),
        ).fetchone()
    return message_json(row), 201
