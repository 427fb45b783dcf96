"""Django adapter for ``token_validation.py``: OAuth 2.0 bearer tokens (RFC 6750) on Django views.

To copy it: put this file and Flowlab's ``shared/token_validation.py`` side by side in ONE package
of yours, e.g. ``yourservice/django_auth.py`` and ``yourservice/token_validation.py`` (a folder
with an ``__init__.py``, such as a Django app or the project package). The validator is imported
relatively, ``from .token_validation import ...``, so it resolves to
``yourservice.token_validation`` whatever the package is called, with no edit; nothing else from
Flowlab is needed. One validator per process, one decorator per protected view::

    from django.http import JsonResponse
    from .django_auth import BearerAuth
    from .token_validation import TokenValidator

    auth = BearerAuth(TokenValidator(issuer, audience), realm=audience)

    @auth.require(scopes=["read:messages"])
    def list_messages(request):
        return JsonResponse({"for": request.claims.subject})

What the decorator enforces, in this order:

1. The token comes from the ``Authorization: Bearer <token>`` header (scheme case-insensitive).
   A token in the query string or a malformed header: 400 ``invalid_request``; a word after
   ``Bearer`` that is no b64token: 401 ``invalid_token``; no credentials at all (or another
   scheme): 401 with a bare challenge.
2. ``TokenValidator.validate``: 401 ``invalid_token``, or 503 when no signing key can be had.
3. ``scopes`` (the ``scope`` claim) and ``permissions`` (Auth0 RBAC claim): 403
   ``insufficient_scope`` naming what is missing in ``scope="..."``.

On success the verified ``Claims`` are on ``request.claims``. Every refusal is a JSON body
``{"error", "error_description"}`` with the RFC 6750 section 3 ``WWW-Authenticate`` challenge; the
description is generic, the precise reason is on ``request.auth_refusal`` and in the validator's
log, at INFO on the logger ``yourservice.token_validation``. Django's default logging passes on
only its own ``django`` loggers, so that line is shown only with a ``LOGGING`` setting that gives
the root logger a handler at INFO (the example's ``settings.py`` has it).

Views are synchronous: ``validate`` may block on a JWKS download, which a WSGI worker thread may
do. A protected view is exempt from CSRF checks: a bearer token is never attached by a browser on
its own, so a forged cross-site request carries none.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

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

__all__ = ["BearerAuth"]

View = Callable[..., HttpResponse]

# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
#               credentials = "Bearer" 1*SP b64token
# RFC 9110 11.1: "It uses a case-insensitive token to identify the authentication scheme".
BEARER_CREDENTIALS = re.compile(r"Bearer +([^\s,]+)", re.IGNORECASE)
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
BEARER_SCHEME = re.compile(r"Bearer\b", re.IGNORECASE)
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


class BearerAuth:
    """One validator and its realm; ``require(...)`` makes the decorators of the views."""

    def __init__(self, validator: TokenValidator, *, realm: str) -> None:
        # RFC 6750 3: "The "realm" attribute MAY be included to indicate the scope of
        # protection" as an RFC 2617 quoted-string; a quote or backslash would break the header.
        if not realm or UNSAFE_REALM_CHARACTERS.search(realm):
            raise ValueError(
                "realm must be a non-empty string without quotes, backslashes or controls"
            )
        self.validator = validator
        self.realm = realm

    def require(
        self, scopes: Iterable[str] = (), permissions: Iterable[str] = ()
    ) -> Callable[[View], View]:
        """Protect a view; see the module docstring for what is checked."""
        if isinstance(scopes, str) or isinstance(permissions, str):
            raise TypeError("scopes and permissions are lists of names, not one string")
        required_scopes, required_permissions = tuple(scopes), tuple(permissions)

        def decorator(view: View) -> View:
            @functools.wraps(view)
            def protected_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                try:
                    claims = self.validator.validate(bearer_token(request))
                    request.claims = authorize(claims, required_scopes, required_permissions)  # type: ignore[attr-defined]
                except TokenValidationError as error:
                    return self.error_response(request, error)
                return view(request, *args, **kwargs)

            protected_view.csrf_exempt = True  # type: ignore[attr-defined]
            return protected_view

        return decorator

    def error_response(self, request: HttpRequest, error: TokenValidationError) -> JsonResponse:
        """The RFC 6750 section 3 answer to a refused request: status, challenge, JSON body."""
        request.auth_refusal = error.reason  # type: ignore[attr-defined]
        response = JsonResponse(error.as_dict(), status=error.status_code)
        # RFC 6750 3: "If the protected resource request does not include authentication
        # credentials or does not contain an access token that enables access to the protected
        # resource, the resource server MUST include the HTTP "WWW-Authenticate" response
        # header field". KeysUnavailable is no fault of the credentials and sends no challenge.
        challenge = error.www_authenticate(self.realm)
        if challenge is not None:
            response["WWW-Authenticate"] = challenge
        if isinstance(error, KeysUnavailable):
            # RFC 9110 10.2.3: "When sent with a 503 (Service Unavailable) response, Retry-After
            # indicates how long the service is expected to be unavailable to the client."
            response["Retry-After"] = str(math.ceil(self.validator.jwks.cooldown))
        return response


def bearer_token(request: HttpRequest) -> str:
    """The access token of ``request``, from its Authorization header only."""
    # RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token in each
    # request." The URI query parameter (RFC 6750 2.3) is not supported: a token there is
    # refused, so the client learns to stop leaking it into logs and histories.
    if "access_token" in request.GET:
        raise InvalidRequest("access_token in the query string")
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is None:
        raise MissingCredentials("no Authorization header")
    if BEARER_SCHEME.match(authorization) is None:
        raise MissingCredentials("Authorization header with another scheme than Bearer")
    # RFC 6750 3.1 invalid_request: the request "repeats the same parameter ... or is otherwise
    # malformed". Two Authorization headers reach a WSGI application joined by a comma, so they
    # fail this match too.
    match = BEARER_CREDENTIALS.fullmatch(authorization)
    if match is None:
        raise InvalidRequest("malformed Bearer credentials in the Authorization header")
    token = match.group(1)
    # RFC 6750 3.1 invalid_token: "The access token provided is expired, revoked, malformed, or
    # invalid for other reasons." The reason does not quote the token.
    if B64TOKEN.fullmatch(token) is None:
        raise InvalidToken(
            RefusalCode.MALFORMED, f"Bearer token of {len(token)} characters is not a b64token"
        )
    return token


def authorize(claims: Claims, scopes: tuple[str, ...], permissions: tuple[str, ...]) -> Claims:
    """``claims`` if they grant every one of ``scopes`` and ``permissions``."""
    # RFC 6750 3.1 insufficient_scope: "The request requires higher privileges than provided by
    # the access token." Auth0 RBAC permissions are named in the same "scope" attribute.
    if not claims.has_scopes(*scopes):
        raise InsufficientScope(scopes)
    if not claims.has_permissions(*permissions):
        raise InsufficientScope(
            permissions, f"token lacks required permissions {list(permissions)}"
        )
    return claims
