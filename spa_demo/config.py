"""The SPA's settings, read from the environment and handed to the page as `/config.json`.

The same variables as the API and the other demos, read with `shared.settings.Environment`:
`AUTH_ISSUER` (or `AUTH0_DOMAIN`, the shortcut for the issuer `https://DOMAIN/`),
`AUTH_AUDIENCE`, `AUTH_CLIENT_ID`, `API_URL`. Without them the SPA talks to the local
authorization server and API on their default ports. `SPA_PORT` (3000) and `SPA_HOST`
(127.0.0.1) say where `python -m spa_demo` listens. `AUTH0_SPA_JS_DIST` is the folder the SDK
mode's files are served from (`/vendor/auth0-spa-js/`): by default the `dist` folder of the
npm install of `@auth0/auth0-spa-js` in the project (`package.json`, installed by `make`).

The issuer's and the API's origins are written into the Content-Security-Policy header, so
each must be a plain origin (scheme, host, port), as the reader requires of every URL: anything
else stops the start with a message naming the setting, rather than loosening the policy.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.settings import LOCAL_API_URL, LOCAL_AUDIENCE, Environment, origin_of

DEFAULT_CLIENT_ID = "spa-demo"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
# Where `npm install` (or `npm ci`, run by `make`) puts auth0-spa-js's browser builds.
DEFAULT_SDK_DIST = (
    Path(__file__).resolve().parent.parent / "node_modules" / "@auth0" / "auth0-spa-js" / "dist"
)

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
    sdk_dist: Path = DEFAULT_SDK_DIST

    @classmethod
    def from_env(cls, environ: Mapping[str, object]) -> "SpaConfig":
        """Read and check the settings from `environ` (os.environ or a test mapping)."""
        env = Environment(environ)
        return cls(
            issuer=env.issuer(),
            audience=env.text("AUTH_AUDIENCE", LOCAL_AUDIENCE),
            client_id=env.text("AUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
            api_url=env.http_url("API_URL", LOCAL_API_URL).rstrip("/"),
            host=env.text("SPA_HOST", DEFAULT_HOST),
            port=env.port("SPA_PORT", DEFAULT_PORT),
            sdk_dist=Path(env.text("AUTH0_SPA_JS_DIST", str(DEFAULT_SDK_DIST))),
        )

    @property
    def issuer_origin(self) -> str:
        return origin_of(self.issuer)

    @property
    def api_origin(self) -> str:
        return origin_of(self.api_url)

    def for_page(self) -> dict[str, str]:
        """What the browser needs: public values only (an SPA has no secret to keep)."""
        return {
            "issuer": self.issuer,
            "audience": self.audience,
            "clientId": self.client_id,
            "apiUrl": self.api_url,
            "scope": SCOPE,
        }
