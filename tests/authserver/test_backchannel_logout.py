"""OpenID Connect Back-Channel Logout 1.0: the logout tokens the server POSTs when a session ends.

A real receiver (an HTTP server on 127.0.0.1, ephemeral port) is webapp-demo's registered
``backchannel_logout_uri`` in the test's tenant; the tests wait for every delivery by shutting the
server's sender pool down (``shutdown(wait=True)``), so nothing sleeps and nothing is missed.
"""

import logging
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
import requests

from authserver import backchannel_logout
from tests.authserver.helpers import (
    ALICE,
    ALICE_SUB,
    BOB,
    PKCE,
    WEBAPP_CALLBACK,
    WEBAPP_SECRET,
    AuthServer,
    UserAgent,
    code_request,
    redirect_parameters,
    run_code_flow,
    tenant_text,
    verified_claims,
    webapp_login,
)
from tests.support.processes import free_port

PACKAGED_URI = 'backchannel_logout_uri = "http://localhost:3001/backchannel-logout"'
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}
#: How long a slow receiver holds a request at most (it is released as soon as the test is done).
HOLD_SECONDS = 60


@dataclass
class Receiver:
    """An RP's back-channel logout endpoint: records each POST, answers ``status``; with
    ``hold`` set, keeps each request waiting until :attr:`release` is set."""

    status: int = 200
    hold: bool = False
    requests: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append(
                    (self.path, dict(self.headers), self.rfile.read(length).decode())
                )
                if receiver.hold:
                    receiver.release.wait(HOLD_SECONDS)
                self.send_response(receiver.status)
                if receiver.status in (301, 302, 303, 307, 308):
                    self.send_header("Location", "/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            # Where a redirect would lead a sender that follows it (a 302 makes POST a GET).
            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/backchannel-logout"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def logout_tokens(self) -> list[str]:
        return [parse_qs(body)["logout_token"][0] for _, _, body in self.requests]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def server_for(start_authserver, uri: str) -> AuthServer:
    return start_authserver(tenant_text((PACKAGED_URI, f'backchannel_logout_uri = "{uri}"')))


@pytest.fixture
def server(start_authserver, receiver) -> AuthServer:
    return server_for(start_authserver, receiver.start())


def wait_for_deliveries(server: AuthServer) -> None:
    """Every logout token the server was sending has been delivered, or has failed."""
    server.app.extensions[backchannel_logout.EXTENSION_NAME].shutdown(wait=True)


def id_token_sid(server: AuthServer, id_token: str, client_id: str) -> str:
    return verified_claims(server, id_token, client_id)[1]["sid"]


def log_v2_out(user_agent: UserAgent) -> requests.Response:
    return user_agent.session.get(user_agent.server.url("/v2/logout"), timeout=10)


def test_logout_sends_the_web_app_a_logout_token_for_the_session(server, receiver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    user_agent = UserAgent(server)
    spa = run_code_flow(user_agent, scope="openid profile")
    webapp = webapp_login(user_agent, scope="openid profile", nonce="n-0S6_WzA2Mj")
    sid = id_token_sid(server, webapp["id_token"], "webapp-demo")
    # One SSO session, one sid, whichever application the ID token is for.
    assert id_token_sid(server, spa.tokens["id_token"], "spa-demo") == sid

    assert log_v2_out(user_agent).status_code == 200
    wait_for_deliveries(server)

    # spa-demo registered no back-channel logout URI: the one POST is webapp-demo's.
    ((path, headers, _),) = receiver.requests
    assert path == "/backchannel-logout"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    (token,) = receiver.logout_tokens()
    header, claims = verified_claims(server, token, "webapp-demo")
    current_key = requests.get(server.jwks_url, timeout=10).json()["keys"][0]
    assert header == {"alg": "RS256", "typ": "logout+jwt", "kid": current_key["kid"]}
    assert set(claims) == LOGOUT_TOKEN_CLAIMS and "nonce" not in claims
    assert claims["iss"] == server.issuer and claims["aud"] == "webapp-demo"
    assert claims["sub"] == ALICE_SUB and claims["sid"] == sid
    assert claims["events"] == {EVENT: {}}
    assert claims["exp"] - claims["iat"] == 120
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", claims["jti"])
    assert "back-channel logout of webapp-demo at " in caplog.text and "done (200)" in caplog.text


def test_a_logout_token_is_not_an_id_token(server, receiver):
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    log_v2_out(user_agent)
    wait_for_deliveries(server)
    (token,) = receiver.logout_tokens()
    # A validator of ID tokens that checks the type (as /oidc/logout's id_token_hint check does)
    # refuses it; and it has no nonce to pass for an authentication response's.
    assert jwt.get_unverified_header(token)["typ"] != "JWT"
    assert "nonce" not in jwt.decode(token, options={"verify_signature": False})


def test_oidc_logout_sends_it_too(server, receiver):
    user_agent = UserAgent(server)
    tokens = webapp_login(user_agent)
    response = user_agent.session.get(
        server.url("/oidc/logout"), params={"id_token_hint": tokens["id_token"]}, timeout=10
    )
    assert response.status_code == 200 and "logged out" in response.text.lower()
    wait_for_deliveries(server)
    (token,) = receiver.logout_tokens()
    sid = id_token_sid(server, tokens["id_token"], "webapp-demo")
    assert verified_claims(server, token, "webapp-demo")[1]["sid"] == sid


def test_one_logout_token_per_application_and_session(server, receiver):
    user_agent = UserAgent(server)
    first = webapp_login(user_agent, scope="openid offline_access")
    webapp_login(user_agent)  # the same session again (SSO)
    refreshed = server.token(
        {
            "grant_type": "refresh_token",
            "client_id": "webapp-demo",
            "client_secret": WEBAPP_SECRET,
            "refresh_token": first["refresh_token"],
        }
    ).json()
    sid = id_token_sid(server, first["id_token"], "webapp-demo")
    # The refresh token's ID token names the session of the login the grant came from.
    assert id_token_sid(server, refreshed["id_token"], "webapp-demo") == sid
    old_cookie = user_agent.session.cookies.get("authserver_session")
    log_v2_out(user_agent)
    # The ended session's cookie again, at both logout endpoints: the session ends only once.
    user_agent.session.cookies.set("authserver_session", old_cookie)
    log_v2_out(user_agent)
    user_agent.session.cookies.set("authserver_session", old_cookie)
    user_agent.session.get(
        server.url("/oidc/logout"), params={"id_token_hint": first["id_token"]}, timeout=10
    )
    # A new session is another sid, and another logout token.
    second_session = webapp_login(user_agent, credentials=BOB)
    log_v2_out(user_agent)
    wait_for_deliveries(server)
    sids = [verified_claims(server, t, "webapp-demo")[1]["sid"] for t in receiver.logout_tokens()]
    assert sids == [sid, id_token_sid(server, second_session["id_token"], "webapp-demo")]


def test_no_logout_token_without_an_id_token_in_the_session(server, receiver):
    user_agent = UserAgent(server)
    run_code_flow(user_agent)  # signed in through spa-demo only
    # webapp-demo was sent a code, never redeemed: it is not signed in.
    response = user_agent.authorize(**code_request("webapp-demo", WEBAPP_CALLBACK, PKCE.new()))
    assert "code" in redirect_parameters(response)
    log_v2_out(user_agent)
    wait_for_deliveries(server)
    assert receiver.requests == []


def test_an_unreachable_receiver_does_not_fail_the_logout(start_authserver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    server = server_for(start_authserver, f"http://127.0.0.1:{free_port()}/backchannel-logout")
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    response = user_agent.session.get(
        server.url("/v2/logout"),
        params={"client_id": "webapp-demo", "returnTo": "http://localhost:3001/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"] == "http://localhost:3001/"
    wait_for_deliveries(server)
    assert "back-channel logout of webapp-demo at http://127.0.0.1:" in caplog.text
    assert "failed:" in caplog.text


def test_a_refusing_receiver_is_logged(server, receiver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    receiver.status = 303
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    assert log_v2_out(user_agent).status_code == 200
    wait_for_deliveries(server)
    # A redirect is not followed: one request, logged as refused.
    assert len(receiver.requests) == 1
    assert "refused (303)" in caplog.text


def test_a_slow_receiver_does_not_delay_the_logout(server, receiver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    server.app.config["BACKCHANNEL_LOGOUT_TIMEOUT"] = HOLD_SECONDS
    receiver.hold = True
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    # The logout answers (within log_v2_out's 10 s) while the receiver holds the logout token's
    # request, which it would hold for a minute: the logout does not wait for it.
    assert log_v2_out(user_agent).status_code == 200
    assert not receiver.release.is_set()
    receiver.release.set()
    wait_for_deliveries(server)
    assert len(receiver.requests) == 1 and "done (200)" in caplog.text


def test_the_sender_gives_up_on_a_slow_receiver_after_its_timeout(server, receiver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    server.app.config["BACKCHANNEL_LOGOUT_TIMEOUT"] = 1
    receiver.hold = True
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    assert log_v2_out(user_agent).status_code == 200
    # The sender is done (it gave up after 1 s) while the receiver would hold on for a minute.
    wait_for_deliveries(server)
    assert not receiver.release.is_set()
    assert len(receiver.requests) == 1
    assert "failed: timed out" in caplog.text


def test_blocking_a_user_sends_the_logout_tokens_of_their_sessions(server, receiver, run_cli):
    tokens = webapp_login(UserAgent(server))
    other_session = webapp_login(UserAgent(server))
    result = run_cli(server, "users", "block", ALICE[0])
    assert result.returncode == 0, result.stderr
    assert "(2 back-channel logout token(s) sent)" in result.stdout
    # The command sent them itself, before it returned.
    claims = [verified_claims(server, t, "webapp-demo")[1] for t in receiver.logout_tokens()]
    assert {c["sid"] for c in claims} == {
        id_token_sid(server, tokens["id_token"], "webapp-demo"),
        id_token_sid(server, other_session["id_token"], "webapp-demo"),
    }
    assert {c["sub"] for c in claims} == {ALICE_SUB}
    # Blocked again: no session left to end, no token sent.
    assert "sent" not in run_cli(server, "users", "block", ALICE[0]).stdout
    assert len(receiver.requests) == 2
