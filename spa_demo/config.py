"""The SPA's settings, read from the environment and handed to the page as `/config.json`.

The same variables as the API and the other demos: `AUTH_ISSUER` (or `AUTH0_DOMAIN`, the
shortcut for the issuer `https://DOMAIN/`), `AUTH_AUDIENCE`, `AUTH_CLIENT_ID`, `API_URL`.
Without them the SPA talks to the local authorization server and API on their default ports.
`SPA_PORT` (3000) and `SPA_HOST` (127.0.0.1) say where `python -m spa_demo` listens.

The issuer's and the API's origins are written into the Content-Security-Policy header, so
each must be a plain origin (scheme, host, port): anything else stops the start with a message
naming the setting, rather than loosening the policy.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.settings import (
    LOCAL_API_URL,
    LOCAL_AUDIENCE,
    ORIGIN_PATTERN,
    ConfigurationError,
    issuer_from_settings,
    port_number,
)

DEFAULT_CLIENT_ID = "spa-demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "3000"

# The OpenID scopes for the ID token's profile claims, and the API scopes this app asks for.
# With Auth0 RBAC on, the access token only carries the ones the user is permitted.
SCOPE = "openid profile email read:messages write:messages read:stats"


@dataclass(frozen=True)
class SpaConfig:
    issuer: str
    audience: str
    client_id: str
    api_url: str
    host: str
    port: int

    @property
    def issuer_origin(self):
        return origin_of(self.issuer)

    @property
    def api_origin(self):
        return origin_of(self.api_url)

    def for_page(self):
        """What the browser needs: public values only (an SPA has no secret to keep)."""
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "clientId": self.client_id,
            "apiUrl": self.api_url,
            "scope": SCOPE,
        }


def origin_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _setting(environ, name):
    return environ.get(name, "").strip() or None


def _plain_origin(name, url):
    if not ORIGIN_PATTERN.fullmatch(origin_of(url)):
        raise ConfigurationError(f"{name} must be an http(s) URL with a plain host name, got {url!r}")
    return url


def _port(environ):
    return port_number("SPA_PORT", _setting(environ, "SPA_PORT") or DEFAULT_PORT)


def load_config(environ: Mapping[str, str]) -> SpaConfig:
    """Read and check the settings from `environ` (os.environ or a test mapping)."""
    issuer_setting = "AUTH0_DOMAIN" if _setting(environ, "AUTH0_DOMAIN") else "AUTH_ISSUER"
    issuer = issuer_from_settings(_setting(environ, "AUTH_ISSUER"), _setting(environ, "AUTH0_DOMAIN"))
    api_url = (_setting(environ, "API_URL") or LOCAL_API_URL).rstrip("/")
    return SpaConfig(
        issuer=_plain_origin(issuer_setting, issuer),
        audience=_setting(environ, "AUTH_AUDIENCE") or LOCAL_AUDIENCE,
        client_id=_setting(environ, "AUTH_CLIENT_ID") or DEFAULT_CLIENT_ID,
        api_url=_plain_origin("API_URL", api_url),
        host=_setting(environ, "SPA_HOST") or DEFAULT_HOST,
        port=_port(environ),
    )
