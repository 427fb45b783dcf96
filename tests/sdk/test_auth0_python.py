"""auth0-python (Auth0's Python SDK) unchanged against the local authorization server.

Each token the SDK gets then opens the project's API over HTTP. What the SDK sends, as it sends
it: JSON bodies (``GetToken``), with ``"organization": null`` in ``client_credentials`` and
``"scope": ""`` in ``refresh_token``, and its ``Auth0-Client`` telemetry header.
"""

import base64
import json
import secrets

import pytest
import requests
from auth0.authentication import GetToken, Users
from auth0.authentication.exceptions import Auth0Error
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier, TokenVerifier

from tests.authserver.helpers import (
    ALICE_SUB,
    API_AUDIENCE,
    M2M_SECRET,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    code_request,
    redirect_parameters,
)


def call_api(api: str, path: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{api}{path}", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )


def id_token_verifier(authserver, client_id: str) -> TokenVerifier:
    return TokenVerifier(
        signature_verifier=AsymmetricSignatureVerifier(authserver.jwks_url),
        issuer=authserver.issuer,
        audience=client_id,
    )


def log_in(user_agent, client_id: str, redirect_uri: str, **extra) -> tuple[dict, PKCE]:
    """A real login (the login page, Alice's password): the authorization request and its code."""
    pkce = PKCE.new()
    request = code_request(client_id, redirect_uri, pkce, **extra)
    response = user_agent.sign_in(user_agent.authorize(**request))
    assert response.status_code == 302, response.text
    answer = redirect_parameters(response)
    assert answer["state"] == request["state"]
    return answer, pkce


def test_client_credentials(domain, api, sent):
    tokens = GetToken(domain, "m2m-demo", client_secret=M2M_SECRET, protocol="http")
    token = tokens.client_credentials(API_AUDIENCE)
    # What the SDK sent: JSON with "organization": null (before a null member counted as absent,
    # the server answered 400 invalid_request "The body must be a form or a JSON object of
    # strings."), and its telemetry header.
    (request,) = sent
    assert (request.method, request.path) == ("POST", "/oauth/token")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "client_id": "m2m-demo",
        "audience": API_AUDIENCE,
        "grant_type": "client_credentials",
        "organization": None,
        "client_secret": M2M_SECRET,
    }
    assert json.loads(base64.b64decode(request.headers["Auth0-Client"]))["name"] == "auth0-python"
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400
    assert set(token["scope"].split()) == {"import:data", "read:imports", "read:messages"}
    assert call_api(api, "/api/private", token["access_token"]).status_code == 200
    assert call_api(api, "/api/messages", token["access_token"]).status_code == 200
    assert call_api(api, "/api/imports", token["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"), [("native-demo", NATIVE_CALLBACK), ("spa-demo", SPA_CALLBACK)]
)
def test_code_with_pkce_refresh_userinfo_and_id_token(
    authserver, domain, api, user_agent, sent, client_id, redirect_uri
):
    nonce = secrets.token_urlsafe(16)
    answer, pkce = log_in(
        user_agent,
        client_id,
        redirect_uri,
        audience=API_AUDIENCE,
        scope="openid profile email offline_access read:messages",
        nonce=nonce,
        max_age="3600",
    )
    assert answer["iss"] == authserver.issuer
    tokens = GetToken(domain, client_id, protocol="http")
    token = tokens.authorization_code_pkce(pkce.verifier, answer["code"], redirect_uri)
    assert {"access_token", "id_token", "refresh_token"} <= set(token)

    claims = id_token_verifier(authserver, client_id).verify(
        token["id_token"], nonce=nonce, max_age=3600
    )
    assert claims["sub"] == ALICE_SUB and claims["email"] == "alice@flowlab.test"

    profile = Users(domain, protocol="http").userinfo(token["access_token"])
    assert profile["sub"] == ALICE_SUB and profile["name"] == "Alice Example"
    assert call_api(api, "/api/messages", token["access_token"]).status_code == 200
    assert call_api(api, "/api/me", token["access_token"]).status_code == 200

    # refresh_token() sends "scope": "" (no narrowing): the same scopes, a rotated refresh token.
    refreshed = tokens.refresh_token(token["refresh_token"])
    assert json.loads(sent[-1].body) == {
        "client_id": client_id,
        "refresh_token": token["refresh_token"],
        "scope": "",
        "grant_type": "refresh_token",
    }
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert set(refreshed["scope"].split()) == set(token["scope"].split())
    id_token_verifier(authserver, client_id).verify(refreshed["id_token"])
    assert call_api(api, "/api/messages", refreshed["access_token"]).status_code == 200
    # The rotated refresh token is single use, and the SDK reports the server's error.
    with pytest.raises(Auth0Error) as refused:
        tokens.refresh_token(token["refresh_token"])
    assert (refused.value.status_code, refused.value.error_code) == (400, "invalid_grant")
