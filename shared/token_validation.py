"""Validate OAuth 2.0 JWT access tokens (and OpenID Connect ID tokens) the strict way.

This one file is meant to be copied. To use it in your own service:

1. ``pip install "pyjwt[crypto]>=2.15.1" requests`` (the only dependencies besides the
   standard library; requests' urllib3 must be 2.x, its default since 2023).
2. Copy this file into your code base, for example as ``yourservice/token_validation.py``.
3. Create ONE validator per authorization server at start-up and share it between requests
   (it is thread safe and it holds that issuer's key cache)::

       from yourservice.token_validation import (
           AuthRequirements, TokenValidationError, TokenValidator, authorize, bearer_token,
       )

       validator = TokenValidator(
           issuer="https://YOUR_DOMAIN.auth0.com/",     # exactly as in the tokens' "iss"
           audience="https://api.example.com",          # your API identifier
       )
       READ_MESSAGES = AuthRequirements.of(scopes=["read:messages"])

       def handle(request):
           try:
               token = bearer_token(request.headers.get("Authorization"))
               claims = authorize(validator.validate(token), READ_MESSAGES)
           except TokenValidationError as error:
               # error.status_code, error.error, error.description are safe to send;
               # error.www_authenticate(realm) is the RFC 6750 challenge header.
               # error.code names the check that refused (see "Refusal codes" below).
               # The precise reason (error.reason) has already been logged.
               return respond(error.status_code, error.as_dict())
           ...

   ``jwks_url`` defaults to the ``jwks_uri`` of the issuer's discovery document
   (``<issuer>/.well-known/openid-configuration``); pass it explicitly when your service
   reaches the authorization server on a different address than the public issuer.
4. A client checking an OpenID Connect ID token builds a validator whose ``audience`` is its
   own client id and calls ``validate_id_token(token, nonce=...)``; for an ID token returned by
   a refresh, ``validate_refreshed_id_token(token, original=claims)`` with the claims of the
   original ID token (OpenID Connect Core 1.0, 12.2).
5. A framework adapter (Flowlab has ``flask_auth.py``, ``fastapi_auth.py``, ``django_auth.py``)
   is only the glue between its framework and the bearer-request part of this file (RFC 6750),
   which is the same for every framework: ``bearer_token(authorization)`` takes the value of the
   Authorization header (None when there is none) to its token, or refuses the request
   (``MissingCredentials`` for no credentials or another scheme, ``InvalidRequest`` for a
   malformed header or two of them joined by a comma, ``InvalidToken`` for a word that is no
   b64token); ``check_realm(realm)`` refuses a realm that would break the challenge header;
   ``authorize(claims, requirements)`` checks the ``AuthRequirements`` of an endpoint: the kind
   of token (``WrongTokenKind``), its scopes and its permissions (``InsufficientScope``);
   ``refusal_headers(error, realm, validator)`` gives the headers of the RFC 6750 answer to a
   refusal (the ``WWW-Authenticate`` challenge, ``Retry-After`` when keys are unavailable),
   whose body is ``error.as_dict()`` and status ``error.status_code``.

What is checked (each rule is quoted from its RFC next to the line enforcing it): at most 8 KiB,
compact JWS with three canonical base64url segments, JSON objects without duplicate names or
unpaired surrogates (nested too deeply to check: refused), ``alg`` from the configured
allow-list only (never ``none`` or HMAC), no ``crit``, ``jku``/``x5u``/``jwk``/``x5c`` never
used, ``typ`` of an access token, signature with a key of the issuer's JWKS (RSA of 2048 to 8192
bits with an odd exponent between 2**16 and 2**256, ``use``/``key_ops``/``alg`` respected), and
the claims ``iss`` (exact), ``aud`` (contains ours), ``exp``, ``iat``, ``nbf`` (with ``leeway``
seconds of clock skew), ``sub`` and the types of ``scope``, ``permissions``, ``azp``,
``client_id`` and ``gty``; every NumericDate (``exp``, ``iat``, ``nbf``, ``auth_time``) is an
int or float from 0 to 2**53 - 1. Each distinct header segment is parsed and checked once, and
``Claims.header`` is a deeply read-only view of it (JSON objects as read-only mappings, arrays
as tuples); every token is parsed once and its payload decoded only after its signature
verified.

The key cache follows panva/jose's remote JWKS: keys are kept for ``jwks_max_age`` seconds
(shortened by the server's ``Cache-Control: max-age``); a refresh, or a token with an unknown
``kid``, triggers at most one download per ``jwks_cooldown``; one download runs at a time
however many requests wait for it, and requests whose key is cached never wait for it (a stale
set is refreshed in the background); a request waits at most ``http_timeout`` seconds for a
download, and the download itself stops at its connect/read timeouts (``http_timeout`` each),
once reading the body has taken ``http_timeout``, or above 1 MiB; redirects are not followed;
a ``jwks_uri`` from discovery must be https (http only when the issuer itself is an http
loopback address, for local development); when a refresh fails the known keys keep working for
``jwks_stale_if_error`` more seconds; with no key to be had, ``KeysUnavailable`` (HTTP 503) is
raised.

The verified-token cache follows Envoy's ``jwt_authn``: ``validate`` remembers access tokens
that passed every check, keyed by the exact token string (issuer and audience are fixed per
validator), each with its claims and the key that verified it, so a client reusing its token
costs no signature check. Its rules: on every hit ``exp``, ``nbf`` and ``iat`` are compared with
``clock()`` again, with the same ``leeway``, and a token out of its time window is refused (with
the same code as a fresh validation) and dropped; when the key cache has installed a new key set,
a hit is served only if the lookup of the token's ``kid`` (and ``alg``) in the new set finds the
same key, else the entry is dropped and the token validated afresh (so a key that left the JWKS
refuses its tokens, ``kid_unknown``); a hit still needs a usable key set (a stale one is
refreshed in the background, as for any request) and otherwise takes the full path; a refused
token is never cached; a validated token is cached only if an earlier validation noted its
``hash()``, else its hash is noted (TinyLFU's "doorkeeper": a set of hashes, cleared whenever
it holds ``verified_cache_size``), so a token is cached at its second validation, and tokens
used once cost no entry and do not push out the ones that are reused (a hash that collides
only caches a fully validated token early); a hit takes no lock (one dict lookup), only
inserting and dropping do; at most ``verified_cache_size`` entries (default 10,000: about 31 MiB
with 1 KiB tokens), the oldest evicted first; ``verified_cache_size=0`` turns it off. ID tokens
(``validate_id_token``, ``validate_refreshed_id_token``) never use it. A cached token's
``Claims`` are the same object on every hit: treat them, and the lists in them, as read-only.

Clocks: the claims ``exp``, ``nbf`` and ``iat`` are compared with ``clock()``, wall-clock
seconds since the epoch (default ``time.time``); the key cache's ages and cooldowns are counted
with ``monotonic()`` (default ``time.monotonic``). ``TokenValidator(clock=..., monotonic=...)``
takes both (``JWKSCache`` takes ``monotonic``), so that a test moves time instead of sleeping.
The network bounds (``http_timeout``) are always real time, as sockets and waits know no other.

Rejections are logged (logger ``__name__``) with their code and precise reason; the public
``description`` of the exceptions stays generic so that clients learn nothing about the checks.
A value from a token, a JWKS or a download error is logged as its ``repr`` (CR, LF, U+2028 and
every other unprintable character escaped), so one log record is always one line (CWE-117).

Refusal codes (public API of this file, stable): every ``TokenValidationError`` has a ``code``,
a ``RefusalCode`` naming the check that refused (a ``str`` enum: ``error.code == "exp"`` holds),
for the caller to branch on or count; ``claim`` names the claim a claim check read (None for
the other checks); ``reason`` is the precise English that is logged (the model is panva/jose's
``JOSEError.code`` and ``JWTClaimValidationFailed.claim``). Like the reason, code and claim are
for the caller and its log, not for the client: ``as_dict()`` and the challenge carry neither.

    ===================  ======================================================================
    code                 the check that refused
    ===================  ======================================================================
    malformed            not a string holding a compact JWS of three canonical base64url
                         segments of JSON objects (without duplicate names, unpaired
                         surrogates or nesting too deep to check), or a ``kid`` or ``typ``
                         header that is no string
    too_large            the token is over 8 KiB
    alg_not_allowed      ``alg`` is missing or not in the configured allow-list
    crit                 the header names ``crit`` extensions (none is supported)
    typ                  ``typ`` is not a type of access token (RFC 9068 4)
    token_kind           an ID token presented as an access token, or an access token (``typ``
                         ``at+jwt``) as an ID token (RFC 8725 3.12)
    kid_unknown          no key of the issuer's JWKS has the token's ``kid`` (or, for a token
                         without ``kid``, not exactly one key fits its ``alg``)
    key_mismatch         the key with the token's ``kid`` is no key for its ``alg``
    signature            the signature does not verify with the issuer's key
    claim_missing        a required claim is absent (``claim`` names it)
    claim_invalid        a claim has the wrong type, or a NumericDate is out of range
                         (``claim`` names it)
    exp                  the token has expired
    nbf                  the token is not valid yet
    iat                  the token was issued in the future
    iss                  ``iss`` is not the issuer
    aud                  ``aud`` does not contain the audience
    azp                  ID token: several audiences without ``azp``, or ``azp`` is not the
                         client id
    nonce                ID token: ``nonce`` is not the one sent
    refresh_mismatch     refreshed ID token: ``claim`` is not as in the original ID token
    jwks_unavailable     ``KeysUnavailable``: no key can be had from the issuer right now
    request_malformed    ``InvalidRequest`` (``bearer_token``, or an adapter): the token comes
                         by another method than one Authorization header, or that header is
                         malformed
    credentials_missing  ``MissingCredentials`` (``bearer_token``): the request carries no
                         bearer token at all
    insufficient_scope   ``InsufficientScope`` (``authorize``): a required scope or permission
                         is not granted
    subject_kind         ``WrongTokenKind`` (``authorize``): a machine (client-credentials)
                         token where only user tokens are accepted, or a user token where only
                         machine tokens are
    ===================  ======================================================================
"""

