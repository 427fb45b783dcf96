"""The web app's settings, read from the environment with `shared.settings.Environment`.

The same variables as the API and the other demos: `AUTH_ISSUER` (or `AUTH0_DOMAIN`),
`AUTH_AUDIENCE`, `AUTH_CLIENT_ID` and `AUTH_CLIENT_SECRET` (a Regular Web Application is a
confidential client, like the m2m daemon), `API_URL` (where the BFF forwards `/bff/api/...`).
`AUTH_DISCOVERY_URL` reads the issuer's discovery document from another address (a container
reaching the authorization server by its service name); the endpoints it names stay as the
issuer publishes them, but for `AUTH_TOKEN_URL`, `AUTH_REVOCATION_URL` and `AUTH_JWKS_URL`, which
the server (never the browser) calls, when they are set. `WEBAPP_PORT` (3001) and `WEBAPP_HOST` (127.0.0.1) say where
`python -m webapp_demo` listens, `WEBAPP_BASE_URL` (http://localhost:3001) where the browser
reaches it: the callback, the logout return address and the cookies' flags follow from it
(https: `Secure` and the `__Host-` prefix). `WEBAPP_DB` is the SQLite file of the server-side
sessions (`.data/webapp.sqlite3`), `WEBAPP_SESSION_IDLE` and `WEBAPP_SESSION_LIFETIME` the idle
and absolute lifetimes of a session in seconds (30 minutes, 8 hours).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.settings import (
    LOCAL_API_URL,
    LOCAL_AUDIENCE,
    ConfigurationError,
    Environment,
    origin_of,
)

DEFAULT_CLIENT_ID = "webapp-demo"
# The local authorization server's demo secret (authserver/tenant.toml keeps only its HMAC). A
# real deployment sets AUTH_CLIENT_SECRET from a secret store; the web app never shows it.
LOCAL_CLIENT_SECRET = "webapp-demo-local-secret"  # noqa: S105 (the documented local demo secret)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001
DEFAULT_BASE_URL = "http://localhost:3001"
DEFAULT_DATABASE = ".data/webapp.sqlite3"
DEFAULT_IDLE_LIFETIME = 30 * 60
DEFAULT_ABSOLUTE_LIFETIME = 8 * 60 * 60
SECONDS = re.compile(r"[1-9][0-9]{0,7}")

# The OpenID scopes for the profile, offline_access for a refresh token, and the API's scopes
# (with Auth0 RBAC on, the access token carries only those the user is permitted).
SCOPE = "openid profile email offline_access read:messages write:messages read:stats"


@dataclass(frozen=True)
class WebAppConfig:
    issuer: str
    audience: str
    client_id: str
    client_secret: str
    api_url: str
    host: str
    port: int
    base_url: str
    database: str
    idle_lifetime: int
    absolute_lifetime: int
    discovery_url: str
    token_url: str | None = None
    revocation_url: str | None = None
    jwks_url: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, object]) -> "WebAppConfig":
        """Read and check the settings from `environ` (os.environ or a test mapping)."""
        env = Environment(environ)
        issuer = env.issuer()
        base_url = env.http_url("WEBAPP_BASE_URL", DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base_url).path:
            raise ConfigurationError(
                "WEBAPP_BASE_URL must be an origin such as http://localhost:3001"
            )
        return cls(
            issuer=issuer,
            audience=env.text("AUTH_AUDIENCE", LOCAL_AUDIENCE),
            client_id=env.text("AUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
            client_secret=env.text("AUTH_CLIENT_SECRET", LOCAL_CLIENT_SECRET),
            api_url=env.http_url("API_URL", LOCAL_API_URL).rstrip("/"),
            host=env.text("WEBAPP_HOST", DEFAULT_HOST),
            port=env.port("WEBAPP_PORT", DEFAULT_PORT),
            base_url=base_url,
            database=env.text("WEBAPP_DB", DEFAULT_DATABASE),
            idle_lifetime=int(
                env.matching(
                    "WEBAPP_SESSION_IDLE",
                    SECONDS,
                    "a number of seconds",
                    str(DEFAULT_IDLE_LIFETIME),
                )
            ),
            absolute_lifetime=int(
                env.matching(
                    "WEBAPP_SESSION_LIFETIME",
                    SECONDS,
                    "a number of seconds",
                    str(DEFAULT_ABSOLUTE_LIFETIME),
                )
            ),
            discovery_url=env.http_url(
                "AUTH_DISCOVERY_URL", f"{issuer.rstrip('/')}/.well-known/openid-configuration"
            ),
            token_url=env.http_url("AUTH_TOKEN_URL"),
            revocation_url=env.http_url("AUTH_REVOCATION_URL"),
            jwks_url=env.http_url("AUTH_JWKS_URL"),
        )

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def logout_return_url(self) -> str:
        return f"{self.base_url}/"

    @property
    def secure_cookies(self) -> bool:
        """Over https the session cookie is `Secure` and named with the `__Host-` prefix."""
        return urlsplit(self.base_url).scheme == "https"
