"""Fixtures of the authorization server's tests (helpers: tests/authserver/helpers.py).

``authserver``
    A running :class:`~tests.authserver.helpers.AuthServer` with the packaged tenant and a fresh
    database, on the real clock. ``start_authserver(tenant=None, clock=None)`` starts more, with a
    tenant file text of the test's own (see :func:`~tests.authserver.helpers.tenant_text`) and a
    clock the test moves (``clock``); all stop after the test.
``clock``
    A :class:`~tests.authserver.helpers.FakeClock`: it moves when the test says, by as much as it
    says (nothing sleeps).
``user_agent``
    A :class:`~tests.authserver.helpers.UserAgent` (a cookie jar, not a browser) on ``authserver``.
``pkce``
    A fresh S256 :class:`~tests.authserver.helpers.PKCE` pair.
``digests``
    The client secrets the server computed a digest of, in order
    (``authserver.tenant.client_secret_digest``).
``run_cli``
    ``run_cli(server, *args, input="")`` runs an admin command (``authserver.cli.main``) in this
    process on the server's database, tenant and clock, ``input`` as standard input; returns a
    :class:`CommandResult` (``returncode``, ``stdout``, ``stderr``).
``run_process``
    ``run_process(server, *args, changes=None)`` runs ``python -m authserver ARGS`` as a process
    (on the real clock) with the server's settings updated by ``changes``; returns the
    ``CompletedProcess``.
"""

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from authserver import cli
from authserver import tenant as tenant_module
from tests.authserver.helpers import PKCE, AuthServer, FakeClock, UserAgent
from tests.support.processes import PROJECT_ROOT, service_environment


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Path:
    """A database with signing keys, made once: a copy saves each test the RSA key generation."""
    directory = tmp_path_factory.mktemp("template")
    server = AuthServer(directory, None, None)
    server.stop()
    return server.database


@pytest.fixture
def start_authserver(tmp_path, database_template):
    servers = []

    def start(tenant: str | None = None, clock: FakeClock | None = None) -> AuthServer:
        directory = tmp_path / f"authserver-{len(servers)}"
        directory.mkdir()
        server = AuthServer(directory, tenant, database_template, clock)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def authserver(start_authserver) -> AuthServer:
    return start_authserver()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def user_agent(authserver) -> UserAgent:
    return UserAgent(authserver)


@pytest.fixture
def pkce() -> PKCE:
    return PKCE.new()


@pytest.fixture
def digests(monkeypatch):
    """The secrets the server computed a digest of, in order."""
    computed = []
    original = tenant_module.client_secret_digest

    def counting(key, client_secret):
        computed.append(client_secret)
        return original(key, client_secret)

    monkeypatch.setattr(tenant_module, "client_secret_digest", counting)
    return computed


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run an admin command in this process, on ``server``'s database and tenant."""

    def run(server: AuthServer, *args: str, input: str = "") -> CommandResult:
        for name, value in server.settings().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        capsys.readouterr()
        returncode = cli.main(list(args), clock=server.clock)
        captured = capsys.readouterr()
        return CommandResult(returncode, captured.out, captured.err)

    return run


@pytest.fixture
def run_process():
    """Run ``python -m authserver ARGS`` as a process: ``server``'s settings, with ``changes``."""

    def run(
        server: AuthServer, *args: str, changes: dict | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "authserver", *args],
            cwd=PROJECT_ROOT,
            env=service_environment(**(server.settings() | (changes or {}))),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    return run
