"""Step 2 of the native demo: the checks on the authorization response (RFC 6749, RFC 9207)."""

import pytest

from native_demo.authorization_code import (
    AuthorizationRequest,
    AuthorizationResponseError,
    authorization_code_from,
)
from shared.oidc_client import ProviderMetadata

ISSUER = "http://localhost:9000/"


def metadata(iss_supported=True):
    return ProviderMetadata(
        issuer=ISSUER,
        token_endpoint=ISSUER + "oauth/token",
        authorization_endpoint=ISSUER + "authorize",
        userinfo_endpoint=None,
        jwks_uri=None,
        authorization_response_iss_parameter_supported=iss_supported,
    )


@pytest.fixture
def request_():
    return AuthorizationRequest.new(
        client_id="native-demo",
        redirect_uri="http://127.0.0.1:50123/callback",
        scope="openid",
        audience="https://api.flowlab.local",
        resource_indicator=False,
    )


def test_matching_state_and_iss_give_the_code(request_):
    response = {"code": "abc", "state": request_.state, "iss": ISSUER}
    assert authorization_code_from(response, request_, metadata()) == "abc"


def test_server_without_iss_support_may_omit_iss(request_):
    response = {"code": "abc", "state": request_.state}
    assert authorization_code_from(response, request_, metadata(iss_supported=False)) == "abc"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": "forged"}, "state in the response does not match"),
        ({"state": None}, "state in the response does not match"),
        ({"iss": "https://attacker.example/"}, "names issuer https://attacker.example/"),
        ({"iss": ISSUER.rstrip("/")}, "names issuer"),
        ({"iss": None}, "has no iss although the server promises one"),
        ({"code": None}, "neither a code nor an error"),
    ],
    ids=[
        "state-mismatch",
        "state-missing",
        "iss-mismatch",
        "iss-without-slash",
        "iss-missing",
        "code-missing",
    ],
)
def test_response_failing_a_check_is_refused(request_, change, message):
    response = {"code": "abc", "state": request_.state, "iss": ISSUER}
    response.update(change)
    response = {name: value for name, value in response.items() if value is not None}
    with pytest.raises(AuthorizationResponseError, match=message):
        authorization_code_from(response, request_, metadata())


def test_access_denied_says_so(request_):
    response = {
        "error": "access_denied",
        "error_description": "User did not consent",
        "state": request_.state,
        "iss": ISSUER,
    }
    with pytest.raises(
        AuthorizationResponseError, match=r"login denied: .*access_denied: User did not consent"
    ):
        authorization_code_from(response, request_, metadata())


def test_other_errors_are_named(request_):
    response = {"error": "invalid_scope", "state": request_.state, "iss": ISSUER}
    with pytest.raises(
        AuthorizationResponseError,
        match="login failed: the authorization server answered invalid_scope",
    ):
        authorization_code_from(response, request_, metadata())


def test_error_with_a_forged_state_is_reported_as_the_state_mismatch(request_):
    response = {"error": "access_denied", "state": "forged", "iss": ISSUER}
    with pytest.raises(AuthorizationResponseError, match="state in the response does not match"):
        authorization_code_from(response, request_, metadata())


def test_error_text_from_the_redirect_cannot_break_the_terminal_line(request_):
    response = {
        "error": "access_denied",
        "error_description": "no\n\x1b[31mfake prompt\r" + "x" * 500,
        "state": request_.state,
        "iss": ISSUER,
    }
    with pytest.raises(AuthorizationResponseError) as raised:
        authorization_code_from(response, request_, metadata())
    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message and "\r" not in message
    assert len(message) < 400
