"""``response_mode=web_message``: the authorization response posted to the application's window.

What auth0-spa-js does: ``getTokenSilently()`` frames ``/authorize?...&prompt=none&
response_mode=web_message`` in a hidden iframe, ``loginWithPopup()`` opens it in a popup; both
wait for ``{type: "authorization_response", response: {...}}`` from the server's origin.
"""

import json
import re

import pytest

from tests.authserver.helpers import (
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    SPA_ORIGIN,
    code_request,
    exchange_code,
    forms,
    tenant_text,
)

OTHER_ORIGIN = "http://localhost:4000"
OTHER_CALLBACK = f"{OTHER_ORIGIN}/callback"
# spa-demo with a second callback on an origin that is not one of its allowed web origins, and
# partner-app (third party) with a web callback and web origin of its own.
TENANT = tenant_text(
    (
        'allowed_callback_urls = ["http://localhost:3000/callback"]',
        f'allowed_callback_urls = ["http://localhost:3000/callback", "{OTHER_CALLBACK}"]',
    ),
    (
        'is_first_party = false\nallowed_callback_urls = ["http://127.0.0.1/callback"]',
        'is_first_party = false\nallowed_callback_urls = ["http://127.0.0.1/callback", '
        '"http://localhost:5000/callback"]\nallowed_web_origins = ["http://localhost:5000"]',
    ),
)


@pytest.fixture
def authserver(start_authserver):
    return start_authserver(TENANT)


def web_message(page) -> tuple[str, dict]:
    """The target origin and the authorization response a web message page posts."""
    assert page.status_code == 200, page.text
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    (script,) = re.findall(r"<script nonce=\"[^\"]+\">(.*?)</script>", page.text, re.DOTALL)
    origin = json.loads(re.search(r"var targetOrigin = (.*?);\n", script).group(1))
    message = re.search(
        r'var authorizationResponse = \{type: "authorization_response", response: (.*)\};\n',
        script,
    ).group(1)
    assert "target.postMessage(authorizationResponse, targetOrigin);" in script
    assert "window.parent !== window ? window.parent : window.opener" in script
    return origin, json.loads(message)


def no_message(page) -> None:
    """An error page: nothing posted, no script at all, not framable."""
    assert page.status_code == 400
    assert "<script" not in page.text and "postMessage" not in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def spa_request(**extra) -> tuple[dict, PKCE]:
    pkce = PKCE.new()
    return code_request("spa-demo", SPA_CALLBACK, pkce, response_mode="web_message", **extra), pkce


def signed_in(user_agent) -> None:
    """Start an SSO session (a plain code flow by redirect)."""
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    assert "code" in user_agent.sign_in(page).headers["Location"]


def test_silent_authentication_posts_the_code_to_the_redirect_uris_origin(user_agent, authserver):
    signed_in(user_agent)
    request, pkce = spa_request(prompt="none")
    page = user_agent.authorize(**request)
    origin, response = web_message(page)
    assert origin == SPA_ORIGIN
    assert set(response) == {"code", "state", "iss"}
    assert response["state"] == request["state"] and response["iss"] == authserver.issuer
    tokens = exchange_code(authserver, response["code"], "spa-demo", SPA_CALLBACK, pkce.verifier)
    assert tokens.status_code == 200 and "id_token" in tokens.json()


def test_the_web_message_page_alone_runs_a_script_and_may_be_framed_by_the_web_origins(
    user_agent,
):
    signed_in(user_agent)
    pages = [user_agent.authorize(**spa_request(prompt="none")[0]) for _ in range(2)]
    nonces = []
    for page in pages:
        (nonce,) = re.findall(r'<script nonce="([^"]+)">', page.text)
        assert page.headers["Content-Security-Policy"] == (
            f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; "
            f"frame-ancestors {SPA_ORIGIN}"
        )
        assert "X-Frame-Options" not in page.headers
        assert page.headers["Cache-Control"] == "no-store"
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22
    # The login page of a web_message request (the popup's first page) stays script-free.
    user_agent.session.cookies.clear()
    login = user_agent.authorize(**spa_request()[0])
    assert "username" in forms(login.text)[0]["inputs"]
    assert "script-src" not in login.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Frame-Options"] == "DENY"


