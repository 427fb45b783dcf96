"""The two endpoints of Auth0's backend API quickstart: one public, one for any valid token."""

from flask import Blueprint, g

from shared.flask_auth import require_auth

bp = Blueprint("quickstart", __name__, url_prefix="/api")


@bp.get("/public")
def public():
    return {
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
    }


@bp.get("/private")
@require_auth()
def private():
    return {
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "sub": g.claims.subject,
        "client_id": g.claims.client_id,
        "scopes": list(g.claims.scopes),
    }
