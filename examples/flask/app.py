"""A Flask service whose views are protected by the copied validator (see README.md here).

It lives in one package with ``token_validation.py`` and ``flask_auth.py`` (both copied from
Flowlab's ``shared/``); run it with ``gunicorn yourservice.app:app``. Settings, as for every
Flowlab part: ``AUTH_ISSUER`` (required, exactly as in the tokens' ``iss``), ``AUTH_AUDIENCE``
(required, the API identifier), ``AUTH_JWKS_URL`` (only when the keys are fetched from another address than the
discovery document's ``jwks_uri``).
"""

import logging
import os

from flask import Flask, g

from . import flask_auth
from .token_validation import TokenValidator

# The validator logs why it refused a token at INFO (logger "<package>.token_validation");
# Flask sets up no logging for it, so without this line those reasons are never shown.
logging.basicConfig(level=logging.INFO)


def required_setting(name: str) -> str:
    """The environment variable ``name``; the service does not start without it."""
    value = os.environ.get(name)
    if not value:
        # No default: a service started without its settings would otherwise trust whatever
        # issuer a default names (http://localhost:9000/ is anything listening on port 9000).
        raise RuntimeError(f"{name} is not set: the service needs it to know whom to trust")
    return value


ISSUER = required_setting("AUTH_ISSUER")
AUDIENCE = required_setting("AUTH_AUDIENCE")

app = Flask(__name__)
flask_auth.init_app(
    app,
    TokenValidator(ISSUER, AUDIENCE, jwks_url=os.environ.get("AUTH_JWKS_URL") or None),
    realm=AUDIENCE,
)


@app.get("/api/public")
def public():
    """No token needed."""
    return {"message": "Anyone may read this."}


@app.get("/api/messages")
@flask_auth.require_auth(scopes=["read:messages"])
def list_messages():
    """Needs the ``read:messages`` scope."""
    return {"subject": g.claims.subject, "scopes": list(g.claims.scopes), "messages": []}


@app.post("/api/imports")
# A machine client's endpoint: with Auth0's RBAC off, a user is granted any scope the client
# asks for, import:data too, so the scope alone would let a person in.
@flask_auth.require_auth(scopes=["import:data"], machine_only=True)
def import_data():
    """Needs a machine token (by client credentials) with the ``import:data`` scope."""
    return {"imported_by": g.claims.client_id}, 201
