"""Tokens the validator must accept, and the options that make it stricter."""

from __future__ import annotations

import contextlib
import json

import pytest

from shared.token_validation import InvalidToken, RefusalCode, TokenValidator
from tests.support.fixtures import DEFAULT_USER_SUB
from tests.support.keys import rsa_signing_key


def test_auth0_user_access_token_rs256(token_factory, validator: TokenValidator) -> None:
    claims = validator.validate(token_factory())
    assert claims.subject == DEFAULT_USER_SUB
    assert claims["iss"] == validator.issuer
    assert claims.header == {"alg": "RS256", "typ": "JWT", "kid": "rsa-key-1"}


def test_es256_when_configured(token_factory, make_validator, ec_key) -> None:
    validator = make_validator(algorithms=("RS256", "ES256"))
    assert validator.validate(token_factory(key=ec_key)).header["alg"] == "ES256"
    assert validator.validate(token_factory()).header["alg"] == "RS256"


def test_ps256_when_configured(token_factory, make_jwks_server, issuer, audience) -> None:
    key = rsa_signing_key("pss-key", alg="PS256")
    server = make_jwks_server(key)
    validator = TokenValidator(issuer, audience, algorithms=("PS256",), jwks_url=server.jwks_url)
    assert validator.validate(token_factory(key=key)).header["kid"] == "pss-key"


@pytest.mark.parametrize(
    "aud",
    [
        pytest.param("https://api.flowlab.local", id="string"),
        pytest.param(["https://api.flowlab.local"], id="array-of-one"),
        pytest.param(
            ["https://api.flowlab.local", "http://issuer/userinfo"], id="array-ours-first"
        ),
        pytest.param(["https://other.example", "https://api.flowlab.local"], id="array-ours-last"),
    ],
)
def test_aud_string_or_array_containing_ours(token_factory, validator: TokenValidator, aud) -> None:
    assert validator.validate(token_factory({"aud": aud})).subject


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"typ": "at+jwt"}, id="at+jwt"),
        pytest.param({"typ": "application/at+jwt"}, id="application/at+jwt"),
        pytest.param({"typ": "AT+JWT"}, id="at+jwt-uppercase"),
        pytest.param({"typ": "JWT"}, id="JWT"),
        pytest.param({"typ": "application/jwt"}, id="application/jwt"),
        pytest.param({}, id="absent"),
    ],
)
def test_typ_accepted_by_default(token_factory, validator: TokenValidator, header) -> None:
    drop = () if header else ("typ",)
    assert validator.validate(token_factory(header=header, drop_header=drop)).subject


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "At+Jwt"])
def test_strict_typ_accepts_at_jwt(token_factory, make_validator, typ: str) -> None:
    assert (
        make_validator(require_at_jwt_typ=True).validate(token_factory(header={"typ": typ})).subject
    )


@pytest.mark.parametrize(
    ("header", "drop"),
    [
        pytest.param({"typ": "JWT"}, (), id="JWT"),
        pytest.param({}, ("typ",), id="absent"),
    ],
)
def test_strict_typ_refuses_generic_jwt(
    token_factory, make_validator, assert_rejected, header, drop
) -> None:
    validator = make_validator(require_at_jwt_typ=True)
    token = token_factory(header=header, drop_header=drop)
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.TYP)


def test_machine_token(token_factory, validator: TokenValidator) -> None:
    claims = validator.validate(token_factory(machine=True))
    assert claims.is_machine
    assert claims.client_id == "m2m-demo"


def test_token_without_kid_uses_the_only_fitting_key(
    token_factory, jwks_server, validator, rsa_key, ec_key
) -> None:
    """RS256 token without kid; the JWKS has one RSA key (and an EC key that cannot fit)."""
    jwks_server.publish(rsa_key, ec_key)
    assert validator.validate(token_factory(drop_header=("kid",))).subject


def test_token_without_kid_is_refused_when_several_keys_fit(
    token_factory, jwks_server, validator, rsa_key, second_rsa_key, assert_rejected
) -> None:
    jwks_server.publish(rsa_key, second_rsa_key)
    token = token_factory(drop_header=("kid",))
    assert_rejected(
        lambda: validator.validate(token), InvalidToken, RefusalCode.KID_UNKNOWN, "matches kid None"
    )


def test_validator_is_reusable_after_rejections(token_factory, validator: TokenValidator) -> None:
    for bad in ("", "a.b.c", token_factory({"exp": 1})):
        with pytest.raises(InvalidToken):
            validator.validate(bad)
    assert validator.validate(token_factory()).subject


@pytest.mark.parametrize(("issuer", "audience"), [("", "https://api"), ("https://issuer/", "")])
def test_issuer_and_audience_are_required(issuer: str, audience: str) -> None:
    with pytest.raises(ValueError, match="issuer and audience are required"):
        TokenValidator(issuer, audience)


def test_checked_headers_are_remembered_within_a_bound(
    token_factory, validator: TokenValidator
) -> None:
    """Each distinct header segment is parsed once; the memo cannot grow without bound."""
    for index in range(200):
        validator.validate(token_factory(header={"x-request": index}))
    assert 0 < len(validator._checked_headers) <= 64


def test_refused_headers_are_refused_every_time(
    token_factory, validator: TokenValidator, assert_rejected
) -> None:
    token = token_factory(header={"alg": "none"})
    for _ in range(3):
        assert_rejected(
            lambda: validator.validate(token), InvalidToken, RefusalCode.ALG_NOT_ALLOWED
        )
    assert validator._checked_headers == {}


def test_claims_header_is_read_only(token_factory, validator: TokenValidator) -> None:
    """The checked header is shared between tokens: nobody may change it."""
    claims = validator.validate(token_factory())
    with pytest.raises(TypeError):
        claims.header["alg"] = "none"  # type: ignore[index]
    assert validator.validate(token_factory()).header["alg"] == "RS256"


def test_a_nested_header_value_changed_through_one_claims_is_unchanged_for_the_next(
    token_factory, validator: TokenValidator
) -> None:
    """The checked header is cached per header segment: a nested object or array must not be a
    way to change what the next token with the same header says."""
    token = token_factory(header={"x-trace": {"hops": ["edge"], "region": "eu"}})
    first = validator.validate(token)
    with contextlib.suppress(TypeError, AttributeError):
        first.header["x-trace"]["hops"].append("forged")
    with contextlib.suppress(TypeError, AttributeError):
        first.header["x-trace"]["region"] = "forged"

    second = validator.validate(token)

    assert list(second.header["x-trace"]["hops"]) == ["edge"]
    assert second.header["x-trace"]["region"] == "eu"


def test_nested_header_values_are_read_only(token_factory, validator: TokenValidator) -> None:
    claims = validator.validate(token_factory(header={"x-trace": {"hops": ["edge", {"id": 1}]}}))
    trace = claims.header["x-trace"]
    assert trace == {"hops": ("edge", {"id": 1})}
    with pytest.raises(TypeError):
        trace["hops"] = []  # type: ignore[index]
    with pytest.raises(TypeError):
        trace["hops"][1]["id"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        trace["hops"].append("forged")  # type: ignore[attr-defined]


def test_escaped_surrogate_pair_is_one_character(token_factory, validator: TokenValidator) -> None:
    """Only unpaired surrogates are refused: an escaped pair is a character like any other."""
    claims = token_factory.claims()
    payload = json.dumps({**claims, "name": "x"}).replace('"x"', '"Ada \\ud83d\\ude00"').encode()
    assert (
        validator.validate(token_factory.raw(token_factory.header(), payload))["name"]
        == "Ada \U0001f600"
    )
