"""The shapes of Auth0's tokens and userinfo, as the API and the demos observe them."""

import re
import secrets

import requests

from tests.authserver.helpers import (
    ALICE_PERMISSIONS,
    ALICE_SUB,
    API_AUDIENCE,
    BOB,
    SPA_CALLBACK,
    WEBAPP_SECRET,
    UserAgent,
    redirect_parameters,
    run_code_flow,
    tenant_text,
    verified_claims,
    webapp_login,
)
from tests.support.keys import compact

#: The claims of a user's access token for the API (code and implicit flows alike).
USER_ACCESS_TOKEN_CLAIMS = {
    *("iss", "sub", "aud", "iat", "exp", "azp", "scope", "permissions", "jti", "client_id")
}
ISO_8601_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_user_access_token(user_agent, authserver):
    flow = run_code_flow(
        user_agent, audience=API_AUDIENCE, scope="openid profile email read:messages read:stats"
    )
    header, claims = verified_claims(authserver, flow.tokens["access_token"], API_AUDIENCE)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"
    current_key = requests.get(authserver.jwks_url, timeout=10).json()["keys"][0]
    assert header["kid"] == current_key["kid"]
    assert set(claims) == USER_ACCESS_TOKEN_CLAIMS
    assert claims["iss"] == authserver.issuer
    assert claims["sub"] == ALICE_SUB
    assert claims["aud"] == [API_AUDIENCE, f"{authserver.issuer}userinfo"]
    assert claims["azp"] == claims["client_id"] == "spa-demo"
    assert claims["scope"] == "openid profile email read:messages read:stats"
    # With RBAC and "add permissions in the access token": all the user's permissions for the API.
    assert claims["permissions"] == ALICE_PERMISSIONS
    assert claims["exp"] - claims["iat"] == 86400
    assert isinstance(claims["jti"], str) and claims["jti"]


def test_access_token_without_openid_is_for_the_api_alone(user_agent, authserver):
    flow = run_code_flow(user_agent, audience=API_AUDIENCE, scope="read:messages")
    _, claims = verified_claims(authserver, flow.tokens["access_token"], API_AUDIENCE)
    assert claims["aud"] == API_AUDIENCE
    assert "id_token" not in flow.tokens


def test_machine_access_token(authserver):
    tokens = authserver.client_credentials(
        audience=API_AUDIENCE, scope="import:data read:imports"
    ).json()
    header, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    assert header["typ"] == "at+jwt"
    assert set(claims) == {
        "iss",
        "sub",
        "aud",
        "iat",
        "exp",
        "azp",
        "scope",
        "gty",
        "permissions",
        "jti",
        "client_id",
    }
    assert claims["sub"] == "m2m-demo@clients"
    assert claims["gty"] == "client-credentials"
    assert claims["azp"] == "m2m-demo"
    assert claims["aud"] == API_AUDIENCE
    assert claims["scope"] == "import:data read:imports"
    assert claims["permissions"] == ["import:data", "read:imports"]


def test_id_token(user_agent, authserver):
    nonce = secrets.token_urlsafe(12)
    flow = run_code_flow(user_agent, nonce=nonce, scope="openid profile email")
    header, claims = verified_claims(authserver, flow.tokens["id_token"], "spa-demo")
    assert header["typ"] == "JWT" and header["alg"] == "RS256" and header["kid"]
    assert set(claims) == {
        *("iss", "sub", "aud", "iat", "exp", "auth_time", "nonce", "sid"),
        *("name", "nickname", "updated_at", "email", "email_verified"),
    }
    assert claims["aud"] == "spa-demo"
    assert re.fullmatch(r"[0-9a-f]{64}", claims["sid"])
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


def test_id_token_claims_follow_the_scope(user_agent, authserver):
    flow = run_code_flow(user_agent, scope="openid")
    _, claims = verified_claims(authserver, flow.tokens["id_token"], "spa-demo")
    assert not {"name", "nickname", "email", "email_verified", "updated_at"} & set(claims)


def test_userinfo(user_agent, authserver):
    flow = run_code_flow(
        user_agent, audience=API_AUDIENCE, scope="openid profile email read:messages"
    )
    response = authserver.userinfo(flow.tokens["access_token"])
    assert response.status_code == 200
    info = response.json()
    assert set(info) == {"sub", "name", "nickname", "updated_at", "email", "email_verified"}
    assert info["sub"] == ALICE_SUB
    assert ISO_8601_UTC.match(info["updated_at"])


