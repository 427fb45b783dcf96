"""The shapes of Auth0's tokens and userinfo, as the API and the demos observe them."""

import re
import secrets

import requests

from tests.authserver.helpers import (
    ALICE_PERMISSIONS,
    ALICE_SUB,
    API,
    SPA_CALLBACK,
    redirect_parameters,
    run_code_flow,
    verified_claims,
)
from tests.support.keys import compact

ISO_8601_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_user_access_token(browser, authserver):
    flow = run_code_flow(browser, audience=API, scope="openid profile email read:messages read:stats")
    header, claims = verified_claims(authserver, flow.tokens["access_token"], API)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    current_key = requests.get(authserver.jwks_url, timeout=10).json()["keys"][0]
    assert header["kid"] == current_key["kid"]
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "azp", "scope", "permissions", "jti", "client_id"}
    assert claims["iss"] == authserver.issuer
    assert claims["sub"] == ALICE_SUB
    assert claims["aud"] == [API, f"{authserver.issuer}userinfo"]
    assert claims["azp"] == claims["client_id"] == "spa-demo"
    assert claims["scope"] == "openid profile email read:messages read:stats"
    # With RBAC and "add permissions in the access token": all the user's permissions for the API.
    assert claims["permissions"] == ALICE_PERMISSIONS
    assert claims["exp"] - claims["iat"] == 86400
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_access_token_without_openid_is_for_the_api_alone(browser, authserver):
    flow = run_code_flow(browser, audience=API, scope="read:messages")
    _, claims = verified_claims(authserver, flow.tokens["access_token"], API)
    assert claims["aud"] == API
    assert "id_token" not in flow.tokens


def test_machine_access_token(authserver):
    tokens = authserver.client_credentials(audience=API, scope="import:data read:imports").json()
    header, claims = verified_claims(authserver, tokens["access_token"], API)
    assert header["typ"] == "at+jwt"
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "azp", "scope", "gty", "permissions", "jti", "client_id"}
    assert claims["sub"] == "m2m-demo@clients"
    assert claims["gty"] == "client-credentials"
    assert claims["azp"] == "m2m-demo"
    assert claims["aud"] == API
    assert claims["scope"] == "import:data read:imports"
    assert claims["permissions"] == ["import:data", "read:imports"]


def test_id_token(browser, authserver):
    nonce = secrets.token_urlsafe(12)
    flow = run_code_flow(browser, nonce=nonce, scope="openid profile email")
    header, claims = verified_claims(authserver, flow.tokens["id_token"], "spa-demo")
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"]
    assert set(claims) == {
        *("iss", "sub", "aud", "iat", "exp", "auth_time", "nonce"),
        *("name", "nickname", "updated_at", "email", "email_verified"),
    }
    assert claims["aud"] == "spa-demo"
    assert claims["nonce"] == nonce
    assert claims["iss"] == authserver.issuer and claims["sub"] == ALICE_SUB
    assert claims["exp"] - claims["iat"] == 36000
    assert abs(claims["auth_time"] - claims["iat"]) < 60
    # OIDC Core §3.1.3.6: at_hash is optional in the code flow, and Auth0 leaves it out there.
    assert "at_hash" not in claims
    assert claims["name"] == "Alice Example" and claims["nickname"] == "alice"
    assert claims["email"] == "alice@flowlab.test" and claims["email_verified"] is True
    assert ISO_8601_UTC.match(claims["updated_at"])
    assert "permissions" not in claims and "scope" not in claims


def test_id_token_claims_follow_the_scope(browser, authserver):
    flow = run_code_flow(browser, scope="openid")
    _, claims = verified_claims(authserver, flow.tokens["id_token"], "spa-demo")
    assert not {"name", "nickname", "email", "email_verified", "updated_at"} & set(claims)


def test_userinfo(browser, authserver):
    flow = run_code_flow(browser, audience=API, scope="openid profile email read:messages")
    response = authserver.userinfo(flow.tokens["access_token"])
    assert response.status_code == 200
    info = response.json()
    assert set(info) == {"sub", "name", "nickname", "updated_at", "email", "email_verified"}
    assert info["sub"] == ALICE_SUB
    assert ISO_8601_UTC.match(info["updated_at"])


def test_userinfo_refuses_tokens_that_are_not_for_it(browser, authserver):
    machine = authserver.client_credentials(audience=API).json()["access_token"]
    api_only = run_code_flow(browser, audience=API, scope="read:messages").tokens["access_token"]
    id_token = run_code_flow(browser, scope="openid").tokens["id_token"]
    for token in (machine, api_only, id_token, "not-a-token"):
        response = authserver.userinfo(token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_a_token_not_signed_by_a_published_key(browser, authserver, second_rsa_key):
    token = run_code_flow(browser, scope="openid").tokens["access_token"]
    header, claims = verified_claims(authserver, token, f"{authserver.issuer}userinfo")
    forged = compact(header, claims, second_rsa_key, header["alg"])
    assert authserver.userinfo(token).status_code == 200
    response = authserver.userinfo(forged)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_implicit_access_token_is_shaped_like_the_code_flow_one(browser, authserver):
    request = {
        "response_type": "token",
        "client_id": "spa-demo",
        "redirect_uri": SPA_CALLBACK,
        "scope": "openid read:messages",
        "audience": API,
        "state": "s",
    }
    answer = redirect_parameters(browser.sign_in(browser.authorize(**request)))
    _, claims = verified_claims(authserver, answer["access_token"], API)
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "azp", "scope", "permissions", "jti", "client_id"}
