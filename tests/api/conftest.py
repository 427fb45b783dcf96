"""Fixtures for the API tests: the real app wired to the shared JWKS server over HTTP, tokens
shaped for each endpoint, a dump of the database, and ``python -m api`` as a real process.

Tokens are real RS256 JWTs from the shared ``token_factory``; the app's validator finds the
issuer's keys through its discovery document on ``jwks_server`` (127.0.0.1, ephemeral port).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.__main__ import WORKERS
from tests.support.processes import Service, service_environment, start_part

REALM = "https://api.flowlab.local"
SPA_ORIGIN = "http://localhost:3000"
TABLES = ("users", "messages", "import_batches", "imported_records")


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
    "records": [
        {"external_id": "c-1", "data": {"name": "Ada"}},
        {"external_id": "c-2", "data": {"name": "Grace"}},
    ],
}

PROTECTED_ENDPOINTS = [
    Endpoint("GET", "/api/private"),
    Endpoint("GET", "/api/messages", scopes=("read:messages",)),
    Endpoint(
        "POST",
        "/api/messages",
        scopes=("write:messages",),
        kind="user",
        body={"text": "hello"},
        success=201,
    ),
    Endpoint("GET", "/api/me", kind="user"),
    Endpoint(
        "POST",
        "/api/imports",
        scopes=("import:data",),
        kind="machine",
        body=IMPORT_BATCH,
        success=201,
    ),
    Endpoint("GET", "/api/imports", scopes=("read:imports",)),
    Endpoint("GET", "/api/admin/stats", scopes=("read:stats",), permissions=("read:stats",)),
]
SCOPED_ENDPOINTS = [
    endpoint for endpoint in PROTECTED_ENDPOINTS if endpoint.scopes or endpoint.permissions
]
KIND_RESTRICTED_ENDPOINTS = [endpoint for endpoint in PROTECTED_ENDPOINTS if endpoint.kind != "any"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    client: FlaskClient, endpoint: Endpoint, headers: dict[str, str] | None = None, **options: Any
):
    """Send ``endpoint``'s request (with its JSON body, if any) through the test client."""
    if endpoint.body is not None:
        options.setdefault("json", endpoint.body)
    return client.open(endpoint.path, method=endpoint.method, headers=headers or {}, **options)


class Tokens:
    """Real signed access tokens with exactly the scopes, permissions and kind a test asks for."""

    def __init__(self, token_factory: Any) -> None:
        self.factory = token_factory

    def user(
        self, scopes: tuple[str, ...] = (), permissions: tuple[str, ...] = (), **claims: Any
    ) -> str:
        """An Auth0 user access token (``sub`` ``auth0|...``)."""
        return self.factory(
            {
                "scope": " ".join(("openid", "profile", *scopes)),
                "permissions": list(permissions),
                **claims,
            }
        )

    def machine(
        self, scopes: tuple[str, ...] = (), permissions: tuple[str, ...] = (), **claims: Any
    ) -> str:
        """An Auth0 client-credentials token (``gty`` ``client-credentials``, ``sub`` ``...@clients``)."""
        return self.factory(
            {"scope": " ".join(scopes), "permissions": list(permissions), **claims}, machine=True
        )

    def for_endpoint(
        self,
        endpoint: Endpoint,
        *,
        scopes: tuple[str, ...] | None = None,
        permissions: tuple[str, ...] | None = None,
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
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            for table in TABLES
        }
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


class APIProcess(Service):
    """``python -m api`` (gunicorn) on the port the kernel gave it, ready once every worker booted."""

    def __init__(self, directory: Path, **settings: str):
        env = service_environment(**settings)
        super().__init__(
            "api", "api", env, "/healthz", directory / "api.log", port_variable="API_PORT"
        )

    def is_ready(self) -> bool:
        return sum("Booting worker with pid" in line for line in self.log_lines) == WORKERS

    @property
    def log_lines(self) -> list[str]:
        return self.logs().splitlines(keepends=True)

    def log(self) -> str:
        return self.logs()

    def request_lines(self, count: int, last_path: str, timeout: float = 10.0) -> list[str]:
        """The last ``count`` request log lines once the line of ``last_path`` is the last one
        written; fails the test when it is not within ``timeout``."""

        def request_lines(log: str) -> list[str]:
            return [line for line in log.splitlines() if "api.requests:" in line]

        def last_is_the_one(log: str) -> bool:
            lines = request_lines(log)
            return bool(lines) and f" {last_path} " in lines[-1]

        self.wait_for_log(last_is_the_one, timeout, f"a request line for {last_path}")
        return request_lines(self.logs())[-count:]


def run_api(cwd: Path, **settings: str):
    """Start ``python -m api`` in ``cwd`` with only ``settings`` configured; output on stdout."""
    return start_part("api", cwd, **settings)


@pytest.fixture
def api_process(tmp_path: Path, issuer: str, audience: str) -> Iterator[APIProcess]:
    """``python -m api`` (gunicorn) on a free port chosen by the kernel (``API_PORT=0``),
    trusting the shared test issuer; stopped with SIGTERM after the test."""
    api = APIProcess(tmp_path, AUTH_ISSUER=issuer, AUTH_AUDIENCE=audience)
    try:
        api.start()
        yield api
    finally:
        api.stop()
