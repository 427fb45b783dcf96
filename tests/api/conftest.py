"""Fixtures for the API tests: the real app wired to the shared JWKS server over HTTP, tokens
shaped for each endpoint, a dump of the database, and ``python -m api`` as a real process.

Tokens are real RS256 JWTs from the shared ``token_factory``; the app's validator finds the
issuer's keys through its discovery document on ``jwks_server`` (127.0.0.1, ephemeral port).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.__main__ import WORKERS
from tests.support.processes import service_environment

REALM = "https://api.flowlab.local"
SPA_ORIGIN = "http://localhost:3000"
TABLES = ("users", "messages", "import_batches", "imported_records")
STARTUP_TIMEOUT_SECONDS = 30
LISTENING_LINE = re.compile(r"Flowlab API listening on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Endpoint:
    """A protected endpoint and what a token needs to pass it."""

    method: str
    path: str
    scopes: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    kind: str = "any"  # "user", "machine" or "any"
    body: dict[str, Any] | None = None
    success: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


IMPORT_BATCH = {
    "batch_id": "batch-1",
    "source": "crm",
    "records": [{"external_id": "c-1", "data": {"name": "Ada"}}, {"external_id": "c-2", "data": {"name": "Grace"}}],
}

PROTECTED_ENDPOINTS = [
    Endpoint("GET", "/api/private"),
    Endpoint("GET", "/api/messages", scopes=("read:messages",)),
    Endpoint("POST", "/api/messages", scopes=("write:messages",), kind="user", body={"text": "hello"}, success=201),
    Endpoint("GET", "/api/me", kind="user"),
    Endpoint("POST", "/api/imports", scopes=("import:data",), kind="machine", body=IMPORT_BATCH, success=201),
    Endpoint("GET", "/api/imports", scopes=("read:imports",)),
    Endpoint("GET", "/api/admin/stats", scopes=("read:stats",), permissions=("read:stats",)),
]
SCOPED_ENDPOINTS = [endpoint for endpoint in PROTECTED_ENDPOINTS if endpoint.scopes or endpoint.permissions]
KIND_RESTRICTED_ENDPOINTS = [endpoint for endpoint in PROTECTED_ENDPOINTS if endpoint.kind != "any"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(client: FlaskClient, endpoint: Endpoint, headers: dict[str, str] | None = None, **options: Any):
    """Send ``endpoint``'s request (with its JSON body, if any) through the test client."""
    if endpoint.body is not None:
        options.setdefault("json", endpoint.body)
    return client.open(endpoint.path, method=endpoint.method, headers=headers or {}, **options)


class Tokens:
    """Real signed access tokens with exactly the scopes, permissions and kind a test asks for."""

    def __init__(self, token_factory: Any) -> None:
        self.factory = token_factory

    def user(self, scopes: tuple[str, ...] = (), permissions: tuple[str, ...] = (), **claims: Any) -> str:
        """An Auth0 user access token (``sub`` ``auth0|...``)."""
        return self.factory(
            {"scope": " ".join(("openid", "profile", *scopes)), "permissions": list(permissions), **claims}
        )

    def machine(self, scopes: tuple[str, ...] = (), permissions: tuple[str, ...] = (), **claims: Any) -> str:
        """An Auth0 client-credentials token (``gty`` ``client-credentials``, ``sub`` ``...@clients``)."""
        return self.factory({"scope": " ".join(scopes), "permissions": list(permissions), **claims}, machine=True)

    def for_endpoint(
        self, endpoint: Endpoint, *, scopes: tuple[str, ...] | None = None, permissions: tuple[str, ...] | None = None
    ) -> str:
        """A token of the kind ``endpoint`` accepts, with its scopes and permissions (or the given ones)."""
        make = self.machine if endpoint.kind == "machine" else self.user
        return make(
            endpoint.scopes if scopes is None else scopes,
            endpoint.permissions if permissions is None else permissions,
        )

    def of_wrong_kind(self, endpoint: Endpoint) -> str:
        """A token with every scope and permission ``endpoint`` needs, but of the other kind."""
        make = self.user if endpoint.kind == "machine" else self.machine
        return make(endpoint.scopes, endpoint.permissions)


@pytest.fixture
def tokens(token_factory: Any) -> Tokens:
    return Tokens(token_factory)


@pytest.fixture
def app_config(tmp_path: Path, issuer: str, audience: str) -> dict[str, Any]:
    """The ``test_config`` of ``app``: the shared issuer and audience, a fresh database."""
    return {
        "TESTING": True,
        "AUTH_ISSUER": issuer,
        "AUTH_AUDIENCE": audience,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Flask:
    return create_app(app_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def dump_database(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to compare before and after a request."""
    connection = sqlite3.connect(app.config["DATABASE_PATH"])
    try:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}
    finally:
        connection.close()


@pytest.fixture
def database(app: Flask):
    """``database()`` returns the current content of every table of ``app``'s database."""
    return lambda: dump_database(app)


def assert_json_error(response: Any, status: int, error: str) -> dict[str, str]:
    """``response`` is a JSON error ``{"error", "error_description"}`` with this status and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert body["error_description"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    return body


# --- python -m api as a real process ------------------------------------------------------------


@dataclass
class APIProcess:
    process: subprocess.Popen
    base_url: str
    log_lines: list[str]

    def log(self) -> str:
        return "".join(self.log_lines)

    def request_lines(self, count: int, last_path: str, timeout: float = 10.0) -> list[str]:
        """The last ``count`` request log lines once the line of ``last_path`` has been read
        (the reader thread reads the process's output asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.log_lines if "api.requests:" in line]
            if (lines and f" {last_path} " in lines[-1]) or time.monotonic() > deadline:
                return lines[-count:]
            time.sleep(0.05)


def run_api(cwd: Path, **settings: str) -> subprocess.Popen:
    """Start ``python -m api`` in ``cwd`` with only ``settings`` configured; output on stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", "api"],
        cwd=cwd,
        env=service_environment(**settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _collect(stream: Any, lines: list[str], port_found: threading.Event, port: list[int]) -> None:
    for line in stream:
        lines.append(line)
        match = LISTENING_LINE.search(line)
        if match and not port_found.is_set():
            port.append(int(match.group(1)))
            port_found.set()


def _wait_until_healthy(api: APIProcess) -> None:
    """Until /healthz answers and every gunicorn worker has booted."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(f"python -m api exited with {api.process.returncode}:\n{api.log()}")
        try:
            healthy = requests.get(api.base_url + "/healthz", timeout=1).status_code == 200
            if healthy and sum("Booting worker with pid" in line for line in api.log_lines) == WORKERS:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"python -m api was not healthy in {STARTUP_TIMEOUT_SECONDS}s:\n{api.log()}")


@pytest.fixture
def api_process(tmp_path: Path, issuer: str, audience: str) -> Iterator[APIProcess]:
    """``python -m api`` (gunicorn) on a free port chosen by the kernel (``API_PORT=0``),
    trusting the shared test issuer; stopped with SIGTERM after the test."""
    process = run_api(tmp_path, API_PORT="0", AUTH_ISSUER=issuer, AUTH_AUDIENCE=audience)
    lines: list[str] = []
    port_found = threading.Event()
    port: list[int] = []
    reader = threading.Thread(target=_collect, args=(process.stdout, lines, port_found, port), daemon=True)
    reader.start()
    try:
        if not port_found.wait(STARTUP_TIMEOUT_SECONDS):
            raise RuntimeError("python -m api never said where it listens:\n" + "".join(lines))
        api = APIProcess(process, f"http://127.0.0.1:{port[0]}", lines)
        _wait_until_healthy(api)
        yield api
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
