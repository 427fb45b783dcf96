"""Refresh tokens: rotation on every use, replay detection, narrowing scope, revocation."""

from functools import partial

import pytest
import requests

from tests.authserver.helpers import (
    API_AUDIENCE,
    BOB,
    NATIVE_CALLBACK,
    RACES,
    concurrently,
    run_code_flow,
    verified_claims,
)

SCOPE = "openid profile offline_access read:messages write:messages"


def native_login(user_agent, credentials=None):
    options = {"credentials": credentials} if credentials else {}
    flow = run_code_flow(
        user_agent,
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        audience=API_AUDIENCE,
        scope=SCOPE,
        **options,
    )
    return flow.tokens


def refresh(server, refresh_token, client_id="native-demo", **extra):
    form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token}
    return server.token(form | extra)


def test_every_refresh_rotates_the_refresh_token(user_agent, authserver):
    first = native_login(user_agent)
    second = refresh(authserver, first["refresh_token"])
    assert second.status_code == 200
    tokens = second.json()
    assert tokens["refresh_token"] != first["refresh_token"]
    assert tokens["scope"] == first["scope"]
    _, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    assert (
        claims["sub"] == verified_claims(authserver, first["access_token"], API_AUDIENCE)[1]["sub"]
    )
    # A fresh ID token too, as Auth0 returns with the openid scope.
    _, id_claims = verified_claims(authserver, tokens["id_token"], "native-demo")
    assert id_claims["name"] == "Alice Example" and "at_hash" not in id_claims
    third = refresh(authserver, tokens["refresh_token"])
    assert third.status_code == 200


@pytest.mark.parametrize(
    "replay",
    [{}, {"scope": f"{SCOPE} read:stats"}, {"client_id": "spa-demo"}],
    ids=["the same request", "asking for more scope", "by another application"],
)
def test_reuse_of_a_rotated_refresh_token_revokes_the_whole_family(user_agent, authserver, replay):
    first = native_login(user_agent)
    second = refresh(authserver, first["refresh_token"]).json()
    # However the rotated token comes back, it tells of a breach (RFC 9700 §4.14.2).
    replayed = refresh(authserver, first["refresh_token"], **replay)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    # The attacker or the client: either way the newest refresh token dies too...
    assert refresh(authserver, second["refresh_token"]).json()["error"] == "invalid_grant"
    # ...and the family's access tokens no longer open /userinfo.
    assert authserver.userinfo(second["access_token"]).status_code == 401


def test_a_refresh_token_is_rotated_once_under_concurrent_refreshes(user_agent, authserver):
    # Several races, each of 8 refreshes with one token at the same instant: exactly one wins.
    for _ in range(RACES):
        tokens = native_login(user_agent)
        responses = concurrently(8, partial(refresh, authserver, tokens["refresh_token"]))
        granted = [response.json() for response in responses if response.status_code == 200]
        assert len(granted) == 1
        assert {r.json()["error"] for r in responses if r.status_code != 200} == {"invalid_grant"}
        # The others were replays of a rotated token: the winner's tokens are revoked with the
        # family.
        assert refresh(authserver, granted[0]["refresh_token"]).json()["error"] == "invalid_grant"


def test_scope_may_only_narrow(user_agent, authserver):
    tokens = native_login(user_agent)
    narrowed = refresh(
        authserver, tokens["refresh_token"], scope="openid offline_access read:messages"
    )
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "openid offline_access read:messages"
    _, claims = verified_claims(authserver, narrowed.json()["access_token"], API_AUDIENCE)
    assert claims["scope"] == "openid offline_access read:messages"
    widened = refresh(authserver, narrowed.json()["refresh_token"], scope=f"{SCOPE} read:stats")
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"


def test_blocked_users_cannot_refresh(user_agent, authserver, run_cli):
    tokens = native_login(user_agent, BOB)
    assert run_cli(authserver, "users", "block", "bob@flowlab.test").returncode == 0
    response = refresh(authserver, tokens["refresh_token"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_token_works_for_its_own_client_only(user_agent, authserver):
    tokens = native_login(user_agent)
    response = refresh(authserver, tokens["refresh_token"], client_id="spa-demo")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert refresh(authserver, tokens["refresh_token"]).status_code == 200


def revoke(server, token, client_id="native-demo"):
    return requests.post(
        server.url("/oauth/revoke"), data={"client_id": client_id, "token": token}, timeout=10
    )


def test_revoking_a_refresh_token_revokes_its_family(user_agent, authserver):
    first = native_login(user_agent)
    second = refresh(authserver, first["refresh_token"]).json()
    response = revoke(authserver, second["refresh_token"])
    assert response.status_code == 200
    assert refresh(authserver, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert authserver.userinfo(second["access_token"]).status_code == 401


def test_revoking_an_unknown_token_answers_200_as_rfc_7009_requires(authserver):
    response = requests.post(
        authserver.url("/oauth/revoke"),
        json={"client_id": "native-demo", "token": "not-a-token"},
        timeout=10,
    )
    assert response.status_code == 200


def test_a_refresh_token_can_be_revoked_by_its_own_client_only(user_agent, authserver):
    # RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
    # revocation request. If this validation fails, the request is refused".
    tokens = native_login(user_agent)
    response = revoke(authserver, tokens["refresh_token"], client_id="spa-demo")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert refresh(authserver, tokens["refresh_token"]).status_code == 200
