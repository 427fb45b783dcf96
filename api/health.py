"""``GET /healthz``: 200 once the API can serve, that is, once its database answers."""

from flask import Blueprint

from api.db import get_db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    get_db().execute("SELECT 1").fetchone()
    return {"status": "ok"}
