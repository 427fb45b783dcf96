"""Fixtures of the demo clients' own tests: a scripted upstream and a wired-up m2m daemon."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from m2m_demo.backoff import RetryPolicy
from m2m_demo.client_credentials_flow import ClientCredentialsFlow
from m2m_demo.daemon import ImportDaemon
from m2m_demo.log_format import DaemonNarrator
from m2m_demo.state import StateFile
from shared.oidc_client import ClientConfig
from tests.demos.scripted_server import Reply, ScriptedServer
from tests.support.fixtures import API_AUDIENCE, TokenFactory
from tests.support.keys import SigningKey

M2M_SECRET = "m2m-demo-local-secret"


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer().start()
    yield server
    server.close()


def m2m_env(server: ScriptedServer, **extra: str) -> dict[str, str]:
    return {"AUTH_ISSUER": server.issuer, "API_URL": server.base_url, **extra}


def discovery_document(server: ScriptedServer) -> dict:
    return {
        "issuer": server.issuer,
        "authorization_endpoint": server.base_url + "/authorize",
        "token_endpoint": server.base_url + "/oauth/token",
        "jwks_uri": server.base_url + "/.well-known/jwks.json",
    }


def token_reply(access_token: str, expires_in: int = 86400) -> Reply:
    return Reply(
        200,
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": "import:data",
        },
    )


@dataclass
class M2MRig:
    """The daemon's parts, wired to the scripted server; ``waits`` records every backoff wait."""

    server: ScriptedServer
    state_path: Path
    feed_path: Path
    env: dict[str, str]
    waits: list[float] = field(default_factory=list)
    stop_waiting: bool = False
    now: float = 1000.0

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.stop_waiting

    def clock(self) -> float:
        return self.now

    def flow(self, policy: RetryPolicy | None = None) -> ClientCredentialsFlow:
        config = ClientConfig.from_env(
            self.env, default_client_id="m2m-demo", default_client_secret=M2M_SECRET
        )
        policy = policy or RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=8.0)
        narrator = DaemonNarrator(logging.getLogger("tests.m2m"))
        return ClientCredentialsFlow(
            config, requests.Session(), narrator, policy, self.wait, clock=self.clock
        )

    def daemon(self, batch_size: int = 100, policy: RetryPolicy | None = None) -> ImportDaemon:
        narrator = DaemonNarrator(logging.getLogger("tests.m2m"))
        return ImportDaemon(
            self.feed_path,
            StateFile(self.state_path),
            batch_size,
            self.flow(policy),
            narrator,
            threading.Event(),
        )


@pytest.fixture
def machine_token(scripted: ScriptedServer, rsa_key: SigningKey) -> str:
    """A real signed client-credentials access token of the scripted issuer."""
    return TokenFactory(scripted.issuer, API_AUDIENCE, rsa_key)(machine=True)


@pytest.fixture
def m2m(scripted: ScriptedServer, machine_token: str, tmp_path: Path) -> M2MRig:
    """A scripted authorization server + API that work until a test scripts otherwise."""
    scripted.script(
        "GET", "/.well-known/openid-configuration", Reply(200, discovery_document(scripted))
    )
    scripted.script("POST", "/oauth/token", token_reply(machine_token))
    scripted.script("POST", "/api/imports", Reply(201, {"created": 2, "replayed": False}))
    feed_path = tmp_path / "feed.json"
    feed_path.write_text('[{"external_id": "a-1", "n": 1}, {"external_id": "a-2", "n": 2}]')
    return M2MRig(scripted, tmp_path / "state.json", feed_path, m2m_env(scripted))
