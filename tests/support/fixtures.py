"""The pytest fixtures of tests/support (registered by tests/conftest.py); see the package
docstring for the list."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.jwks_server import JWKSServer
from tests.support.keys import SigningKey, compact, ec_signing_key, rsa_signing_key

API_AUDIENCE = "https://api.flowlab.local"
DEFAULT_USER_SUB = "auth0|5f7c8ec7c33c6c004bbafe82"
DEFAULT_USER_CLIENT = "spa-demo"
DEFAULT_MACHINE_CLIENT = "m2m-demo"


class TokenFactory:
    """Mints real signed JWTs with Auth0-shaped claims; every part can be overridden."""

    def __init__(self, issuer: str, audience: str, key: SigningKey) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key = key

    def claims(self, *, machine: bool = False) -> dict[str, Any]:
        """The default payload: an Auth0 user access token, or a client-credentials one."""
        now = int(time.time())
        if machine:
            return {
                "iss": self.issuer,
                "sub": f"{DEFAULT_MACHINE_CLIENT}@clients",
                "aud": self.audience,
                "iat": now,
                "exp": now + 3600,
                "scope": "import:data read:imports",
                "gty": "client-credentials",
                "azp": DEFAULT_MACHINE_CLIENT,
                "permissions": ["import:data", "read:imports"],
            }
        return {
            "iss": self.issuer,
            "sub": DEFAULT_USER_SUB,
            "aud": [self.audience, self.issuer + "userinfo"],
            "iat": now,
            "exp": now + 3600,
            "scope": "openid profile email read:messages",
            "azp": DEFAULT_USER_CLIENT,
            "permissions": ["read:messages"],
        }

    def header(self, key: SigningKey | None = None) -> dict[str, Any]:
        """The default JOSE header Auth0 sends: alg, typ JWT, kid."""
        key = key or self.key
        return {"alg": key.alg, "typ": "JWT", "kid": key.kid}

    def __call__(
        self,
        claims: dict[str, Any] | None = None,
        *,
        header: dict[str, Any] | None = None,
        key: SigningKey | bytes | None = None,
        alg: str | None = None,
        machine: bool = False,
        drop_claims: tuple[str, ...] = (),
        drop_header: tuple[str, ...] = (),
    ) -> str:
        """A signed token: defaults, updated with ``claims``/``header``, minus the dropped
        names, signed with ``key`` (a SigningKey, or bytes as an HMAC secret) using ``alg``
        (default: the header's alg)."""
        signing_key = key if key is not None else self.key
        full_header = self.header(signing_key if isinstance(signing_key, SigningKey) else None)
        full_header.update(header or {})
        payload = self.claims(machine=machine)
        payload.update(claims or {})
        for name in drop_header:
            full_header.pop(name)
        for name in drop_claims:
            payload.pop(name)
        return compact(full_header, payload, signing_key, alg or str(full_header.get("alg")))

    def raw(
        self,
        header: dict[str, Any] | bytes,
        payload: dict[str, Any] | bytes,
        *,
        key: SigningKey | bytes | None = None,
        alg: str | None = None,
    ) -> str:
        """Exactly these header and payload (dicts, or raw JSON bytes), validly signed."""
        signing_key = key if key is not None else self.key
        signing_alg = alg or (signing_key.alg if isinstance(signing_key, SigningKey) else "HS256")
        return compact(header, payload, signing_key, signing_alg)

    def id_token(
        self,
        *,
        client_id: str,
        nonce: str,
        claims: dict[str, Any] | None = None,
        key: SigningKey | None = None,
        drop_claims: tuple[str, ...] = (),
    ) -> str:
        """An Auth0-shaped OpenID Connect ID token for ``client_id``, updated with ``claims``,
        minus the ``drop_claims`` names."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": DEFAULT_USER_SUB,
            "aud": client_id,
            "iat": now,
            "exp": now + 36000,
            "nonce": nonce,
            "sid": "session-1",
            "name": "alice@flowlab.test",
            "email": "alice@flowlab.test",
            "email_verified": True,
            **(claims or {}),
        }
        for name in drop_claims:
            payload.pop(name)
        signing_key = key or self.key
        return compact(self.header(signing_key), payload, signing_key, signing_key.alg)


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    """RSA-2048 key, kid ``rsa-key-1``, RS256: the issuer's current signing key."""
    return rsa_signing_key("rsa-key-1")


@pytest.fixture(scope="session")
def second_rsa_key() -> SigningKey:
    """Another RSA-2048 key, kid ``rsa-key-2``: a rotated-in key, or an attacker's."""
    return rsa_signing_key("rsa-key-2")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    """EC P-256 key, kid ``ec-key-1``, ES256."""
    return ec_signing_key("ec-key-1")


@pytest.fixture(scope="session")
def weak_rsa_key() -> SigningKey:
    """RSA-1024 key, kid ``rsa-1024``: too small to be trusted."""
    return rsa_signing_key("rsa-1024", bits=1024)


@pytest.fixture
def make_jwks_server() -> Iterator[Callable[..., JWKSServer]]:
    """Factory: ``make_jwks_server(*keys)`` starts another JWKSServer publishing ``keys``;
    all are closed after the test."""
    servers: list[JWKSServer] = []

    def make(*keys: SigningKey) -> JWKSServer:
        server = JWKSServer().start()
        servers.append(server)
        server.publish(*keys)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def jwks_server(
    make_jwks_server: Callable[..., JWKSServer], rsa_key: SigningKey, ec_key: SigningKey
) -> JWKSServer:
    """The issuer's server on 127.0.0.1:<ephemeral>, publishing ``rsa_key`` and ``ec_key``."""
    return make_jwks_server(rsa_key, ec_key)


@pytest.fixture
def issuer(jwks_server: JWKSServer) -> str:
    """``http://127.0.0.1:<port>/``: the issuer whose discovery document and JWKS
    ``jwks_server`` serves."""
    return jwks_server.issuer


@pytest.fixture
def audience() -> str:
    """The API identifier of the README contract."""
    return API_AUDIENCE


@pytest.fixture
def token_factory(issuer: str, audience: str, rsa_key: SigningKey) -> TokenFactory:
    """Mints tokens of ``issuer`` for ``audience`` signed with ``rsa_key`` (see TokenFactory)."""
    return TokenFactory(issuer, audience, rsa_key)
