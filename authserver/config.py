"""Settings from the environment, shared by the server and the admin commands.

===================== =============================== ==========================================
variable              default                         meaning
===================== =============================== ==========================================
``AUTHSERVER_HOST``   ``127.0.0.1``                   address to listen on
``AUTHSERVER_PORT``   ``9000``                        port to listen on
``AUTHSERVER_ISSUER`` ``http://localhost:9000/``      the issuer (``iss``), with the trailing
                                                      slash, exactly as Auth0 writes it
``AUTHSERVER_TENANT`` the packaged ``tenant.toml``    the tenant file
``AUTHSERVER_DB``     ``.data/authserver.sqlite3``    the SQLite state, relative to the current
                                                      directory
===================== =============================== ==========================================

``AUTHSERVER_ROTATION_SAFETY_PERIOD`` (default ``45``, whole seconds): how long the next signing key
must have been published before ``rotate-keys`` promotes it without ``--force`` (see
:data:`DEFAULT_ROTATION_SAFETY_PERIOD`).
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport

from shared.settings import LOCAL_ISSUER, ConfigurationError, Environment

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
DEFAULT_DATABASE = ".data/authserver.sqlite3"
#: A resource server learns of a new next key at its first JWKS download after the key was
#: published. It may keep the JWKS it has for the ``max-age`` of the JWKS response (15 s,
#: ``discovery.CACHE_CONTROL``), and then waits for its cooldown between two downloads (30 s in
#: Flowlab's validator and in panva/jose, ``shared.token_validation.DEFAULT_JWKS_COOLDOWN``).
#: A next key published for longer than the two together is known to every such resource
#: server.
DEFAULT_ROTATION_SAFETY_PERIOD = 15 + 30
WHOLE_SECONDS = re.compile(r"[0-9]{1,9}")


def check_issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            "AUTHSERVER_ISSUER must be an http(s) URL such as http://localhost:9000/"
        )
    if parts.path != "/":
        raise ConfigurationError(
            "AUTHSERVER_ISSUER must end with '/' after the host (as Auth0 issuers do)"
        )
    # RFC 8414 §2: the issuer is "a URL that uses the "https" scheme"; authlib allows plain http
    # for loopback hosts only, for local development.
    if not is_secure_transport(issuer):
        raise ConfigurationError(
            "AUTHSERVER_ISSUER must use https unless its host is localhost or a loopback address"
        )
    return issuer


def _whole_seconds(env: Environment, name: str, default: int) -> int:
    value = env.text(name)
    if value is None:
        return default
    if not WHOLE_SECONDS.fullmatch(value):
        raise ConfigurationError(f"{name} must be a whole number of seconds, such as {default}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    """The authorization server's settings (the table above), read with ``shared.settings``."""

    host: str
    port: int
    issuer: str
    tenant: str | None
    database: str
    rotation_safety_period: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        env = Environment(environ)
        return cls(
            host=env.text("AUTHSERVER_HOST", DEFAULT_HOST),
            port=env.port("AUTHSERVER_PORT", DEFAULT_PORT),
            issuer=check_issuer(env.text("AUTHSERVER_ISSUER", LOCAL_ISSUER)),
            tenant=env.text("AUTHSERVER_TENANT"),
            database=str(Path(env.text("AUTHSERVER_DB", DEFAULT_DATABASE)).resolve()),
            rotation_safety_period=_whole_seconds(
                env, "AUTHSERVER_ROTATION_SAFETY_PERIOD", DEFAULT_ROTATION_SAFETY_PERIOD
            ),
        )

    def app_config(self) -> dict:
        """What :func:`authserver.create_app` reads (its ``test_config`` has the same keys)."""
        return {"ISSUER": self.issuer, "TENANT": self.tenant, "DATABASE": self.database}
