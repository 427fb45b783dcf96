"""A database that refuses writes for now: another process holds its write lock past the busy
timeout (an admin command, a backup). The authorization server answers 503 with ``Retry-After``,
a JSON error on its API endpoints and the error page elsewhere, never a 500; the request changes
nothing, so the same refresh token, code or login works once the lock is released.

Read-only files and a full disk give the same storage faults (``shared.sqlite_files``); the API's
fault tests make those with real processes (``tests/faults/test_database_faults.py``).
"""

import secrets

import pytest

from authserver import storage
from shared.web import STORAGE_RETRY_AFTER_SECONDS
from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    code_request,
    exchange_code,
    redirect_parameters,
    run_code_flow,
    write_lock_held,
)


@pytest.fixture
def locked(authserver, monkeypatch):
    """``with locked():`` another connection holds the database's write lock; the server's
    connections wait 50 ms for it (set before the server's first request opens one)."""
    monkeypatch.setattr(storage, "LOCK_TIMEOUT_SECONDS", 0.05)
    return lambda: write_lock_held(authserver.database)


def assert_unavailable_json(answer):
    assert answer.status_code == 503, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {
        "error": "service_unavailable",
        "error_description": "Service Unavailable.",
    }
    assert answer.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)


def native_refresh_token(user_agent) -> str:
    flow = run_code_flow(
        user_agent,
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        audience=API_AUDIENCE,
        scope="openid offline_access read:messages",
    )
    return flow.tokens["refresh_token"]


def refresh(server, refresh_token):
    form = {"grant_type": "refresh_token", "client_id": "native-demo"}
    return server.token(form | {"refresh_token": refresh_token})


def test_a_refresh_while_the_database_is_locked_is_a_503_and_rotates_nothing(
    authserver, user_agent, locked, caplog
):
    refresh_token = native_refresh_token(user_agent)
    with locked():
        assert_unavailable_json(refresh(authserver, refresh_token))
    assert "SQLITE_BUSY" in caplog.text
    # Not rotated, not taken for a reuse: the same refresh token works, once.
    assert refresh(authserver, refresh_token).status_code == 200
    assert refresh(authserver, refresh_token).status_code == 400


def test_a_code_redeemed_while_the_database_is_locked_is_a_503_and_stays_unused(
    authserver, user_agent, locked
):
    pkce = PKCE.new()
    request = code_request("native-demo", NATIVE_CALLBACK, pkce, audience=API_AUDIENCE)
    page = user_agent.authorize(**request)
    code = redirect_parameters(user_agent.sign_in(page))["code"]

    def redeem():
        return exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier)

    with locked():
        assert_unavailable_json(redeem())
    assert redeem().status_code == 200
    assert redeem().status_code == 400


def test_a_login_while_the_database_is_locked_is_the_error_page_and_can_be_tried_again(
    authserver, user_agent, locked
):
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    with locked():
        answer = user_agent.login(page, *ALICE)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert "service_unavailable" in answer.text
    assert "Traceback" not in answer.text
    # The same login page, submitted again, signs in.
    assert "code" in redirect_parameters(user_agent.sign_in(page))


def test_an_authorization_while_the_database_is_locked_is_the_error_page_and_can_be_sent_again(
    authserver, user_agent, locked
):
    assert "code" in redirect_parameters(
        user_agent.sign_in(
            user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
        )
    )
    # A nonce is refused once a grant holds it: the refused request stored none.
    request = code_request("spa-demo", SPA_CALLBACK, PKCE.new(), nonce=secrets.token_urlsafe(12))
    with locked():
        answer = user_agent.authorize(**request)
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert "service_unavailable" in answer.text
    assert "code" in redirect_parameters(user_agent.authorize(**request))


def test_a_logout_with_no_session_to_end_is_answered_while_the_database_is_locked(
    authserver, user_agent, locked
):
    with locked():
        answer = user_agent.session.get(authserver.url("/v2/logout"), timeout=10)
    assert answer.status_code == 200, answer.text
