"""`python -m authserver` as a learner runs it: a fresh start, one log line per request, a
restart that loses nothing (keys, users, SSO sessions, consents, refresh tokens, issued tokens), and
Ctrl-C."""

import socket

import pytest

from authserver.cli import GRACEFUL_TIMEOUT
from shared.token_validation import TokenValidator
from tests.authserver.helpers import (
    API_AUDIENCE,
    NATIVE_CALLBACK,
    PKCE,
    ServerProcess,
    UserAgent,
    code_request,
    redirect_parameters,
    run_code_flow,
)


@pytest.fixture
def server_process(tmp_path):
    process = ServerProcess(tmp_path)
    yield process
    process.stop()


def test_state_survives_a_restart(server_process):
    server_process.start()
    assert server_process.database.exists()
    user_agent = UserAgent(server_process)
    scope = "openid profile offline_access read:messages"
    user = run_code_flow(
        user_agent,
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        audience=API_AUDIENCE,
        scope=scope,
    )
    machine = server_process.client_credentials(audience=API_AUDIENCE).json()
    partner = code_request(
        "partner-app",
        NATIVE_CALLBACK,
        PKCE.new(),
        audience=API_AUDIENCE,
        scope="openid read:messages",
    )
    consent = user_agent.authorize(**partner)
    assert "code" in redirect_parameters(user_agent.follow(user_agent.decide(consent, "allow")))
    jwks_before = user_agent.session.get(server_process.jwks_url, timeout=10).json()

    server_process.stop()
    server_process.start()

    assert user_agent.session.get(server_process.jwks_url, timeout=10).json() == jwks_before
    validator = TokenValidator(
        server_process.issuer, API_AUDIENCE, jwks_url=server_process.jwks_url
    )
    assert validator.validate(machine["access_token"]).subject == "m2m-demo@clients"
    assert validator.validate(user.tokens["access_token"]).subject.startswith("auth0|")
    assert server_process.userinfo(user.tokens["access_token"]).status_code == 200
    refreshed = server_process.token(
        {
            "grant_type": "refresh_token",
            "client_id": "native-demo",
            "refresh_token": user.tokens["refresh_token"],
        }
    )
    assert refreshed.status_code == 200
    # The SSO session outlives the restart: no login prompt; and so does the consent given.
    silent = user_agent.authorize(
        **code_request("native-demo", NATIVE_CALLBACK, PKCE.new(), prompt="none")
    )
    assert "code" in redirect_parameters(silent)
    consented = user_agent.authorize(
        **{**partner, "code_challenge": PKCE.new().challenge, "prompt": "none"}
    )
    assert "code" in redirect_parameters(consented)


def test_every_request_is_logged_on_stderr(server_process):
    server_process.start()
    server_process.client_credentials(audience=API_AUDIENCE, client_secret="wrong")
    UserAgent(server_process).authorize(
        **code_request("spa-demo", "http://localhost:3000/callback", PKCE.new())
    )
    server_process.stop()
    log = server_process.logs()
    assert '"POST /oauth/token" 401' in log
    assert '"GET /authorize" 302' in log
    assert '"GET /u/login" 200' in log
    assert "wrong" not in log


def test_ctrl_c_stops_the_server_at_once_while_a_client_holds_a_connection(server_process):
    server_process.start()
    # Browsers keep connections open; this one sent half a request, so a request thread of the
    # worker waits for the rest. Answering another request afterwards shows the first was taken
    # (the listen queue is first in, first out).
    with socket.create_connection(("127.0.0.1", server_process.port), timeout=10) as half_request:
        half_request.sendall(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert server_process.token({"grant_type": "password"}).status_code == 400
        server_process.interrupt()
        # Before gunicorn's graceful timeout, after which it would SIGKILL a worker that hangs on.
        returncode = server_process.process.wait(timeout=GRACEFUL_TIMEOUT)
    log = server_process.logs()
    assert returncode == 0, log
    assert "Handling signal: int" in log
    assert "SIGKILL" not in log