from __future__ import annotations

import binascii
import hmac
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple, NoReturn
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

__all__ = [
    "AuthRequirements",
    "Claims",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingCredentials",
    "RefusalCode",
    "TokenValidationError",
    "TokenValidator",
    "WrongTokenKind",
    "authorize",
    "bearer_token",
    "check_realm",
    "refusal_headers",
]

logger = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
MAX_JWKS_BYTES = 1024 * 1024
MIN_RSA_KEY_BITS = 2048
MAX_RSA_KEY_BITS = 8192
MAX_NUMERIC_DATE = 2**53 - 1
CHECKED_HEADER_CACHE_SIZE = 64
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# The defaults of TokenValidator and JWKSCache, in seconds (see the module docstring).
DEFAULT_LEEWAY = 30
DEFAULT_JWKS_MAX_AGE = 600.0
DEFAULT_JWKS_COOLDOWN = 30.0
DEFAULT_JWKS_STALE_IF_ERROR = 3600.0
DEFAULT_HTTP_TIMEOUT = 3.0
DEFAULT_VERIFIED_CACHE_SIZE = 10_000  # entries (see "The verified-token cache" above)

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class RefusalCode(StrEnum):
    """The check that refused a token: ``TokenValidationError.code`` (the table of the module
    docstring says what each means)."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    CRIT = "crit"
    TYP = "typ"
    TOKEN_KIND = "token_kind"  # noqa: S105 (a refusal code, not a credential)
    KID_UNKNOWN = "kid_unknown"
    KEY_MISMATCH = "key_mismatch"
    SIGNATURE = "signature"
    CLAIM_MISSING = "claim_missing"
    CLAIM_INVALID = "claim_invalid"
    EXP = "exp"
    NBF = "nbf"
    IAT = "iat"
    ISS = "iss"
    AUD = "aud"
    AZP = "azp"
    NONCE = "nonce"
    REFRESH_MISMATCH = "refresh_mismatch"
    JWKS_UNAVAILABLE = "jwks_unavailable"
    REQUEST_MALFORMED = "request_malformed"
    CREDENTIALS_MISSING = "credentials_missing"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    SUBJECT_KIND = "subject_kind"


class TokenValidationError(Exception):
    """A token was refused. ``code`` (and ``claim``) name the check that refused it and
    ``reason`` says why, for the caller and the log; the rest may be sent to the client."""

    error = "invalid_request"
    status_code = 400
    description = "The request is malformed."

    def __init__(self, code: RefusalCode, reason: str, *, claim: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.claim = claim

    def as_dict(self) -> dict[str, str]:
        """The JSON body of the error response."""
        return {"error": self.error, "error_description": self.description}

    def www_authenticate(self, realm: str) -> str | None:
        """The RFC 6750 section 3 ``WWW-Authenticate`` value for this error."""
        return (
            f'Bearer realm="{realm}", error="{self.error}", error_description="{self.description}"'
        )


class InvalidRequest(TokenValidationError):
    # RFC 6750 3.1: "The request is missing a required parameter, includes an unsupported
    # parameter or parameter value, repeats the same parameter, uses more than one method for
    # including an access token, or is otherwise malformed. The resource server SHOULD respond
    # with the HTTP 400 (Bad Request) status code."
    error = "invalid_request"
    status_code = 400
    description = "The request is malformed."

    def __init__(self, reason: str) -> None:
        super().__init__(RefusalCode.REQUEST_MALFORMED, reason)


class InvalidToken(TokenValidationError):
    # RFC 6750 3.1: "The access token provided is expired, revoked, malformed, or invalid for
    # other reasons. The resource SHOULD respond with the HTTP 401 (Unauthorized) status code."
    error = "invalid_token"
    status_code = 401
    description = "The access token is invalid."


class InsufficientScope(TokenValidationError):
    # RFC 6750 3.1: "The request requires higher privileges than provided by the access token.
    # The resource server SHOULD respond with the HTTP 403 (Forbidden) status code and MAY
    # include the "scope" attribute with the scope necessary to access the protected resource."
    error = "insufficient_scope"
    status_code = 403
    description = "The access token does not grant the required scope."

    def __init__(self, required: tuple[str, ...] | list[str], reason: str | None = None) -> None:
        self.required = tuple(required)
        super().__init__(
            RefusalCode.INSUFFICIENT_SCOPE,
            reason or f"token lacks required scopes {list(self.required)}",
        )

    def www_authenticate(self, realm: str) -> str:
        return f'{super().www_authenticate(realm)}, scope="{" ".join(self.required)}"'


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


class KeysUnavailable(TokenValidationError):
    """No verification key can be obtained from the issuer right now (HTTP 503).

    RFC 6750 has no code for this; ``temporarily_unavailable`` is RFC 6749's (4.1.2.1).
    It is not a fault of the client's token, so no ``WWW-Authenticate`` challenge is sent.
    """

    error = "temporarily_unavailable"
    status_code = 503
    description = "The token cannot be verified right now; try again later."

    def __init__(self, reason: str) -> None:
        super().__init__(RefusalCode.JWKS_UNAVAILABLE, reason)

    def www_authenticate(self, realm: str) -> None:
        return None


# ---------------------------------------------------------------------------------------------
# Verified claims
# ---------------------------------------------------------------------------------------------


class Claims(Mapping[str, Any]):
    """The verified JWT payload (read-only mapping) with Auth0-aware helpers; ``header`` is the
    token's JOSE header, deeply read-only (it is shared by the tokens with the same header)."""

    __slots__ = ("_payload", "header")

    def __init__(self, payload: dict[str, Any], header: Mapping[str, Any] | None = None) -> None:
        self._payload = payload
        self.header: Mapping[str, Any] = MappingProxyType({}) if header is None else header

    def __getitem__(self, name: str) -> Any:
        return self._payload[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload)

    def __len__(self) -> int:
        return len(self._payload)

    def __repr__(self) -> str:
        return f"Claims({self._payload!r})"

    @property
    def subject(self) -> str:
        return self._payload["sub"]

    @property
    def scopes(self) -> tuple[str, ...]:
        """The space-delimited ``scope`` claim (RFC 8693 4.2, RFC 9068 2.2.3) as a tuple."""
        return tuple(self._payload.get("scope", "").split())

    @property
    def permissions(self) -> tuple[str, ...]:
        """Auth0 RBAC ``permissions`` claim (present when the API enables RBAC)."""
        return tuple(self._payload.get("permissions", ()))

    @property
    def client_id(self) -> str | None:
        """The client the token was issued to: Auth0's ``azp`` or RFC 9068's ``client_id``."""
        return self._payload.get("azp") or self._payload.get("client_id")

    @property
    def is_machine(self) -> bool:
        """True for a client-credentials (machine-to-machine) token, as Auth0 marks them."""
        client_credentials = self._payload.get("gty") == "client-credentials"
        return client_credentials or self._payload.get("sub", "").endswith("@clients")

    def has_scopes(self, *required: str) -> bool:
        granted = self.scopes
        return all(scope in granted for scope in required)

    def has_permissions(self, *required: str) -> bool:
        granted = self.permissions
        return all(permission in granted for permission in required)


# ---------------------------------------------------------------------------------------------
# Bearer requests (RFC 6750): what every framework adapter shares
# ---------------------------------------------------------------------------------------------

# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
#               credentials = "Bearer" 1*SP b64token
# RFC 9110 11.1: "It uses a case-insensitive token to identify the authentication scheme".
# _BEARER_B64TOKEN is that grammar: a well-formed header in one match. Any other header goes
# through _BEARER_SCHEME and _BEARER_CREDENTIALS (the one word after the scheme), which tell
# what is wrong with it.
_BEARER_B64TOKEN = re.compile(r"(?i:Bearer) +([A-Za-z0-9\-._~+/]+=*)")
_BEARER_SCHEME = re.compile(r"Bearer\b", re.IGNORECASE)
_BEARER_CREDENTIALS = re.compile(r"Bearer +([^\s,]+)", re.IGNORECASE)
# RFC 6750 3: the quoted-string of a realm may not carry these unescaped.
_UNSAFE_REALM_CHARACTERS = re.compile(r'["\\\x00-\x1f\x7f]')


def check_realm(realm: str) -> str:
    """``realm`` if it can stand in the challenges' ``realm="..."``; ValueError otherwise."""
    # RFC 6750 3: "The "realm" attribute MAY be included to indicate the scope of protection"
    # as an RFC 2617 quoted-string; a quote or backslash in it would break the header.
    if not realm or _UNSAFE_REALM_CHARACTERS.search(realm):
        raise ValueError("realm must be a non-empty string without quotes, backslashes or controls")
    return realm


def bearer_token(authorization: str | None) -> str:
    """The access token in ``authorization``, the value of the request's Authorization header
    (None when it has none), or the refusal RFC 6750 section 3.1 gives the request."""
    # RFC 6750 3.1: no authentication information, or an unsupported authentication method, is
    # answered without an error code (MissingCredentials).
    if authorization is None:
        raise MissingCredentials("no Authorization header")
    well_formed = _BEARER_B64TOKEN.fullmatch(authorization)
    if well_formed is not None:
        return well_formed.group(1)
    if _BEARER_SCHEME.match(authorization) is None:
        raise MissingCredentials("Authorization header with another scheme than Bearer")
    # RFC 6750 3.1 invalid_request: the request "repeats the same parameter ... or is otherwise
    # malformed". No word, or more than one, after the scheme; two Authorization headers reach a
    # WSGI application joined by a comma, so they fail this match too.
    credentials = _BEARER_CREDENTIALS.fullmatch(authorization)
    if credentials is None:
        raise InvalidRequest("malformed Bearer credentials in the Authorization header")
    # RFC 6750 3.1 invalid_token: "The access token provided is expired, revoked, malformed, or
    # invalid for other reasons." One word that is no b64token is a malformed token (401: the
    # client gets a new one), not a malformed request. The reason does not quote the token.
    raise InvalidToken(
        RefusalCode.MALFORMED,
        f"Bearer token of {len(credentials.group(1))} characters is not a b64token",
    )


@dataclass(frozen=True)
class AuthRequirements:
    """What an endpoint requires of a valid access token: every one of ``scopes`` (the ``scope``
    claim) and of ``permissions`` (Auth0 RBAC), and a user token (``user_only``) or a machine
    token (``machine_only``). Built once per endpoint, with ``AuthRequirements.of``."""

    scopes: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    user_only: bool = False
    machine_only: bool = False

    @classmethod
    def of(
        cls,
        scopes: Iterable[str] = (),
        permissions: Iterable[str] = (),
        *,
        user_only: bool = False,
        machine_only: bool = False,
    ) -> AuthRequirements:
        """The requirements from lists of names, refusing those no token could meet as meant."""
        # One string would be read as its letters: "read:messages" as thirteen scopes.
        if isinstance(scopes, str) or isinstance(permissions, str):
            raise TypeError("scopes and permissions are lists of names, not one string")
        if user_only and machine_only:
            raise ValueError("a view cannot be both user_only and machine_only")
        return cls(tuple(scopes), tuple(permissions), user_only, machine_only)


def authorize(claims: Claims, requirements: AuthRequirements) -> Claims:
    """``claims`` if their token is of the kind and grants the scopes and permissions of
    ``requirements``; ``WrongTokenKind`` or ``InsufficientScope`` otherwise."""
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


def refusal_headers(
    error: TokenValidationError, realm: str, validator: TokenValidator
) -> dict[str, str]:
    """The response headers of the RFC 6750 section 3 answer to ``error`` (its body is
    ``error.as_dict()``, its status ``error.status_code``)."""
    headers = {}
    # RFC 6750 3: "If the protected resource request does not include authentication
    # credentials or does not contain an access token that enables access to the protected
    # resource, the resource server MUST include the HTTP "WWW-Authenticate" response header
    # field". KeysUnavailable is no fault of the credentials and sends no challenge.
    challenge = error.www_authenticate(realm)
    if challenge is not None:
        headers["WWW-Authenticate"] = challenge
    if isinstance(error, KeysUnavailable):
        # RFC 9110 10.2.3: "When sent with a 503 (Service Unavailable) response, Retry-After
        # indicates how long the service is expected to be unavailable to the client." The
        # validator retries its JWKS download after its cooldown.
        headers["Retry-After"] = str(math.ceil(validator.jwks.cooldown))
    return headers


# ---------------------------------------------------------------------------------------------
# The validator
# ---------------------------------------------------------------------------------------------


