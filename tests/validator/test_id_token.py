"""OpenID Connect ID token validation (Core 1.0, 3.1.3.7), as the native demo uses it."""

from __future__ import annotations

import time

import pytest

from shared.token_validation import Claims, InvalidToken, TokenValidator
from tests.support.fixtures import TokenFactory

CLIENT_ID = "native-demo"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture
def id_validator(issuer, jwks_server) -> TokenValidator:
    return TokenValidator(issuer, CLIENT_ID, jwks_url=jwks_server.jwks_url, http_timeout=0.5, jwks_cooldown=0.2)


def test_valid_id_token(token_factory, id_validator: TokenValidator) -> None:
    claims = id_validator.validate_id_token(token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE)
    assert claims.subject.startswith("auth0|")
    assert claims["email"] == "alice@flowlab.test"


def test_several_audiences_with_our_azp(token_factory, id_validator: TokenValidator) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims={"aud": [CLIENT_ID, "https://api.flowlab.local"], "azp": CLIENT_ID})
    assert id_validator.validate_id_token(token, nonce=NONCE).subject


REFUSED = [
    pytest.param({}, "other-nonce", "nonce does not match", id="wrong-nonce"),
    pytest.param({"nonce": None}, NONCE, "claim nonce is None", id="nonce-null"),
    pytest.param({"nonce": NONCE + "x"}, NONCE, "nonce does not match", id="nonce-longer"),
    pytest.param({"aud": "spa-demo"}, NONCE, "does not contain 'native-demo'", id="other-client"),
    pytest.param({"aud": [CLIENT_ID, "spa-demo"]}, NONCE, "several audiences has no azp", id="several-audiences-no-azp"),
    pytest.param({"aud": [CLIENT_ID, "spa-demo"], "azp": "spa-demo"}, NONCE, "azp 'spa-demo'", id="azp-of-another-client"),
    pytest.param({"azp": "spa-demo"}, NONCE, "azp 'spa-demo'", id="azp-mismatch-single-audience"),
    pytest.param({"iss": "https://evil.example/"}, NONCE, "iss 'https://evil.example/'", id="wrong-iss"),
    pytest.param({"exp": int(time.time()) - 3600}, NONCE, "expired", id="expired"),
    pytest.param({"iat": int(time.time()) + 3600}, NONCE, "issued in the future", id="iat-future"),
]


@pytest.mark.parametrize(("claims", "nonce", "reason"), REFUSED)
def test_id_token_refused(token_factory, id_validator, assert_rejected, claims, nonce, reason) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims=claims)
    assert_rejected(lambda: id_validator.validate_id_token(token, nonce=nonce), InvalidToken, reason)


def test_id_token_without_nonce_claim(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE)
    without_nonce = token_factory({"aud": CLIENT_ID, "azp": CLIENT_ID}, drop_claims=("scope", "permissions"))
    assert id_validator.validate_id_token(token, nonce=NONCE)
    assert_rejected(lambda: id_validator.validate_id_token(without_nonce, nonce=NONCE), InvalidToken, "nonce does not match")


def test_empty_expected_nonce_is_refused(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory.id_token(client_id=CLIENT_ID, nonce="")
    assert_rejected(lambda: id_validator.validate_id_token(token, nonce=""), InvalidToken, "nonce does not match")


def test_access_token_presented_as_id_token(token_factory, id_validator, assert_rejected) -> None:
    token = token_factory({"aud": CLIENT_ID, "azp": CLIENT_ID, "nonce": NONCE}, header={"typ": "at+jwt"})
    assert_rejected(lambda: id_validator.validate_id_token(token, nonce=NONCE), InvalidToken, "access token (typ at+jwt)")


def test_id_token_signature_and_algorithm_rules_apply(token_factory, id_validator, second_rsa_key, assert_rejected) -> None:
    forged = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, key=second_rsa_key.with_kid("rsa-key-1"))
    assert_rejected(lambda: id_validator.validate_id_token(forged, nonce=NONCE), InvalidToken, "signature does not verify")
    unsigned = token_factory({"aud": CLIENT_ID, "nonce": NONCE}, header={"alg": "none"})
    assert_rejected(lambda: id_validator.validate_id_token(unsigned, nonce=NONCE), InvalidToken, "alg 'none'")


# OpenID Connect Core 1.0, 12.2: an ID token returned by a refresh, checked against the original.

AUTH_TIME = int(time.time()) - 600


@pytest.fixture
def original(token_factory, id_validator: TokenValidator):
    """The claims of the ID token of the original authentication (with azp and auth_time)."""
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims={"azp": CLIENT_ID, "auth_time": AUTH_TIME})
    return id_validator.validate_id_token(token, nonce=NONCE)


