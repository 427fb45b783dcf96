"""The web app's tests: the real authorization server and API as processes, the web app itself
on a threaded werkzeug server in the test process, so that its clock is a FakeClock the test
moves (sessions' lifetimes, the access token's expiry) instead of sleeping.

The authorization server runs the packaged tenant with the web app's address
(`http://localhost:3001`) replaced by the test server's, so its callback and back-channel
logout URI point at it.

``store_locked`` and ``locked_after`` make the web app's store refuse writes with a real held
write lock: from the start of a request, or right after a step at the authorization server.
"""

import re
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from werkzeug.serving import make_server

from tests.authserver.helpers import FakeClock, forms, write_lock_held
from tests.support.processes import (
    PROJECT_ROOT,
    api_service,
    authserver_service,
    free_port,
)
from webapp_demo import create_app, sessions

AUDIENCE = "https://api.flowlab.local"
PACKAGED_WEBAPP_ORIGIN = "http://localhost:3001"
USERS = {
    "alice": ("alice@flowlab.test", "alice-password"),
    "bob": ("bob@flowlab.test", "bob-password"),
}


def webapp_tenant(webapp_origin):
    return (
        (PROJECT_ROOT / "authserver" / "tenant.toml")
        .read_text()
        .replace(PACKAGED_WEBAPP_ORIGIN, webapp_origin)
    )


class Parts:
    """The authorization server and the API of one test session, as processes."""

    def __init__(self, tmp_path, webapp_port):
        self.webapp_url = f"http://localhost:{webapp_port}"
        authserver_port, api_port = free_port(), free_port()
        self.issuer = f"http://localhost:{authserver_port}/"
        self.api_url = f"http://localhost:{api_port}"
        tenant = tmp_path / "tenant.toml"
        tenant.write_text(webapp_tenant(self.webapp_url))
        self.authserver = authserver_service(tmp_path, authserver_port, self.issuer, tenant)
        self.api = api_service(tmp_path, api_port, self.issuer, AUDIENCE)


class WebApp:
    """The web app on 127.0.0.1:``port`` (werkzeug, threaded), on ``clock``; ``settings``
    add to or replace the environment built from ``parts``."""

    def __init__(self, parts, port, database, clock, settings=None):
        self.clock = clock
        self.port = port
        self.url = parts.webapp_url
        self.app = create_app(
            {
                "AUTH_ISSUER": parts.issuer,
                "AUTH_AUDIENCE": AUDIENCE,
                "API_URL": parts.api_url,
                "WEBAPP_BASE_URL": self.url,
                "WEBAPP_DB": str(database),
            }
            | (settings or {}),
            clock=clock,
        )
        self.store = self.app.session_interface.store
        self._socket = socket.create_server(("127.0.0.1", port))
        self._server = make_server(
            "127.0.0.1", port, self.app, threaded=True, fd=self._socket.fileno()
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._socket.close()


@pytest.fixture(scope="session")
def webapp_port():
    return free_port()


@pytest.fixture(scope="session")
def parts(tmp_path_factory, webapp_port):
    running = Parts(tmp_path_factory.mktemp("webapp-parts"), webapp_port)
    running.authserver.start()
    running.api.start()
    yield running
    running.api.stop()
    running.authserver.stop()


@pytest.fixture
def webapp(parts, webapp_port, tmp_path):
    running = WebApp(parts, webapp_port, tmp_path / "webapp.sqlite3", FakeClock())
    yield running
    running.stop()


class Visitor:
    """A browser's cookie jar and redirects, scripted: follows every redirect between the web
    app and the authorization server, and fills the login form when one is shown."""

    def __init__(self, webapp):
        self.webapp = webapp
        self.http = requests.Session()
        self.saw_login_page = False

    def follow(self, response, credentials=None, stop_at=None):
        """Follow ``response`` to its end; with ``stop_at``, up to the redirect to that URL."""
        while True:
            if response.is_redirect:
                location = requests.compat.urljoin(response.url, response.headers["Location"])
                if stop_at is not None and location.startswith(stop_at):
                    return location
                response = self.http.get(location, allow_redirects=False, timeout=10)
                continue
            page_forms = (
                forms(response.text)
                if "text/html" in response.headers.get("Content-Type", "")
                else []
            )
            login_forms = [f for f in page_forms if "password" in f["inputs"]]
            if not login_forms or credentials is None:
                return response
            self.saw_login_page = True
            (form,) = login_forms
            data = {
                name: attrs.get("value", "")
                for name, attrs in form["inputs"].items()
                if attrs.get("type") == "hidden"
            }
            data |= {"username": credentials[0], "password": credentials[1]}
            response = self.http.post(
                requests.compat.urljoin(response.url, form["action"] or response.url),
                data=data,
                allow_redirects=False,
                timeout=10,
            )

    def get(self, path, **kwargs):
        return self.http.get(self.webapp.url + path, allow_redirects=False, timeout=10, **kwargs)

    def login(self, user="alice"):
        self.saw_login_page = False
        return self.follow(self.get("/login"), USERS[user])

    def session(self):
        return self.get("/session").json()

    def bff(self, method, path, **kwargs):
        headers = {"X-Flowlab-CSRF": "1"} | kwargs.pop("headers", {})
        return self.http.request(
            method, f"{self.webapp.url}/bff/api/{path}", headers=headers, timeout=10, **kwargs
        )

    def csrf_token(self):
        page = self.get("/")
        return re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)


