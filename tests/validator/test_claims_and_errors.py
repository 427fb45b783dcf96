"""The Claims helpers and the error hierarchy (RFC 6750 codes, statuses, challenges, the
refusal codes and claims the caller reads)."""

from __future__ import annotations

import logging

import pytest

from shared.token_validation import (
    Claims,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    RefusalCode,
    TokenValidationError,
)


def test_user_claims(token_factory, validator) -> None:
    claims = validator.validate(
        token_factory(
            {
                "scope": "openid read:messages write:messages",
                "permissions": ["read:stats", "read:messages"],
            }
        )
    )
    assert claims.subject.startswith("auth0|")
    assert claims.scopes == ("openid", "read:messages", "write:messages")
    assert claims.permissions == ("read:stats", "read:messages")
    assert claims.client_id == "spa-demo"
    assert claims.is_machine is False
    assert claims.has_scopes("read:messages", "write:messages")
    assert claims.has_scopes()
    assert not claims.has_scopes("read:messages", "import:data")
    assert claims.has_permissions("read:stats")
    assert not claims.has_permissions("read:stats", "write:stats")


@pytest.mark.parametrize(
    ("claims", "is_machine"),
    [
        pytest.param(
            {"gty": "client-credentials", "sub": "m2m-demo@clients"}, True, id="gty-and-clients-sub"
        ),
        pytest.param({"gty": "client-credentials", "sub": "service-account"}, True, id="gty-only"),
        pytest.param({"sub": "m2m-demo@clients"}, True, id="clients-sub-only"),
        pytest.param({"sub": "auth0|abc", "gty": "password"}, False, id="password-grant-user"),
        pytest.param({"sub": "auth0|abc@clients.example"}, False, id="user-sub-mentioning-clients"),
        pytest.param({"sub": "auth0|abc"}, False, id="user"),
    ],
)
def test_is_machine(claims: dict, is_machine: bool) -> None:
    assert Claims(claims).is_machine is is_machine


@pytest.mark.parametrize(
    ("claims", "client_id"),
    [
        pytest.param({"azp": "spa-demo"}, "spa-demo", id="auth0-azp"),
        pytest.param({"client_id": "native-demo"}, "native-demo", id="rfc9068-client_id"),
        pytest.param({"azp": "spa-demo", "client_id": "other"}, "spa-demo", id="azp-first"),
        pytest.param({}, None, id="none"),
    ],
)
def test_client_id(claims: dict, client_id: str | None) -> None:
    assert Claims({"sub": "x", **claims}).client_id == client_id


def test_claims_without_scope_or_permissions() -> None:
    claims = Claims({"sub": "auth0|abc"})
    assert claims.scopes == ()
    assert claims.permissions == ()
    assert not claims.has_scopes("read:messages")
    assert not claims.has_permissions("read:stats")


def test_claims_is_a_read_only_mapping(token_factory, validator) -> None:
    claims = validator.validate(token_factory())
    assert dict(claims)["sub"] == claims.subject
    assert "exp" in claims and len(claims) == len(token_factory.claims())
    with pytest.raises(TypeError):
        claims["sub"] = "auth0|someone-else"  # type: ignore[index]


@pytest.mark.parametrize(
    ("error", "code", "status", "refusal"),
    [
        (
            InvalidRequest("token in the query string"),
            "invalid_request",
            400,
            RefusalCode.REQUEST_MALFORMED,
        ),
        (
            InvalidToken(RefusalCode.EXP, "expired", claim="exp"),
            "invalid_token",
            401,
            RefusalCode.EXP,
        ),
        (
            InsufficientScope(("read:messages",)),
            "insufficient_scope",
            403,
            RefusalCode.INSUFFICIENT_SCOPE,
        ),
        (
            KeysUnavailable("JWKS down"),
            "temporarily_unavailable",
            503,
            RefusalCode.JWKS_UNAVAILABLE,
        ),
    ],
)
def test_error_codes_and_statuses(
    error: TokenValidationError, code: str, status: int, refusal: RefusalCode
) -> None:
    assert isinstance(error, TokenValidationError)
    assert (error.error, error.status_code) == (code, status)
    assert error.code is refusal
    assert error.as_dict() == {"error": code, "error_description": error.description}
    assert error.reason not in error.description


