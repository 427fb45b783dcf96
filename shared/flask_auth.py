"""Flask adapter for ``token_validation.py``: OAuth 2.0 bearer tokens (RFC 6750) on Flask views.

To copy it: put this file and ``shared/token_validation.py`` side by side in ONE package of
yours, e.g. ``yourservice/flask_auth.py`` and ``yourservice/token_validation.py`` (a folder with
an ``__init__.py``). It needs nothing else from Flowlab: its only import of the validator is
relative, ``from .token_validation import ...``, so it resolves to ``yourservice.token_validation``
whatever the package is called and wherever it lives, with no edit (here it is
``shared.token_validation``). Two loose top-level modules are no package: the relative import
fails there (``ImportError: attempted relative import with no known parent package``).
Dependencies: Flask, and the validator's own (``pyjwt[crypto]``, ``requests``).

One validator per app, set once; one decorator per protected view::

    from flask import Flask, g
    from yourservice import flask_auth
    from yourservice.token_validation import TokenValidator

    app = Flask(__name__)
    flask_auth.init_app(app, TokenValidator(issuer, audience), realm=audience)

    @app.get("/api/messages")
    @flask_auth.require_auth(scopes=["read:messages"])
    def list_messages():
        return {"for": g.claims.subject}

What the decorator enforces, in this order:

1. The token comes from ``Authorization: Bearer <token>`` only (scheme case-insensitive). A token
   in the query string or a form body, two Authorization headers, or a malformed header: 400
   ``invalid_request``. One word after ``Bearer`` that is no b64token (a malformed token): 401
   ``invalid_token``. No credentials at all (or another scheme): 401 with a bare challenge.
2. ``TokenValidator.validate``: 401 ``invalid_token``, or 503 when no signing key can be had.
3. The kind of token: ``user_only`` refuses machine (client-credentials) tokens, ``machine_only``
   refuses user tokens, both with 403.
4. ``scopes`` (the ``scope`` claim) and ``permissions`` (Auth0 RBAC claim): 403
   ``insufficient_scope`` naming what is missing in ``scope="..."``.

The RFC 6750 rules of steps 1, 3 and 4 are the validator's, the same in every framework's adapter:
``bearer_token`` (the header), ``authorize`` (kind, scopes, permissions) and ``check_realm``; this
file reads the Flask request, refuses a token sent another way, and answers refusals.

On success the verified ``Claims`` are on ``flask.g.claims``. Every refusal is a JSON body
``{"error", "error_description"}`` with the RFC 6750 section 3 ``WWW-Authenticate`` challenge;
the description is generic, and the precise reason is left on ``flask.g.auth_refusal`` for the
application's request log. The validator logs its own rejections too, at INFO on the logger
``yourservice.token_validation``; Python's default (WARNING) hides them, and Flask sets up no
logging of its own: ``logging.basicConfig(level=logging.INFO)`` at start-up shows them.
CORS preflight (``OPTIONS``) is answered by Flask before any view runs, so it never needs a token.
Each decorated view carries its ``AuthRequirements`` as ``view.auth_requirements`` (the API's
OpenAPI document is built from them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request

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

__all__ = ["AuthRequirements", "init_app", "require_auth"]

EXTENSION_NAME = "flowlab_auth"
View = TypeVar("View", bound=Callable[..., Any])
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


@dataclass(frozen=True)
class _BearerAuth:
    validator: TokenValidator
    realm: str


def init_app(app: Flask, validator: TokenValidator, *, realm: str) -> None:
    """Attach ``validator`` to ``app`` and answer token errors as RFC 6750 section 3 says."""
    app.extensions[EXTENSION_NAME] = _BearerAuth(validator, check_realm(realm))
    app.register_error_handler(TokenValidationError, bearer_error_response)


def require_auth(
    scopes: Iterable[str] = (),
    permissions: Iterable[str] = (),
    user_only: bool = False,
    machine_only: bool = False,
) -> Callable[[View], View]:
    """Protect a view; see the module docstring for what is checked."""
    requirements = AuthRequirements.of(
        scopes, permissions, user_only=user_only, machine_only=machine_only
    )

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def protected_view(*args: Any, **kwargs: Any) -> Any:
            g.claims = authorize(authenticate(), requirements)
            return view(*args, **kwargs)

        protected_view.auth_requirements = requirements  # type: ignore[attr-defined]
        return protected_view  # type: ignore[return-value]

    return decorator


def request_token() -> str:
    """The access token of the current request, from the Authorization header only."""
    # RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token in each
    # request." RFC 6750 2.3 (URI query parameter) and 2.2 (form-encoded body) are methods this
    # resource server does not support: a token there is refused, not silently ignored, so the
    # client learns to stop leaking it into logs and histories.
    # On every protected request, so read from the WSGI environ: the query string and the form
    # are only parsed when there is one, the common request (a GET) has neither.
    environ = request.environ
    if environ.get("QUERY_STRING") and "access_token" in request.args:
        raise InvalidRequest("access_token in the query string")
    if (
        environ.get("CONTENT_TYPE")
        and request.mimetype in FORM_MIMETYPES
        and "access_token" in request.form
    ):
        raise InvalidRequest("access_token in a form-encoded body")
    # What request.headers.get("Authorization") reads (several such headers arrive joined).
    return bearer_token(environ.get("HTTP_AUTHORIZATION"))


def authenticate() -> Claims:
    """Validate the current request's bearer token with the app's validator."""
    return current_app.extensions[EXTENSION_NAME].validator.validate(request_token())


def bearer_error_response(error: TokenValidationError) -> Response:
    """The RFC 6750 section 3 answer to a refused request: status, challenge, JSON body."""
    bearer_auth: _BearerAuth = current_app.extensions[EXTENSION_NAME]
    g.auth_refusal = error.reason
    response = jsonify(error.as_dict())
    response.status_code = error.status_code
    response.headers.update(refusal_headers(error, bearer_auth.realm, bearer_auth.validator))
    return response
