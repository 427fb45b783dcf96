"""Fixtures of the tests with Auth0's own SDKs (auth0-python): the real servers on 127.0.0.1.

``authserver``
    The authorization server (:class:`tests.authserver.helpers.AuthServer`: the packaged tenant,
    a fresh database, the real clock) on ``http://127.0.0.1:<port>/``: an SDK's ``domain`` is
    ``127.0.0.1:<port>`` with ``protocol="http"`` (auth0-python builds
    ``f"{protocol}://{domain}/oauth/token"``), and the issuer it expects is
    ``http://127.0.0.1:<port>/``. One per test module.
``domain``
    That ``127.0.0.1:<port>``.
``api``
    The project's API (``api.create_app``), pointed at that issuer and the Flowlab API audience,
    on werkzeug's threaded server on 127.0.0.1, port 0: its base URL, no trailing slash.
``user_agent``
    A :class:`tests.authserver.helpers.UserAgent` on ``authserver`` (a fresh cookie jar).
``sent``
    What reached ``authserver`` during the test, as :class:`Sent` requests (path, headers,
    body), in order: what the SDK sent, exactly.
"""

import io
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from api import create_app as create_api
from tests.authserver.helpers import API_AUDIENCE, AuthServer, UserAgent


@pytest.fixture(scope="module")
def authserver(tmp_path_factory):
    server = AuthServer(tmp_path_factory.mktemp("authserver"), None, None)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def domain(authserver) -> str:
    return urlsplit(authserver.issuer).netloc


@pytest.fixture(scope="module")
def api(authserver, tmp_path_factory):
    database = tmp_path_factory.mktemp("api") / "api.sqlite3"
    app = create_api(
        {
            "AUTH_ISSUER": authserver.issuer,
            "AUTH_AUDIENCE": API_AUDIENCE,
            "DATABASE_URL": f"sqlite:///{database}",
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def user_agent(authserver) -> UserAgent:
    return UserAgent(authserver)


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@pytest.fixture
def sent(authserver):
    """Record every request ``authserver`` gets (its WSGI app wrapped for the test)."""
    requests: list[Sent] = []
    wsgi_app = authserver.app.wsgi_app

    def recording(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        requests.append(Sent(environ["REQUEST_METHOD"], environ["PATH_INFO"], headers, body))
        return wsgi_app(environ, start_response)

    authserver.app.wsgi_app = recording
    yield requests
    authserver.app.wsgi_app = wsgi_app
