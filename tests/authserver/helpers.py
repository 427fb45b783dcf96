"""Helpers of the authorization server's tests: a real server on 127.0.0.1, a scripted user agent.

* :class:`AuthServer`: the Flask app on a threaded werkzeug server bound to port 0, with its own
  tenant file and database, on the real clock or a :class:`FakeClock` the test moves;
  :func:`tenant_text` derives a tenant file from the packaged one.
* :class:`ServerProcess`: ``python -m authserver`` as a process (gunicorn), default settings and
  the real clock: a :class:`tests.support.processes.Service` (:meth:`~ServerProcess.interrupt` is
  Ctrl-C in its terminal).
* :class:`UserAgent`: a cookie jar that follows the server's own redirects, fills its forms by
  their selectors (``input[name=username]``, ``button[name=decision]``...) and stops at the
  application's callback; :func:`run_code_flow` does a whole code + PKCE flow, :func:`ui_pages`
  fetches one page of each kind. (Not a browser: the tests of tests/e2e drive Chromium.)
* :class:`PKCE`, :func:`redirect_parameters`, :func:`forms`, :func:`concurrently`.
* :func:`writes_failing`, :func:`write_lock_held`: faults of the database, where a test wants them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import requests
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.serving import make_server

from authserver import create_app
from authserver.tenant import DEFAULT_TENANT_FILE
from tests.support.processes import Service, free_port, service_environment

API_AUDIENCE = "https://api.flowlab.local"
SPA_CALLBACK = "http://localhost:3000/callback"
SPA_ORIGIN = "http://localhost:3000"
NATIVE_CALLBACK = "http://127.0.0.1:53682/callback"
ALICE = ("alice@flowlab.test", "alice-password")
BOB = ("bob@flowlab.test", "bob-password")
ALICE_SUB = "auth0|985069d6114091e736f16d6d"
BOB_SUB = "auth0|bcabc99eba7df1198ec3b3d5"
M2M_SECRET = "m2m-demo-local-secret"
#: webapp_demo/config.py's LOCAL_CLIENT_SECRET (the tenant keeps its HMAC only).
WEBAPP_SECRET = "webapp-demo-local-secret"
WEBAPP_CALLBACK = "http://localhost:3001/callback"
ALICE_PERMISSIONS = ["read:messages", "write:messages", "read:imports", "read:stats"]


# The tests' tenant keeps the packaged passwords but hashes them with a cheap scrypt cost: every
# login then takes milliseconds instead of 0.1 s. Tests of the packaged hashes use PACKAGED_TENANT.
PACKAGED_TENANT = DEFAULT_TENANT_FILE.read_text()
CHEAP_HASH_METHOD = "scrypt:1024:8:1"


def _cheaply_hashed(match: re.Match) -> str:
    key, stored = match.groups()
    (secret,) = [secret for secret in (ALICE[1], BOB[1]) if check_password_hash(stored, secret)]
    return f'{key} = "{generate_password_hash(secret, method=CHEAP_HASH_METHOD)}"'


TEST_TENANT = re.sub(r'(password_hash) = "([^"]+)"', _cheaply_hashed, PACKAGED_TENANT)
#: The ``client_secret_hash = "..."`` line of m2m-demo's entry in the tests' tenant.
M2M_HASH_LINE = re.search(
    r'client_id = "m2m-demo"[^\[]*?(client_secret_hash = "[^"]+")', TEST_TENANT
).group(1)


def tenant_text(*replacements: tuple[str, str], append: str = "") -> str:
    """The tests' tenant file with exact-text replacements (each must occur) and an appendix."""
    text = TEST_TENANT
    for old, new in replacements:
        assert old in text, f"tenant.toml no longer contains {old!r}"
        text = text.replace(old, new)
    return text + append


@dataclass(frozen=True)
class PKCE:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> PKCE:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


class Endpoints:
    """What a test calls on an authorization server at ``issuer``."""

    issuer: str

    def url(self, path: str) -> str:
        return urljoin(self.issuer, path.lstrip("/"))

    @property
    def jwks_url(self) -> str:
        return self.url("/.well-known/jwks.json")

    def token(self, data: dict, **kwargs) -> requests.Response:
        return requests.post(self.url("/oauth/token"), data=data, timeout=10, **kwargs)

    def client_credentials(self, **data) -> requests.Response:
        form = {
            "grant_type": "client_credentials",
            "client_id": "m2m-demo",
            "client_secret": M2M_SECRET,
        }
        form.update(data)
        return self.token({k: v for k, v in form.items() if v is not None})

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(
            self.url("/userinfo"), headers={"Authorization": f"Bearer {access_token}"}, timeout=10
        )


