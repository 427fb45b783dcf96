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
   A token in the query string or a form body, or a malformed header: 400 ``invalid_request``; a
   word after ``Bearer`` that is no b64token: 401 ``invalid_token``; no credentials at all (or
   another scheme): 401 with a bare challenge.
2. ``TokenValidator.validate``: 401 ``invalid_token``, or 503 when no signing key can be had.
3. The kind of token: ``user_only`` refuses machine (client-credentials) tokens, ``machine_only``
   refuses user tokens, both with 403.
4. ``scopes`` (the ``scope`` claim) and ``permissions`` (Auth0 RBAC claim): 403
   ``insufficient_scope`` naming what is missing in ``scope="..."``.

The RFC 6750 rules of steps 1, 3 and 4 are the validator's, the same in every framework's
adapter: ``bearer_token`` (the header), ``authorize`` (kind, scopes, permissions) and
``check_realm``; this file reads the request, refuses a token sent another way, and answers
refusals. A form body is read only when its content type is a form's (``request.POST``, or for
another method the same parse of ``request.body``); the view can read it again.

On success the verified ``Claims`` are on ``request.claims``. Every refusal is a JSON body
``{"error", "error_description"}`` with the RFC 6750 section 3 ``WWW-Authenticate`` challenge; the
description is generic, the precise reason is on ``request.auth_refusal`` and in the validator's
log, at INFO on the logger ``yourservice.token_validation``. Django's default logging passes on
only its own ``django`` loggers, so that line is shown only with a ``LOGGING`` setting that gives
the root logger a handler at INFO (the example's ``settings.py`` has it).

Views are synchronous: ``validate`` may block on a JWKS download, which a WSGI worker thread may
do; ``require`` refuses an ``async def`` view with a ``TypeError`` when it decorates it. A
protected view is exempt from CSRF checks: a bearer token is never attached by a browser on
its own, so a forged cross-site request carries none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict

from .token_validation import (
    AuthRequirements,
    InvalidRequest,
    TokenValidationError,
    TokenValidator,
    authorize,
    bearer_token,
    check_realm,
    refusal_headers,
)

__all__ = ["BearerAuth"]

View = Callable[..., HttpResponse]
FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class BearerAuth:
    """One validator and its realm; ``require(...)`` makes the decorators of the views."""

    def __init__(self, validator: TokenValidator, *, realm: str) -> None:
        self.validator = validator
        self.realm = check_realm(realm)

    def require(
        self,
        scopes: Iterable[str] = (),
        permissions: Iterable[str] = (),
        *,
        user_only: bool = False,
        machine_only: bool = False,
    ) -> Callable[[View], View]:
        """Protect a view; see the module docstring for what is checked."""
        requirements = AuthRequirements.of(
            scopes, permissions, user_only=user_only, machine_only=machine_only
        )

        def decorator(view: View) -> View:
            # The wrapper below is synchronous: around an async def view it would hand Django
            # an unawaited coroutine instead of a response, a 500 at every request.
            if iscoroutinefunction(view):
                raise TypeError(
                    f"{view.__qualname__} is a coroutine function: BearerAuth.require protects "
                    "synchronous views only"
                )

            @functools.wraps(view)
            def protected_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                try:
                    claims = self.validator.validate(request_token(request))
                    request.claims = authorize(claims, requirements)  # type: ignore[attr-defined]
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
        for name, value in refusal_headers(error, self.realm, self.validator).items():
            response[name] = value
        return response


def request_token(request: HttpRequest) -> str:
    """The access token of ``request``, from its Authorization header only."""
    # RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token in each
    # request." The URI query parameter (RFC 6750 2.3) is not supported: a token there is
    # refused, so the client learns to stop leaking it into logs and histories.
    if "access_token" in request.GET:
        raise InvalidRequest("access_token in the query string")
    if request.content_type in FORM_MEDIA_TYPES and "access_token" in form_fields(request):
        raise InvalidRequest("access_token in a form-encoded body")
    # Two Authorization headers reach a WSGI application joined by a comma: bearer_token
    # refuses them as malformed.
    return bearer_token(request.META.get("HTTP_AUTHORIZATION"))


def form_fields(request: HttpRequest) -> QueryDict:
    """The fields of the form body of ``request``: Django parses the body of a POST only."""
    if request.method == "POST":
        return request.POST
    if request.content_type == "multipart/form-data":
        return request.parse_file_upload(request.META, BytesIO(request.body))[0]
    return QueryDict(request.body)
