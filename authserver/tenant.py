"""The tenant: Auth0 dashboard concepts read from ``tenant.toml`` with :mod:`tomllib`.

A tenant has APIs (resource servers: identifier = audience, scopes, token lifetimes, RBAC),
Applications (OAuth clients, with authlib's :class:`~authlib.oauth2.rfc6749.ClientMixin`),
client grants (which machine-to-machine application may call which API with which scopes) and
seed users. The file is validated when it is read; a mistake names the entry and the key.
"""

import base64
import hashlib
import hmac
import re
import secrets
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin

DEFAULT_TENANT_FILE = resources.files("authserver") / "tenant.toml"

# OpenID Connect Core §5.4 scopes plus §11 offline_access, as worded on a consent page.
OIDC_SCOPES = {
    "openid": "Know who you are",
    "profile": "Read your name, nickname and picture",
    "email": "Read your email address",
    "offline_access": "Stay signed in, even when you are not using the application",
}

PUBLIC_APPLICATION_TYPES = frozenset({"spa", "native"})
CONFIDENTIAL_APPLICATION_TYPES = frozenset({"non_interactive", "regular_web"})
GRANT_TYPES_BY_APPLICATION_TYPE = {
    "spa": frozenset({"implicit", "authorization_code", "refresh_token"}),
    "native": frozenset({"authorization_code", "refresh_token"}),
    "regular_web": frozenset({"authorization_code", "refresh_token", "client_credentials"}),
    "non_interactive": frozenset({"client_credentials"}),
}
IMPLICIT_RESPONSE_TYPES = frozenset({"token", "id_token", "id_token token"})
# RFC 6749 §2.3: how clients authenticate at the token and revocation endpoints. Confidential
# applications send their secret (HTTP Basic, or in the POST body); public ones have none and
# send their client_id alone ("none"). Application.check_endpoint_auth_method says who uses which.
CONFIDENTIAL_CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PUBLIC_CLIENT_AUTH_METHOD = "none"
CLIENT_AUTH_METHODS = (*CONFIDENTIAL_CLIENT_AUTH_METHODS, PUBLIC_CLIENT_AUTH_METHOD)


class TenantError(ValueError):
    """``tenant.toml`` is not a valid tenant; the message names the entry and the key."""


# A client secret is made by `python -m authserver clients secret`, never chosen by a person.
# RFC 6819 §5.1.4.2.2: "When creating secrets not intended for usage by human users (e.g.,
# client secrets or token handles), the authorization server should include a reasonable level
# of entropy in order to mitigate the risk of guessing attacks." §5.1.4.1.3: "If the credential
# lacks a reasonable entropy level (because it is a user password), an additional salt will
# harden the storage". A 256-bit secret needs no slow hash (scrypt stays for user passwords):
# the tenant keeps an HMAC-SHA256 of it, under a random key of its own.
CLIENT_SECRET_HASH_METHOD = "hmac-sha256"  # noqa: S105 (a hash method name)
CLIENT_SECRET_HASH_FORMAT = re.compile(r"hmac-sha256\$([A-Za-z0-9_-]{43})\$([0-9a-f]{64})")