def test_popup_login_ends_with_the_web_message(user_agent, authserver):
    request, pkce = spa_request()
    page = user_agent.authorize(**request)
    origin, response = web_message(user_agent.sign_in(page))
    assert origin == SPA_ORIGIN and response["state"] == request["state"]
    tokens = exchange_code(authserver, response["code"], "spa-demo", SPA_CALLBACK, pkce.verifier)
    assert tokens.status_code == 200


def test_prompt_none_without_a_session_posts_login_required(user_agent, authserver):
    request, _ = spa_request(prompt="none")
    origin, response = web_message(user_agent.authorize(**request))
    assert origin == SPA_ORIGIN
    assert response == {
        "error": "login_required",
        "state": request["state"],
        "iss": authserver.issuer,
    }


def test_prompt_none_without_consent_posts_consent_required(user_agent, authserver):
    signed_in(user_agent)
    request = code_request(
        "partner-app",
        "http://localhost:5000/callback",
        PKCE.new(),
        response_mode="web_message",
        prompt="none",
    )
    origin, response = web_message(user_agent.authorize(**request))
    assert origin == "http://localhost:5000"
    assert response["error"] == "consent_required" and response["state"] == request["state"]


def test_consent_denied_in_a_popup_posts_access_denied(user_agent):
    request = code_request(
        "partner-app", "http://localhost:5000/callback", PKCE.new(), response_mode="web_message"
    )
    consent = user_agent.sign_in(user_agent.authorize(**request))
    origin, response = web_message(user_agent.decide(consent, "deny"))
    assert origin == "http://localhost:5000"
    assert response["error"] == "access_denied" and response["state"] == request["state"]


def test_implicit_flow_posts_the_token_response(user_agent, authserver):
    signed_in(user_agent)
    request = {
        "response_type": "token",
        "client_id": "spa-demo",
        "redirect_uri": SPA_CALLBACK,
        "audience": "https://api.flowlab.local",
        "scope": "read:messages",
        "state": "implicit-state",
        "response_mode": "web_message",
        "prompt": "none",
    }
    origin, response = web_message(user_agent.authorize(**request))
    assert origin == SPA_ORIGIN
    assert set(response) == {"access_token", "token_type", "expires_in", "scope", "state", "iss"}
    assert response["expires_in"] == 7200 and response["token_type"] == "Bearer"
    assert response["state"] == "implicit-state" and response["scope"] == "read:messages"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"),
    [("native-demo", NATIVE_CALLBACK), ("spa-demo", OTHER_CALLBACK)],
)
def test_no_message_to_a_redirect_uri_outside_the_allowed_web_origins(
    user_agent, client_id, redirect_uri
):
    signed_in(user_agent)
    silent = code_request(
        client_id, redirect_uri, PKCE.new(), response_mode="web_message", prompt="none"
    )
    no_message(user_agent.authorize(**silent))
    # Refused before any login is asked for it, too.
    user_agent.session.cookies.clear()
    no_message(user_agent.authorize(**{**silent, "prompt": "login"}))


def test_no_message_for_an_early_error_outside_the_allowed_web_origins(user_agent):
    # PKCE is checked before the response mode: the error would be redirected to the native app.
    request = code_request(
        "native-demo",
        NATIVE_CALLBACK,
        PKCE.new(),
        response_mode="web_message",
        code_challenge_method="plain",
    )
    no_message(user_agent.authorize(**request))


def test_values_reach_the_script_json_encoded(user_agent):
    state = "</script><script>alert(1)</script>'\"&\u2028\u2029é"
    request, _ = spa_request(prompt="none", state=state)
    page = user_agent.authorize(**request)
    assert page.text.count("<script") == 1 and page.text.count("</script>") == 1
    assert "\u2028" not in page.text and "\u2029" not in page.text
    assert web_message(page)[1]["state"] == state


def test_other_response_modes_stay_unsupported(user_agent):
    request = code_request("spa-demo", SPA_CALLBACK, PKCE.new(), response_mode="form_post")
    response = user_agent.authorize(**request)
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["Location"]
