"""Logout: OpenID Connect RP-Initiated Logout 1.0 at ``/oidc/logout``, and Auth0's
``/v2/logout`` beside it.

``/oidc/logout`` logs out at once only for an ``id_token_hint`` this server issued in the current
session of the signed-in user; everything else is asked on a confirmation page, and only its POST
with the session's CSRF token ends the session. More ``/v2/logout`` tests: test_login_and_sso.py.
"""

import logging
import time
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from joserfc import jwt as jose_jwt

from authserver import keys
from authserver.storage import Storage
from tests.authserver.helpers import (
    BOB,
    PKCE,
    SPA_CALLBACK,
    UserAgent,
    code_request,
    forms,
    redirect_parameters,
    run_code_flow,
)
from tests.support.keys import compact, rsa_signing_key

SPA_LOGOUT_URL = "http://localhost:3000/"
# A state the redirect must carry back intact: spaces, "&", "=", "#" and "+" need encoding.
STATE = "a b&c=d#e+f"
CONFIRMATION = "Log out of Flowlab?"
# In a parametrized request: replaced by the ID token the test gets.
ALICES_ID_TOKEN = "<alice's ID token>"


def signed_in(user_agent: UserAgent) -> bool:
    """Whether the browser's SSO session still lives: prompt=none gets a code."""
    response = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), prompt="none")
    )
    return "code" in redirect_parameters(response)


def end_session(user_agent: UserAgent, method: str = "GET", **parameters) -> requests.Response:
    url = user_agent.server.url("/oidc/logout")
    if method == "POST":
        return user_agent.session.post(url, data=parameters, allow_redirects=False, timeout=10)
    return user_agent.session.get(url, params=parameters, allow_redirects=False, timeout=10)


def id_token(user_agent: UserAgent, **extra) -> str:
    """Sign in (or use the session) and get an ID token for spa-demo through the code flow."""
    return run_code_flow(user_agent, **extra).tokens["id_token"]


def returned_state(response: requests.Response) -> str | None:
    """The ``state`` of a redirect to the SPA's logout URL (asserts that it is one)."""
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SPA_LOGOUT_URL
    return dict(parse_qsl(location.query)).get("state")


def assert_asks_for_confirmation(response: requests.Response) -> None:
    assert response.status_code == 200, response.text
    assert CONFIRMATION in response.text
    (form,) = forms(response.text)
    assert form["method"] == "post" and form["inputs"]["csrf_token"]["value"]
    assert "id_token_hint" not in form["inputs"]


def assert_refused(response: requests.Response) -> None:
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_request" in response.text


def signed_by_the_server(server, token: str, header: dict | None = None, **claims) -> str:
    """``token`` with header parameters and claims changed, signed with the server's current key."""
    storage = Storage.open(server.database)
    try:
        key_set = keys.signing_key(storage)
    finally:
        storage.close()
    changed_header = {**jwt.get_unverified_header(token), **(header or {})}
    changed_claims = {**jwt.decode(token, options={"verify_signature": False}), **claims}
    return jose_jwt.encode(changed_header, changed_claims, key_set)