def test_userinfo_refuses_tokens_that_are_not_for_it(user_agent, authserver):
    machine = authserver.client_credentials(audience=API_AUDIENCE).json()["access_token"]
    api_only = run_code_flow(user_agent, audience=API_AUDIENCE, scope="read:messages").tokens[
        "access_token"
    ]
    id_token = run_code_flow(user_agent, scope="openid").tokens["id_token"]
    for token in (machine, api_only, id_token, "not-a-token"):
        response = authserver.userinfo(token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_userinfo_refuses_a_token_not_signed_by_a_published_key(
    user_agent, authserver, second_rsa_key
):
    token = run_code_flow(user_agent, scope="openid").tokens["access_token"]
    header, claims = verified_claims(authserver, token, f"{authserver.issuer}userinfo")
    forged = compact(header, claims, second_rsa_key, header["alg"])
    assert authserver.userinfo(token).status_code == 200
    response = authserver.userinfo(forged)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_implicit_access_token_is_shaped_like_the_code_flow_one(user_agent, authserver):
    request = {
        "response_type": "token",
        "client_id": "spa-demo",
        "redirect_uri": SPA_CALLBACK,
        "scope": "openid read:messages",
        "audience": API_AUDIENCE,
        "state": "s",
    }
    answer = redirect_parameters(user_agent.sign_in(user_agent.authorize(**request)))
    _, claims = verified_claims(authserver, answer["access_token"], API_AUDIENCE)
    assert set(claims) == USER_ACCESS_TOKEN_CLAIMS


def test_tokens_and_userinfo_follow_the_servers_clock(start_authserver, clock):
    server = start_authserver(clock=clock)
    # An hour ahead of the real clock: the server issues and checks by its own clock only.
    ahead = 3600
    clock.advance(ahead)
    flow = run_code_flow(UserAgent(server), audience=API_AUDIENCE, scope="openid profile")
    now = int(clock())
    access_token = flow.tokens["access_token"]
    _, access = verified_claims(server, access_token, API_AUDIENCE, leeway=ahead)
    _, identity = verified_claims(server, flow.tokens["id_token"], "spa-demo", leeway=ahead)
    assert access["iat"] == identity["iat"] == identity["auth_time"] == now
    assert access["exp"] == now + flow.tokens["expires_in"] == now + 86400
    assert identity["exp"] == now + 36000
    # /userinfo takes the access token until its last second by the server's clock, not after.
    assert server.userinfo(access_token).status_code == 200
    clock.advance(86400 - 1)
    assert server.userinfo(access_token).status_code == 200
    clock.advance(1)
    assert server.userinfo(access_token).status_code == 401


PERMISSIONS_CLAIM = "https://flowlab.local/permissions"


def webapp_refresh(server, refresh_token: str) -> dict:
    return server.token(
        {
            "grant_type": "refresh_token",
            "client_id": "webapp-demo",
            "client_secret": WEBAPP_SECRET,
            "refresh_token": refresh_token,
        }
    ).json()


def test_permissions_claim_in_the_id_tokens_of_an_application_that_asks(authserver):
    alice = webapp_login(
        UserAgent(authserver), audience=API_AUDIENCE, scope="openid offline_access"
    )
    _, claims = verified_claims(authserver, alice["id_token"], "webapp-demo")
    # The access token's permissions: RBAC's, for the requested audience.
    _, access = verified_claims(authserver, alice["access_token"], API_AUDIENCE)
    assert claims[PERMISSIONS_CLAIM] == access["permissions"] == ALICE_PERMISSIONS
    refreshed = webapp_refresh(authserver, alice["refresh_token"])
    _, claims = verified_claims(authserver, refreshed["id_token"], "webapp-demo")
    assert claims[PERMISSIONS_CLAIM] == ALICE_PERMISSIONS
    bob = webapp_login(UserAgent(authserver), credentials=BOB, audience=API_AUDIENCE)
    _, claims = verified_claims(authserver, bob["id_token"], "webapp-demo")
    assert claims[PERMISSIONS_CLAIM] == ["read:messages"]
    # Without an audience, the token is for /userinfo, an API without permissions.
    no_api = webapp_login(UserAgent(authserver))
    _, claims = verified_claims(authserver, no_api["id_token"], "webapp-demo")
    assert claims[PERMISSIONS_CLAIM] == []


def test_no_permissions_claim_unless_the_application_asks(user_agent, authserver, start_authserver):
    flow = run_code_flow(user_agent, audience=API_AUDIENCE, scope="openid read:messages")
    _, claims = verified_claims(authserver, flow.tokens["id_token"], "spa-demo")
    assert PERMISSIONS_CLAIM not in claims
    server = start_authserver(
        tenant_text(("id_token_permissions_claim = true", "id_token_permissions_claim = false"))
    )
    tokens = webapp_login(UserAgent(server), audience=API_AUDIENCE)
    _, claims = verified_claims(server, tokens["id_token"], "webapp-demo")
    assert PERMISSIONS_CLAIM not in claims and "permissions" not in claims


def test_sid_is_the_same_for_every_application_of_the_session(user_agent, authserver):
    spa = run_code_flow(user_agent, scope="openid")
    webapp = webapp_login(user_agent)
    implicit = user_agent.authorize(
        response_type="id_token",
        client_id="spa-demo",
        redirect_uri=SPA_CALLBACK,
        scope="openid",
        nonce=secrets.token_urlsafe(8),
    )
    implicit_id_token = redirect_parameters(implicit)["id_token"]
    sids = {
        verified_claims(authserver, spa.tokens["id_token"], "spa-demo")[1]["sid"],
        verified_claims(authserver, webapp["id_token"], "webapp-demo")[1]["sid"],
        verified_claims(authserver, implicit_id_token, "spa-demo")[1]["sid"],
    }
    assert len(sids) == 1
    # Another browser, another session: another sid.
    other = run_code_flow(UserAgent(authserver), scope="openid").tokens["id_token"]
    assert verified_claims(authserver, other, "spa-demo")[1]["sid"] not in sids
