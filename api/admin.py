"""``GET /api/admin/stats``: counts of the API's data, for callers holding the Auth0 RBAC
permission ``read:stats`` (the ``permissions`` claim) whose application was granted the scope
``read:stats`` too (the ``scope`` claim): the permission says the user may, the scope that the user
let this application do it for them (see api/README.md, "Scopes and permissions")."""

from flask import Blueprint

from api.db import get_db
from shared.flask_auth import require_auth

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


@bp.get("/stats")
@require_auth(scopes=["read:stats"], permissions=["read:stats"])
def stats():
    # One statement, so the four counts come from one consistent snapshot.
    row = (
        get_db()
        .execute(
            "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM messages) AS messages,"
            " (SELECT count(*) FROM import_batches) AS import_batches,"
            " (SELECT count(*) FROM imported_records) AS imported_records"
        )
        .fetchone()
    )
    return dict(row)
