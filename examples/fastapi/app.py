"""A FastAPI service whose views are protected by the copied validator (see README.md here).

It lives in one package with ``token_validation.py`` and ``fastapi_auth.py``; run it with
``uvicorn yourservice.app:app``. Settings, as for every Flowlab part: ``AUTH_ISSUER`` (required,
exactly as in the tokens' ``iss``), ``AUTH_AUDIENCE`` (required, the API identifier),
``AUTH_JWKS_URL`` (only when the
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

auth = BearerAuth(
    TokenValidator(ISSUER, AUDIENCE, jwks_url=os.environ.get("AUTH_JWKS_URL") or None),
    realm=AUDIENCE,
)
# No /docs nor /redoc: FastAPI's pages load Swagger UI and ReDoc (scripts and styles) from a CDN,
# code of a third party running on the service's own origin. The OpenAPI document stays at
# /openapi.json for tools to read.
app = FastAPI(title="Flowlab FastAPI example", docs_url=None, redoc_url=None)
auth.init_app(app)

ReadMessages = Annotated[Claims, Depends(auth.require(scopes=["read:messages"]))]
# A machine client's endpoint: with Auth0's RBAC off, a user is granted any scope the client
# asks for, import:data too, so the scope alone would let a person in.
ImportData = Annotated[Claims, Depends(auth.require(scopes=["import:data"], machine_only=True))]


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
    """Needs a machine token (by client credentials) with the ``import:data`` scope."""
    return {"imported_by": claims.client_id}
