"""OpenID Connect ID token validation (Core 1.0, 3.1.3.7), as the native demo uses it."""

from __future__ import annotations

import time

import pytest

from shared.token_validation import Claims, InvalidToken, RefusalCode, TokenValidator
from tests.support.fixtures import TokenFactory

CLIENT_ID = "native-demo"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture
def id_validator(issuer, jwks_server) -> TokenValidator:
    return TokenValidator(
        issuer, CLIENT_ID, jwks_url=jwks_server.jwks_url, http_timeout=0.5, jwks_cooldown=0.2
    )


def test_valid_id_token(token_factory, id_validator: TokenValidator) -> None:
    claims = id_validator.validate_id_token(
        token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE
    )
    assert claims.subject.startswith("auth0|")
    assert claims["email"] == "alice@flowlab.test"


def test_several_audiences_with_our_azp(token_factory, id_validator: TokenValidator) -> None:
    token = token_factory.id_token(
        client_id=CLIENT_ID,
        nonce=NONCE,
        claims={"aud": [CLIENT_ID, "https://api.flowlab.local"], "azp": CLIENT_ID},
    )
    assert id_validator.validate_id_token(token, nonce=NONCE).subject


# (claims, nonce expected, refusal code, the reason fragment that pins which check of the code
# fired, or None where the code alone names the rule)
REFUSED = [
    pytest.param({}, "other-nonce", RefusalCode.NONCE, None, id="wrong-nonce"),
    pytest.param(
        {"nonce": None}, NONCE, RefusalCode.CLAIM_INVALID, "claim nonce is None", id="nonce-null"
    ),
    pytest.param({"nonce": NONCE + "x"}, NONCE, RefusalCode.NONCE, None, id="nonce-longer"),
    pytest.param({"aud": "spa-demo"}, NONCE, RefusalCode.AUD, None, id="other-client"),
    pytest.param(
        {"aud": [CLIENT_ID, "spa-demo"]},
        NONCE,
        RefusalCode.AZP,
        "several audiences has no azp",
        id="several-audiences-no-azp",
    ),
    pytest.param(
        {"aud": [CLIENT_ID, "spa-demo"], "azp": "spa-demo"},
        NONCE,
        RefusalCode.AZP,
        "azp 'spa-demo'",
        id="azp-of-another-client",
    ),
    pytest.param(
        {"azp": "spa-demo"},
        NONCE,
        RefusalCode.AZP,
        "azp 'spa-demo'",
        id="azp-mismatch-single-audience",
    ),
    pytest.param({"iss": "https://evil.example/"}, NONCE, RefusalCode.ISS, None, id="wrong-iss"),
    pytest.param({"exp": int(time.time()) - 3600}, NONCE, RefusalCode.EXP, None, id="expired"),
    pytest.param({"iat": int(time.time()) + 3600}, NONCE, RefusalCode.IAT, None, id="iat-future"),
]


@pytest.mark.parametrize(("claims", "nonce", "code", "reason"), REFUSED)
def test_id_token_refused(
    token_factory, id_validator, assert_rejected, claims, nonce, code, reason
) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims=claims)
    assert_rejected(
        lambda: id_validator.validate_id_token(token, nonce=nonce), InvalidToken, code, reason
    )


def test_id_token_without_nonce_claim(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE)
    without_nonce = token_factory(
        {"aud": CLIENT_ID, "azp": CLIENT_ID}, drop_claims=("scope", "permissions")
    )
    assert id_validator.validate_id_token(token, nonce=NONCE)
    assert_rejected(
        lambda: id_validator.validate_id_token(without_nonce, nonce=NONCE),
        InvalidToken,
        RefusalCode.NONCE,
        claim="nonce",
    )


def test_empty_expected_nonce_is_refused(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce="")
    assert_rejected(
        lambda: id_validator.validate_id_token(token, nonce=""), InvalidToken, RefusalCode.NONCE
    )


