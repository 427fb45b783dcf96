"""The settings every Flowlab part reads the same way: the local defaults and the issuer.

`AUTH_ISSUER` is the issuer, compared exactly (Auth0 issuers end with `/`); `AUTH0_DOMAIN` is
the shortcut for the issuer `https://DOMAIN/`. Without either, the local authorization server.
Plain http is accepted for loopback hosts only.
"""

import re
from urllib.parse import urlsplit

LOCAL_ISSUER = "http://localhost:9000/"
LOCAL_AUDIENCE = "https://api.flowlab.local"
LOCAL_API_URL = "http://localhost:3010"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# A browser origin: scheme, host (name or bracketed IPv6 literal) and optional port; no path.
ORIGIN_PATTERN = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?")
PORT_PATTERN = re.compile(r"[0-9]{1,5}")

DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_PATTERN = re.compile(rf"{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+")


class ConfigurationError(ValueError):
    """A setting is missing or unusable; the message names it in one line."""


def issuer_from_settings(issuer: str | None, auth0_domain: str | None) -> str:
    """The issuer from `AUTH_ISSUER` or `AUTH0_DOMAIN` (Auth0 issuers are `https://DOMAIN/`)."""
    if auth0_domain is not None:
        if not DOMAIN_PATTERN.fullmatch(auth0_domain):
            raise ConfigurationError(
                "AUTH0_DOMAIN must be a bare host name such as your-tenant.eu.auth0.com (no scheme, no path)"
            )
        domain_issuer = f"https://{auth0_domain}/"
        if issuer is not None and issuer != domain_issuer:
            raise ConfigurationError("AUTH0_DOMAIN and AUTH_ISSUER disagree; set only one of them")
        return domain_issuer
    if issuer is None:
        return LOCAL_ISSUER
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError("AUTH_ISSUER must be an http(s) URL such as https://your-tenant.auth0.com/")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigurationError("AUTH_ISSUER must use https (plain http only for localhost)")
    return issuer


def port_number(name: str, value: str) -> int:
    """The port setting ``name`` as a number from 0 (any free port) to 65535."""
    if not PORT_PATTERN.fullmatch(value) or int(value) > 65535:
        raise ConfigurationError(f"{name} must be a port number between 0 and 65535")
    return int(value)
