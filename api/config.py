"""Settings of the protected API, read from the environment (or a test mapping) and checked once.

Every setting has a local default, so ``python -m api`` with no environment at all works against
the local authorization server (``python -m authserver``). A value that is present but unusable
stops the start with one line naming the setting: a resource server that guesses its issuer or
audience would accept the wrong tokens.

| setting           | default                         | meaning                                          |
|-------------------|---------------------------------|--------------------------------------------------|
| ``AUTH_ISSUER``   | ``http://localhost:9000/``      | exact ``iss`` of accepted tokens                 |
| ``AUTH0_DOMAIN``  | -                               | shortcut: issuer ``https://DOMAIN/``             |
| ``AUTH_AUDIENCE`` | ``https://api.flowlab.local``   | the API identifier, required in ``aud``          |
| ``AUTH_JWKS_URL`` | from the issuer's discovery     | where the signing keys are fetched               |
| ``AUTH_ALGORITHMS`` | ``RS256``                     | comma list of accepted asymmetric algorithms     |
| ``CORS_ORIGINS``  | ``http://localhost:3000``       | comma list of browser origins allowed to call us |
| ``DATABASE_URL``  | ``sqlite:///.data/api.sqlite3`` | SQLite file (relative to the working directory)  |
| ``API_HOST``      | ``127.0.0.1``                   | address ``python -m api`` binds (an IP address)  |
| ``API_PORT``      | ``3010``                        | port of ``python -m api`` (0: any free port)     |
"""

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared.settings import (
    LOCAL_AUDIENCE,
    ORIGIN_PATTERN,
    ConfigurationError,
    issuer_from_settings,
    port_number,
)
from shared.token_validation import TokenValidator
from shared.wsgi_server import bind_address

DEFAULT_CORS_ORIGINS = "http://localhost:3000"
DEFAULT_DATABASE_URL = "sqlite:///.data/api.sqlite3"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "3010"

SETTING_NAMES = (
    "AUTH_ISSUER",
    "AUTH0_DOMAIN",
    "AUTH_AUDIENCE",
    "AUTH_JWKS_URL",
    "AUTH_ALGORITHMS",
    "CORS_ORIGINS",
    "DATABASE_URL",
    "API_HOST",
    "API_PORT",
)

SQLITE_URL_PREFIX = "sqlite:///"
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


def load_settings(source: Mapping[str, str]) -> Settings:
    """Read and check every setting from ``source`` (``os.environ`` or a test mapping)."""
    values = {name: _present(source, name) for name in SETTING_NAMES}
    return Settings(
        issuer=issuer_from_settings(values["AUTH_ISSUER"], values["AUTH0_DOMAIN"]),
        audience=_audience(values["AUTH_AUDIENCE"]),
        jwks_url=_jwks_url(values["AUTH_JWKS_URL"]),
        algorithms=_algorithms(values["AUTH_ALGORITHMS"]),
        cors_origins=_cors_origins(values["CORS_ORIGINS"]),
        database_path=_database_path(values["DATABASE_URL"]),
        bind=_bind(values["API_HOST"], values["API_PORT"]),
    )


def _present(source: Mapping[str, str], name: str) -> str | None:
    value = source.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string")
    value = value.strip()
    return value or None


def _audience(audience: str | None) -> str:
    # The audience is also the realm of the WWW-Authenticate challenge, an RFC 6750 quoted-string.
    if audience is not None and not AUDIENCE_PATTERN.fullmatch(audience):
        raise ConfigurationError("AUTH_AUDIENCE must be printable ASCII without quotes or backslashes")
    return audience or LOCAL_AUDIENCE


def _jwks_url(jwks_url: str | None) -> str | None:
    if jwks_url is None:
        return None
    parts = urlsplit(jwks_url)
    # Plain http is allowed here on purpose: in docker-compose the API reaches the authorization
    # server by its container name on the private network, while tokens keep the public issuer.
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigurationError("AUTH_JWKS_URL must be an http(s) URL")
    return jwks_url


def _algorithms(algorithms: str | None) -> tuple[str, ...]:
    # Which names are acceptable is the validator's decision (asymmetric only); see
    # token_validator().
    return ("RS256",) if algorithms is None else tuple(name.strip() for name in algorithms.split(","))


def _cors_origins(origins: str | None) -> tuple[str, ...]:
    names = tuple(origin.strip() for origin in (origins or DEFAULT_CORS_ORIGINS).split(","))
    if not all(ORIGIN_PATTERN.fullmatch(origin) for origin in names):
        raise ConfigurationError(
            "CORS_ORIGINS must be a comma list of origins such as http://localhost:3000 (no '*', no path)"
        )
    return names


def _database_path(url: str | None) -> Path:
    url = url or DEFAULT_DATABASE_URL
    path = url.removeprefix(SQLITE_URL_PREFIX)
    if path == url or not path or "?" in path:
        raise ConfigurationError("DATABASE_URL must be sqlite:///relative/path or sqlite:////absolute/path")
    return Path(path).absolute()


def _bind(host: str | None, port: str | None) -> str:
    """The ``host:port`` gunicorn binds (``[host]:port`` for IPv6)."""
    try:
        address = ipaddress.ip_address(host or DEFAULT_HOST)
    except ValueError:
        raise ConfigurationError("API_HOST must be an IP address such as 127.0.0.1 (0.0.0.0 in a container)") from None
    return bind_address(str(address), port_number("API_PORT", port or DEFAULT_PORT))


def token_validator(settings: Settings) -> TokenValidator:
    """The validator for these settings; an algorithm it refuses is a configuration error."""
    try:
        return TokenValidator(
            settings.issuer, settings.audience, algorithms=settings.algorithms, jwks_url=settings.jwks_url
        )
    except ValueError as error:
        raise ConfigurationError(f"AUTH_ALGORITHMS: {error}") from None