def refreshed_token(token_factory, original, claims=None, drop_claims=("nonce",)) -> str:
    """An ID token as a refresh returns it: the original's claims, a new iat and exp, no nonce."""
    now = int(time.time())
    return token_factory.id_token(
        client_id=CLIENT_ID,
        nonce=NONCE,
        claims={"azp": original["azp"], "auth_time": original["auth_time"], "iat": now, "exp": now + 3600, **(claims or {})},
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
def test_refreshed_id_token_accepted(token_factory, id_validator, original, claims, drop_claims) -> None:
    token = refreshed_token(token_factory, original, claims, drop_claims)
    claims = id_validator.validate_refreshed_id_token(token, original=original)
    assert claims.subject == original.subject
    assert claims["iat"] >= original["iat"]


REFRESH_REFUSED = [
    pytest.param({"sub": "auth0|someone-else"}, ("nonce",), "sub 'auth0|someone-else' differs", id="other-sub"),
    pytest.param({"iat": AUTH_TIME - 60}, ("nonce",), "is before the original's", id="iat-before-original"),
    pytest.param({"aud": [CLIENT_ID, "spa-demo"]}, ("nonce",), "aud ['native-demo', 'spa-demo'] differs", id="audience-added"),
    pytest.param({"auth_time": AUTH_TIME + 300}, ("nonce",), f"auth_time {AUTH_TIME + 300} differs", id="auth_time-changed"),
    pytest.param({"auth_time": str(AUTH_TIME)}, ("nonce",), "claim auth_time is", id="auth_time-string"),
    pytest.param({}, ("nonce", "azp"), "azp None differs", id="azp-removed"),
    pytest.param({"nonce": "n-other"}, (), "nonce differs", id="other-nonce"),
    pytest.param({"nonce": NONCE + "x"}, (), "nonce differs", id="nonce-longer"),
    pytest.param({"nonce": 7}, (), "claim nonce is 7", id="nonce-number"),
    # "otherwise, the same rules apply": every 3.1.3.7 rule still holds for the new token.
    pytest.param({"exp": int(time.time()) - 3600}, ("nonce",), "expired", id="expired"),
    pytest.param({"iat": int(time.time()) + 3600}, ("nonce",), "issued in the future", id="iat-future"),
    pytest.param({"aud": "spa-demo", "azp": "spa-demo"}, ("nonce",), "does not contain 'native-demo'", id="other-client"),
    pytest.param({"iss": "https://evil.example/"}, ("nonce",), "iss 'https://evil.example/'", id="wrong-iss"),
]


@pytest.mark.parametrize(("claims", "drop_claims", "reason"), REFRESH_REFUSED)
def test_refreshed_id_token_refused(token_factory, id_validator, original, assert_rejected, claims, drop_claims, reason) -> None:
    token = refreshed_token(token_factory, original, claims, drop_claims)
    assert_rejected(lambda: id_validator.validate_refreshed_id_token(token, original=original), InvalidToken, reason)


def test_refreshed_id_token_without_azp_or_auth_time_in_the_original(token_factory, id_validator, assert_rejected) -> None:
    """12.2: "if no azp Claim was present in the original ID Token, one MUST NOT be present in
    the new ID Token"; an auth_time the original did not carry is not its authentication time."""
    original = id_validator.validate_id_token(token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE)
    same = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, drop_claims=("nonce",))
    assert id_validator.validate_refreshed_id_token(same, original=original).subject == original.subject
    with_azp = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims={"azp": CLIENT_ID}, drop_claims=("nonce",))
    assert_rejected(lambda: id_validator.validate_refreshed_id_token(with_azp, original=original), InvalidToken, "azp 'native-demo' differs")
    with_auth_time = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims={"auth_time": AUTH_TIME}, drop_claims=("nonce",))
    assert_rejected(lambda: id_validator.validate_refreshed_id_token(with_auth_time, original=original), InvalidToken, f"auth_time {AUTH_TIME} differs")


def test_refreshed_id_token_nonce_when_the_original_had_none(token_factory, id_validator, assert_rejected) -> None:
    """A nonce in the new token must be the original's; an original without one (claims of a
    provider that sent none) admits none, not even an empty one."""
    original = id_validator.validate_id_token(token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE), nonce=NONCE)
    without_nonce = dict(original)
    del without_nonce["nonce"]
    token = token_factory.id_token(client_id=CLIENT_ID, nonce="")
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=Claims(without_nonce)),
        InvalidToken,
        "nonce differs",
    )


def test_refreshed_id_token_of_another_issuer_than_the_original(
    token_factory, id_validator, make_jwks_server, rsa_key, assert_rejected
) -> None:
    """12.2 "its iss Claim Value MUST be the same": the original came from another provider."""
    other = make_jwks_server(rsa_key)
    other_validator = TokenValidator(other.issuer, CLIENT_ID, jwks_url=other.jwks_url, http_timeout=0.5, jwks_cooldown=0.2)
    other_token = TokenFactory(other.issuer, token_factory.audience, rsa_key).id_token(client_id=CLIENT_ID, nonce=NONCE)
    original = other_validator.validate_id_token(other_token, nonce=NONCE)
    token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, drop_claims=("nonce",))
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=original),
        InvalidToken,
        f"iss '{token_factory.issuer}' differs",
    )


def test_refreshed_id_token_signature_and_type_rules_apply(token_factory, id_validator, original, second_rsa_key, assert_rejected) -> None:
    forged = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, key=second_rsa_key.with_kid("rsa-key-1"), drop_claims=("nonce",))
    assert_rejected(lambda: id_validator.validate_refreshed_id_token(forged, original=original), InvalidToken, "signature does not verify")
    access_token = token_factory({"aud": CLIENT_ID, "azp": CLIENT_ID}, header={"typ": "at+jwt"})
    assert_rejected(lambda: id_validator.validate_refreshed_id_token(access_token, original=original), InvalidToken, "access token (typ at+jwt)")


def test_refreshed_id_token_may_list_the_same_audiences_in_another_order(token_factory, id_validator) -> None:
    """12.2 "its aud Claim Value MUST be the same": the same set of audiences; JSON array order
    carries no meaning for "aud" (RFC 7519 4.1.3)."""
    audiences = [CLIENT_ID, "https://api.flowlab.local"]
    original_token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims={"aud": audiences, "azp": CLIENT_ID})
    original = id_validator.validate_id_token(original_token, nonce=NONCE)
    reordered = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"aud": audiences[::-1], "azp": CLIENT_ID}, drop_claims=("nonce",)
    )
    assert id_validator.validate_refreshed_id_token(reordered, original=original)["aud"] == audiences[::-1]
