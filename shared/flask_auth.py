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
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, request

from .token_validation import (
    Claims,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    RefusalCode,
    TokenValidationError,
    TokenValidator,
)

__all__ = ["AuthRequirements", "init_app", "require_auth"]

EXTENSION_NAME = "flowlab_auth"
View = TypeVar("View", bound=Callable[..., Any])

# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
#               credentials = "Bearer" 1*SP b64token
# RFC 9110 11.1: "It uses a case-insensitive token to identify the authentication scheme".
# BEARER_CREDENTIALS takes the one word after the scheme; B64TOKEN judges that word.
BEARER_CREDENTIALS = re.compile(r"Bearer +([^\s,]+)", re.IGNORECASE)
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
BEARER_SCHEME = re.compile(r"Bearer\b", re.IGNORECASE)
FORM_MIMETYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# RFC 6750 3: the quoted-string of a realm may not carry these unescaped.
UNSAFE_REALM_CHARACTERS = re.compile(r'["\\\x00-\x1f\x7f]')


class MissingCredentials(TokenValidationError):
    # RFC 6750 3.1: "If the request lacks any authentication information (e.g., the client was
    # unaware that authentication is necessary or attempted using an unsupported authentication
    # method), the resource server SHOULD NOT include an error code or other error information."
    error = "unauthorized"
    status_code = 401
    description = "An access token is required: send it as 'Authorization: Bearer <token>'."

    def __init__(self, reason: str) -> None:
        super().__init__(RefusalCode.CREDENTIALS_MISSING, reason)

    def www_authenticate(self, realm: str) -> str:
        return f'Bearer realm="{realm}"'


class WrongTokenKind(TokenValidationError):
    """A user token on a machine-only endpoint, or a machine token on a user-only one.

    No scope could fix this, so the 403 challenge carries no ``scope`` attribute.
    """

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, expected: str, reason: str) -> None:
        super().__init__(RefusalCode.SUBJECT_KIND, reason)
        self.description = f"This endpoint accepts {expected} access tokens only."


@dataclass(frozen=True)
class AuthRequirements:
    scopes: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    user_only: bool = False
    machine_only: bool = False


@dataclass(frozen=True)
class _BearerAuth:
    validator: TokenValidator
    realm: str


def init_app(app: Flask, validator: TokenValidator, *, realm: str) -> None:
    """Attach ``validator`` to ``app`` and answer token errors as RFC 6750 section 3 says."""
    # RFC 6750 3: "The "realm" attribute MAY be included to indicate the scope of protection"
    # as an RFC 2617 quoted-string; a quote or backslash in it would break the header.
    if not realm or UNSAFE_REALM_CHARACTERS.search(realm):
        raise ValueError("realm must be a non-empty string without quotes, backslashes or controls")
    app.extensions[EXTENSION_NAME] = _BearerAuth(validator, realm)
    app.register_error_handler(TokenValidationError, bearer_error_response)


def require_auth(
    scopes: Iterable[str] = (),
    permissions: Iterable[str] = (),
    user_only: bool = False,
    machine_only: bool = False,
) -> Callable[[View], View]:
    """Protect a view; see the module docstring for what is checked."""
    if isinstance(scopes, str) or isinstance(permissions, str):
        raise TypeError("scopes and permissions are lists of names, not one string")
    if user_only and machine_only:
        raise ValueError("a view cannot be both user_only and machine_only")
    requirements = AuthRequirements(tuple(scopes), tuple(permissions), user_only, machine_only)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def protected_view(*args: Any, **kwargs: Any) -> Any:
            g.claims = authorize(authenticate(), requirements)
            return view(*args, **kwargs)

        protected_view.auth_requirements = requirements  # type: ignore[attr-defined]
        return protected_view  # type: ignore[return-value]

    return decorator


def bearer_token() -> str:
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
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization is None:
        raise MissingCredentials("no Authorization header")
    if BEARER_SCHEME.match(authorization) is None:
        raise MissingCredentials("Authorization header with another scheme than Bearer")
    # RFC 6750 3.1 invalid_request: the request "repeats the same parameter ... or is otherwise
    # malformed". No word, or more than one, after the scheme; two Authorization headers reach
    # the application joined by a comma, so they fail this match too.
    match = BEARER_CREDENTIALS.fullmatch(authorization)
    if match is None:
        raise InvalidRequest("malformed Bearer credentials in the Authorization header")
    token = match.group(1)
    # RFC 6750 3.1 invalid_token: "The access token provided is expired, revoked, malformed, or
    # invalid for other reasons." One word that is no b64token is a malformed token (401: the
    # client gets a new one), not a malformed request. The reason does not quote the token.
    if B64TOKEN.fullmatch(token) is None:
        raise InvalidToken(
            RefusalCode.MALFORMED, f"Bearer token of {len(token)} characters is not a b64token"
        )
    return token


def authenticate() -> Claims:
    """Validate the current request's bearer token with the app's validator."""
    return current_app.extensions[EXTENSION_NAME].validator.validate(bearer_token())


def authorize(claims: Claims, requirements: AuthRequirements) -> Claims:
    """Check the kind of token, its scopes and its permissions against ``requirements``."""
    if requirements.user_only and claims.is_machine:
        raise WrongTokenKind(
            "user", f"machine token of client {claims.client_id!r} on a user-only endpoint"
        )
    if requirements.machine_only and not claims.is_machine:
        raise WrongTokenKind(
            "machine", f"user token of {claims.subject!r} on a machine-only endpoint"
        )
    # RFC 6750 3.1 insufficient_scope: "The request requires higher privileges than provided by
    # the access token." Auth0 RBAC permissions are checked the same way and named in the same
    # "scope" attribute of the 403 challenge.
    if not claims.has_scopes(*requirements.scopes):
        raise InsufficientScope(requirements.scopes)
    if not claims.has_permissions(*requirements.permissions):
        raise InsufficientScope(
            requirements.permissions,
            f"token lacks required permissions {list(requirements.permissions)}",
        )
    return claims


def bearer_error_response(error: TokenValidationError) -> Response:
    """The RFC 6750 section 3 answer to a refused request: status, challenge, JSON body."""
    bearer_auth: _BearerAuth = current_app.extensions[EXTENSION_NAME]
    g.auth_refusal = error.reason
    response = jsonify(error.as_dict())
    response.status_code = error.status_code
    # RFC 6750 3: "If the protected resource request does not include authentication
    # credentials or does not contain an access token that enables access to the protected
    # resource, the resource server MUST include the HTTP "WWW-Authenticate" response header
    # field". KeysUnavailable is no fault of the credentials and sends no challenge.
    challenge = error.www_authenticate(bearer_auth.realm)
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    if isinstance(error, KeysUnavailable):
        # RFC 9110 10.2.3: "When sent with a 503 (Service Unavailable) response, Retry-After
        # indicates how long the service is expected to be unavailable to the client." The
        # validator retries its JWKS download after its cooldown.
        response.headers["Retry-After"] = str(math.ceil(bearer_auth.validator.jwks.cooldown))
    return response