def test_www_authenticate_challenges() -> None:
    assert InvalidToken(RefusalCode.EXP, "expired at 1").www_authenticate("flowlab") == (
        'Bearer realm="flowlab", error="invalid_token", '
        'error_description="The access token is invalid."'
    )
    assert InvalidRequest("two headers").www_authenticate("flowlab") == (
        'Bearer realm="flowlab", error="invalid_request", '
        'error_description="The request is malformed."'
    )
    assert InsufficientScope(["read:messages", "write:messages"]).www_authenticate("flowlab") == (
        'Bearer realm="flowlab", error="insufficient_scope", '
        'error_description="The access token does not grant the required scope.", '
        'scope="read:messages write:messages"'
    )
    assert KeysUnavailable("down").www_authenticate("flowlab") is None


def test_insufficient_scope_carries_the_required_scopes() -> None:
    error = InsufficientScope(["import:data"])
    assert error.required == ("import:data",)
    assert "import:data" in error.reason
    assert (error.code, error.claim) == (RefusalCode.INSUFFICIENT_SCOPE, None)


# (claims, claims dropped, refusal code, the claim it names)
CLAIM_REFUSALS = [
    *[
        pytest.param({}, (name,), RefusalCode.CLAIM_MISSING, name, id=f"missing-{name}")
        for name in ("exp", "iat", "iss", "aud", "sub")
    ],
    pytest.param({"exp": 1}, (), RefusalCode.EXP, "exp", id="expired"),
    pytest.param({"nbf": 2**52}, (), RefusalCode.NBF, "nbf", id="not-yet-valid"),
    pytest.param({"iat": 2**52}, (), RefusalCode.IAT, "iat", id="issued-in-the-future"),
    pytest.param({"iss": "https://evil.example/"}, (), RefusalCode.ISS, "iss", id="other-issuer"),
    pytest.param(
        {"aud": "https://other-api.example"}, (), RefusalCode.AUD, "aud", id="other-audience"
    ),
    pytest.param({"aud": 7}, (), RefusalCode.CLAIM_INVALID, "aud", id="aud-number"),
    pytest.param({"sub": ""}, (), RefusalCode.CLAIM_INVALID, "sub", id="sub-empty"),
    pytest.param(
        {"auth_time": "yesterday"},
        (),
        RefusalCode.CLAIM_INVALID,
        "auth_time",
        id="auth_time-string",
    ),
    pytest.param(
        {"client_id": 7}, (), RefusalCode.CLAIM_INVALID, "client_id", id="client_id-number"
    ),
    pytest.param(
        {"permissions": [7]},
        (),
        RefusalCode.CLAIM_INVALID,
        "permissions",
        id="permissions-of-numbers",
    ),
    pytest.param({"c_hash": "x"}, (), RefusalCode.TOKEN_KIND, "c_hash", id="id-token-claim"),
]


@pytest.mark.parametrize(("claims", "drop_claims", "code", "claim"), CLAIM_REFUSALS)
def test_a_claim_check_names_its_claim(
    token_factory, validator, assert_rejected, claims, drop_claims, code, claim
) -> None:
    """jose's ``JWTClaimValidationFailed.claim``: the caller learns which claim failed."""
    token = token_factory(claims, drop_claims=drop_claims)
    assert_rejected(lambda: validator.validate(token), InvalidToken, code, claim=claim)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        pytest.param({"alg": "none"}, RefusalCode.ALG_NOT_ALLOWED, id="alg"),
        pytest.param({"typ": "dpop+jwt"}, RefusalCode.TYP, id="typ"),
        pytest.param({"kid": "no-such-key"}, RefusalCode.KID_UNKNOWN, id="kid"),
    ],
)
def test_a_header_check_names_no_claim(
    token_factory, validator, assert_rejected, header, code
) -> None:
    token = token_factory(header=header)
    assert_rejected(lambda: validator.validate(token), InvalidToken, code, claim=None)


def test_public_description_is_generic_while_the_log_is_precise(
    token_factory, validator, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="shared.token_validation")
    with pytest.raises(InvalidToken) as raised:
        validator.validate(token_factory({"aud": "https://other-api.example"}))
    assert (raised.value.code, raised.value.claim) == (RefusalCode.AUD, "aud")
    assert raised.value.description == "The access token is invalid."
    assert "https://other-api.example" in caplog.text
    assert "other-api" not in str(raised.value.as_dict())
