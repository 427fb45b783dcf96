"""The authorization code flow with PKCE: the SPA and the native app (article steps 1-5)."""

import secrets

import pytest

from tests.authserver.helpers import (
    ALICE_SUB,
    API_AUDIENCE,
    BOB,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    code_request,
    exchange_code,
    redirect_parameters,
    run_code_flow,
    verified_claims,
)


def test_spa_code_flow_issues_tokens_for_the_api(user_agent, authserver):
    flow = run_code_flow(
        user_agent, audience=API_AUDIENCE, scope="openid profile email read:messages write:messages"
    )
    assert flow.authorization["state"] == flow.request["state"]
    tokens = flow.tokens
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86400
    assert tokens["scope"] == "openid profile email read:messages write:messages"
    assert "refresh_token" not in tokens
    _, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    assert claims["sub"] == ALICE_SUB
    assert claims["scope"] == tokens["scope"]
    _, id_claims = verified_claims(authserver, tokens["id_token"], "spa-demo")
    assert id_claims["sub"] == ALICE_SUB


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:53682/callback", "http://127.0.0.1:8/callback", "http://127.0.0.1/callback"],
)
def test_native_app_code_flow_on_a_loopback_port(user_agent, authserver, redirect_uri):
    scope = "openid read:messages"
    flow = run_code_flow(
        user_agent,
        client_id="native-demo",
        redirect_uri=redirect_uri,
        audience=API_AUDIENCE,
        scope=scope,
    )
    _, claims = verified_claims(authserver, flow.tokens["access_token"], API_AUDIENCE)
    assert claims["azp"] == "native-demo"
    assert claims["scope"] == "openid read:messages"


def test_offline_access_yields_a_refresh_token(user_agent):
    scope = "openid offline_access read:messages"
    flow = run_code_flow(
        user_agent,
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        audience=API_AUDIENCE,
        scope=scope,
    )
    assert flow.tokens["refresh_token"]
    assert "offline_access" in flow.tokens["scope"].split()


def test_login_without_audience_gets_a_token_for_userinfo_only(user_agent, authserver):
    flow = run_code_flow(user_agent, scope="openid profile email read:messages")
    # Auth0: without an audience the access token is for /userinfo only; API scopes are dropped.
    assert flow.tokens["scope"] == "openid profile email"
    _, claims = verified_claims(
        authserver, flow.tokens["access_token"], f"{authserver.issuer}userinfo"
    )
    assert claims["aud"] == f"{authserver.issuer}userinfo"
    assert "permissions" not in claims
    userinfo = authserver.userinfo(flow.tokens["access_token"])
    assert userinfo.status_code == 200
    assert userinfo.json()["email"] == "alice@flowlab.test"


def test_rbac_gives_a_user_only_the_requested_scopes_they_have_permission_for(
    user_agent, authserver
):
    flow = run_code_flow(
        user_agent,
        credentials=BOB,
        audience=API_AUDIENCE,
        scope="openid read:messages write:messages read:stats",
    )
    assert flow.tokens["scope"] == "openid read:messages"
    _, claims = verified_claims(authserver, flow.tokens["access_token"], API_AUDIENCE)
    assert claims["permissions"] == ["read:messages"]


def test_scopes_the_api_does_not_define_are_left_out(user_agent):
    flow = run_code_flow(
        user_agent, audience=API_AUDIENCE, scope="openid read:messages delete:everything"
    )
    assert flow.tokens["scope"] == "openid read:messages"


def test_unknown_audience_is_refused_with_access_denied(user_agent, pkce):
    request = code_request("spa-demo", SPA_CALLBACK, pkce, audience="https://unknown.example")
    response = user_agent.authorize(**request)
    assert response.status_code == 302
    answer = redirect_parameters(response)
    assert answer["error"] == "access_denied"
    assert answer["state"] == request["state"]


def test_token_request_with_the_code_of_another_client_is_refused(user_agent, authserver, pkce):
    request = code_request("spa-demo", SPA_CALLBACK, pkce)
    page = user_agent.authorize(**request)
    code = redirect_parameters(user_agent.sign_in(page))["code"]
    response = exchange_code(authserver, code, "native-demo", SPA_CALLBACK, pkce.verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_each_pkce_pair_belongs_to_its_own_request(user_agent, authserver):
    first, second = PKCE.new(), PKCE.new()
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, first))
    code = redirect_parameters(user_agent.sign_in(page))["code"]
    response = exchange_code(authserver, code, "spa-demo", SPA_CALLBACK, second.verifier)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Code challenge failed.",
    }


def test_a_nonce_cannot_be_used_twice(user_agent):
    nonce = secrets.token_urlsafe(12)
    run_code_flow(user_agent, nonce=nonce)
    replay = redirect_parameters(
        user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new(), nonce=nonce))
    )
    assert replay["error"] == "invalid_request"
    assert "code" not in replay
