"""Settings of the protected API, read from the environment (or a test mapping) and checked once.

Every setting has a local default, so ``python -m api`` with no environment at all works against
the local authorization server (``python -m authserver``). A value that is present but unusable
stops the start with one line naming the setting: a resource server that guesses its issuer or
audience would accept the wrong tokens.

| setting             | default                         | meaning                                 |
|---------------------|---------------------------------|-----------------------------------------|
| ``AUTH_ISSUER``     | ``http://localhost:9000/``      | exact ``iss`` of accepted tokens        |
| ``AUTH0_DOMAIN``    | -                               | shortcut: issuer ``https://DOMAIN/``    |
| ``AUTH_AUDIENCE``   | ``https://api.flowlab.local``   | the API identifier, required in ``aud`` |
| ``AUTH_JWKS_URL``   | from the issuer's discovery     | where the signing keys are fetched      |
| ``AUTH_ALGORITHMS`` | ``RS256``                       | comma list of asymmetric algorithms     |
| ``CORS_ORIGINS``    | ``http://localhost:3000``       | comma list of browser origins allowed   |
| ``DATABASE_URL``    | ``sqlite:///.data/api.sqlite3`` | SQLite file (from the working folder)   |
| ``API_HOST``        | ``127.0.0.1``                   | address ``python -m api`` binds (an IP) |
| ``API_PORT``        | ``3010``                        | its port (0: any free port)             |

The validator's JWKS cache (numbers of seconds, ``0.5`` too, within the ranges of
:data:`SECONDS_RANGES`; api/README.md, "The JWKS cache", says how they play together):

| setting                      | default  | meaning                                              |
|------------------------------|----------|------------------------------------------------------|
| ``AUTH_JWKS_MAX_AGE``        | ``600``  | keys stay fresh this long (a shorter max-age wins)   |
| ``AUTH_JWKS_COOLDOWN``       | ``30``   | at least this long between two JWKS downloads        |
| ``AUTH_JWKS_STALE_IF_ERROR`` | ``3600`` | stale keys keep working this long if downloads fail  |
| ``AUTH_HTTP_TIMEOUT``        | ``3``    | a download, and a request waiting for it, at most    |

Each value is read with ``shared.settings.Environment``, the reader every Flowlab part uses.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.settings import LOCAL_AUDIENCE, ORIGIN_PATTERN, ConfigurationError, Environment
from shared.token_validation import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_STALE_IF_ERROR,
    TokenValidator,
)
from shared.wsgi_server import bind_address

DEFAULT_ALGORITHMS = "RS256"
DEFAULT_CORS_ORIGINS = "http://localhost:3000"
DEFAULT_DATABASE_URL = "sqlite:///.data/api.sqlite3"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3010

SQLITE_URL_PREFIX = "sqlite:///"
# The audience is also the realm of the WWW-Authenticate challenge, an RFC 6750 quoted-string.
AUDIENCE_PATTERN = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True)
class Settings:
    issuer: str
    audience: str
    jwks_url: str | None
    algorithms: tuple[str, ...]
    cors_origins: tuple[str, ...]
    database_path: Path
    bind: str
    jwks_max_age: float
    jwks_cooldown: float
    jwks_stale_if_error: float
    http_timeout: float

    @classmethod
    def from_env(cls, environ: Mapping[str, object]) -> "Settings":
        """Read and check every setting from ``environ`` (``os.environ`` or a test mapping)."""
        env = Environment(environ)
        return cls(
            issuer=env.issuer(),
            audience=env.matching(
                "AUTH_AUDIENCE",
                AUDIENCE_PATTERN,
                "printable ASCII without quotes or backslashes",
                LOCAL_AUDIENCE,
            ),
            # Plain http is allowed here on purpose: in docker-compose the API reaches the
            # authorization server by its container name on the private network, while tokens
            # keep the public issuer.
            jwks_url=env.http_url("AUTH_JWKS_URL"),
            # Which names are acceptable is the validator's decision (asymmetric only); see
            # token_validator().
            algorithms=env.comma_list("AUTH_ALGORITHMS", DEFAULT_ALGORITHMS),
            cors_origins=_cors_origins(env),
            database_path=_database_path(env),
            bind=bind_address(
                env.ip_address("API_HOST", DEFAULT_HOST), env.port("API_PORT", DEFAULT_PORT)
            ),
            jwks_max_age=_seconds(env, "AUTH_JWKS_MAX_AGE", DEFAULT_JWKS_MAX_AGE),
            jwks_cooldown=_seconds(env, "AUTH_JWKS_COOLDOWN", DEFAULT_JWKS_COOLDOWN),
            jwks_stale_if_error=_seconds(
                env, "AUTH_JWKS_STALE_IF_ERROR", DEFAULT_JWKS_STALE_IF_ERROR
            ),
            http_timeout=_seconds(env, "AUTH_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT),
        )


#: The range of each JWKS cache setting, in seconds. Outside it a value would weaken the cache
#: rather than tune it: a cooldown under a second lets a flood of unknown kids download the JWKS
#: on every request; a max-age or stale window of days trusts a removed key that long; a timeout
#: beyond half a minute holds request threads (and beyond threading.TIMEOUT_MAX, fails them).
SECONDS_RANGES = {
    "AUTH_JWKS_MAX_AGE": (0.0, 86400.0),
    "AUTH_JWKS_COOLDOWN": (1.0, 300.0),
    "AUTH_JWKS_STALE_IF_ERROR": (0.0, 86400.0),
    "AUTH_HTTP_TIMEOUT": (0.0, 30.0),
}


def _seconds(env: Environment, name: str, default: float) -> float:
    """A number of seconds (``30``, ``0.5``) in the setting's :data:`SECONDS_RANGES` (above
    its lower bound when that is 0, else from it)."""
    value = env.text(name)
    if value is None:
        return default
    low, high = SECONDS_RANGES[name]
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    in_range = (seconds > 0 if low == 0 else seconds >= low) and seconds <= high
    if not in_range:  # NaN too: every comparison with it is false
        lowest = "more than 0" if low == 0 else f"at least {low:g}"
        raise ConfigurationError(
            f"{name} must be a number of seconds, {lowest} and at most {high:g}, such as {default:g}"
        )
    return seconds


def _cors_origins(env: Environment) -> tuple[str, ...]:
    origins = env.comma_list("CORS_ORIGINS", DEFAULT_CORS_ORIGINS)
    if not all(ORIGIN_PATTERN.fullmatch(origin) for origin in origins):
        raise ConfigurationError(
            "CORS_ORIGINS must be a comma list of origins such as http://localhost:3000 "
            "(no '*', no path)"
        )
    return origins


def _database_path(env: Environment) -> Path:
    url = env.text("DATABASE_URL", DEFAULT_DATABASE_URL)
    path = url.removeprefix(SQLITE_URL_PREFIX)
    if path == url or not path or "?" in path:
        raise ConfigurationError(
            "DATABASE_URL must be sqlite:///relative/path or sqlite:////absolute/path"
        )
    return Path(path).absolute()


def token_validator(settings: Settings) -> TokenValidator:
    """The validator for these settings; an algorithm it refuses is a configuration error."""
    try:
        return TokenValidator(
            settings.issuer,
            settings.audience,
            algorithms=settings.algorithms,
            jwks_url=settings.jwks_url,
            jwks_max_age=settings.jwks_max_age,
            jwks_cooldown=settings.jwks_cooldown,
            jwks_stale_if_error=settings.jwks_stale_if_error,
            http_timeout=settings.http_timeout,
        )
    except ValueError as error:
        raise ConfigurationError(f"AUTH_ALGORITHMS: {error}") from None