@pytest.fixture
def visitor(webapp):
    return Visitor(webapp)


class LockingProxy:
    """In front of one endpoint of the authorization server (``target``): forwards each POST,
    and once the first whose form ``matches`` has been answered there, another connection takes
    ``database``'s write lock (held until :meth:`release`). The web app's store then refuses
    writes right after a step it cannot undo (a refresh token rotated, one revoked)."""

    def __init__(self, target: str, database, matches) -> None:
        self.holder = None
        self.taken = False
        self.forwarded: list[tuple[dict, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
                answer = requests.post(
                    target,
                    data=body,
                    headers={"Content-Type": self.headers["Content-Type"]},
                    timeout=10,
                )
                proxy.forwarded.append((form, answer.status_code))
                if not proxy.taken and matches(form):
                    proxy.taken = True
                    proxy.holder = sqlite3.connect(
                        database, isolation_level=None, check_same_thread=False
                    )
                    proxy.holder.execute("BEGIN IMMEDIATE")
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def locked_after(parts, webapp_port, tmp_path, monkeypatch):
    """``locked_after(setting, endpoint, matches)``: a web app whose ``setting`` (its token or
    revocation URL) is a :class:`LockingProxy` before the authorization server's ``endpoint``,
    and a visitor of it; the web app's connections wait 50 ms for the lock."""
    monkeypatch.setattr(sessions, "LOCK_TIMEOUT_SECONDS", 0.05)
    made = []

    def make(setting, endpoint, matches):
        database = tmp_path / "webapp.sqlite3"
        proxy = LockingProxy(f"{parts.issuer}{endpoint}", database, matches)
        webapp = WebApp(parts, webapp_port, database, FakeClock(), {setting: proxy.url})
        made.append((webapp, proxy))
        return Visitor(webapp), proxy

    yield make
    for webapp, proxy in made:
        proxy.stop()
        webapp.stop()


@pytest.fixture
def store_locked(visitor, monkeypatch):
    """``with store_locked():`` another connection holds the web app's write lock (a backup,
    say); the web app's connections wait 50 ms for it, then fail as "database is locked"."""
    monkeypatch.setattr(sessions, "LOCK_TIMEOUT_SECONDS", 0.05)
    return lambda: write_lock_held(Path(visitor.webapp.store.path))