class TokenValidator:
    """Validates the JWTs of one issuer for one audience. Thread safe; create one, share it.

    :param issuer: compared exactly with ``iss`` (Auth0 issuers end with ``/``).
    :param audience: your API identifier (for ``validate_id_token``: your client id).
    :param algorithms: the accepted signature algorithms; asymmetric only.
    :param jwks_url: where the issuer publishes its keys; default: the ``jwks_uri`` of the
        issuer's ``.well-known/openid-configuration``.
    :param leeway: seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
    :param require_at_jwt_typ: accept only ``typ: at+jwt`` (RFC 9068 4) instead of also
        ``JWT`` or no ``typ`` as Auth0 issues them.
    :param jwks_max_age, jwks_cooldown, jwks_stale_if_error, http_timeout: JWKS cache
        settings in seconds (see the module docstring).
    :param clock: wall-clock seconds since the epoch, for ``exp``, ``nbf`` and ``iat``.
    :param monotonic: monotonic seconds, for the key cache's ages and cooldowns.
    :param verified_cache_size: how many verified access tokens ``validate`` remembers (see
        the module docstring); 0 turns the verified-token cache off.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        algorithms: tuple[str, ...] | list[str] = ("RS256",),
        jwks_url: str | None = None,
        leeway: float = DEFAULT_LEEWAY,
        require_at_jwt_typ: bool = False,
        jwks_max_age: float = DEFAULT_JWKS_MAX_AGE,
        jwks_cooldown: float = DEFAULT_JWKS_COOLDOWN,
        jwks_stale_if_error: float = DEFAULT_JWKS_STALE_IF_ERROR,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        verified_cache_size: int = DEFAULT_VERIFIED_CACHE_SIZE,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        if type(verified_cache_size) is not int or verified_cache_size < 0:
            raise ValueError("verified_cache_size must be an int, 0 (off) or more")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = _check_configured_algorithms(tuple(algorithms))
        self.leeway = leeway
        self.clock = clock
        self.accepted_types = (
            frozenset({_ACCESS_TOKEN_TYPE})
            if require_at_jwt_typ
            else frozenset({_ACCESS_TOKEN_TYPE, _GENERIC_JWT_TYPE, None})
        )
        # An issuer's tokens share a handful of header segments: each distinct segment is parsed
        # and checked once, then found by its exact bytes (bounded: cleared when full).
        self._checked_headers: dict[bytes, _CheckedHeader] = {}
        # The verified-token cache of validate() (module docstring): read without a lock (one
        # dict get, atomic), changed only under the lock; None when turned off.
        self.verified_cache_size = verified_cache_size
        # Insertion order, oldest first: OrderedDict drops its first entry in constant time
        # (a dict's first entry is found by skipping every slot already deleted before it).
        self._verified: OrderedDict[str, _VerifiedToken] | None = (
            OrderedDict() if verified_cache_size else None
        )
        self._verified_lock = threading.Lock()
        # The doorkeeper: hash() of the tokens validated since it was last cleared. Each set
        # operation is atomic and a race only changes when a validated token is cached, so it
        # takes no lock (threads racing at the bound may each add one before it is cleared).
        self._seen_once: set[int] = set()
        self.jwks = JWKSCache(
            issuer,
            jwks_url,
            max_age=jwks_max_age,
            cooldown=jwks_cooldown,
            stale_if_error=jwks_stale_if_error,
            timeout=http_timeout,
            monotonic=monotonic,
        )

    def validate(self, token: Any) -> Claims:
        """Validate a JWT access token; return its claims or raise ``TokenValidationError``.

        A token validated again is cached by its second validation, then found in the
        verified-token cache (its time window and its key still checked); the ``Claims``
        returned for it are then the same object as the validation that cached it returned.
        """
        cache = self._verified
        try:
            if cache is not None and type(token) is str:
                entry = cache.get(token)  # the hit path: no lock
                if entry is not None:
                    claims = self._cached_claims(token, entry)
                    if claims is not None:
                        return claims
            header, payload, key = self._verified_parts(token)
            self._check_access_token_type(header)
            self._check_registered_claims(payload)
            _check_string_claims(payload, _ACCESS_TOKEN_STRING_CLAIMS)
            _check_permissions(payload)
            _check_not_id_token(payload)
        except TokenValidationError as error:
            _log_rejection("access token", error)
            raise
        claims = Claims(payload, header.fields)
        if cache is not None:
            # Only here, after every check passed: a refused token is never cached; and only a
            # token seen before: the first validation of a token notes its hash.
            fingerprint = hash(token)
            seen_once = self._seen_once
            if fingerprint in seen_once:
                self._remember(cache, token, _VerifiedToken(claims, header, key))
            else:
                if len(seen_once) >= self.verified_cache_size:
                    seen_once.clear()
                seen_once.add(fingerprint)
        return claims

    def _cached_claims(self, token: str, entry: _VerifiedToken) -> Claims | None:
        """The claims of a cached token if it is still valid; None (entry dropped) when its key
        must be looked up again; raises (entry dropped) when its time window has passed."""
        keys = self.jwks.usable_keys()
        if keys is None:
            self._forget(token)  # no usable key set: the full path fetches or refuses
            return None
        if entry.keys is not keys:
            # A new key set was installed since this entry was last checked: the token's key
            # must still be the one a fresh lookup finds, or the entry goes (and the full path
            # refuses the token, kid_unknown or signature, or verifies it afresh).
            found = keys.find(entry.header.kid, entry.header.algorithm.name)
            if found is None or not _same_key(found, entry.key):
                self._forget(token)
                return None
            entry.keys = keys
        # RFC 7519 4.1.4 and 4.1.5 (and iat, as _check_registered_claims): the same comparisons
        # as a fresh validation, with the same leeway, on every hit.
        now = self.clock()
        leeway = self.leeway
        if now - leeway < entry.exp and entry.start <= now + leeway:
            return entry.claims
        self._forget(token)
        payload = entry.claims._payload
        _check_exp(payload, now, leeway)
        _check_iat(payload, now, leeway)
        _check_nbf(payload, now, leeway)
        return None  # unreachable unless float rounding differs: validate afresh

    def _remember(
        self, cache: OrderedDict[str, _VerifiedToken], token: str, entry: _VerifiedToken
    ) -> None:
        with self._verified_lock:
            if token not in cache:
                while len(cache) >= self.verified_cache_size:
                    # Insertion order: the oldest entry goes first (cheap, no bookkeeping on hits).
                    cache.popitem(last=False)
            cache[token] = entry

    def _forget(self, token: str) -> None:
        cache = self._verified
        if cache is not None:
            with self._verified_lock:
                cache.pop(token, None)

    def validate_id_token(self, token: Any, *, nonce: str) -> Claims:
        """Validate an OpenID Connect ID token for the client id given as ``audience``.

        OpenID Connect Core 1.0, 3.1.3.7 (ID Token Validation).
        """
        try:
            header, payload = self._verified_id_token(token)
            _check_nonce(payload, nonce)
        except TokenValidationError as error:
            _log_rejection("ID token", error)
            raise
        return Claims(payload, header.fields)

    def validate_refreshed_id_token(self, token: Any, *, original: Claims) -> Claims:
        """Validate an ID token returned by a refresh against ``original``, the claims that
        ``validate_id_token`` returned for the ID token of the original authentication.

        OpenID Connect Core 1.0, 12.2 (Successful Refresh Response).
        """
        try:
            header, payload = self._verified_id_token(token)
            _check_same_as_original(payload, original)
        except TokenValidationError as error:
            _log_rejection("refreshed ID token", error)
            raise
        return Claims(payload, header.fields)

    def _verified_id_token(self, token: Any) -> tuple[_CheckedHeader, dict[str, Any]]:
        """The checks of OpenID Connect Core 1.0, 3.1.3.7 that every ID token passes, whether
        it comes from an authentication or a refresh (all but the nonce)."""
        header, payload, _ = self._verified_parts(token)
        # RFC 8725 3.12: tokens of the wrong kind are rejected (an access token is not an ID
        # token).
        if header.media_type == _ACCESS_TOKEN_TYPE:
            raise InvalidToken(
                RefusalCode.TOKEN_KIND, "an access token (typ at+jwt) was presented as an ID token"
            )
        # 3.1.3.7 (2): "The Issuer Identifier for the OpenID Provider (which is typically
        # obtained during Discovery) MUST exactly match the value of the iss (issuer) Claim."
        # 3.1.3.7 (3): "The Client MUST validate that the aud (audience) Claim contains its
        # client_id value registered at the Issuer identified by the iss (issuer) Claim as an
        # audience."
        # 3.1.3.7 (9): "The current time MUST be before the time represented by the exp Claim."
        self._check_registered_claims(payload)
        _check_string_claims(payload, ("azp", "nonce"))
        _check_azp(payload, self.audience)
        return header, payload

    def _check_registered_claims(self, payload: dict[str, Any]) -> None:
        """The claims every token of this validator carries, access token or ID token: required
        and well typed, in their time window (with ``leeway``), from our issuer, for our
        audience, about a subject; and ``auth_time``, when present, a NumericDate."""
        now = self.clock()
        _check_required(payload)
        _check_exp(payload, now, self.leeway)
        _check_iat(payload, now, self.leeway)
        _check_nbf(payload, now, self.leeway)
        _check_auth_time(payload)
        _check_iss(payload, self.issuer)
        _check_aud(payload, self.audience)
        _check_sub(payload)

    def _verified_parts(
        self, token: Any
    ) -> tuple[_CheckedHeader, dict[str, Any], _VerificationKey]:
        """Parse a compact JWS once, check its header (once per distinct header segment),
        verify its signature; return the checked header, the payload, which is only decoded
        after the signature verified, and the key that verified it."""
        if type(token) is not str:
            raise InvalidToken(
                RefusalCode.MALFORMED, f"token is a {type(token).__name__}, not a string"
            )
        # Local policy: bound the work done before the signature is checked.
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken(
                RefusalCode.TOO_LARGE, f"token of {len(token)} bytes exceeds {MAX_TOKEN_BYTES}"
            )
        compact = token.encode("ascii", "replace")
        match = _COMPACT_JWS.fullmatch(compact)
        if match is None:
            raise InvalidToken(
                RefusalCode.MALFORMED,
                f"token is not a compact JWS of three base64url segments "
                f"({token.count('.') + 1} segments)",
            )
        header_segment, payload_segment, signature_segment = match.groups()
        header = self._checked_headers.get(header_segment) or self._check_header(header_segment)
        algorithm = header.algorithm
        key = self.jwks.key_for(header.kid, algorithm.name)
        if not key.fits(algorithm):
            raise InvalidToken(
                RefusalCode.KEY_MISMATCH, f"key {_short(key.kid)} is not a {algorithm.name} key"
            )
        signature = _token_segment(signature_segment, "signature")
        signing_input = compact[: match.end(2)]
        try:
            verified = algorithm.implementation.verify(signing_input, key.public_key, signature)
        except (InvalidSignature, ValueError):
            verified = False
        if not verified:
            raise InvalidToken(
                RefusalCode.SIGNATURE, f"signature does not verify with key {_short(key.kid)}"
            )
        payload = _json_object(_token_segment(payload_segment, "payload"), "payload")
        return header, payload, key

    def _check_header(self, header_segment: bytes) -> _CheckedHeader:
        header = _json_object(_token_segment(header_segment, "header"), "header")
        alg = header.get("alg")
        # RFC 8725 3.1: "Libraries MUST enable the caller to specify a supported set of
        # algorithms and MUST NOT use any other algorithms when performing cryptographic
        # operations." The header's "alg" only selects within the configured list.
        if alg not in self.algorithms:
            raise InvalidToken(
                RefusalCode.ALG_NOT_ALLOWED,
                f"alg {_short(alg)} is not in the allow-list {list(self.algorithms)}",
            )
        # RFC 7515 4.1.11: "If any of the listed extension Header Parameters are not understood
        # and supported by the recipient, then the JWS is invalid." This validator supports no
        # extension.
        if "crit" in header:
            raise InvalidToken(
                RefusalCode.CRIT,
                f"crit header {_short(header['crit'])} names unsupported extensions",
            )
        # RFC 8725 3.10: "blindly following a "jku" (JWK set URL) or "x5u" (X.509 URL) header,
        # which may contain an arbitrary URL, could result in server-side request forgery (SSRF)
        # attacks." RFC 9068 4: "The resource server MUST use the keys provided by the
        # authorization server." So "jku", "x5u", "jwk" and "x5c" are never read: the key comes
        # from the configured issuer's JWKS only.
        kid = header.get("kid")
        # RFC 7515 4.1.4: "The "kid" value is a case-sensitive string." It is only ever used
        # as a dictionary key, never in a path, query or file name.
        if kid is not None and type(kid) is not str:
            raise InvalidToken(RefusalCode.MALFORMED, f"kid {_short(kid)} is not a string")
        # RFC 7515 4.1.9: "The "typ" (type) Header Parameter is used by JWS applications to
        # declare the media type [IANA.MediaTypes] of this complete JWS." Its value is a string.
        typ = header.get("typ")
        if typ is not None and type(typ) is not str:
            raise InvalidToken(RefusalCode.MALFORMED, f"typ {_short(typ)} is not a string")
        # The checked header is shared by every token with this header segment, so each gets a
        # view that nobody can change, not even in a nested object or array.
        try:
            fields = _frozen(header)
        except RecursionError:
            raise InvalidToken(RefusalCode.MALFORMED, "header nests too deeply") from None
        if len(self._checked_headers) >= CHECKED_HEADER_CACHE_SIZE:
            self._checked_headers.clear()
        checked = self._checked_headers[header_segment] = _CheckedHeader(
            fields, _ASYMMETRIC_ALGORITHMS[alg], kid, None if typ is None else _media_type(typ)
        )
        return checked

    def _check_access_token_type(self, header: _CheckedHeader) -> None:
        # RFC 9068 4: "The resource server MUST verify that the "typ" header value is "at+jwt"
        # or "application/at+jwt" and reject tokens carrying any other value." Auth0 issues
        # "typ": "JWT", which is accepted unless require_at_jwt_typ is set.
        if header.media_type not in self.accepted_types:
            raise InvalidToken(
                RefusalCode.TYP,
                f"typ {_short(header.fields.get('typ'))} is not an access token type",
            )


def _log_rejection(kind: str, error: TokenValidationError) -> None:
    if isinstance(error, KeysUnavailable):
        logger.error("%s not verifiable (%s): %s", kind, error.code, error.reason)
    else:
        logger.info("%s rejected (%s): %s", kind, error.code, error.reason)


class _VerifiedToken:
    """An entry of the verified-token cache: a token that passed every check of ``validate``,
    with what a hit checks again (its time window, and its key against the current key set)."""

    __slots__ = ("claims", "header", "key", "keys", "exp", "start")

    def __init__(self, claims: Claims, header: _CheckedHeader, key: _VerificationKey) -> None:
        payload = claims._payload
        self.claims = claims
        self.header = header
        self.key = key  # the key that verified the signature
        # The key set in which ``key`` was last found; None until the first hit checks it
        # against the current set (the key may come from a set replaced during verification).
        self.keys: _KeySet | None = None
        self.exp: float = payload["exp"]
        # valid while start <= now + leeway: neither issued nor "not before" in the future
        self.start: float = max(payload["iat"], payload.get("nbf", 0))


def _same_key(one: _VerificationKey, other: _VerificationKey) -> bool:
    """Whether two keys of two downloads of a JWKS are the same key, with the same uses."""
    if one is other:
        return True
    uses_match = (one.kid, one.kty, one.crv, one.alg) == (
        other.kid,
        other.kty,
        other.crv,
        other.alg,
    )
    return uses_match and one.public_key.public_numbers() == other.public_key.public_numbers()


class _CheckedHeader(NamedTuple):
    """A JOSE header that passed ``TokenValidator._check_header``, with what validation reads
    from it for every token."""

    fields: MappingProxyType[str, Any]
    algorithm: _Algorithm
    kid: str | None
    media_type: str | None  # "typ" as a media type (RFC 7515 4.1.9), None when absent


# ---------------------------------------------------------------------------------------------
# Claim checks (one small check per claim, as in PyJWT's api_jwt.py)
# ---------------------------------------------------------------------------------------------

# RFC 9068 2.2: the claims a JWT access token carries; RFC 9068 2.2.3 "scope" is a string of
# space-delimited scopes (RFC 8693 4.2). Auth0 uses "azp"/"gty" where RFC 9068 uses "client_id".
_REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
_ACCESS_TOKEN_STRING_CLAIMS = ("scope", "azp", "client_id", "gty", "jti")

# OpenID Connect Core 2 / 3.3.2.11: claims that only ID tokens carry.
_ID_TOKEN_ONLY_CLAIMS = ("nonce", "at_hash", "c_hash", "s_hash")

# RFC 7515 4.1.9: "A recipient using the media type value MUST treat it as if "application/"
# were prepended to any "typ" value not containing a '/'."
_ACCESS_TOKEN_TYPE = "application/at+jwt"  # noqa: S105 (a media type, not a credential)
_GENERIC_JWT_TYPE = "application/jwt"


def _media_type(typ: str) -> str:
    typ = typ.lower()
    return typ if "/" in typ else "application/" + typ


def _check_required(payload: dict[str, Any]) -> None:
    # RFC 9068 2.2: "iss", "exp", "aud", "sub" and "iat" are REQUIRED in a JWT access token.
    for name in _REQUIRED_CLAIMS:
        if name not in payload:
            raise InvalidToken(
                RefusalCode.CLAIM_MISSING, f"required claim {name} is missing", claim=name
            )


def _numeric_date(payload: dict[str, Any], name: str) -> float:
    # RFC 7519 2: NumericDate is "A JSON numeric value representing the number of seconds from
    # 1970-01-01T00:00:00Z UTC until the specified UTC date/time, ignoring leap seconds."
    # RFC 8259 6: "This specification allows implementations to set limits on the range and
    # precision of numbers accepted", and integers "in the range [-(2**53)+1, (2**53)-1] are
    # interoperable". Local policy: a date is 0 to 2**53 - 1 seconds; a bool, an infinity
    # (JSON 1e400) or an integer too large for a float (10**400) is no date. Python compares
    # an int with a float exactly, without converting it (math.isfinite(10**400) would raise
    # OverflowError).
    value = payload[name]
    if type(value) not in (int, float) or not 0 <= value <= MAX_NUMERIC_DATE:
        raise InvalidToken(
            RefusalCode.CLAIM_INVALID,
            f"claim {name} is {_short(value)}, not a NumericDate",
            claim=name,
        )
    return value


def _check_exp(payload: dict[str, Any], now: float, leeway: float) -> None:
    # RFC 7519 4.1.4: "The processing of the "exp" claim requires that the current date/time
    # MUST be before the expiration date/time listed in the "exp" claim."
    if now - leeway >= _numeric_date(payload, "exp"):
        raise InvalidToken(
            RefusalCode.EXP,
            f"token expired at {payload['exp']} (now {now:.0f}, leeway {leeway}s)",
            claim="exp",
        )


def _check_iat(payload: dict[str, Any], now: float, leeway: float) -> None:
    # RFC 7519 4.1.6: "The "iat" (issued at) claim identifies the time at which the JWT was
    # issued." A token issued in the future comes from a broken clock or a forger.
    if _numeric_date(payload, "iat") > now + leeway:
        raise InvalidToken(
            RefusalCode.IAT,
            f"token issued in the future at {payload['iat']} (now {now:.0f})",
            claim="iat",
        )


def _check_nbf(payload: dict[str, Any], now: float, leeway: float) -> None:
    # RFC 7519 4.1.5: "The "nbf" (not before) claim identifies the time before which the JWT
    # MUST NOT be accepted for processing."
    if "nbf" in payload and _numeric_date(payload, "nbf") > now + leeway:
        raise InvalidToken(
            RefusalCode.NBF,
            f"token not valid before {payload['nbf']} (now {now:.0f})",
            claim="nbf",
        )


def _check_auth_time(payload: dict[str, Any]) -> None:
    # OpenID Connect Core 1.0, 2: "auth_time ... Its value is a JSON number representing the
    # number of seconds from 1970-01-01T00:00:00Z as measured in UTC until the date/time." RFC
    # 9068 2.2.1 lists the same claim, with that definition, among an access token's claims.
    if "auth_time" in payload:
        _numeric_date(payload, "auth_time")


def _check_iss(payload: dict[str, Any], issuer: str) -> None:
    # RFC 9068 4: "The issuer identifier for the authorization server (which is typically
    # obtained during discovery) MUST exactly match the value of the "iss" claim."
    if payload["iss"] != issuer:
        raise InvalidToken(
            RefusalCode.ISS, f"iss {_short(payload['iss'])} is not {issuer!r}", claim="iss"
        )


def _audiences(payload: Mapping[str, Any]) -> list[str]:
    # RFC 7519 4.1.3: "In the general case, the "aud" value is an array of case-sensitive
    # strings, each containing a StringOrURI value. In the special case when the JWT has one
    # audience, the "aud" value MAY be a single case-sensitive string".
    aud = payload["aud"]
    audiences = [aud] if type(aud) is str else aud
    if type(audiences) is not list or not all(type(value) is str for value in audiences):
        raise InvalidToken(
            RefusalCode.CLAIM_INVALID,
            f"aud {_short(aud)} is neither a string nor an array of strings",
            claim="aud",
        )
    return audiences


def _check_aud(payload: dict[str, Any], audience: str) -> None:
    # RFC 7519 4.1.3: "If the principal processing the claim does not identify itself with a
    # value in the "aud" claim when this claim is present, then the JWT MUST be rejected."
    if audience not in _audiences(payload):
        raise InvalidToken(
            RefusalCode.AUD,
            f"aud {_short(payload['aud'])} does not contain {audience!r}",
            claim="aud",
        )


def _check_sub(payload: dict[str, Any]) -> None:
    # RFC 7519 4.1.2: "The "sub" value is a case-sensitive string containing a StringOrURI
    # value."
    if type(payload["sub"]) is not str or not payload["sub"]:
        raise InvalidToken(
            RefusalCode.CLAIM_INVALID,
            f"sub {_short(payload['sub'])} is not a non-empty string",
            claim="sub",
        )


def _check_string_claims(payload: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if name in payload and type(payload[name]) is not str:
            raise InvalidToken(
                RefusalCode.CLAIM_INVALID,
                f"claim {name} is {_short(payload[name])}, not a string",
                claim=name,
            )


def _check_permissions(payload: dict[str, Any]) -> None:
    # Auth0 RBAC: "permissions" is an array of permission strings.
    permissions = payload.get("permissions", [])
    if type(permissions) is not list or not all(type(value) is str for value in permissions):
        raise InvalidToken(
            RefusalCode.CLAIM_INVALID,
            f"permissions {_short(permissions)} is not an array of strings",
            claim="permissions",
        )


def _check_not_id_token(payload: dict[str, Any]) -> None:
    # RFC 8725 3.12: "If more than one kind of JWT can be issued by the same issuer, the
    # validation rules for those JWTs MUST be written such that they are mutually exclusive,
    # rejecting JWTs of the wrong kind." Auth0 types both kinds "JWT"; ID tokens alone carry
    # these claims.
    for name in _ID_TOKEN_ONLY_CLAIMS:
        if name in payload:
            raise InvalidToken(
                RefusalCode.TOKEN_KIND,
                f"an ID token (claim {name}) was presented as an access token",
                claim=name,
            )


def _check_azp(payload: dict[str, Any], client_id: str) -> None:
    # OpenID Connect Core 1.0, 3.1.3.7 (4): "If the ID Token contains multiple audiences, the
    # Client SHOULD verify that an azp Claim is present."
    if len(_audiences(payload)) > 1 and "azp" not in payload:
        raise InvalidToken(
            RefusalCode.AZP, "ID token with several audiences has no azp", claim="azp"
        )
    # 3.1.3.7 (5): "If an azp (authorized party) Claim is present, the Client SHOULD verify
    # that its client_id is the Claim Value."
    if "azp" in payload and payload["azp"] != client_id:
        raise InvalidToken(
            RefusalCode.AZP,
            f"ID token azp {_short(payload['azp'])} is not {client_id!r}",
            claim="azp",
        )


def _check_nonce(payload: dict[str, Any], nonce: str) -> None:
    # OpenID Connect Core 1.0, 3.1.3.7 (11): "If a nonce value was sent in the Authentication
    # Request, a nonce Claim MUST be present and its value checked to verify that it is the
    # same value as the one that was sent in the Authentication Request."
    if not nonce or not hmac.compare_digest(payload.get("nonce", "").encode(), nonce.encode()):
        raise InvalidToken(
            RefusalCode.NONCE, "ID token nonce does not match the one sent", claim="nonce"
        )


def _check_same_as_original(payload: dict[str, Any], original: Claims) -> None:
    # OpenID Connect Core 1.0, 12.2: "If an ID Token is returned as a result of a token refresh
    # request, the following requirements apply:"
    # "its iss Claim Value MUST be the same as in the ID Token issued when the original
    # authentication occurred,"
    if payload["iss"] != original["iss"]:
        raise _differs_from_original("iss", payload["iss"])
    # "its sub Claim Value MUST be the same as in the ID Token issued when the original
    # authentication occurred,"
    if payload["sub"] != original["sub"]:
        raise _differs_from_original("sub", payload["sub"])
    # "its iat Claim MUST represent the time that the new ID Token is issued," so it
    # cannot be earlier than the original's.
    if payload["iat"] < original["iat"]:
        raise InvalidToken(
            RefusalCode.REFRESH_MISMATCH,
            f"refreshed ID token iat {payload['iat']} is before the original's",
            claim="iat",
        )
    # "its aud Claim Value MUST be the same as in the ID Token issued when the original
    # authentication occurred," (the same audiences; a one-element array is the string)
    if set(_audiences(payload)) != set(_audiences(original)):
        raise _differs_from_original("aud", payload["aud"])
    # "if the ID Token contains an auth_time Claim, its value MUST represent the time of
    # the original authentication - not the time that the new ID token is issued,"
    if "auth_time" in payload and payload["auth_time"] != original.get("auth_time"):
        raise _differs_from_original("auth_time", payload["auth_time"])
    # "its azp Claim Value MUST be the same as in the ID Token issued when the original
    # authentication occurred; if no azp Claim was present in the original ID Token, one
    # MUST NOT be present in the new ID Token,"
    if payload.get("azp") != original.get("azp"):
        raise _differs_from_original("azp", payload.get("azp"))
    # "and otherwise, the same rules apply as apply when issuing an ID Token at the time
    # of the original authentication." A refresh is no authentication request, so no nonce
    # is required; but section 2 says of "nonce": "If present in the ID Token, Clients
    # MUST verify that the nonce Claim Value is equal to the value of the nonce parameter
    # sent in the Authentication Request", which is the original ID token's nonce.
    if "nonce" in payload and not (
        "nonce" in original
        and hmac.compare_digest(payload["nonce"].encode(), original["nonce"].encode())
    ):
        raise InvalidToken(
            RefusalCode.REFRESH_MISMATCH,
            "refreshed ID token nonce differs from the original's",
            claim="nonce",
        )


def _differs_from_original(name: str, value: Any) -> InvalidToken:
    return InvalidToken(
        RefusalCode.REFRESH_MISMATCH,
        f"refreshed ID token {name} {_short(value)} differs from the original's",
        claim=name,
    )


# ---------------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------------

# RFC 7515 7.1: "BASE64URL(UTF8(JWS Protected Header)) || '.' || BASE64URL(JWS Payload) || '.'
# || BASE64URL(JWS Signature)"; RFC 7515 2: base64url is "with all trailing '=' characters
# omitted ... and without the inclusion of any line breaks, whitespace, or other additional
# characters." One compiled expression checks every character (PyJWT loops in Python). The
# signature may be empty here so that an unsecured ("alg": "none") token is refused by the
# algorithm allow-list, the rule that exists for it.
_COMPACT_JWS = re.compile(rb"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
_BASE64URL = re.compile(rb"[A-Za-z0-9_-]+")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")

# By length modulo 4: the bytes that may end a canonical unpadded base64url string (the last
# character of a 2- or 3-character group carries bits that must be zero, RFC 4648 3.5; a single
# leftover character encodes nothing), and the padding that restores the standard form.
# Without the first check, many strings would encode one token.
_CANONICAL_LAST = {1: frozenset(), 2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}
_PADDING = {0: b"", 2: b"==", 3: b"="}


def _base64url_decode(segment: bytes) -> bytes:
    """Decode bytes already matched by ``_BASE64URL``; ValueError if not canonical."""
    remainder = len(segment) % 4
    if remainder and segment[-1] not in _CANONICAL_LAST[remainder]:
        raise ValueError("not canonical base64url")
    return binascii.a2b_base64(segment.translate(_URLSAFE_TO_STANDARD) + _PADDING[remainder])


def _token_segment(segment: bytes, name: str) -> bytes:
    try:
        return _base64url_decode(segment)
    except ValueError:
        raise InvalidToken(
            RefusalCode.MALFORMED, f"{name} segment is not canonical base64url"
        ) from None


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 4 / RFC 7519 4: "The Header Parameter names within the JOSE Header MUST be
    # unique; JWS parsers MUST either reject JWSs with duplicate Header Parameter names or use a
    # JSON parser that returns only the lexically last duplicate member name". We reject.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member names")
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_JSON = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def _json_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
        value = _JSON.decode(text)
    except (ValueError, RecursionError) as error:
        raise InvalidToken(RefusalCode.MALFORMED, f"{name} is not valid JSON: {error}") from None
    if type(value) is not dict:
        raise InvalidToken(RefusalCode.MALFORMED, f"{name} is not a JSON object")
    # RFC 8259 8.2: the grammar allows "\uDEAD" (a single unpaired UTF-16 surrogate), and "the
    # behavior of software that receives JSON texts containing such values is unpredictable";
    # no UTF-8 database or log can store one. Only a \u escape can produce it.
    if "\\u" in text:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidToken(
                RefusalCode.MALFORMED, f"{name} has a string with an unpaired surrogate"
            ) from None
        except RecursionError:
            raise InvalidToken(
                RefusalCode.MALFORMED, f"{name} nests too deeply to be checked"
            ) from None
    return value


def _frozen(value: Any) -> Any:
    """A deeply read-only copy of a decoded JSON value: objects become read-only mappings,
    arrays tuples (RecursionError when nested too deeply)."""
    if type(value) is dict:
        return MappingProxyType({name: _frozen(member) for name, member in value.items()})
    if type(value) is list:
        return tuple(_frozen(item) for item in value)
    return value


def _short(value: Any) -> str:
    """A loggable rendering of an attacker-controlled value: repr, truncated."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _one_line(text: str) -> str:
    """``text`` (which may quote a URL from a discovery document) with CR, LF, U+2028 and every
    other unprintable character escaped as ``repr`` escapes them, without the quotes."""
    return repr(text)[1:-1]


