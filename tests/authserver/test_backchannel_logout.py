"""OpenID Connect Back-Channel Logout 1.0: the logout tokens the server POSTs when a session ends.

A real receiver (an HTTP server on 127.0.0.1, ephemeral port) is webapp-demo's registered
``backchannel_logout_uri`` in the test's tenant; the tests wait for every delivery by shutting the
server's senders down (``shutdown()`` returns once every queued logout token was sent or given
up), so nothing sleeps and nothing is missed. Slow applications are real sockets too: a
:class:`Trickler` answers one byte every 0.4 s, a :class:`Blackhole` accepts and never answers.
"""

import itertools
import logging
import re
import socket
import sqlite3
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
import requests

from authserver import backchannel_logout
from authserver.storage import Storage
from tests.authserver.helpers import (
    ALICE,
    ALICE_SUB,
    BOB,
    PKCE,
    TEST_TENANT,
    WEBAPP_CALLBACK,
    WEBAPP_SECRET,
    AuthServer,
    FakeClock,
    UserAgent,
    code_request,
    forms,
    redirect_parameters,
    run_code_flow,
    tenant_text,
    verified_claims,
    webapp_login,
)
from tests.support.processes import free_port
from tests.support.tls import self_signed_tls_files

PACKAGED_URI = 'backchannel_logout_uri = "http://localhost:3001/backchannel-logout"'
EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}
#: How long a slow receiver holds a request at most (it is released as soon as the test is done).
HOLD_SECONDS = 60
#: How often a trickling receiver sends the next byte of its answer.
TRICKLE_SECONDS = 0.4
#: How long a test waits for what should take a moment (generous: the machine may be busy).
PROMPT_SECONDS = 20