def test_access_token_presented_as_id_token(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory(
        {"aud": CLIENT_ID, "azp": CLIENT_ID, "nonce": NONCE}, header={"typ": "at+jwt"}
    )
    assert_rejected(
        lambda: id_validator.validate_id_token(token, nonce=NONCE),
        InvalidToken,
        RefusalCode.TOKEN_KIND,
        "access token (typ at+jwt)",
    )


def test_id_token_signature_and_algorithm_rules_apply(
    token_factory, id_validator, second_rsa_key, assert_rejected
) -> None:
    forged = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, key=second_rsa_key.with_kid("rsa-key-1")
    )
    assert_rejected(
        lambda: id_validator.validate_id_token(forged, nonce=NONCE),
        InvalidToken,
        RefusalCode.SIGNATURE,
    )
    unsigned = token_factory({"aud": CLIENT_ID, "nonce": NONCE}, header={"alg": "none"})
    assert_rejected(
        lambda: id_validator.validate_id_token(unsigned, nonce=NONCE),
        InvalidToken,
        RefusalCode.ALG_NOT_ALLOWED,
    )


# OpenID Connect Core 1.0, 12.2: an ID token returned by a refresh, checked against the original.

AUTH_TIME = int(time.time()) - 600


@pytest.fixture
def original(token_factory, id_validator: TokenValidator):
    """The claims of the ID token of the original authentication (with azp and auth_time)."""
    token = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"azp": CLIENT_ID, "auth_time": AUTH_TIME}
    )
    return id_validator.validate_id_token(token, nonce=NONCE)


def refreshed_token(token_factory, original, claims=None, drop_claims=("nonce",)) -> str:
    """An ID token as a refresh returns it: the original's claims, a new iat and exp, no nonce."""
    now = int(time.time())
    return token_factory.id_token(
        client_id=CLIENT_ID,
        nonce=NONCE,
        claims={
            "azp": original["azp"],
            "auth_time": original["auth_time"],
            "iat": now,
            "exp": now + 3600,
            **(claims or {}),
        },
        drop_claims=drop_claims,
    )


@pytest.mark.parametrize(
    ("claims", "drop_claims"),
    [
        pytest.param({}, ("nonce",), id="without-nonce"),
        pytest.param({"nonce": NONCE}, (), id="same-nonce"),
        pytest.param({}, ("nonce", "auth_time"), id="without-auth_time"),
        pytest.param({"aud": [CLIENT_ID]}, ("nonce",), id="aud-as-one-element-array"),
    ],
)
def test_refreshed_id_token_accepted(
    token_factory, id_validator, original, claims, drop_claims
) -> None:
    token = refreshed_token(token_factory, original, claims, drop_claims)
    claims = id_validator.validate_refreshed_id_token(token, original=original)
    assert claims.subject == original.subject
    assert claims["iat"] >= original["iat"]


MISMATCH = RefusalCode.REFRESH_MISMATCH

# (claims, claims dropped, refusal code, the claim it names: together they name the rule)
REFRESH_REFUSED = [
    pytest.param({"sub": "auth0|someone-else"}, ("nonce",), MISMATCH, "sub", id="other-sub"),
    pytest.param({"iat": AUTH_TIME - 60}, ("nonce",), MISMATCH, "iat", id="iat-before-original"),
    pytest.param(
        {"aud": [CLIENT_ID, "spa-demo"]}, ("nonce",), MISMATCH, "aud", id="audience-added"
    ),
    pytest.param(
        {"auth_time": AUTH_TIME + 300}, ("nonce",), MISMATCH, "auth_time", id="auth_time-changed"
    ),
    pytest.param(
        {"auth_time": str(AUTH_TIME)},
        ("nonce",),
        RefusalCode.CLAIM_INVALID,
        "auth_time",
        id="auth_time-string",
    ),
    pytest.param({}, ("nonce", "azp"), MISMATCH, "azp", id="azp-removed"),
    pytest.param({"nonce": "n-other"}, (), MISMATCH, "nonce", id="other-nonce"),
    pytest.param({"nonce": NONCE + "x"}, (), MISMATCH, "nonce", id="nonce-longer"),
    pytest.param({"nonce": 7}, (), RefusalCode.CLAIM_INVALID, "nonce", id="nonce-number"),
    # "otherwise, the same rules apply": every 3.1.3.7 rule still holds for the new token.
    pytest.param(
        {"exp": int(time.time()) - 3600}, ("nonce",), RefusalCode.EXP, "exp", id="expired"
    ),
    pytest.param(
        {"iat": int(time.time()) + 3600}, ("nonce",), RefusalCode.IAT, "iat", id="iat-future"
    ),
    pytest.param(
        {"aud": "spa-demo", "azp": "spa-demo"},
        ("nonce",),
        RefusalCode.AUD,
        "aud",
        id="other-client",
    ),
    pytest.param(
        {"iss": "https://evil.example/"}, ("nonce",), RefusalCode.ISS, "iss", id="wrong-iss"
    ),
]


