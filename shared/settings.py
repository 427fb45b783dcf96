"""The one way every Flowlab part reads its settings: :class:`Environment`, and the local defaults.

A part builds its frozen settings dataclass from an :class:`Environment` over ``os.environ`` (or
a test mapping) with the typed accessors below. Each accessor strips the value, takes an empty
one for unset (the default applies), and refuses an unusable one with a
:class:`ConfigurationError` whose one-line message starts with the variable's name.

`AUTH_ISSUER` is the issuer, compared exactly (Auth0 issuers end with `/`); `AUTH0_DOMAIN` is
the shortcut for the issuer `https://DOMAIN/`. Without either, the local authorization server.
Plain http is accepted for loopback host names only.
"""

import ipaddress
import re
from collections.abc import Mapping
from re import Pattern
from urllib.parse import urlsplit

LOCAL_ISSUER = "http://localhost:9000/"
LOCAL_AUDIENCE = "https://api.flowlab.local"
LOCAL_API_URL = "http://localhost:3010"
# The host names of this machine that an http URL may name (the authorization server's
# redirect-URI rules use their own, IP-literal-only set).
LOOPBACK_HOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

# A browser origin: scheme, host (name or bracketed IPv6 literal) and optional port; no path.
ORIGIN_PATTERN = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?")
PORT_PATTERN = re.compile(r"[0-9]{1,5}")
MAX_PORT = 65535

DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_PATTERN = re.compile(rf"{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+")


class ConfigurationError(ValueError):
    """A setting is missing or unusable; the message names it in one line."""


class Environment:
    """Typed, checked access to the variables of ``source`` (``os.environ`` or a test mapping)."""

    def __init__(self, source: Mapping[str, object]):
        self._source = source

    def text(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` without surrounding blanks; ``default`` when unset or empty."""
        value = self._source.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise ConfigurationError(f"{name} must be a string")
        return value.strip() or default

    def matching(self, name: str, pattern: Pattern[str], meaning: str, default: str) -> str:
        """The value of ``name``, which must match ``pattern`` entirely (``meaning`` says how)."""
        value = self.text(name, default)
        if not pattern.fullmatch(value):
            raise ConfigurationError(f"{name} must be {meaning}")
        return value

    def http_url(self, name: str, default: str | None = None) -> str | None:
        """An http(s) URL with a plain host (name, IP address or bracketed IPv6) and no fragment."""
        url = self.text(name, default)
        if url is not None and not _is_http_url(url):
            raise ConfigurationError(f"{name} must be an http(s) URL")
        return url

    def comma_list(self, name: str, default: str) -> tuple[str, ...]:
        """The comma-separated entries of ``name``, each stripped; an empty entry stays empty."""
        return tuple(entry.strip() for entry in self.text(name, default).split(","))

    def flag(self, name: str) -> bool:
        """``1`` is on, ``0`` (the default) is off."""
        value = self.text(name, "0")
        if value not in ("0", "1"):
            raise ConfigurationError(f"{name} must be 0 or 1")
        return value == "1"

    def port(self, name: str, default: int) -> int:
        """A port number from 0 (any free port) to 65535."""
        value = self.text(name)
        return default if value is None else port_number(name, value)

    def ip_address(self, name: str, default: str) -> str:
        """An IPv4 or IPv6 address, as Python writes it."""
        try:
            return str(ipaddress.ip_address(self.text(name, default)))
        except ValueError:
            raise ConfigurationError(
                f"{name} must be an IP address such as 127.0.0.1 (0.0.0.0 in a container)"
            ) from None

    def issuer(self) -> str:
        """The issuer from `AUTH_ISSUER` or `AUTH0_DOMAIN` (Auth0 issuers are `https://DOMAIN/`)."""
        issuer = self.text("AUTH_ISSUER")
        auth0_domain = self.text("AUTH0_DOMAIN")
        if auth0_domain is not None:
            if not DOMAIN_PATTERN.fullmatch(auth0_domain):
                raise ConfigurationError(
                    "AUTH0_DOMAIN must be a bare host name such as your-tenant.eu.auth0.com "
                    "(no scheme, no path)"
                )
            domain_issuer = f"https://{auth0_domain}/"
            if issuer is not None and issuer != domain_issuer:
                raise ConfigurationError(
                    "AUTH0_DOMAIN and AUTH_ISSUER disagree; set only one of them"
                )
            return domain_issuer
        if issuer is None:
            return LOCAL_ISSUER
        if not _is_http_url(issuer) or urlsplit(issuer).query:
            raise ConfigurationError(
                "AUTH_ISSUER must be an http(s) URL such as https://your-tenant.auth0.com/"
            )
        if urlsplit(issuer).scheme == "http" and not is_loopback(issuer):
            raise ConfigurationError("AUTH_ISSUER must use https (plain http only for localhost)")
        return issuer


def port_number(name: str, value: str) -> int:
    """The port setting ``name`` as a number from 0 (any free port) to 65535."""
    if not PORT_PATTERN.fullmatch(value) or int(value) > MAX_PORT:
        raise ConfigurationError(f"{name} must be a port number between 0 and {MAX_PORT}")
    return int(value)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, the origin a browser compares."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine by one of :data:`LOOPBACK_HOST_NAMES`."""
    return urlsplit(url).hostname in LOOPBACK_HOST_NAMES


def _is_http_url(url: str) -> bool:
    # The origin check also refuses what a Content-Security-Policy or a log line must not carry
    # (blanks, ";", quotes in the host) and user information before the host.
    return ORIGIN_PATTERN.fullmatch(origin_of(url)) is not None and not urlsplit(url).fragment
