"""Fixtures of the authorization server's tests (helpers: tests/authserver/helpers.py).

``authserver``
    A running :class:`~tests.authserver.helpers.AuthServer` with the packaged tenant and a fresh
    database. ``start_authserver(tenant=None)`` starts more, with a tenant file text of the
    test's own (see :func:`~tests.authserver.helpers.tenant_text`); all stop after the test.
``browser``
    A :class:`~tests.authserver.helpers.Browser` on ``authserver``.
``pkce``
    A fresh S256 :class:`~tests.authserver.helpers.PKCE` pair.
``run_cli``
    ``run_cli(server, *args, input=None)`` runs ``python -m authserver ARGS`` as a process on the
    server's database and tenant; returns the ``CompletedProcess``.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.authserver.helpers import PROJECT_ROOT, PKCE, AuthServer, Browser


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Path:
    """A database with signing keys, made once: copying it saves each test the RSA key generation."""
    directory = tmp_path_factory.mktemp("template")
    server = AuthServer(directory, None, None)
    server.stop()
    return server.database


@pytest.fixture
def start_authserver(tmp_path, database_template):
    servers = []

    def start(tenant: str | None = None) -> AuthServer:
        directory = tmp_path / f"authserver-{len(servers)}"
        directory.mkdir()
        server = AuthServer(directory, tenant, database_template)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def authserver(start_authserver) -> AuthServer:
    return start_authserver()


@pytest.fixture
def browser(authserver) -> Browser:
    return Browser(authserver)


@pytest.fixture
def pkce() -> PKCE:
    return PKCE.new()


@pytest.fixture
def run_cli():
    def run(server: AuthServer, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "authserver", *args],
            cwd=PROJECT_ROOT,
            env=server.environment(),
            input=input,
            capture_output=True,
            text=True,
            timeout=30,
        )

    return run
