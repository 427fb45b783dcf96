"""OpenID Connect Back-Channel Logout 1.0: the authorization server tells the web app that a
user's session ended elsewhere, and the web app ends that session here too (step 9).

The authorization server POSTs ``logout_token=<JWT>`` to the registered
``backchannel_logout_uri``. The token is checked as section 2.6 says, each check below its
sentence: at most the shared validator's ``MAX_TOKEN_BYTES`` before anything is parsed, the
signature with a key of the issuer's JWKS (the shared validator's key cache) that fits ``alg``,
``typ`` ``logout+jwt`` (or ``application/logout+jwt``, compared as a media type), ``iss``,
``aud``, ``iat`` and ``exp``, ``sub`` or ``sid`` (non-empty strings), the ``events`` claim, no
``nonce``, and ``jti`` (a non-empty string) used once only (kept in the session store until the
token expires). Then every session of that ``sid`` (or, without one, of that ``sub``) is deleted
with its tokens. Section 2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK";
a token that fails a check gets a 400 ``invalid_request`` and changes nothing.
"""

import json
import logging

import jwt
from flask import Blueprint, current_app, jsonify, request

from shared.log_safety import escaped
from shared.token_validation import MAX_TOKEN_BYTES, TokenValidationError

from .oidc import OidcClient

log = logging.getLogger(__name__)
bp = Blueprint("backchannel", __name__)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "application/logout+jwt"  # noqa: S105 (a media type, not a credential)
ALGORITHMS = ("RS256",)
# The JWK "kty" of the keys of each of ALGORITHMS (RFC 7518 3.1).
KEY_TYPES = {"RS256": "RSA"}
LEEWAY = 30


class LogoutTokenError(Exception):
    """A logout token that fails one of the checks of section 2.6 (the message says which)."""


def media_type(typ: object) -> str | None:
    """``typ`` as a media type: RFC 7515 4.1.9, "A recipient using the media type value MUST
    treat it as if "application/" were prepended to any "typ" value not containing a '/'";
    media type names are case-insensitive (RFC 8725 3.11 defers to RFC 2045)."""
    if not isinstance(typ, str):
        return None
    typ = typ.lower()
    return typ if "/" in typ else "application/" + typ


def _check_header(token: str) -> dict:
    # Local policy, as the shared validator's: bound the work done before the signature.
    if len(token) > MAX_TOKEN_BYTES:
        raise LogoutTokenError(f"{len(token)} characters, over {MAX_TOKEN_BYTES}")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise LogoutTokenError(f"malformed: {error}") from None
    # 2.4: "Logout Tokens SHOULD be explicitly typed ... the typ (type) Header Parameter with
    # the value logout+jwt"; an ID token or access token is not accepted in its place. RFC 8725
    # 3.11: "explicit typing" by media type, so application/logout+jwt is the same type.
    if media_type(header.get("typ")) != LOGOUT_TOKEN_TYPE:
        raise LogoutTokenError(f"typ {header.get('typ')!r} is not logout+jwt")
    if header.get("alg") not in ALGORITHMS:
        raise LogoutTokenError(f"alg {header.get('alg')!r} not allowed")
    return header


def _verified_claims(token: str, client: OidcClient) -> dict:
    header = _check_header(token)
    # 2.6 (3): "Validate the Logout Token signature in the same way that an ID Token signature
    # is validated": with the issuer's key, from the same JWKS cache as the ID tokens.
    try:
        key = client.validator.jwks.key_for(header.get("kid"), header["alg"])
    except TokenValidationError as error:
        raise LogoutTokenError(f"no key: {error.reason}") from None
    # RFC 8725 3.1: "Each key MUST be used with exactly one algorithm, and this MUST be checked
    # when the cryptographic operation is performed." As the shared validator's key.fits().
    if key.kty != KEY_TYPES[header["alg"]] or key.alg not in (None, header["alg"]):
        raise LogoutTokenError(f"key {key.kid!r} is no {header['alg']} key")
    config = client.config
    try:
        # 2.6 (4): "Validate the iss, aud, iat, and exp Claims in the same way they are
        # validated in ID Tokens." The times are compared below with the app's clock.
        return jwt.decode(
            token,
            key.public_key,
            algorithms=list(ALGORITHMS),
            audience=config.client_id,
            issuer=config.issuer,
            options={
                "require": ["iss", "aud", "iat", "exp", "jti", "events"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as error:
        raise LogoutTokenError(str(error)) from None


def _check_times(claims: dict, now: float) -> None:
    exp, iat = claims["exp"], claims["iat"]
    if not all(isinstance(value, int | float) for value in (exp, iat)):
        raise LogoutTokenError("iat or exp is not a NumericDate")
    if now - LEEWAY >= exp:
        raise LogoutTokenError("expired")
    if iat > now + LEEWAY:
        raise LogoutTokenError("issued in the future")


def _check_logout_claims(claims: dict) -> None:
    # 2.6 (5): "Verify that the Logout Token contains a sub Claim, a sid Claim, or both."
    if "sub" not in claims and "sid" not in claims:
        raise LogoutTokenError("neither sub nor sid")
    # 2.4: sub as in an ID token (a string, OpenID Connect Core 2); "sid ... String identifier
    # for a Session"; RFC 7519 4.1.7: "The "jti" value is a case-sensitive string." Empty
    # strings would match sessions without one.
    for name in ("sub", "sid", "jti"):
        if name in claims and not (isinstance(claims[name], str) and claims[name]):
            raise LogoutTokenError(f"{name} is not a non-empty string")
    # 2.6 (6): "Verify that the Logout Token contains an events Claim whose value is JSON
    # object containing the member name http://schemas.openid.net/event/backchannel-logout."
    events = claims["events"]
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise LogoutTokenError("events claim without the back-channel logout event")
    # 2.6 (7): "Verify that the Logout Token does not contain a nonce Claim."
    if "nonce" in claims:
        raise LogoutTokenError("carries a nonce")


def validated_logout_token(token: str, client: OidcClient, now: float) -> dict:
    claims = _verified_claims(token, client)
    _check_times(claims, now)
    _check_logout_claims(claims)
    return claims


def refused(reason: str):
    log.info("logout token refused: %s", escaped(reason))
    response = jsonify(
        {"error": "invalid_request", "error_description": "The logout token is not valid."}
    )
    response.status_code = 400
    return response


@bp.post("/backchannel-logout")
def backchannel_logout():
    token = request.form.get("logout_token")
    if not token:
        return refused("no logout_token")
    interface = current_app.session_interface
    now = interface.now()
    try:
        claims = validated_logout_token(token, current_app.extensions["webapp_oidc"], now)
    except LogoutTokenError as error:
        return refused(str(error))
    # 2.6 (8): "Optionally verify that another Logout Token with the same jti value has not been
    # recently received." Always, here: a replayed token is refused.
    ended = interface.store.log_out(
        claims["jti"],
        int(claims["exp"]) + LEEWAY,
        now,
        subject=claims.get("sub"),
        oidc_sid=claims.get("sid"),
    )
    if ended is None:
        return refused(f"jti {claims['jti']} already used")
    log.info(
        "back-channel logout: %d session(s) ended for %s",
        ended,
        escaped(json.dumps({"sid": claims.get("sid"), "sub": claims.get("sub")})),
    )
    response = current_app.response_class(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response