def client_secret_digest(key: bytes, client_secret: str) -> str:
    """HMAC-SHA256 of ``client_secret`` under ``key``, in hex."""
    return hmac.new(key, client_secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def hash_client_secret(client_secret: str) -> str:
    """``hmac-sha256$<random 256-bit key, base64url>$<hex digest of the secret under it>``."""
    key = secrets.token_bytes(32)
    encoded_key = base64.urlsafe_b64encode(key).rstrip(b"=").decode()
    return f"{CLIENT_SECRET_HASH_METHOD}${encoded_key}${client_secret_digest(key, client_secret)}"


def parse_client_secret_hash(text: str) -> tuple[bytes, str] | None:
    """The key and the hex digest of a ``client_secret_hash``; None when not in that format."""
    match = CLIENT_SECRET_HASH_FORMAT.fullmatch(text)
    if match is None:
        return None
    encoded_key, digest = match.groups()
    return base64.urlsafe_b64decode(encoded_key + "="), digest


#: What a secret is checked against when there is no hash to check it against.
_NO_CLIENT_SECRET_HASH = hash_client_secret(secrets.token_urlsafe(32))


def client_secret_matches(client_secret_hash: str | None, client_secret: str) -> bool:
    """Whether ``client_secret`` is the secret of ``client_secret_hash``, in constant time.

    Without a hash (an unknown client, a public one) the secret is checked against a random one
    all the same: every presented secret costs one digest and one comparison, so how long the
    answer takes does not tell which client ids exist.
    """
    key, digest = parse_client_secret_hash(client_secret_hash or _NO_CLIENT_SECRET_HASH)
    matches = hmac.compare_digest(client_secret_digest(key, client_secret), digest)
    return matches and client_secret_hash is not None


@dataclass(frozen=True)
class ResourceServer:
    """An API of the tenant ("Applications > APIs")."""

    name: str
    identifier: str
    scopes: Mapping[str, str]
    token_lifetime: int = 86400
    token_lifetime_for_web: int = 7200
    enable_rbac: bool = False
    add_permissions_in_the_access_token: bool = False
    allow_offline_access: bool = False


_LOOPBACK_REDIRECT_URI = re.compile(
    r"(http://(?:127\.0\.0\.1|\[::1\]))(?::[0-9]+)?(/.*)", re.DOTALL
)
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def _without_port(redirect_uri: str) -> tuple[str, str] | None:
    """A loopback IP redirect URI as (scheme and host, path and what follows), the port left out."""
    match = _LOOPBACK_REDIRECT_URI.fullmatch(redirect_uri)
    return match.groups() if match else None


def redirect_uri_matches(registered: str, requested: str, *, any_loopback_port: bool) -> bool:
    """Exact string comparison, except for the port of a loopback IP redirect URI.

    RFC 9700 §2.1: "When comparing client redirection URIs against pre-registered URIs,
    authorization servers MUST utilize exact string matching except for port numbers in
    localhost redirection URIs of native apps". RFC 8252 §7.3: "The authorization server MUST
    allow any port to be specified at the time of the request for loopback IP redirect URIs";
    everything else is compared as the raw strings, character for character: no parsing, so no
    normalisation (of the scheme's case, an empty query or fragment, white space) can make two
    different strings equal.
    """
    if requested == registered:
        return True
    if not any_loopback_port:
        return False
    wanted = _without_port(registered)
    if wanted is None:
        return False
    prefix, rest = wanted
    if not (requested.startswith(prefix + ":") and requested.endswith(rest)):
        return False
    port = requested[len(prefix) + 1 : len(requested) - len(rest)]
    # A real port, written plainly: digits without a leading zero, from 1 to 65535.
    return _PORT.fullmatch(port) is not None and int(port) <= 65535


@dataclass(frozen=True)
class Application(ClientMixin):
    """An application ("Applications > Applications"): an OAuth client as authlib sees it."""

    client_id: str
    name: str
    application_type: str
    grant_types: frozenset[str]
    is_first_party: bool = True
    allowed_callback_urls: tuple[str, ...] = ()
    allowed_web_origins: tuple[str, ...] = ()
    allowed_logout_urls: tuple[str, ...] = ()
    client_secret_hash: str | None = field(default=None, repr=False)
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    id_token_permissions_claim: bool = False

    @property
    def is_public(self) -> bool:
        """SPAs and native apps cannot keep a secret (RFC 6749 §2.1 "public" clients)."""
        return self.application_type in PUBLIC_APPLICATION_TYPES

    @property
    def client_metadata(self) -> Mapping[str, str]:
        """RFC 7591 metadata authlib's UserInfo endpoint reads; Auth0 answers userinfo unsigned."""
        return {}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: "If multiple redirection URIs have been registered, [...] the client
        # MUST include a redirection URI with the authorization request".
        if len(self.allowed_callback_urls) == 1:
            return self.allowed_callback_urls[0]
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Auth0 does not limit the scopes of an application in user flows: the API's scopes and
        # the user's permissions do (see authserver.grants.base.Auth0GrantMixin.scope_for).
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        any_port = self.application_type == "native"
        return any(
            redirect_uri_matches(registered, redirect_uri, any_loopback_port=any_port)
            for registered in self.allowed_callback_urls
        )

    def check_client_secret(self, client_secret: str) -> bool:
        # RFC 6819 §5.1.4.1.3: "The authorization server should not store credentials in clear
        # text." The tenant keeps an HMAC-SHA256 of the secret; the digest of the presented one
        # is compared with it in constant time (hmac.compare_digest), and a public application
        # (no hash) costs the same work as a wrong secret.
        return client_secret_matches(self.client_secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # RFC 6749 §2.3: confidential clients authenticate with their secret (Basic or POST body);
        # public clients have no secret and authenticate with "none" (client_id only).
        if self.is_public:
            return method == PUBLIC_CLIENT_AUTH_METHOD
        return method in CONFIDENTIAL_CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        if response_type == "code":
            return "authorization_code" in self.grant_types
        return response_type in IMPLICIT_RESPONSE_TYPES and "implicit" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass(frozen=True)
class ClientGrant:
    """An application authorized for an API with the client credentials grant."""

    client_id: str
    audience: str
    scope: tuple[str, ...]


@dataclass(frozen=True)
class TenantUser:
    """A user the tenant file defines; ``permissions`` maps API identifiers to scopes."""

    id: str
    email: str
    name: str
    nickname: str
    password_hash: str = field(repr=False)
    email_verified: bool = False
    picture: str = ""
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Tenant:
    apis: Mapping[str, ResourceServer]
    applications: Mapping[str, Application]
    client_grants: tuple[ClientGrant, ...]
    users: tuple[TenantUser, ...]
    session_lifetime: int = 604800
    id_token_lifetime: int = 36000
    authorization_code_lifetime: int = 60
    refresh_token_lifetime: int = 2592000
    userinfo_token_lifetime: int = 86400
    brute_force_threshold: int = 10

    def find_application(self, client_id: str | None) -> Application | None:
        return self.applications.get(client_id) if client_id else None

    def find_api(self, identifier: str | None) -> ResourceServer | None:
        return self.apis.get(identifier) if identifier else None

    def find_client_grant(self, client_id: str, audience: str) -> ClientGrant | None:
        return next(
            (g for g in self.client_grants if (g.client_id, g.audience) == (client_id, audience)),
            None,
        )

    @property
    def allowed_web_origins(self) -> tuple[str, ...]:
        """Every application's "Allowed Web Origins": the only origins CORS answers."""
        origins = (o for app in self.applications.values() for o in app.allowed_web_origins)
        return tuple(dict.fromkeys(origins))

    def userinfo_api(self, issuer: str) -> ResourceServer:
        """The API a token is for when a login names no audience: Auth0's ``<issuer>userinfo``."""
        return ResourceServer(
            name="User info",
            identifier=f"{issuer}userinfo",
            scopes={},
            token_lifetime=self.userinfo_token_lifetime,
            token_lifetime_for_web=self.userinfo_token_lifetime,
            allow_offline_access=True,
        )

    def longest_token_lifetime(self) -> int:
        """How long a token signed now may stay valid: previous keys stay published that long."""
        lifetimes = [self.id_token_lifetime, self.userinfo_token_lifetime]
        for api in self.apis.values():
            lifetimes += [api.token_lifetime, api.token_lifetime_for_web]
        return max(lifetimes)


_REQUIRED = object()


class _Entry:
    """One TOML table of the tenant file, with typed accessors that name the entry on error."""

    def __init__(self, table: object, where: str):
        if not isinstance(table, dict):
            raise TenantError(f"{where} must be a table")
        self.table = table
        self.where = where

    def _get(self, key, kind, default, description):
        if key not in self.table:
            if default is _REQUIRED:
                raise TenantError(f"{self.where}: '{key}' is required")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TenantError(f"{self.where}: '{key}' must be {description}")
        return value

    def text(self, key: str, default=None) -> str:
        return self._get(key, str, default, "a string")

    def positive(self, key: str) -> int:
        value = self._get(key, int, _REQUIRED, "a whole number")
        if value <= 0:
            raise TenantError(f"{self.where}: '{key}' must be positive")
        return value

    def flag(self, key: str) -> bool:
        return self._get(key, bool, _REQUIRED, "true or false")

    def texts(self, key: str) -> tuple[str, ...]:
        values = self._get(key, list, [], "a list of strings")
        if not all(isinstance(value, str) for value in values):
            raise TenantError(f"{self.where}: '{key}' must be a list of strings")
        return tuple(values)

    def given(self, readers: Mapping[str, Callable[[str], object]]) -> dict:
        """The keys of ``readers`` the table has, each read by its reader.

        The keys it lacks are left out, so the dataclass built from the result has its own
        defaults for them: each default is written once, on the dataclass.
        """
        return {key: read(key) for key, read in readers.items() if key in self.table}

    def entry(self, key: str) -> "_Entry":
        return _Entry(self._get(key, dict, {}, "a table"), f"{self.where}.{key}")

    def entries(self, key: str) -> list["_Entry"]:
        tables = self._get(key, list, [], "an array of tables")
        return [_Entry(table, f"{key}[{index}]") for index, table in enumerate(tables)]


def _check_url(url: str, where: str, *, origin: bool = False) -> str:
    # RFC 3986 §2: "A URI is composed from a limited set of characters consisting of digits,
    # letters, and a few graphic symbols." Registered URIs are compared as raw strings, so one
    # with white space or a control character (which urlsplit would quietly strip) is refused.
    if any(character.isspace() or not character.isprintable() for character in url):
        raise TenantError(f"{where}: {url!r} must not contain white space or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise TenantError(f"{where}: {url!r} must be an absolute http(s) URL without a fragment")
    if origin and (parts.path or parts.query):
        raise TenantError(f"{where}: {url!r} must be an origin (scheme://host[:port])")
    return url


#: The hosts where Auth0 accepts http:// URLs, for development on one's own machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_backchannel_logout_uri(url: str, where: str, *, confidential: bool) -> str:
    # Back-Channel Logout 1.0 §2.2: "The URI MUST NOT include any fragment component."
    _check_url(url, where)
    parts = urlsplit(url)
    # "This URL SHOULD use the https scheme [...]; however, it MAY use the http scheme, provided
    # that the Client Type is confidential, as defined in Section 2.1 of OAuth 2.0 [RFC6749], and
    # provided the OP allows the use of http RP URIs." This OP allows them on loopback hosts only.
    if parts.scheme == "http" and not (confidential and parts.hostname in LOOPBACK_HOSTS):
        raise TenantError(
            f"{where}: 'backchannel_logout_uri' {url!r} must use https "
            "(http only for a confidential application on localhost or a loopback address)"
        )
    return url


def _read_api(entry: _Entry) -> ResourceServer:
    scopes = entry.entry("scopes")
    for value, description in scopes.table.items():
        if not isinstance(description, str) or not value or " " in value:
            raise TenantError(f"{scopes.where}: each scope needs a description string")
    return ResourceServer(
        name=entry.text("name", _REQUIRED),
        identifier=entry.text("identifier", _REQUIRED),
        scopes=dict(scopes.table),
        **entry.given(
            {
                "token_lifetime": entry.positive,
                "token_lifetime_for_web": entry.positive,
                "enable_rbac": entry.flag,
                "add_permissions_in_the_access_token": entry.flag,
                "allow_offline_access": entry.flag,
            }
        ),
    )


def _read_application(entry: _Entry) -> Application:
    application_type = entry.text("application_type", _REQUIRED)
    if application_type not in GRANT_TYPES_BY_APPLICATION_TYPE:
        raise TenantError(f"{entry.where}: unknown application_type {application_type!r}")
    grant_types = frozenset(entry.texts("grant_types"))
    if not grant_types <= GRANT_TYPES_BY_APPLICATION_TYPE[application_type]:
        raise TenantError(
            f"{entry.where}: grant_types not allowed for {application_type} applications"
        )
    secret_hash = entry.text("client_secret_hash")
    if (application_type in CONFIDENTIAL_APPLICATION_TYPES) != (secret_hash is not None):
        raise TenantError(
            f"{entry.where}: confidential applications, and only they, need client_secret_hash"
        )
    if secret_hash is not None and parse_client_secret_hash(secret_hash) is None:
        raise TenantError(
            f"{entry.where}: 'client_secret_hash' must be an {CLIENT_SECRET_HASH_METHOD} hash as "
            "`python -m authserver clients secret` prints it (scrypt is for user passwords only)"
        )

    def urls(key: str) -> tuple[str, ...]:
        return tuple(_check_url(url, entry.where) for url in entry.texts(key))

    def origins(key: str) -> tuple[str, ...]:
        return tuple(_check_url(url, entry.where, origin=True) for url in entry.texts(key))

    def backchannel_logout_uri(key: str) -> str:
        return _check_backchannel_logout_uri(
            entry.text(key),
            entry.where,
            confidential=application_type in CONFIDENTIAL_APPLICATION_TYPES,
        )

    # Back-Channel Logout §2.2: "backchannel_logout_session_required OPTIONAL. Boolean value
    # specifying whether the RP requires that a sid (session ID) Claim be included in the Logout
    # Token to identify the RP session with the OP when the backchannel_logout_uri is used."
    # (This OP always includes it.) Without a URI, the setting means nothing: a mistake.
    if "backchannel_logout_session_required" in entry.table and (
        "backchannel_logout_uri" not in entry.table
    ):
        raise TenantError(
            f"{entry.where}: 'backchannel_logout_session_required' needs a backchannel_logout_uri"
        )

    return Application(
        client_id=entry.text("client_id", _REQUIRED),
        name=entry.text("name", _REQUIRED),
        application_type=application_type,
        grant_types=grant_types,
        client_secret_hash=secret_hash,
        **entry.given(
            {
                "is_first_party": entry.flag,
                "allowed_callback_urls": urls,
                "allowed_web_origins": origins,
                "allowed_logout_urls": urls,
                "backchannel_logout_uri": backchannel_logout_uri,
                "backchannel_logout_session_required": entry.flag,
                "id_token_permissions_claim": entry.flag,
            }
        ),
    )


def _check_scopes(scopes: Iterable[str], api: ResourceServer | None, where: str) -> tuple[str, ...]:
    scopes = tuple(scopes)
    if api is None:
        raise TenantError(f"{where}: no API has this identifier")
    unknown = sorted(set(scopes) - set(api.scopes))
    if unknown:
        raise TenantError(f"{where}: {', '.join(unknown)} not among the scopes of {api.identifier}")
    return scopes


def _read_user(entry: _Entry, apis: Mapping[str, ResourceServer]) -> TenantUser:
    permissions = entry.entry("permissions")
    return TenantUser(
        id=entry.text("id", _REQUIRED),
        email=entry.text("email", _REQUIRED).strip().lower(),
        name=entry.text("name", _REQUIRED),
        nickname=entry.text("nickname", _REQUIRED),
        password_hash=entry.text("password_hash", _REQUIRED),
        **entry.given({"email_verified": entry.flag, "picture": entry.text}),
        permissions={
            audience: _check_scopes(
                permissions.texts(audience), apis.get(audience), f"{permissions.where}.{audience}"
            )
            for audience in permissions.table
        },
    )


def _unique(items, key, kind: str) -> dict:
    result = {}
    for item in items:
        if key(item) in result:
            raise TenantError(f"duplicate {kind} {key(item)!r}")
        result[key(item)] = item
    return result


def parse_tenant(document: Mapping) -> Tenant:
    """Build a :class:`Tenant` from the parsed TOML document, or raise :class:`TenantError`."""
    root = _Entry(dict(document), "tenant.toml")
    settings = root.entry("tenant")
    attack_protection = root.entry("attack_protection")
    apis = _unique((_read_api(e) for e in root.entries("apis")), lambda a: a.identifier, "API")
    applications = _unique(
        (_read_application(e) for e in root.entries("applications")),
        lambda a: a.client_id,
        "client_id",
    )
    client_grants = []
    for entry in root.entries("client_grants"):
        client_id, audience = entry.text("client_id", _REQUIRED), entry.text("audience", _REQUIRED)
        application = applications.get(client_id)
        if application is None or not application.check_grant_type("client_credentials"):
            raise TenantError(
                f"{entry.where}: {client_id!r} is not a client credentials application"
            )
        scope = _check_scopes(entry.texts("scope"), apis.get(audience), entry.where)
        client_grants.append(ClientGrant(client_id, audience, scope))
    users = [_read_user(e, apis) for e in root.entries("users")]
    _unique(users, lambda u: u.id, "user id")
    _unique(users, lambda u: u.email, "user email")
    return Tenant(
        apis=apis,
        applications=applications,
        client_grants=tuple(
            _unique(client_grants, lambda g: (g.client_id, g.audience), "client grant").values()
        ),
        users=tuple(users),
        **settings.given(
            {
                "session_lifetime": settings.positive,
                "id_token_lifetime": settings.positive,
                "authorization_code_lifetime": settings.positive,
                "refresh_token_lifetime": settings.positive,
                "userinfo_token_lifetime": settings.positive,
            }
        ),
        **attack_protection.given({"brute_force_threshold": attack_protection.positive}),
    )


def load_tenant(path: str | Path | None = None) -> Tenant:
    """Read a tenant file (default: the packaged ``authserver/tenant.toml``)."""
    source = Path(path) if path else DEFAULT_TENANT_FILE
    try:
        document = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise TenantError(f"cannot read tenant file {source}: {error}") from error
    return parse_tenant(document)