# ---------------------------------------------------------------------------------------------
# Algorithms and keys
# ---------------------------------------------------------------------------------------------


class _Algorithm(NamedTuple):
    """A signature algorithm this validator accepts."""

    name: str  # the JWS "alg"
    kty: str  # the JWK "kty" of its keys
    crv: str | None  # the JWK "crv" of its keys (EC only)
    implementation: Any  # PyJWT's algorithm object, which verifies signatures


# Only asymmetric signatures: the verification key is public, so a leaked JWKS cannot mint
# tokens.
_ASYMMETRIC_ALGORITHMS = {
    algorithm.name: algorithm
    for algorithm in (
        _Algorithm("RS256", "RSA", None, RSAAlgorithm(RSAAlgorithm.SHA256)),
        _Algorithm("RS384", "RSA", None, RSAAlgorithm(RSAAlgorithm.SHA384)),
        _Algorithm("RS512", "RSA", None, RSAAlgorithm(RSAAlgorithm.SHA512)),
        _Algorithm("PS256", "RSA", None, RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256)),
        _Algorithm("PS384", "RSA", None, RSAPSSAlgorithm(RSAPSSAlgorithm.SHA384)),
        _Algorithm("PS512", "RSA", None, RSAPSSAlgorithm(RSAPSSAlgorithm.SHA512)),
        _Algorithm("ES256", "EC", "P-256", ECAlgorithm(ECAlgorithm.SHA256)),
        _Algorithm("ES384", "EC", "P-384", ECAlgorithm(ECAlgorithm.SHA384)),
        _Algorithm("ES512", "EC", "P-521", ECAlgorithm(ECAlgorithm.SHA512)),
    )
}

