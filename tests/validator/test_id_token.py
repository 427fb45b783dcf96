"""OpenID Connect ID token validation (Core 1.0, 3.1.3.7), as the native demo uses it."""

from __future__ import annotations

import time

import pytest

from shared.token_validation import InvalidToken, TokenValidator

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
