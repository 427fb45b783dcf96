"""FastAPI adapter for ``token_validation.py``: OAuth 2.0 bearer tokens (RFC 6750) as a dependency.

To copy it: put this file and Flowlab's ``shared/token_validation.py`` side by side in ONE package
of yours, e.g. ``yourservice/fastapi_auth.py`` and ``yourservice/token_validation.py`` (a folder
with an ``__init__.py``). The validator is imported relatively, ``from .token_validation import
...``, so it resolves to ``yourservice.token_validation`` whatever the package is called, with no
edit; nothing else from Flowlab is needed. One validator per app, one dependency per requirement::

    from typing import Annotated
    from fastapi import Depends, FastAPI
    from .fastapi_auth import BearerAuth
    from .token_validation import Claims, TokenValidator

    app = FastAPI()
    auth = BearerAuth(TokenValidator(issuer, audience), realm=audience)
    auth.init_app(app)

    @app.get("/api/messages")
    def list_messages(claims: Annotated[Claims, Depends(auth.require(scopes=["read:messages"]))]):
        return {"for": claims.subject}

The thread pool: ``TokenValidator.validate`` is blocking code. A token whose key is cached costs
microseconds, but the first request, a rotated ``kid`` or an expired key set waits for the JWKS
download (up to ``http_timeout`` seconds). Called from ``async def`` code on the event loop, that
wait would stall every other request of the worker, so the dependency runs it with Starlette's
``run_in_threadpool``: the loop keeps serving while one request waits for keys.

What the dependency enforces, in this order:

1. The token comes from one ``Authorization: Bearer <token>`` header (scheme case-insensitive).
   A token in the query string or a form body, two Authorization headers or a malformed header:
   400 ``invalid_request``; a word after ``Bearer`` that is no b64token: 401 ``invalid_token``;
   no credentials at all (or another scheme): 401 with a bare challenge.
2. ``TokenValidator.validate``: 401 ``invalid_token``, or 503 when no signing key can be had.
3. The kind of token: ``user_only`` refuses machine (client-credentials) tokens, ``machine_only``
   refuses user tokens, both with 403.
4. ``scopes`` (the ``scope`` claim) and ``permissions`` (Auth0 RBAC claim): 403
   ``insufficient_scope`` naming what is missing in ``scope="..."``.

The RFC 6750 rules of steps 1, 3 and 4 are the validator's, the same in every framework's
adapter: ``bearer_token`` (the header), ``authorize`` (kind, scopes, permissions) and
``check_realm``; this file reads the request, refuses a token sent another way or in two headers,
and answers refusals. A form body is read (Starlette's ``request.form()``, which needs
``python-multipart``) only when its content type is a form's; the view can read it again.

Every refusal is answered by the exception handler ``init_app`` installs, as RFC 6750 section 3
says: the JSON body ``{"error", "error_description"}`` (not FastAPI's ``{"detail": ...}``, which
is for ``HTTPException``) and the ``WWW-Authenticate`` challenge. The description is generic; the
precise reason is on ``request.state.auth_refusal`` and in the validator's log, at INFO on the
logger ``yourservice.token_validation``. uvicorn configures only its own loggers, so that INFO
line is shown only once the application sets up logging: ``logging.basicConfig(level=logging.INFO)``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .token_validation import (
    AuthRequirements,
    Claims,
    InvalidRequest,
    TokenValidationError,
    TokenValidator,
    authorize,
    bearer_token,
    check_realm,
    refusal_headers,
)

__all__ = ["BearerAuth"]

FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Starlette reads a form with python-multipart: without it, the form of a request could not be
# searched for a token (every form request would be a 500), so the service does not start.
if importlib.util.find_spec("python_multipart") is None:
    raise ImportError("fastapi_auth needs python-multipart: pip install python-multipart")


class BearerAuth:
    """One validator and its realm; ``require(...)`` makes the dependencies of the views."""

    def __init__(self, validator: TokenValidator, *, realm: str) -> None:
        self.validator = validator
        self.realm = check_realm(realm)

    def init_app(self, app: FastAPI) -> None:
        """Answer every ``TokenValidationError`` of ``app`` as RFC 6750 section 3 says."""
        app.add_exception_handler(TokenValidationError, self.error_response)

    def require(
        self,
        scopes: Iterable[str] = (),
        permissions: Iterable[str] = (),
        *,
        user_only: bool = False,
        machine_only: bool = False,
    ) -> Callable[[Request], Awaitable[Claims]]:
        """A dependency giving the verified ``Claims`` of a token of the kind asked for
        (``user_only``, ``machine_only``) granting all of ``scopes`` and ``permissions``; see
        the module docstring for what is checked."""
        requirements = AuthRequirements.of(
            scopes, permissions, user_only=user_only, machine_only=machine_only
        )

        async def verified_claims(request: Request) -> Claims:
            token = await request_token(request)
            # Blocking (a JWKS download at worst): off the event loop, see the module docstring.
            claims = await run_in_threadpool(self.validator.validate, token)
            return authorize(claims, requirements)

        return verified_claims

    async def error_response(self, request: Request, error: TokenValidationError) -> JSONResponse:
        """The RFC 6750 section 3 answer to a refused request: status, challenge, JSON body."""
        request.state.auth_refusal = error.reason
        headers = refusal_headers(error, self.realm, self.validator)
        return JSONResponse(error.as_dict(), status_code=error.status_code, headers=headers)


async def request_token(request: Request) -> str:
    """The access token of ``request``, from its one Authorization header."""
    # RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token in each
    # request." RFC 6750 2.3 (URI query parameter) and 2.2 (form-encoded body) are methods this
    # resource server does not support: a token there is refused, not silently ignored, so the
    # client learns to stop leaking it into logs and histories.
    if "access_token" in request.query_params:
        raise InvalidRequest("access_token in the query string")
    if is_form(request) and "access_token" in await request.form():
        raise InvalidRequest("access_token in a form-encoded body")
    authorizations = request.headers.getlist("authorization")
    # RFC 6750 3.1 invalid_request: the request "repeats the same parameter ... or is otherwise
    # malformed". ASGI keeps two Authorization headers apart (WSGI joins them with a comma).
    if len(authorizations) > 1:
        raise InvalidRequest("more than one Authorization header")
    return bearer_token(authorizations[0] if authorizations else None)


def is_form(request: Request) -> bool:
    """Whether the body of ``request`` is a form (its media type, without parameters)."""
    media_type = request.headers.get("content-type", "").partition(";")[0]
    return media_type.strip().lower() in FORM_MEDIA_TYPES