_EC_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


def _check_configured_algorithms(algorithms: tuple[str, ...]) -> tuple[str, ...]:
    if not algorithms:
        raise ValueError("algorithms must name at least one signature algorithm")
    for name in algorithms:
        # RFC 8725 2.1: "An "RS256" (RSA, 2048 bit) parameter value can be changed into "HS256"
        # (HMAC, SHA-256), and some libraries would try to validate the signature using
        # HMAC-SHA256 and using the RSA public key as the HMAC shared key". RFC 9068 4: "The
        # resource server MUST reject any JWT in which the value of "alg" is "none"."
        if name.lower() == "none" or name.upper().startswith("HS"):
            raise ValueError(f"algorithm {name!r} is never accepted: use an asymmetric algorithm")
        if name not in _ASYMMETRIC_ALGORITHMS:
            raise ValueError(
                f"unsupported algorithm {name!r}; choose from {sorted(_ASYMMETRIC_ALGORITHMS)}"
            )
    return tuple(algorithms)


class _VerificationKey:
    """One usable public key of a JWKS."""

    __slots__ = ("kid", "kty", "crv", "alg", "public_key")

    def __init__(
        self, kid: str | None, kty: str, crv: str | None, alg: str | None, public_key: Any
    ) -> None:
        self.kid = kid
        self.kty = kty
        self.crv = crv
        self.alg = alg
        self.public_key = public_key

    def fits(self, algorithm: _Algorithm) -> bool:
        # RFC 8725 3.1: "Each key MUST be used with exactly one algorithm, and this MUST be
        # checked when the cryptographic operation is performed."
        return (
            self.kty == algorithm.kty
            and self.crv == algorithm.crv
            and self.alg in (None, algorithm.name)
        )


