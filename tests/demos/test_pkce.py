"""PKCE (RFC 7636) and the authorization request the native demo sends (step 1)."""

from urllib.parse import parse_qs, urlsplit

import pytest

from native_demo.authorization_code import AuthorizationRequest
from native_demo.pkce import VERIFIER_PATTERN, code_challenge_s256, new_code_verifier


def test_challenge_matches_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_is_43_to_128_unreserved_characters_and_fresh_each_time():
    verifiers = {new_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(VERIFIER_PATTERN.fullmatch(verifier) for verifier in verifiers)


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " ", "a" * 42 + "é"],
    ids=["too-short", "too-long", "reserved-character", "space", "non-ascii"],
)
def test_invalid_verifier_is_refused(verifier):
    with pytest.raises(ValueError, match="a code_verifier is 43 to 128 characters"):
        code_challenge_s256(verifier)


def make_request(**overrides):
    values = dict(
        client_id="native-demo",
        redirect_uri="http://127.0.0.1:50123/callback",
        scope="openid profile email offline_access read:messages",
        audience="https://api.flowlab.local",
        resource_indicator=False,
    )
    values.update(overrides)
    return AuthorizationRequest.new(**values)


def test_authorization_url_carries_s256_challenge_state_nonce_and_audience_but_never_the_verifier():
    request = make_request()
    url = request.url("http://localhost:9000/authorize")
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "native-demo",
        "redirect_uri": "http://127.0.0.1:50123/callback",
        "scope": "openid profile email offline_access read:messages",
        "audience": "https://api.flowlab.local",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": code_challenge_s256(request.code_verifier),
        "code_challenge_method": "S256",
    }
    assert request.code_verifier not in url


def test_each_login_gets_its_own_state_nonce_and_verifier():
    first, second = make_request(), make_request()
    assert first.state != second.state
    assert first.nonce != second.nonce
    assert first.code_verifier != second.code_verifier
    assert len(first.state) >= 43 and len(first.nonce) >= 43


def test_resource_indicator_is_sent_only_when_enabled():
    assert "resource" not in make_request().parameters()
    assert (
        make_request(resource_indicator=True).parameters()["resource"]
        == "https://api.flowlab.local"
    )


def test_authorization_endpoint_with_a_query_keeps_it():
    url = make_request().url("https://tenant.example/authorize?connection=db")
    assert url.startswith("https://tenant.example/authorize?connection=db&response_type=code&")


def test_code_exchange_sends_the_verifier_and_the_same_redirect_uri():
    request = make_request()
    assert request.code_exchange_form("the-code") == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "code_verifier": request.code_verifier,
        "redirect_uri": "http://127.0.0.1:50123/callback",
        "client_id": "native-demo",
    }