def signed_by_another_key(token: str) -> str:
    """``token``'s header (its ``kid`` included) and claims, signed with a key of nobody's."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    return compact(header, claims, rsa_signing_key(header["kid"]), "RS256")


def test_discovery_advertises_the_end_session_endpoint(authserver, user_agent):
    document = requests.get(authserver.url("/.well-known/openid-configuration"), timeout=10).json()
    assert document["end_session_endpoint"] == f"{authserver.issuer}oidc/logout"
    response = user_agent.session.get(
        document["end_session_endpoint"], allow_redirects=False, timeout=10
    )
    assert_asks_for_confirmation(response)


@pytest.mark.parametrize(
    "client_id", ["spa-demo", None], ids=["with client_id", "application from aud"]
)
def test_a_valid_id_token_hint_logs_out_at_once_and_returns_with_state(user_agent, client_id):
    hint = id_token(user_agent)
    parameters = {"id_token_hint": hint, "post_logout_redirect_uri": SPA_LOGOUT_URL, "state": STATE}
    if client_id:
        parameters["client_id"] = client_id
    response = end_session(user_agent, **parameters)
    assert response.status_code == 303
    assert returned_state(response) == STATE
    assert not signed_in(user_agent)


def test_a_logout_request_may_be_posted(user_agent):
    hint = id_token(user_agent)
    response = end_session(
        user_agent, "POST", id_token_hint=hint, post_logout_redirect_uri=SPA_LOGOUT_URL, state=STATE
    )
    assert response.status_code == 303
    assert returned_state(response) == STATE
    assert not signed_in(user_agent)


def test_without_post_logout_redirect_uri_the_logged_out_page_is_shown(user_agent):
    response = end_session(user_agent, id_token_hint=id_token(user_agent))
    assert response.status_code == 200
    assert "You are logged out" in response.text
    assert not signed_in(user_agent)


def test_an_expired_id_token_hint_is_accepted(authserver, user_agent):
    hint = id_token(user_agent)
    expired = signed_by_the_server(authserver, hint, exp=int(time.time()) - 60)
    response = end_session(
        user_agent, id_token_hint=expired, post_logout_redirect_uri=SPA_LOGOUT_URL
    )
    assert response.status_code == 303
    assert not signed_in(user_agent)


def test_a_valid_hint_without_a_session_returns_at_once(user_agent):
    hint = id_token(user_agent)
    user_agent.session.get(user_agent.server.url("/v2/logout"), timeout=10)
    response = end_session(
        user_agent, id_token_hint=hint, post_logout_redirect_uri=SPA_LOGOUT_URL, state=STATE
    )
    assert response.status_code == 303
    assert returned_state(response) == STATE


def test_without_a_hint_the_user_is_asked_and_a_get_does_not_log_out(user_agent):
    run_code_flow(user_agent)
    page = end_session(
        user_agent, client_id="spa-demo", post_logout_redirect_uri=SPA_LOGOUT_URL, state=STATE
    )
    assert_asks_for_confirmation(page)
    assert "alice@flowlab.test" in page.text
    # The page that asks may not be framed: a hidden frame cannot make the user press its button.
    assert page.headers["X-Frame-Options"] == "DENY"
    assert signed_in(user_agent)
    # Not even a GET carrying the page's CSRF token logs out: only the form's POST does.
    (form,) = forms(page.text)
    csrf_token = form["inputs"]["csrf_token"]["value"]
    assert_asks_for_confirmation(
        end_session(user_agent, csrf_token=csrf_token, client_id="spa-demo")
    )
    assert signed_in(user_agent)


@pytest.mark.parametrize("csrf_token", [None, "forged-token"], ids=["without", "forged"])
def test_the_confirmation_must_carry_the_csrf_token_of_the_session(user_agent, csrf_token):
    run_code_flow(user_agent)
    form = {"client_id": "spa-demo", "post_logout_redirect_uri": SPA_LOGOUT_URL, "state": STATE}
    if csrf_token:
        form["csrf_token"] = csrf_token
    response = end_session(user_agent, "POST", **form)
    assert "Location" not in response.headers
    assert_asks_for_confirmation(response)
    assert signed_in(user_agent)


def test_confirming_logs_out_and_returns_with_state(user_agent):
    run_code_flow(user_agent)
    page = end_session(
        user_agent, client_id="spa-demo", post_logout_redirect_uri=SPA_LOGOUT_URL, state=STATE
    )
    response = user_agent.submit(page, {})
    assert response.status_code == 303
    assert returned_state(response) == STATE
    assert not signed_in(user_agent)


def test_confirming_without_post_logout_redirect_uri_shows_the_logged_out_page(user_agent):
    run_code_flow(user_agent)
    response = user_agent.submit(end_session(user_agent), {})
    assert response.status_code == 200
    assert "You are logged out" in response.text
    assert not signed_in(user_agent)


NOT_ISSUED_HERE = {
    "not a JWT": lambda server, token: "not.a.jwt",
    "signed with another key": lambda server, token: signed_by_another_key(token),
    "another issuer": lambda server, token: signed_by_the_server(
        server, token, iss="https://evil.example/"
    ),
    "an access token type": lambda server, token: signed_by_the_server(
        server, token, header={"typ": "at+jwt"}
    ),
    "aud a list": lambda server, token: signed_by_the_server(server, token, aud=["spa-demo"]),
}


@pytest.mark.parametrize("forge", NOT_ISSUED_HERE.values(), ids=NOT_ISSUED_HERE.keys())
def test_a_hint_this_server_did_not_issue_is_not_obeyed(authserver, user_agent, forge):
    hint = forge(authserver, id_token(user_agent))
    response = end_session(
        user_agent,
        id_token_hint=hint,
        client_id="spa-demo",
        post_logout_redirect_uri=SPA_LOGOUT_URL,
        state=STATE,
    )
    assert_asks_for_confirmation(response)
    assert signed_in(user_agent)


def test_an_access_token_is_not_an_id_token_hint(user_agent):
    access_token = run_code_flow(user_agent).tokens["access_token"]
    assert_asks_for_confirmation(end_session(user_agent, id_token_hint=access_token))
    assert signed_in(user_agent)


def test_a_hint_for_another_user_is_not_obeyed(authserver, user_agent):
    bobs_user_agent = UserAgent(authserver)
    bobs_auth_time = jwt.decode(
        id_token(bobs_user_agent, credentials=BOB), options={"verify_signature": False}
    )["auth_time"]
    # Alice's ID token with the auth_time of bob's session: only sub tells them apart.
    alices_id_token = signed_by_the_server(
        authserver, id_token(user_agent), auth_time=bobs_auth_time
    )
    response = end_session(
        bobs_user_agent, id_token_hint=alices_id_token, post_logout_redirect_uri=SPA_LOGOUT_URL
    )
    assert_asks_for_confirmation(response)
    assert "bob@flowlab.test" in response.text
    assert signed_in(bobs_user_agent)


def test_a_hint_from_an_earlier_session_is_not_obeyed(start_authserver, clock):
    user_agent = UserAgent(start_authserver(clock=clock))
    earlier_id_token = id_token(user_agent)
    user_agent.session.get(user_agent.server.url("/v2/logout"), timeout=10)
    # auth_time has whole seconds: the next session starts a second later.
    clock.advance(1)
    later_id_token = id_token(user_agent)
    auth_times = [
        jwt.decode(token, options={"verify_signature": False})["auth_time"]
        for token in (earlier_id_token, later_id_token)
    ]
    assert auth_times[1] == auth_times[0] + 1
    assert_asks_for_confirmation(end_session(user_agent, id_token_hint=earlier_id_token))
    assert signed_in(user_agent)


@pytest.mark.parametrize(
    "parameters",
    [
        {"client_id": "spa-demo", "post_logout_redirect_uri": "https://evil.example/"},
        {"client_id": "spa-demo", "post_logout_redirect_uri": "http://localhost:3000/other"},
        {"client_id": "native-demo", "post_logout_redirect_uri": SPA_LOGOUT_URL},
        {"client_id": "no-such-app", "post_logout_redirect_uri": SPA_LOGOUT_URL},
        {"post_logout_redirect_uri": SPA_LOGOUT_URL},
        {"id_token_hint": ALICES_ID_TOKEN, "post_logout_redirect_uri": "https://evil.example/"},
    ],
    ids=[
        "foreign",
        "other path",
        "other application",
        "unknown application",
        "no application",
        "with a hint",
    ],
)
def test_post_logout_redirect_uri_must_be_an_allowed_logout_url(user_agent, parameters):
    hint = id_token(user_agent)
    if parameters.get("id_token_hint") == ALICES_ID_TOKEN:
        parameters = {**parameters, "id_token_hint": hint}
    assert_refused(end_session(user_agent, **parameters))
    # Refused, and nothing changed: the session is still alive.
    assert signed_in(user_agent)


def test_client_id_must_be_the_audience_of_the_hint(user_agent):
    hint = id_token(user_agent)
    assert_refused(end_session(user_agent, id_token_hint=hint, client_id="native-demo"))
    assert signed_in(user_agent)


def test_logged_values_cannot_forge_log_lines(user_agent, caplog):
    hint = id_token(user_agent)
    forged = "\nINFO forged line"
    with caplog.at_level(logging.INFO, logger="authserver.logout"):
        end_session(user_agent, id_token_hint=hint, client_id=f"native-demo{forged}")
        end_session(
            user_agent,
            client_id="spa-demo",
            post_logout_redirect_uri=f"https://evil.example/{forged}",
        )
        end_session(
            user_agent, id_token_hint=signed_by_the_server(user_agent.server, hint, iss=forged)
        )
        user_agent.session.get(
            user_agent.server.url("/v2/logout"), params={"returnTo": forged}, timeout=10
        )
    messages = [
        record.getMessage() for record in caplog.records if record.name == "authserver.logout"
    ]
    assert len(messages) == 4
    assert all("\n" not in message for message in messages)


def test_v2_logout_still_ends_the_session_on_a_plain_get(user_agent):
    # Auth0's /v2/logout, kept as Auth0 has it (its SDKs call it): no hint, no confirmation.
    run_code_flow(user_agent)
    response = user_agent.session.get(
        user_agent.server.url("/v2/logout"), allow_redirects=False, timeout=10
    )
    assert response.status_code == 200
    assert "You are logged out" in response.text
    assert not signed_in(user_agent)


@pytest.mark.parametrize(
    "name", ["id_token_hint", "post_logout_redirect_uri", "client_id", "state"]
)
def test_repeated_logout_parameters_are_refused(user_agent, authserver, name):
    run_code_flow(user_agent)
    response = user_agent.session.get(
        authserver.url("/oidc/logout"),
        params=[(name, "one"), (name, "two")],
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "code" in redirect_parameters(
        user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    )


def test_a_hint_from_another_session_of_the_same_second_is_not_obeyed(start_authserver, clock):
    server = start_authserver(clock=clock)
    # Alice signs in in two browsers within the same second (the clock stands still): the same
    # sub and auth_time, two sessions; only sid tells them apart.
    first, second = UserAgent(server), UserAgent(server)
    first_id_token, second_id_token = id_token(first), id_token(second)
    claims = [
        jwt.decode(token, options={"verify_signature": False})
        for token in (first_id_token, second_id_token)
    ]
    assert claims[0]["auth_time"] == claims[1]["auth_time"]
    assert claims[0]["sid"] != claims[1]["sid"]
    assert_asks_for_confirmation(end_session(first, id_token_hint=second_id_token))
    assert signed_in(first)
    assert end_session(first, id_token_hint=first_id_token).status_code == 200
    assert not signed_in(first) and signed_in(second)
