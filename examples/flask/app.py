"""A Flask service whose views are protected by the copied validator (see README.md here).

It lives in one package with ``token_validation.py`` and ``flask_auth.py`` (both copied from
Flowlab's ``shared/``); run it with ``gunicorn yourservice.app:app``. Settings, as for every
Flowlab part: ``AUTH_ISSUER`` (exactly as in the tokens' ``iss``), ``AUTH_AUDIENCE`` (the API
identifier), ``AUTH_JWKS_URL`` (only when the keys are fetched from another address than the
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

ISSUER = os.environ.get("AUTH_ISSUER", "http://localhost:9000/")
AUDIENCE = os.environ.get("AUTH_AUDIENCE", "https://api.flowlab.local")

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
@flask_auth.require_auth(scopes=["import:data"])
def import_data():
    """Needs the ``import:data`` scope (a machine client's, by client credentials)."""
    return {"imported_by": g.claims.client_id}, 201