def _uint(jwk: Mapping[str, Any], member: str) -> int:
    value = jwk.get(member)
    if type(value) is not str or not value.isascii() or not _BASE64URL.fullmatch(value.encode()):
        raise ValueError(f"member {member!r} is not base64url")
    return int.from_bytes(_base64url_decode(value.encode()), "big")


def _parse_jwk(jwk: Any) -> _VerificationKey:
    """Build a verification key from one JWK, or raise ValueError saying why it is unusable."""
    if type(jwk) is not dict:
        raise ValueError("not a JSON object")
    kid = jwk.get("kid")
    if kid is not None and type(kid) is not str:
        raise ValueError("kid is not a string")
    if "d" in jwk:
        raise ValueError("a private key was published")
    # RFC 7517 4.2: "The "use" (public key use) parameter identifies the intended use of the
    # public key." Only "sig" keys verify signatures.
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"use is {_short(jwk.get('use'))}, not 'sig'")
    # RFC 7517 4.3: "verify" is the key operation "verify digital signature or MAC".
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (type(key_ops) is not list or "verify" not in key_ops):
        raise ValueError("key_ops does not allow 'verify'")
    alg = jwk.get("alg")
    if alg is not None and (type(alg) is not str or alg not in _ASYMMETRIC_ALGORITHMS):
        raise ValueError(f"alg {_short(alg)} is not an accepted signature algorithm")
    kty = jwk.get("kty")
    if kty == "RSA":
        return _VerificationKey(kid, "RSA", None, alg, _rsa_public_key(jwk))
    if kty == "EC":
        crv = jwk.get("crv")
        if type(crv) is not str or crv not in _EC_CURVES:
            raise ValueError(f"unsupported curve {_short(crv)}")
        public_key = ec.EllipticCurvePublicNumbers(
            _uint(jwk, "x"), _uint(jwk, "y"), _EC_CURVES[crv]()
        ).public_key()
        return _VerificationKey(kid, "EC", crv, alg, public_key)
    raise ValueError(f"unsupported kty {_short(kty)}")


def _rsa_public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    modulus = _uint(jwk, "n")
    bits = modulus.bit_length()
    # RFC 7518 3.3: "A key of size 2048 bits or larger MUST be used with these algorithms."
    if bits < MIN_RSA_KEY_BITS:
        raise ValueError(f"RSA key of {bits} bits is under {MIN_RSA_KEY_BITS}")
    # Local policy: checking a signature costs about the square of the modulus size, so a
    # huge key in the JWKS makes every token that names it, forged or not, expensive to
    # check; issuers sign with 2048 to 4096 bits.
    if bits > MAX_RSA_KEY_BITS:
        raise ValueError(f"RSA key of {bits} bits is over {MAX_RSA_KEY_BITS}")
    exponent = _uint(jwk, "e")
    # FIPS 186-5 A.1.1 (criteria for RSA key pairs): e "shall be an odd positive integer such
    # that 2^16 < e < 2^256." A huge exponent would make every check as costly as a huge key.
    if not (exponent % 2 == 1 and 2**16 < exponent < 2**256):
        raise ValueError("RSA exponent e is not an odd number between 2^16 and 2^256")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


