"""The implicit grant: tokens in the fragment of the redirect (article, single page application)."""

import base64
import hashlib
import secrets

import pytest

from tests.authserver.helpers import (
    API_AUDIENCE,
    SPA_CALLBACK,
    redirect_parameters,
    verified_claims,
)


def implicit_request(response_type: str, **extra) -> dict:
    request = {
        "response_type": response_type,
        "client_id": "spa-demo",
        "redirect_uri": SPA_CALLBACK,
        "scope": "openid profile email read:messages",
        "audience": API_AUDIENCE,
        "state": secrets.token_urlsafe(8),
    }
    request.update(extra)
    return request


def signed_in_implicit(user_agent, request):
    response = user_agent.sign_in(user_agent.authorize(**request))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{SPA_CALLBACK}#")
    return redirect_parameters(response)


def test_response_type_token_puts_a_short_lived_access_token_in_the_fragment(
    user_agent, authserver
):
    request = implicit_request("token", scope="openid offline_access read:messages")
    answer = signed_in_implicit(user_agent, request)
    assert answer["state"] == request["state"]
    assert answer["token_type"] == "Bearer"
    # Auth0: tokens of browser flows use the API's "token lifetime for web" (7200 s), not 86400 s.
    assert answer["expires_in"] == "7200"
    # RFC 6749 §4.2.2: "The authorization server MUST NOT issue a refresh token."
    assert "refresh_token" not in answer and "id_token" not in answer and "code" not in answer
    _, claims = verified_claims(authserver, answer["access_token"], API_AUDIENCE)
    assert claims["exp"] - claims["iat"] == 7200
    assert claims["scope"] == "openid read:messages"


# RFC 6749 §3.1.1: a response type with spaces "is compared as a space-delimited list of values
# in which the order of values does not matter"; Auth0's SDKs send "token id_token".
@pytest.mark.parametrize("response_type", ["id_token token", "token id_token"])
def test_response_type_id_token_token_returns_an_id_token_bound_to_nonce_and_access_token(
    user_agent, authserver, response_type
):
    nonce = secrets.token_urlsafe(12)
    answer = signed_in_implicit(user_agent, implicit_request(response_type, nonce=nonce))
    _, id_claims = verified_claims(authserver, answer["id_token"], "spa-demo")
    assert id_claims["nonce"] == nonce
    digest = hashlib.sha256(answer["access_token"].encode()).digest()
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert "refresh_token" not in answer


def test_an_id_token_requires_a_nonce(user_agent):
    request = implicit_request("id_token token")
    # The request is refused before anyone logs in.
    response = user_agent.authorize(**request)
    answer = redirect_parameters(response)
    assert response.headers["Location"].startswith(f"{SPA_CALLBACK}#")
    assert answer["error"] == "invalid_request"
    assert answer["state"] == request["state"]
    assert "access_token" not in answer


def test_a_nonce_cannot_be_used_twice(user_agent):
    nonce = secrets.token_urlsafe(12)
    assert "id_token" in signed_in_implicit(
        user_agent, implicit_request("id_token token", nonce=nonce)
    )
    replay = redirect_parameters(
        user_agent.authorize(**implicit_request("id_token token", nonce=nonce))
    )
    assert replay["error"] == "invalid_request"
    assert "id_token" not in replay
