"""Every NumericDate the validator reads (``exp``, ``iat``, ``nbf``, ``auth_time``), on every path
(access token, ID token, refreshed ID token): a number from 0 to 2**53 - 1, or InvalidToken.

The values are spliced into the payload as raw JSON text, so that ``1e400`` reaches the validator
as the JSON number it is (Python parses it as infinity) and ``10**400`` as an integer no float
can hold: the audit's 500s.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from shared.token_validation import InvalidToken, RefusalCode, TokenValidator

CLIENT_ID = "native-demo"
NONCE = "n-0S6_WzA2Mj"
MARKER = "@@numeric-date@@"

# (JSON literal, id): none of them is a NumericDate this validator accepts.
NOT_NUMERIC_DATES = [
    pytest.param("1" + "0" * 400, id="10**400"),
    pytest.param("-1" + "0" * 400, id="-10**400"),
    pytest.param("1" + "0" * 309, id="10**309"),
    pytest.param("1e400", id="1e400-is-infinity"),
    pytest.param("-1e400", id="-1e400-is-minus-infinity"),
    pytest.param("1e300", id="float-beyond-2**53"),
    pytest.param(str(2**53), id="2**53"),
    pytest.param("-1", id="negative"),
    pytest.param("-0.5", id="negative-float"),
    pytest.param("true", id="boolean"),
]


def with_date(payload: dict, name: str, literal: str) -> bytes:
    """``payload`` as JSON with claim ``name`` set to the raw JSON text ``literal``."""
    return json.dumps({**payload, name: MARKER}).replace(json.dumps(MARKER), literal).encode()


def payload_of(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def id_validator(issuer, jwks_server) -> TokenValidator:
    return TokenValidator(
        issuer, CLIENT_ID, jwks_url=jwks_server.jwks_url, http_timeout=0.5, jwks_cooldown=0.2
    )


@pytest.mark.parametrize("literal", NOT_NUMERIC_DATES)
@pytest.mark.parametrize("name", ["exp", "iat", "nbf", "auth_time"])
def test_access_token_date_out_of_range_is_invalid_token(
    token_factory, validator, assert_rejected, name, literal
) -> None:
    token = token_factory.raw(
        token_factory.header(), with_date(token_factory.claims(), name, literal)
    )
    assert_rejected(
        lambda: validator.validate(token), InvalidToken, RefusalCode.CLAIM_INVALID, claim=name
    )


@pytest.mark.parametrize("literal", NOT_NUMERIC_DATES)
@pytest.mark.parametrize("name", ["exp", "iat", "nbf", "auth_time"])
def test_id_token_date_out_of_range_is_invalid_token(
    token_factory, id_validator, assert_rejected, name, literal
) -> None:
    payload = payload_of(token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE))
    token = token_factory.raw(token_factory.header(), with_date(payload, name, literal))
    assert_rejected(
        lambda: id_validator.validate_id_token(token, nonce=NONCE),
        InvalidToken,
        RefusalCode.CLAIM_INVALID,
        claim=name,
    )


@pytest.mark.parametrize("literal", NOT_NUMERIC_DATES)
@pytest.mark.parametrize("name", ["exp", "iat", "nbf", "auth_time"])
def test_refreshed_id_token_date_out_of_range_is_invalid_token(
    token_factory, id_validator, assert_rejected, name, literal
) -> None:
    auth_time = int(time.time()) - 600
    original_token = token_factory.id_token(
        client_id=CLIENT_ID, nonce=NONCE, claims={"auth_time": auth_time}
    )
    original = id_validator.validate_id_token(original_token, nonce=NONCE)
    payload = payload_of(
        token_factory.id_token(
            client_id=CLIENT_ID,
            nonce=NONCE,
            claims={"auth_time": auth_time},
            drop_claims=("nonce",),
        )
    )
    token = token_factory.raw(token_factory.header(), with_date(payload, name, literal))
    assert_rejected(
        lambda: id_validator.validate_refreshed_id_token(token, original=original),
        InvalidToken,
        RefusalCode.CLAIM_INVALID,
        claim=name,
    )


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": 2**53 - 1}, id="exp-2**53-1"),
        pytest.param({"exp": float(2**53 - 1)}, id="exp-float-2**53-1"),
        pytest.param({"nbf": 0, "iat": 0}, id="nbf-and-iat-0"),
        pytest.param({"iat": time.time() - 0.5}, id="iat-fractional"),
        pytest.param({"auth_time": 0}, id="auth_time-0"),
    ],
)
def test_dates_at_the_ends_of_the_range_are_accepted(
    token_factory, validator, id_validator, claims
) -> None:
    assert validator.validate(token_factory(claims)).subject
    id_token = token_factory.id_token(client_id=CLIENT_ID, nonce=NONCE, claims=claims)
    assert id_validator.validate_id_token(id_token, nonce=NONCE).subject