class _KeySet:
    """The usable keys of one JWKS document."""

    def __init__(self, keys: list[_VerificationKey]) -> None:
        self.keys = keys
        self.by_kid = {key.kid: key for key in keys if key.kid is not None}

    @classmethod
    def from_document(cls, document: Any) -> _KeySet:
        if type(document) is not dict or type(document.get("keys")) is not list:
            raise ValueError("the JWKS is not an object with a 'keys' array")
        keys: list[_VerificationKey] = []
        seen: set[str] = set()
        for position, jwk in enumerate(document["keys"]):
            try:
                key = _parse_jwk(jwk)
            except ValueError as error:
                kid = jwk.get("kid") if type(jwk) is dict else None
                logger.warning("JWKS key #%d (kid %s) ignored: %s", position, _short(kid), error)
                continue
            if key.kid is not None and key.kid in seen:
                logger.warning(
                    "JWKS key #%d ignored: kid %s appears twice", position, _short(key.kid)
                )
                continue
            if key.kid is not None:
                seen.add(key.kid)
            keys.append(key)
        if not keys:
            raise ValueError("the JWKS has no usable signature key")
        return cls(keys)

    def find(self, kid: str | None, alg: str) -> _VerificationKey | None:
        """The key named ``kid`` (or the only key fitting ``alg`` when the token has no kid)."""
        if kid is not None:
            return self.by_kid.get(kid)
        algorithm = _ASYMMETRIC_ALGORITHMS[alg]
        candidates = [key for key in self.keys if key.fits(algorithm)]
        return candidates[0] if len(candidates) == 1 else None


# ---------------------------------------------------------------------------------------------
# JWKS cache
# ---------------------------------------------------------------------------------------------


class _FetchFailed(Exception):
    pass


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def _cache_control_max_age(header: str | None) -> float | None:
    """The ``max-age`` directive of a Cache-Control header (RFC 9111 5.2.2.1), if any."""
    match = _MAX_AGE.search(header or "")
    return float(match.group(1)) if match else None


class JWKSCache:
    """The signing keys of one issuer, fetched over HTTP and cached (panva/jose remote.ts).

    Ages and cooldowns are counted in ``monotonic()`` seconds; the download's time bounds
    (``timeout``) are real time.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        *,
        max_age: float = DEFAULT_JWKS_MAX_AGE,
        cooldown: float = DEFAULT_JWKS_COOLDOWN,
        stale_if_error: float = DEFAULT_JWKS_STALE_IF_ERROR,
        timeout: float = DEFAULT_HTTP_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.max_age = max_age
        self.cooldown = cooldown
        self.stale_if_error = stale_if_error
        self.timeout = timeout
        self.monotonic = monotonic
        self._session = requests.Session()
        self._lock = threading.Lock()
        # (keys, fresh until, usable until) in monotonic() seconds, replaced as a whole so
        # readers never need the lock.
        self._state: tuple[_KeySet | None, float, float] = (None, 0.0, 0.0)
        self._last_download_ended = -math.inf
        self._last_error: str | None = None
        self._in_flight: threading.Event | None = None

    def usable_keys(self) -> _KeySet | None:
        """The cached key set while it may be used (a stale one starts a background refresh,
        as in ``key_for``), else None; never waits for a download."""
        keys, fresh_until, usable_until = self._state
        now = self.monotonic()
        if keys is None or now >= usable_until:
            return None
        if now >= fresh_until:
            self._refresh()
        return keys

    def key_for(self, kid: str | None, alg: str) -> _VerificationKey:
        """The verification key for a token header; fetches the JWKS when needed."""
        keys, fresh_until, usable_until = self._state
        now = self.monotonic()
        if keys is not None and now < usable_until:
            key = keys.find(kid, alg)
            if key is not None:
                if now >= fresh_until:
                    self._refresh()  # stale: serve the cached key, refresh in the background
                return key
        flight = self._refresh()
        if flight is not None and not flight.wait(self.timeout):
            raise KeysUnavailable(
                f"JWKS download for {self.issuer} took longer than {self.timeout}s"
            )
        keys, _, usable_until = self._state
        last_error = self._last_error
        if keys is None or self.monotonic() >= usable_until:
            raise KeysUnavailable(f"no usable JWKS for issuer {self.issuer}: {last_error}")
        key = keys.find(kid, alg)
        if key is not None:
            return key
        if last_error is not None:
            raise KeysUnavailable(
                f"kid {_short(kid)} unknown and the JWKS refresh failed: {last_error}"
            )
        raise InvalidToken(
            RefusalCode.KID_UNKNOWN,
            f"no key in the JWKS of {self.issuer} matches kid {_short(kid)}",
        )

    def _refresh(self) -> threading.Event | None:
        """Start a download unless one runs or the cooldown forbids it; return the running one."""
        with self._lock:
            now = self.monotonic()
            if self._in_flight is None and now - self._last_download_ended >= self.cooldown:
                self._in_flight = threading.Event()
                threading.Thread(
                    target=self._download, args=(self._in_flight,), name="jwks-refresh", daemon=True
                ).start()
            return self._in_flight

    def _download(self, flight: threading.Event) -> None:
        try:
            document, server_max_age = self._fetch_json(self._resolve_jwks_url())
            keys = _KeySet.from_document(document)
        except (_FetchFailed, ValueError, RecursionError, requests.RequestException) as error:
            # The message may quote a jwks_uri of the discovery document as it came (requests'
            # InvalidURL does): escaped, it stays one line in this log and in KeysUnavailable's.
            self._last_error = _one_line(str(error) or type(error).__name__)
            logger.error("JWKS refresh for issuer %s failed: %s", self.issuer, self._last_error)
        except Exception as error:  # a background thread has nobody to raise to: log it all
            logger.exception("JWKS refresh for issuer %s failed unexpectedly", self.issuer)
            self._last_error = f"unexpected {type(error).__name__}"
        else:
            # The server may shorten the cache, never lengthen it beyond max_age; a very short
            # max-age still refreshes at most once per cooldown (see _refresh).
            lifetime = self.max_age if server_max_age is None else min(server_max_age, self.max_age)
            fresh_until = self.monotonic() + lifetime
            self._state = (keys, fresh_until, fresh_until + self.stale_if_error)
            self._last_error = None
            logger.info(
                "JWKS of issuer %s loaded: %d keys, fresh for %.1fs",
                self.issuer,
                len(keys.keys),
                lifetime,
            )
        finally:
            with self._lock:
                # The cooldown runs from the end of a download, so that a hanging endpoint is
                # asked at most once per timeout plus cooldown.
                self._last_download_ended = self.monotonic()
                self._in_flight = None
            flight.set()

    def _resolve_jwks_url(self) -> str:
        if self.jwks_url is None:
            discovery_url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            configuration, _ = self._fetch_json(discovery_url)
            if type(configuration) is not dict:
                raise _FetchFailed(f"{discovery_url} is not a JSON object")
            # OpenID Connect Discovery 1.0, 4.3: "The issuer value returned MUST be identical to
            # the Issuer URL that was directly used to retrieve the configuration information."
            if configuration.get("issuer") != self.issuer:
                raise _FetchFailed(
                    f"{discovery_url} names issuer {_short(configuration.get('issuer'))}"
                )
            jwks_uri = configuration.get("jwks_uri")
            if type(jwks_uri) is not str or not jwks_uri.startswith(("https://", "http://")):
                raise _FetchFailed(f"{discovery_url} has no usable jwks_uri")
            # RFC 8414 2: jwks_uri is the "URL of the authorization server's JWK Set [JWK]
            # document. ... This URL MUST use the "https" scheme." Only an issuer that is itself
            # plain http on a loopback address (local development) may name an http one.
            if not jwks_uri.startswith("https://") and not _is_loopback_http(self.issuer):
                raise _FetchFailed(
                    f"{discovery_url} names jwks_uri {_short(jwks_uri)}, not an https URL"
                )
            self.jwks_url = jwks_uri
        return self.jwks_url

    def _fetch_json(self, url: str) -> tuple[Any, float | None]:
        """GET a JSON document within the time and size bounds."""
        # Real time, like the socket timeouts: an injected monotonic() clock moves cache ages,
        # not the network.
        deadline = time.monotonic() + self.timeout
        with self._session.get(
            url,
            timeout=(self.timeout, self.timeout),
            stream=True,
            allow_redirects=False,
            headers={"Accept": "application/json", "Accept-Encoding": "identity"},
        ) as response:
            if response.status_code != 200:
                raise _FetchFailed(f"GET {url} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "0")
            if not declared.isdigit() or int(declared) > MAX_JWKS_BYTES:
                raise _FetchFailed(f"GET {url} declared a body of {_short(declared)} bytes")
            body = bytearray()
            while chunk := response.raw.read1(65536):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise _FetchFailed(f"GET {url} sent more than {MAX_JWKS_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise _FetchFailed(f"GET {url} took longer than {self.timeout}s")
            try:
                document = _JSON.decode(body.decode("utf-8"))
            except (ValueError, RecursionError) as error:
                raise _FetchFailed(f"GET {url} did not return JSON: {error}") from None
            return document, _cache_control_max_age(response.headers.get("Cache-Control"))
