"""A FastAPI service whose views are protected by the copied validator (see README.md here).

It lives in one package with ``token_validation.py`` and ``fastapi_auth.py``; run it with
``uvicorn yourservice.app:app``. Settings, as for every Flowlab part: ``AUTH_ISSUER`` (exactly as
in the tokens' ``iss``), ``AUTH_AUDIENCE`` (the API identifier), ``AUTH_JWKS_URL`` (only when the
keys are fetched from another address than the discovery document's ``jwks_uri``).
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from .fastapi_auth import BearerAuth
from .token_validation import Claims, TokenValidator

# The validator logs why it refused a token at INFO (logger "<package>.token_validation");
# uvicorn sets up only its own loggers, so without this line those reasons are never shown.
logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")

ISSUER = os.environ.get("AUTH_ISSUER", "http://localhost:9000/")
AUDIENCE = os.environ.get("AUTH_AUDIENCE", "https://api.flowlab.local")

auth = BearerAuth(
    TokenValidator(ISSUER, AUDIENCE, jwks_url=os.environ.get("AUTH_JWKS_URL") or None),
    realm=AUDIENCE,
)
app = FastAPI(title="Flowlab FastAPI example")
auth.init_app(app)

ReadMessages = Annotated[Claims, Depends(auth.require(scopes=["read:messages"]))]
ImportData = Annotated[Claims, Depends(auth.require(scopes=["import:data"]))]


@app.get("/api/public")
def public() -> dict[str, str]:
    """No token needed."""
    return {"message": "Anyone may read this."}


@app.get("/api/messages")
def list_messages(claims: ReadMessages) -> dict[str, Any]:
    """Needs the ``read:messages`` scope."""
    return {"subject": claims.subject, "scopes": list(claims.scopes), "messages": []}


@app.post("/api/imports", status_code=201)
def import_data(claims: ImportData) -> dict[str, Any]:
    """Needs the ``import:data`` scope (a machine client's, by client credentials)."""
    return {"imported_by": claims.client_id}