@dataclass
class Receiver:
    """An RP's back-channel logout endpoint: records each POST, answers ``status``; with
    ``hold`` set, keeps each request waiting until :attr:`release` is set."""

    status: int = 200
    hold: bool = False
    requests: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    #: The statuses of the first answers, before ``status``; and a 503's ``Retry-After``.
    first_statuses: list = field(default_factory=list)
    retry_after: str | None = None

    def start(self, tls: ssl.SSLContext | None = None) -> str:
        """Serve (HTTPS with ``tls``, a server context); the back-channel logout URI."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append(
                    (self.path, dict(self.headers), self.rfile.read(length).decode())
                )
                if receiver.hold:
                    receiver.release.wait(HOLD_SECONDS)
                status = (
                    receiver.first_statuses.pop(0) if receiver.first_statuses else receiver.status
                )
                self.send_response(status)
                if status in (301, 302, 303, 307, 308):
                    self.send_header("Location", "/redirected")
                if status == 503 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            # Where a redirect would lead a sender that follows it (a 302 makes POST a GET).
            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        scheme = "http" if tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.server.server_port}/backchannel-logout"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def logout_tokens(self) -> list[str]:
        return [parse_qs(body)["logout_token"][0] for _, _, body in self.requests]


class SlowReceiver:
    """A TCP server on 127.0.0.1 that accepts every connection and answers it its way
    (:meth:`answer`) until :meth:`stop`, which closes them all."""

    scheme = "http"

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.listener.getsockname()[1]}/backchannel-logout"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if self.stopped.is_set():
                connection.close()
                return
            self.connections.append(connection)
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        """Never a byte."""

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        # Closing alone would not end the accept() waiting in the other thread (nor the listening).
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for connection in self.connections:
            connection.close()


class Blackhole(SlowReceiver):
    """Accepts, and never answers."""


class Trickler(SlowReceiver):
    """Answers one byte every :data:`TRICKLE_SECONDS`: a status line, then headers without end."""

    def answer(self, connection: socket.socket) -> None:
        answer = itertools.chain(b"HTTP/1.1 200 OK\r\n", itertools.cycle(b"X-Slow: yes\r\n"))
        for byte in answer:
            if self.stopped.wait(TRICKLE_SECONDS):
                return
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return


class TLSTrickler(Trickler):
    """:class:`Trickler` over TLS (the handshake done at once, with the server context)."""

    scheme = "https"

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.tls = tls
        super().__init__()

    def answer(self, connection: socket.socket) -> None:
        try:
            secured = self.tls.wrap_socket(connection, server_side=True)
        except OSError:
            return
        self.connections.append(secured)
        super().answer(secured)


@pytest.fixture
def slow_receivers():
    started: list[SlowReceiver] = []

    def start(kind: type[SlowReceiver], *args) -> SlowReceiver:
        started.append(kind(*args))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def wait_until(condition, seconds: float = PROMPT_SECONDS) -> bool:
    """Whether ``condition()`` held within ``seconds`` (checked every 50 ms)."""
    waited = threading.Event()
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        waited.wait(0.05)
    return True


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
    server.app.extensions[backchannel_logout.EXTENSION_NAME].shutdown()


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


def test_a_logout_the_database_fails_changes_nothing_and_sent_again_tells_the_web_app(
    server, receiver
):
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    # The read of the session's applications fails (its table moved away: a stand-in for an
    # I/O error); the session was not ended, and the browser still holds it.
    database = sqlite3.connect(server.database, isolation_level=None)
    database.execute("ALTER TABLE session_clients RENAME TO session_clients_away")
    try:
        failed = log_v2_out(user_agent)
    finally:
        database.execute("ALTER TABLE session_clients_away RENAME TO session_clients")
        database.close()
    assert failed.status_code == 500
    assert "Traceback" not in failed.text
    assert log_v2_out(user_agent).status_code == 200
    wait_for_deliveries(server)
    assert len(receiver.logout_tokens()) == 1


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


def test_an_application_answering_503_is_sent_a_new_logout_token_after_the_wait_it_asks(
    server, receiver, caplog
):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    receiver.first_statuses, receiver.retry_after = [503], "0"
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    assert log_v2_out(user_agent).status_code == 200
    wait_for_deliveries(server)
    first, second = receiver.logout_tokens()
    jtis = {verified_claims(server, token, "webapp-demo")[1]["jti"] for token in (first, second)}
    assert len(jtis) == 2  # minted again for the second POST
    assert "refused (503)" in caplog.text and "done (200)" in caplog.text


@pytest.mark.parametrize("retry_after", ["0", None])
def test_a_logout_token_answered_503_each_time_is_sent_three_times_in_all(
    server, receiver, retry_after
):
    receiver.status, receiver.retry_after = 503, retry_after
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    log_v2_out(user_agent)
    wait_for_deliveries(server)
    assert len(receiver.requests) == backchannel_logout.ATTEMPTS == 3


def test_other_refusals_are_not_sent_again(server, receiver):
    receiver.status, receiver.retry_after = 500, "0"
    user_agent = UserAgent(server)
    webapp_login(user_agent)
    log_v2_out(user_agent)
    wait_for_deliveries(server)
    assert len(receiver.requests) == 1


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


def test_blocking_a_user_sends_a_logout_token_answered_503_again(server, receiver, run_cli):
    receiver.first_statuses, receiver.retry_after = [503], "0"
    webapp_login(UserAgent(server))
    result = run_cli(server, "users", "block", ALICE[0])
    assert "(1 back-channel logout token(s) sent)" in result.stdout
    first, second = receiver.logout_tokens()
    jtis = {verified_claims(server, token, "webapp-demo")[1]["jti"] for token in (first, second)}
    assert len(jtis) == 2  # minted again for the second POST


def test_blocking_sends_the_logout_tokens_of_exactly_the_sessions_it_ended(
    server, receiver, run_cli, monkeypatch
):
    webapp_login(UserAgent(server))
    late_login = {}
    set_blocked = Storage.set_blocked

    def set_blocked_after_a_login(storage, *args):
        # A login that lands while the command runs, just before the user is blocked.
        late_login.update(webapp_login(UserAgent(server)))
        return set_blocked(storage, *args)

    monkeypatch.setattr(Storage, "set_blocked", set_blocked_after_a_login)
    result = run_cli(server, "users", "block", ALICE[0])
    assert "(2 back-channel logout token(s) sent)" in result.stdout
    sids = {verified_claims(server, t, "webapp-demo")[1]["sid"] for t in receiver.logout_tokens()}
    assert id_token_sid(server, late_login["id_token"], "webapp-demo") in sids


@pytest.mark.parametrize("kind", [Trickler, Blackhole])
def test_a_post_gives_up_at_its_deadline_however_the_receiver_stalls(kind, slow_receivers, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    receiver = slow_receivers(kind)
    delivery = threading.Thread(
        target=backchannel_logout.deliver, args=("webapp-demo", receiver.uri, "token", 1.0)
    )
    started = time.monotonic()
    delivery.start()
    # A trickling receiver sends a byte well within every read's timeout: only a deadline for
    # the whole POST ends it (it would trickle until stopped, after the test).
    delivery.join(PROMPT_SECONDS)
    assert not delivery.is_alive(), f"still waiting after {time.monotonic() - started:.1f} s"
    assert "back-channel logout of webapp-demo at http://127.0.0.1:" in caplog.text
    assert "failed: timed out" in caplog.text


def regular_web_app(client_id: str, uri: str) -> str:
    """A tenant file entry like webapp-demo's, for ``client_id``, with ``uri`` as back-channel
    logout URI."""
    entry = re.search(
        r'\[\[applications\]\]\nclient_id = "webapp-demo".*?(?=\n\[\[)', TEST_TENANT, re.DOTALL
    ).group(0)
    return entry.replace('"webapp-demo"', f'"{client_id}"').replace(
        PACKAGED_URI, f'backchannel_logout_uri = "{uri}"'
    )


def regular_web_login(user_agent: UserAgent, client_id: str) -> dict:
    """:func:`webapp_login`, for a copy of webapp-demo (:func:`regular_web_app`)."""
    pkce = PKCE.new()
    request = code_request(client_id, WEBAPP_CALLBACK, pkce)
    response = user_agent.authorize(**request)
    if response.status_code == 200 and "username" in forms(response.text)[0]["inputs"]:
        response = user_agent.sign_in(response)
    tokens = user_agent.server.token(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": WEBAPP_SECRET,
            "code": redirect_parameters(response)["code"],
            "redirect_uri": WEBAPP_CALLBACK,
            "code_verifier": pkce.verifier,
        }
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_slow_applications_do_not_hold_up_another_applications_logout_tokens(
    start_authserver, receiver, slow_receivers, caplog
):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    slow = {"blackholed-app": slow_receivers(Blackhole), "trickling-app": slow_receivers(Trickler)}
    tenant = tenant_text(
        (PACKAGED_URI, f'backchannel_logout_uri = "{receiver.start()}"'),
        append="".join(f"\n{regular_web_app(name, r.uri)}\n" for name, r in slow.items()),
    )
    server = start_authserver(tenant)
    # The slow applications would hold each POST for a minute: they are never given up on here.
    server.app.config["BACKCHANNEL_LOGOUT_TIMEOUT"] = HOLD_SECONDS
    user_agents = [UserAgent(server), UserAgent(server)]
    for user_agent in user_agents:
        for client_id in slow:
            regular_web_login(user_agent, client_id)
        webapp_login(user_agent)
    for user_agent in user_agents:
        assert log_v2_out(user_agent).status_code == 200
    # Each logout queues the slow applications' logout tokens before webapp-demo's (client ids
    # in order): webapp-demo gets both of its own all the same, while the others still wait.
    assert wait_until(lambda: len(receiver.requests) == 2)
    assert "logout of blackholed-app" not in caplog.text
    assert "logout of trickling-app" not in caplog.text
    for slow_receiver in slow.values():
        slow_receiver.stop()
    wait_for_deliveries(server)
    assert "back-channel logout of blackholed-app at " in caplog.text
    assert "back-channel logout of trickling-app at " in caplog.text


def test_a_logout_token_is_minted_when_sent_and_an_old_one_is_not_sent(
    start_authserver, receiver, caplog
):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    clock = FakeClock()
    server = start_authserver(
        tenant_text((PACKAGED_URI, f'backchannel_logout_uri = "{receiver.start()}"')), clock
    )
    server.app.config["BACKCHANNEL_LOGOUT_TIMEOUT"] = HOLD_SECONDS
    receiver.hold = True
    first, old, recent = (UserAgent(server) for _ in range(3))
    for user_agent in (first, old, recent):
        webapp_login(user_agent)
    log_v2_out(first)
    # The first logout token is being sent (the receiver holds it): the others wait behind it.
    assert wait_until(lambda: len(receiver.requests) == 1)
    old_logout = clock()
    log_v2_out(old)
    clock.advance(100)
    log_v2_out(recent)
    clock.advance(30)
    receiver.release.set()
    wait_for_deliveries(server)
    # The old one waited 130 s, longer than a logout token lives: not sent (logged). The recent
    # one was minted when it was sent, 30 s after its logout.
    assert len(receiver.requests) == 2
    assert "back-channel logout of webapp-demo at " in caplog.text
    assert "skipped: queued 130s ago" in caplog.text
    claims = jwt.decode(receiver.logout_tokens()[1], options={"verify_signature": False})
    assert claims["iat"] == int(old_logout) + 130


def test_a_full_outbox_drops_a_logout_token_and_logs_it(start_authserver, receiver, caplog):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    server = server_for(start_authserver, receiver.start())
    server.app.config["BACKCHANNEL_LOGOUT_TIMEOUT"] = HOLD_SECONDS
    server.app.config["BACKCHANNEL_LOGOUT_QUEUE_SIZE"] = 1
    receiver.hold = True
    user_agents = [UserAgent(server) for _ in range(3)]
    for user_agent in user_agents:
        webapp_login(user_agent)
    log_v2_out(user_agents[0])
    assert wait_until(lambda: len(receiver.requests) == 1)
    # One being sent, one waiting (the outbox holds one): the third is dropped.
    for user_agent in user_agents[1:]:
        assert log_v2_out(user_agent).status_code == 200
    assert "back-channel logout of webapp-demo at http://127.0.0.1:" in caplog.text
    assert "dropped: 1 logout tokens wait already" in caplog.text
    receiver.release.set()
    wait_for_deliveries(server)
    assert len(receiver.requests) == 2


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for 127.0.0.1 (its PEM file is kept
    as the context's ``cafile`` attribute)."""
    certificate, key = self_signed_tls_files(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    context.cafile = certificate
    return context


def test_an_https_post_checks_the_certificate_and_keeps_its_deadline(
    tls_server, receiver, slow_receivers, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger=backchannel_logout.__name__)
    uri = receiver.start(tls_server)
    # The certificate is not one the system trusts: refused.
    backchannel_logout.deliver("webapp-demo", uri, "token", PROMPT_SECONDS)
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text and receiver.requests == []
    # Trusted, with the certificate as the one CA (how the sender checks it is unchanged).
    trusted = ssl.create_default_context(cafile=tls_server.cafile)
    trusted.sslsocket_class = backchannel_logout._TLS.sslsocket_class
    monkeypatch.setattr(backchannel_logout, "_TLS", trusted)
    backchannel_logout.deliver("webapp-demo", uri, "token", PROMPT_SECONDS)
    assert "done (200)" in caplog.text and receiver.logout_tokens() == ["token"]
    trickler = slow_receivers(TLSTrickler, tls_server)
    delivery = threading.Thread(
        target=backchannel_logout.deliver, args=("webapp-demo", trickler.uri, "token", 1.0)
    )
    delivery.start()
    delivery.join(PROMPT_SECONDS)
    assert not delivery.is_alive()
    assert "timed out" in caplog.text.splitlines()[-1]