@pytest.mark.parametrize(("claims", "drop_claims", "code", "claim"), REFRESH_REFUSED)
def test_refreshed_id_token_refused(
    token_factory, id_validator, original, assert_rejected, claims, drop_claims, code, claim
) -> None:
    token = refreshed_token(token_factory, original, claims, drop_claims)
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=original),
        InvalidToken,
        code,
        claim=claim,
    )


def test_refreshed_id_token_without_azp_or_auth_time_in_the_original(
    token_factory, id_validator, assert_rejected
) -> None:
    """12.2: "if no azp Claim was present in the original ID Token, one MUST NOT be present in
    the new ID Token"; an auth_time the original did not carry is not its authentication time."""
    original = id_validator.validate_id_token(
        token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE
    )
    same = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, drop_claims=("nonce",))
    assert (
        id_validator.validate_refreshed_id_token(same, original=original).subject
        == original.subject
    )
    with_azp = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"azp": CLIENT_ID}, drop_claims=("nonce",)
    )
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(with_azp, original=original),
        InvalidToken,
        RefusalCode.REFRESH_MISMATCH,
        claim="azp",
    )
    with_auth_time = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"auth_time": AUTH_TIME}, drop_claims=("nonce",)
    )
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(with_auth_time, original=original),
        InvalidToken,
        RefusalCode.REFRESH_MISMATCH,
        claim="auth_time",
    )


def test_refreshed_id_token_nonce_when_the_original_had_none(
    token_factory, id_validator, assert_rejected
) -> None:
    """A nonce in the new token must be the original's; an original without one (claims of a
    provider that sent none) admits none, not even an empty one."""
    original = id_validator.validate_id_token(
        token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE
    )
    without_nonce = dict(original)
    del without_nonce["nonce"]
    token = token_factory.id_token(client_id=CLIENT_ID, nonce="")
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=Claims(without_nonce)),
        InvalidToken,
        RefusalCode.REFRESH_MISMATCH,
        claim="nonce",
    )


def test_refreshed_id_token_of_another_issuer_than_the_original(
    token_factory, id_validator, make_jwks_server, rsa_key, assert_rejected
) -> None:
    """12.2 "its iss Claim Value MUST be the same": the original came from another provider."""
    other = make_jwks_server(rsa_key)
    other_validator = TokenValidator(
        other.issuer, CLIENT_ID, jwks_url=other.jwks_url, http_timeout=0.5, jwks_cooldown=0.2
    )
    other_token = TokenFactory(other.issuer, token_factory.audience, rsa_key).id_token(
        client_id=CLIENT_ID, nonce=NONCE
    )
    original = other_validator.validate_id_token(other_token, nonce=NONCE)
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, drop_claims=("nonce",))
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=original),
        InvalidToken,
        RefusalCode.REFRESH_MISMATCH,
        claim="iss",
    )


def test_refreshed_id_token_signature_and_type_rules_apply(
    token_factory, id_validator, original, second_rsa_key, assert_rejected
) -> None:
    forged = token_factory.id_token(
        client_id=CLIENT_ID,
        nonce=NONCE,
        key=second_rsa_key.with_kid("rsa-key-1"),
        drop_claims=("nonce",),
    )
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(forged, original=original),
        InvalidToken,
        RefusalCode.SIGNATURE,
    )
    access_token = token_factory({"aud": CLIENT_ID, "azp": CLIENT_ID}, header={"typ": "at+jwt"})
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(access_token, original=original),
        InvalidToken,
        RefusalCode.TOKEN_KIND,
        "access token (typ at+jwt)",
    )


def test_refreshed_id_token_may_list_the_same_audiences_in_another_order(
    token_factory, id_validator
) -> None:
    """12.2 "its aud Claim Value MUST be the same": the same set of audiences; JSON array order
    carries no meaning for "aud" (RFC 7519 4.1.3)."""
    audiences = [CLIENT_ID, "https://api.flowlab.local"]
    original_token = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"aud": audiences, "azp": CLIENT_ID}
    )
    original = id_validator.validate_id_token(original_token, nonce=NONCE)
    reordered = token_factory.id_token(
        client_id=CLIENT_ID,
        nonce=NONCE,
        claims={"aud": audiences[::-1], "azp": CLIENT_ID},
        drop_claims=("nonce",),
    )
    assert (
        id_validator.validate_refreshed_id_token(reordered, original=original)["aud"]
        == audiences[::-1]
    )
