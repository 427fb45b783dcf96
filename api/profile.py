"""``GET /api/me``: the API's own profile of the calling user, linked to the token's ``sub``.

As Auth0 advises, identities stay at the identity provider and business data lives in the API's
database, referencing the provider's user id. The profile is created on the first call (with
``email`` and ``name`` when the token carries them) and ``last_seen_at`` moves on every call.
"""

import sqlite3
from typing import Any

from flask import Blueprint, g

from api.db import utc_now, write_transaction
from shared.flask_auth import require_auth
from shared.token_validation import Claims

bp = Blueprint("profile", __name__, url_prefix="/api")

PROFILE_FIELDS = ("id", "sub", "email", "name", "created_at", "last_seen_at")


def _string_claim(claims: Claims, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def record_visit(db: sqlite3.Connection, claims: Claims) -> sqlite3.Row:
    """Create the caller's profile on first sight, else note that it was seen now."""
    now = utc_now()
    return db.execute(
        "INSERT INTO users (sub, email, name, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (sub) DO UPDATE SET last_seen_at = excluded.last_seen_at"
        " RETURNING id, sub, email, name, created_at, last_seen_at",
        (claims.subject, _string_claim(claims, "email"), _string_claim(claims, "name"), now, now),
    ).fetchone()


@bp.get("/me")
@require_auth(user_only=True)
def me() -> dict[str, Any]:
    with write_transaction() as db:
        profile = record_visit(db, g.claims)
    return {field: profile[field] for field in PROFILE_FIELDS}
