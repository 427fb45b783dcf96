"""What the API receives from the BFF, byte for byte: the web app on a real werkzeug server,
the "API" a recording server on 127.0.0.1 that writes down each request line, and hostile
paths sent over a raw socket (no client library cleans them up on the way)."""

import socket
import socketserver
import threading
from types import SimpleNamespace

import pytest
import requests

from tests.authserver.helpers import FakeClock
from tests.support.processes import free_port
from tests.webapp.conftest import WebApp
from webapp_demo.bff import MAX_BODY_BYTES
from webapp_demo.sessions import COOKIE_NAME, id_hash

SESSION_ID = "s" * 43
ACCESS_TOKEN = "access-token-of-the-session"  # noqa: S105 (a test value)


class RecordingHandler(socketserver.StreamRequestHandler):
    def handle(self):
        request_line = self.rfile.readline().decode("latin-1").rstrip("\r\n")
        headers = {}
        while (line := self.rfile.readline().decode("latin-1").rstrip("\r\n")) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.rfile.read(int(headers.get("content-length", "0")))
        self.server.received.append((request_line, headers))
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            b"Connection: close\r\n\r\n{}"
        )


class RecordingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.received = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def request_lines(self):
        return [line for line, _ in self.received]


@pytest.fixture
def api():
    server = RecordingServer()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def bff_app(api, tmp_path):
    """The web app forwarding to ``api``, with one signed-in session (SESSION_ID)."""
    port = free_port()
    parts = SimpleNamespace(
        issuer=f"http://127.0.0.1:{free_port()}/",  # never asked: the token is far from expiry
        api_url=api.url,
        webapp_url=f"http://localhost:{port}",
    )
    webapp = WebApp(parts, port, tmp_path / "webapp.sqlite3", FakeClock())
    key, now = id_hash(SESSION_ID), int(webapp.clock())
    webapp.store.create(key, now)
    webapp.store.save(key, {"user": {"sub": "auth0|someone", "sid": "sid-1"}}, now)
    webapp.store.save_tokens(
        key,
        {
            "access_token": ACCESS_TOKEN,
            "refresh_token": "refresh-token",
            "id_token": "id-token",
            "expires_at": now + 3600,
            "id_claims": {},
        },
    )
    yield webapp
    webapp.stop()


def raw_get(port, target):
    """GET ``target`` exactly as written (a raw request line); the answer's status code."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n"
        f"Cookie: {COOKIE_NAME}={SESSION_ID}\r\nX-Flowlab-CSRF: 1\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode("latin-1"))
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [
        ("/bff/api/messages", "GET /api/messages HTTP/1.1"),
        ("/bff/api/admin/stats", "GET /api/admin/stats HTTP/1.1"),
        # Decoded once by the web app: a separator like any other, still under /api/.
        ("/bff/api/admin%2fstats", "GET /api/admin/stats HTTP/1.1"),
    ],
)
def test_an_api_path_reaches_the_api_as_it_is_with_the_access_token(
    bff_app, api, target, forwarded
):
    assert raw_get(bff_app.port, target) == 200
    assert api.request_lines() == [forwarded]
    assert api.received[0][1]["authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize(
    "target",
    [
        "/bff/api/%252e%252e/admin",  # %2e%2e after one decoding, ".." after the next
        "/bff/api/%2e%2e/admin",
        "/bff/api/..%2fadmin",
        "/bff/api/messages%2f..%2f..%2fhealthz",
        "/bff/api/%252e%252e%252fhealthz",
        "/bff/api/messages%3Fscope=admin",  # a query made up in the path
        "/bff/api/admin%23/stats",  # a fragment that would cut the path
        "/bff/api/messages%00",
        "/bff/api/..\\admin",
        "/bff/api/..%5cadmin",
        "/bff/api/%E2%80%A4%E2%80%A4/admin",  # U+2024 ONE DOT LEADER
        "/bff/api/%EF%BC%8E%EF%BC%8E/admin",  # U+FF0E FULLWIDTH FULL STOP
        "/bff/api/%C0%AE%C0%AE/admin",  # an overlong UTF-8 "."
        "/bff/api/messages%20",
        "/bff/api/messages;jsessionid=x",
    ],
)
def test_a_hostile_path_never_reaches_the_api(bff_app, api, target):
    status = raw_get(bff_app.port, target)
    assert api.request_lines() == []
    assert status == 404


def test_no_query_string_is_forwarded(bff_app, api):
    status = raw_get(bff_app.port, "/bff/api/messages?audience=other&limit=1")
    assert api.request_lines() == []
    assert status == 400


def chunks(total, size=8192):
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_a_body_over_the_limit_is_413_and_never_forwarded(bff_app, api, chunked):
    size = MAX_BODY_BYTES + 1
    answer = requests.post(
        f"{bff_app.url}/bff/api/messages",
        data=chunks(size) if chunked else b"x" * size,
        headers={"X-Flowlab-CSRF": "1", "Content-Type": "application/json"},
        cookies={COOKIE_NAME: SESSION_ID},
        timeout=10,
    )
    assert answer.status_code == 413
    assert api.received == []


def test_a_body_within_the_limit_is_forwarded_whole(bff_app, api):
    answer = requests.post(
        f"{bff_app.url}/bff/api/messages",
        data=chunks(MAX_BODY_BYTES),
        headers={"X-Flowlab-CSRF": "1", "Content-Type": "application/json"},
        cookies={COOKIE_NAME: SESSION_ID},
        timeout=10,
    )
    assert answer.status_code == 200
    ((line, headers),) = api.received
    assert line == "POST /api/messages HTTP/1.1"
    assert headers["content-length"] == str(MAX_BODY_BYTES)