class FakeClock:
    """A clock that stands still until the test moves it: :meth:`advance` instead of sleeping.

    It starts at the current whole second, so what the server issues by it is valid for the
    tests' validators (PyJWT, the shared validator) on the real clock until it is moved.
    """

    def __init__(self):
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class AuthServer(Endpoints):
    """The authorization server, served by werkzeug's threaded server on 127.0.0.1:<ephemeral>.

    With a ``clock`` (a :class:`FakeClock`), the server reads that clock (its ``CLOCK``: every
    time it issues or checks, and its throttle's windows) instead of the real one; so do the admin
    commands the tests run in-process on it (conftest ``run_cli``).
    """

    def __init__(
        self,
        directory: Path,
        tenant: str | None,
        database_template: Path | None,
        clock: Callable[[], float] | None = None,
    ):
        self.clock = clock or time.time
        self.tenant_path = directory / "tenant.toml"
        self.tenant_path.write_text(tenant if tenant is not None else TEST_TENANT)
        self.database = directory / "authserver.sqlite3"
        if database_template is not None:
            shutil.copy(database_template, self.database)
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.issuer = f"http://127.0.0.1:{self._socket.getsockname()[1]}/"
        settings = {
            "ISSUER": self.issuer,
            "TENANT": str(self.tenant_path),
            "DATABASE": str(self.database),
        }
        self.app = create_app(settings if clock is None else {**settings, "CLOCK": clock})
        self._server = make_server(
            "127.0.0.1", 0, self.app, threaded=True, fd=self._socket.fileno()
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def settings(self) -> dict[str, str]:
        """The environment `python -m authserver` needs to work on this server's state."""
        return {
            "AUTHSERVER_ISSUER": self.issuer,
            "AUTHSERVER_TENANT": str(self.tenant_path),
            "AUTHSERVER_DB": str(self.database),
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._socket.close()


class ServerProcess(Service, Endpoints):
    """``python -m authserver`` exactly as a learner starts it (gunicorn): no setting but its port
    and issuer, so the packaged tenant and ``.data/authserver.sqlite3`` under ``directory``."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/"
        self.database = directory / ".data" / "authserver.sqlite3"
        super().__init__(
            "authserver",
            "authserver",
            service_environment(AUTHSERVER_PORT=str(self.port), AUTHSERVER_ISSUER=self.issuer),
            self.url("/.well-known/openid-configuration"),
            directory / "authserver.log",
        )


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            form = {
                "action": attributes.get("action"),
                "method": attributes.get("method"),
                "inputs": {},
                "buttons": [],
            }
            self.forms.append(form)
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"][attributes.get("name")] = attributes
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(attributes)


def forms(html: str) -> list[dict]:
    """The forms of a page: ``action``, ``method``, ``inputs`` (by name) and ``buttons``."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def redirect_parameters(response: requests.Response) -> dict[str, str]:
    """The parameters of an authorization response: from the fragment if any, else the query."""
    location = urlsplit(response.headers["Location"])
    return dict(parse_qsl(location.fragment or location.query))


@dataclass
class UserAgent:
    """A user agent's view of the authorization server: cookies, redirects, forms."""

    server: Endpoints
    session: requests.Session = field(default_factory=requests.Session)

    def _on_server(self, location: str) -> bool:
        return location.startswith(("/", self.server.issuer))

    def follow(self, response: requests.Response) -> requests.Response:
        """Follow redirects while they stay on the authorization server, as a browser would."""
        while response.is_redirect and self._on_server(response.headers["Location"]):
            location = urljoin(response.url, response.headers["Location"])
            response = self.session.get(location, allow_redirects=False, timeout=10)
        return response

    def authorize(self, **parameters) -> requests.Response:
        response = self.session.get(
            self.server.url("/authorize"), params=parameters, allow_redirects=False, timeout=10
        )
        return self.follow(response)

    def submit(
        self, page: requests.Response, fields: dict, button: dict | None = None
    ) -> requests.Response:
        """Submit the page's (only) form with its hidden inputs plus ``fields``; don't follow."""
        (form,) = forms(page.text)
        data = {
            name: attrs.get("value", "")
            for name, attrs in form["inputs"].items()
            if attrs.get("type") == "hidden"
        }
        data.update(fields)
        if button is not None:
            data[button["name"]] = button["value"]
        action = urljoin(page.url, form["action"] or page.url)
        return self.session.post(action, data=data, allow_redirects=False, timeout=10)

    def login(self, page: requests.Response, email: str, password: str) -> requests.Response:
        """Fill ``input[name=username]`` and ``input[name=password]``, press the submit button."""
        (form,) = forms(page.text)
        assert {"username", "password"} <= set(form["inputs"]) and [
            b["type"] for b in form["buttons"]
        ] == ["submit"]
        return self.submit(page, {"username": email, "password": password})

    def decide(self, page: requests.Response, decision: str) -> requests.Response:
        """Press ``button[name=decision][value=allow|deny]`` on the consent page."""
        (form,) = forms(page.text)
        (button,) = [
            b for b in form["buttons"] if b.get("name") == "decision" and b.get("value") == decision
        ]
        return self.submit(page, {}, button)

    def sign_in(self, page: requests.Response, credentials=ALICE) -> requests.Response:
        """Log in on ``page`` and follow back through /authorize."""
        return self.follow(self.login(page, *credentials))


def code_request(client_id: str, redirect_uri: str, pkce: PKCE, **extra) -> dict:
    parameters = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(8),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    parameters.update(extra)
    return {k: v for k, v in parameters.items() if v is not None}


def exchange_code(
    server: Endpoints, code: str, client_id: str, redirect_uri: str, verifier: str
) -> requests.Response:
    return server.token(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
    )


def ui_pages(user_agent: UserAgent) -> dict[str, requests.Response]:
    """Every kind of page with UI: login, consent, error, logout confirmation, logged out."""
    pkce = PKCE.new()
    login = user_agent.authorize(**code_request("partner-app", NATIVE_CALLBACK, pkce))
    consent = user_agent.sign_in(login)
    error = user_agent.authorize(**code_request("spa-demo", "https://evil.example/", pkce))
    confirm_logout = user_agent.session.get(user_agent.server.url("/oidc/logout"), timeout=10)
    logged_out = user_agent.session.get(user_agent.server.url("/v2/logout"), timeout=10)
    return {
        "login": login,
        "consent": consent,
        "error": error,
        "confirm logout": confirm_logout,
        "logged out": logged_out,
    }


@dataclass
class CodeFlow:
    """One completed authorization code flow: the authorization response and the token response."""

    request: dict
    authorization: dict
    tokens: dict


def run_code_flow(
    user_agent: UserAgent,
    *,
    client_id="spa-demo",
    redirect_uri=SPA_CALLBACK,
    credentials=ALICE,
    **extra,
) -> CodeFlow:
    """Log in (or use the SSO session), take the code to the token endpoint; asserts each step."""
    pkce = PKCE.new()
    request = code_request(client_id, redirect_uri, pkce, **extra)
    response = user_agent.authorize(**request)
    if (
        response.status_code == 200
        and forms(response.text)
        and "username" in forms(response.text)[0]["inputs"]
    ):
        response = user_agent.sign_in(response, credentials)
    assert response.status_code == 302, response.text
    authorization = redirect_parameters(response)
    assert "code" in authorization, authorization
    tokens = exchange_code(
        user_agent.server, authorization["code"], client_id, request["redirect_uri"], pkce.verifier
    )
    assert tokens.status_code == 200, tokens.text
    return CodeFlow(request, authorization, tokens.json())


def webapp_login(user_agent: UserAgent, credentials=ALICE, **extra) -> dict:
    """webapp-demo's code flow (SSO or a login), the code exchanged with its client secret."""
    pkce = PKCE.new()
    request = code_request("webapp-demo", WEBAPP_CALLBACK, pkce, **extra)
    response = user_agent.authorize(**request)
    if response.status_code == 200 and "username" in forms(response.text)[0]["inputs"]:
        response = user_agent.sign_in(response, credentials)
    code = redirect_parameters(response)["code"]
    tokens = user_agent.server.token(
        {
            "grant_type": "authorization_code",
            "client_id": "webapp-demo",
            "client_secret": WEBAPP_SECRET,
            "code": code,
            "redirect_uri": WEBAPP_CALLBACK,
            "code_verifier": pkce.verifier,
        }
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


#: How many races a concurrency test runs: one race may by chance not overlap the requests.
RACES = 3


def concurrently(count: int, request) -> list:
    """``count`` calls of ``request`` released at the same instant, from as many threads."""
    start = threading.Barrier(count)

    def call(_):
        start.wait(timeout=10)
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def verified_claims(
    server: Endpoints, token: str, audience: str, *, leeway: float = 0
) -> tuple[dict, dict]:
    """Header and claims of a token, after PyJWT checked it against the server's JWKS.

    PyJWT checks the times on the real clock: ``leeway`` covers a server clock moved ahead.
    """
    header = jwt.get_unverified_header(token)
    keys = jwt.PyJWKSet.from_dict(requests.get(server.jwks_url, timeout=10).json())
    (key,) = [key for key in keys.keys if key.key_id == header["kid"]]
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=audience, issuer=server.issuer, leeway=leeway
    )
    return header, claims


@contextlib.contextmanager
def writes_failing(database: Path, table: str, write: str = "INSERT") -> Iterator[None]:
    """Every ``write`` (INSERT, UPDATE or DELETE) of ``table`` fails (a trigger raises) until the
    block ends."""
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute(
        f"CREATE TRIGGER injected_fault BEFORE {write} ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
    )
    try:
        yield
    finally:
        connection.execute("DROP TRIGGER injected_fault")
        connection.close()


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another connection holds ``database``'s write lock (an admin command, a backup, say)."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
