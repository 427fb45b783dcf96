"""Authorization request parameters Auth0's SDKs send: ``max_age``, ``prompt=login``,
``login_hint``, ``screen_hint``, ``auth0Client`` (and the ``Auth0-Client`` header)."""

import base64
import json

import pytest
import requests

from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
    M2M_SECRET,
    PKCE,
    SPA_CALLBACK,
    code_request,
    exchange_code,
    forms,
    redirect_parameters,
    verified_claims,
)

AUTH0_CLIENT = base64.urlsafe_b64encode(
    json.dumps({"name": "auth0-spa-js", "version": "2.28.3"}).encode()
).decode()


@pytest.fixture
def authserver(start_authserver, clock):
    return start_authserver(clock=clock)


def is_login_page(page) -> bool:
    return page.status_code == 200 and "username" in forms(page.text)[0]["inputs"]


def signed_in_at(user_agent, clock) -> int:
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    assert "code" in redirect_parameters(user_agent.sign_in(page))
    return int(clock.now)


def id_token_auth_time(authserver, user_agent, response, request, pkce, clock, started) -> int:
    code = redirect_parameters(response)["code"]
    tokens = exchange_code(authserver, code, "spa-demo", SPA_CALLBACK, pkce.verifier).json()
    leeway = clock.now - started
    _, claims = verified_claims(authserver, tokens["id_token"], "spa-demo", leeway=leeway)
    return claims["auth_time"]


def test_max_age_asks_for_a_new_login_when_the_session_is_older(user_agent, authserver, clock):
    started = signed_in_at(user_agent, clock)
    clock.advance(120)
    pkce = PKCE.new()
    request = code_request("spa-demo", SPA_CALLBACK, pkce, max_age="60")
    page = user_agent.authorize(**request)
    assert is_login_page(page)
    response = user_agent.sign_in(page)
    # OIDC Core §3.1.2.1: "When max_age is used, the ID Token returned MUST include an auth_time
    # Claim Value": the new login's.
    auth_time = id_token_auth_time(authserver, user_agent, response, request, pkce, clock, started)
    assert auth_time == started + 120


def test_max_age_lets_a_young_enough_session_in(user_agent, authserver, clock):
    started = signed_in_at(user_agent, clock)
    clock.advance(120)
    pkce = PKCE.new()
    request = code_request("spa-demo", SPA_CALLBACK, pkce, max_age="120")
    response = user_agent.authorize(**request)
    assert response.status_code == 302
    auth_time = id_token_auth_time(authserver, user_agent, response, request, pkce, clock, started)
    assert auth_time == started


def test_max_age_with_prompt_none_answers_login_required(user_agent, authserver, clock):
    signed_in_at(user_agent, clock)
    clock.advance(61)
    request = code_request("spa-demo", SPA_CALLBACK, PKCE.new(), max_age="60", prompt="none")
    response = user_agent.authorize(**request)
    assert redirect_parameters(response) == {
        "error": "login_required",
        "state": request["state"],
        "iss": authserver.issuer,
    }


@pytest.mark.parametrize("max_age", ["-1", "1.5", "ten", "", "١"])
def test_max_age_must_be_a_number_of_seconds(user_agent, max_age):
    request = code_request("spa-demo", SPA_CALLBACK, PKCE.new(), max_age=max_age)
    answer = redirect_parameters(user_agent.authorize(**request))
    assert answer["error"] == "invalid_request" and answer["state"] == request["state"]
    assert answer["error_description"] == "Invalid 'max_age' parameter."


def test_prompt_login_signs_in_again_with_a_new_auth_time(user_agent, authserver, clock):
    started = signed_in_at(user_agent, clock)
    clock.advance(30)
    pkce = PKCE.new()
    request = code_request("spa-demo", SPA_CALLBACK, pkce, prompt="login")
    page = user_agent.authorize(**request)
    assert is_login_page(page)
    response = user_agent.sign_in(page)
    auth_time = id_token_auth_time(authserver, user_agent, response, request, pkce, clock, started)
    assert auth_time == started + 30


def test_login_hint_prefills_the_email_address(user_agent):
    page = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), login_hint=ALICE[0])
    )
    assert forms(page.text)[0]["inputs"]["username"]["value"] == ALICE[0]
    assert "code" in redirect_parameters(user_agent.sign_in(page))


def test_login_hint_is_escaped_and_never_longer_than_an_email_address(user_agent):
    hostile = '"><script>alert(1)</script>'
    page = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), login_hint=hostile)
    )
    assert "<script" not in page.text
    assert forms(page.text)[0]["inputs"]["username"]["value"] == hostile
    too_long = "a" * 250 + "@b.cd"
    page = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), login_hint=too_long)
    )
    assert forms(page.text)[0]["inputs"]["username"]["value"] == ""


def test_screen_hint_signup_shows_the_login_page_saying_there_is_no_sign_up(user_agent):
    plain = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    assert "no sign-up page" not in plain.text
    page = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), screen_hint="signup")
    )
    assert is_login_page(page) and "no sign-up page" in page.text
    assert "code" in redirect_parameters(user_agent.sign_in(page))


def test_auth0_client_is_accepted_and_ignored(user_agent, authserver):
    pkce = PKCE.new()
    request = code_request("spa-demo", SPA_CALLBACK, pkce, auth0Client=AUTH0_CLIENT)
    response = user_agent.sign_in(user_agent.authorize(**request))
    code = redirect_parameters(response)["code"]
    tokens = requests.post(
        authserver.url("/oauth/token"),
        json={
            "grant_type": "authorization_code",
            "client_id": "spa-demo",
            "code": code,
            "redirect_uri": SPA_CALLBACK,
            "code_verifier": pkce.verifier,
        },
        headers={"Auth0-Client": AUTH0_CLIENT},
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    machine = authserver.token(
        {
            "grant_type": "client_credentials",
            "client_id": "m2m-demo",
            "client_secret": M2M_SECRET,
            "audience": API_AUDIENCE,
        },
        headers={"Auth0-Client": AUTH0_CLIENT},
    )
    assert machine.status_code == 200
