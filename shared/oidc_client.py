"""What every Flowlab demo client shares: settings, discovery, the token endpoint and narration.

A client never hard-codes an authorization server's paths. It is given an issuer and reads the
issuer's discovery document (OpenID Connect Discovery 1.0,
``<issuer>.well-known/openid-configuration``) to learn the ``authorization_endpoint``,
``token_endpoint``, ``userinfo_endpoint`` and ``jwks_uri``. The same program therefore runs
against the local authorization server, an Auth0 tenant or another OpenID provider by
environment variables alone:

| variable                    | default                       | meaning                          |
|-----------------------------|-------------------------------|----------------------------------|
| ``AUTH_ISSUER``             | ``http://localhost:9000/``    | the issuer, compared exactly     |
| ``AUTH0_DOMAIN``            | -                             | shortcut: ``https://DOMAIN/``    |
| ``AUTH_AUDIENCE``           | ``https://api.flowlab.local`` | the API identifier (audience)    |
| ``AUTH_CLIENT_ID``          | the demo's own client id      | the application's client id      |
| ``AUTH_CLIENT_SECRET``      | local issuer: the demo secret | confidential clients; not shown  |
| ``API_URL``                 | ``http://localhost:3010``     | base URL of the protected API    |
| ``AUTH_DISCOVERY_URL``      | from the issuer               | where discovery is fetched       |
| ``AUTH_TOKEN_URL``          | from discovery                | token endpoint override          |
| ``AUTH_RESOURCE_INDICATOR`` | ``0``                         | ``1``: also send RFC 8707 resource |

Each is read with ``shared.settings.Environment``, the reader of every Flowlab part.

The two overrides exist for docker-compose, where a container reaches the authorization server by
another address than the browser-facing issuer; tokens still carry the configured issuer.

Token requests never follow a redirect: a 307 or 308 would have ``requests`` post the form, client
secret included, to whatever host the ``Location`` names. A redirect is a
:class:`TokenEndpointError`.

The :class:`Narrator` prints each numbered step of a flow as it happens: the request sent, the
response, and the decoded token claims. Client secrets and passwords are never printed; tokens,
codes and verifiers are shown as a short prefix and their length. Text that came from outside (a
server's reason phrase or error, a URL from discovery, an authorization response) is escaped, so
it cannot start a forged log line (CWE-117).
"""

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import jwt
import requests

from shared.log_safety import escaped
from shared.settings import LOCAL_API_URL, LOCAL_AUDIENCE, Environment, is_loopback

DISCOVERY_PATH = ".well-known/openid-configuration"
DISCOVERY_FIELDS_USED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "authorization_response_iss_parameter_supported",
)

# (connect, read) seconds: a demo that hangs on a dead server teaches nothing.
HTTP_TIMEOUT = (3.05, 10)

# Fields whose value is a secret: never printed, not even in part.
SECRET_FIELDS = frozenset({"client_secret", "password", "client_assertion"})
# Fields whose value is a credential: printed as a short prefix and the length only.
CREDENTIAL_FIELDS = frozenset(
    {"access_token", "refresh_token", "id_token", "code", "code_verifier", "subject_token"}
)
CREDENTIAL_PREFIX_LENGTH = 6


class OIDCClientError(Exception):
    """A step of a flow failed; ``str(error)`` is the one-line message shown to the user."""


class DiscoveryError(OIDCClientError):
    """The discovery document could not be fetched or does not describe the configured issuer."""


class TokenEndpointError(OIDCClientError):
    """The token endpoint refused the request (RFC 6749 §5.2) or answered something unusable."""

    def __init__(self, status: int, error: str, description: str = ""):
        self.status = status
        self.error = error
        self.description = description
        detail = f": {escaped(description)}" if description else ""
        super().__init__(f"token endpoint answered {status} {escaped(error)}{detail}")


@dataclass(frozen=True)
class ClientConfig:
    """The settings one demo client runs with."""

    issuer: str
    audience: str
    client_id: str
    client_secret: str | None
    api_url: str
    discovery_url: str
    token_url: str | None
    resource_indicator: bool

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        default_client_id: str,
        default_client_secret: str | None = None,
    ) -> "ClientConfig":
        """Read the settings from ``environ`` (``os.environ`` or a test mapping)."""
        env = Environment(environ)
        issuer = env.issuer()
        return cls(
            issuer=issuer,
            audience=env.text("AUTH_AUDIENCE", LOCAL_AUDIENCE),
            client_id=env.text("AUTH_CLIENT_ID", default_client_id),
            # The local demo secret is only ever sent to a local authorization server.
            client_secret=env.text(
                "AUTH_CLIENT_SECRET", default_client_secret if is_loopback(issuer) else None
            ),
            api_url=env.http_url("API_URL", LOCAL_API_URL).rstrip("/"),
            discovery_url=env.http_url("AUTH_DISCOVERY_URL", discovery_url_for(issuer)),
            token_url=env.http_url("AUTH_TOKEN_URL"),
            resource_indicator=env.flag("AUTH_RESOURCE_INDICATOR"),
        )


def discovery_url_for(issuer: str) -> str:
    """OpenID Connect Discovery 1.0 §4: the issuer, a slash, then
    ``.well-known/openid-configuration``."""
    return issuer.rstrip("/") + "/" + DISCOVERY_PATH


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the demos use."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: str | None
    userinfo_endpoint: str | None
    jwks_uri: str | None
    # RFC 9207 §3: the server promises an ``iss`` parameter in every authorization response.
    authorization_response_iss_parameter_supported: bool


def fetch_provider_metadata(
    session: requests.Session, config: ClientConfig, narrator: "Narrator"
) -> ProviderMetadata:
    """Fetch and check the issuer's discovery document."""
    narrator.request("GET", config.discovery_url)
    try:
        response = session.get(config.discovery_url, timeout=HTTP_TIMEOUT)
    except requests.RequestException as error:
        raise DiscoveryError(
            f"discovery document unreachable at {config.discovery_url} ({type(error).__name__})"
        ) from error
    narrator.response(response, only=DISCOVERY_FIELDS_USED)
    document = json_object(response)
    if response.status_code != 200 or document is None:
        raise DiscoveryError(
            f"discovery document at {config.discovery_url} answered {response.status_code}, "
            "not a JSON object"
        )
    # OpenID Connect Discovery 1.0 §4.3: "The issuer value returned MUST be identical to the
    # Issuer URL that was used as the prefix to /.well-known/openid-configuration".
    if document.get("issuer") != config.issuer:
        raise DiscoveryError(
            f"discovery document names issuer {document.get('issuer')!r}, "
            f"expected {config.issuer!r}"
        )
    token_endpoint = document.get("token_endpoint")
    if not isinstance(token_endpoint, str):
        raise DiscoveryError("discovery document has no token_endpoint")
    return ProviderMetadata(
        issuer=config.issuer,
        token_endpoint=token_endpoint,
        authorization_endpoint=_optional_string(document, "authorization_endpoint"),
        userinfo_endpoint=_optional_string(document, "userinfo_endpoint"),
        jwks_uri=_optional_string(document, "jwks_uri"),
        authorization_response_iss_parameter_supported=document.get(
            "authorization_response_iss_parameter_supported"
        )
        is True,
    )


def _optional_string(document: dict, name: str) -> str | None:
    value = document.get(name)
    return value if isinstance(value, str) else None


def json_object(response: requests.Response) -> dict | None:
    """The response's JSON body if it is an object, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


#: The longest access-token lifetime believed (ten years); a longer one is treated as unknown.
MAX_EXPIRES_IN = 10 * 365 * 86400


@dataclass(frozen=True)
class TokenResponse:
    """A successful token response (RFC 6749 §5.1; OpenID Connect Core §3.1.3.3)."""

    access_token: str
    expires_in: int | None
    scope: str | None
    refresh_token: str | None
    id_token: str | None


class TokenEndpoint:
    """POSTs form requests to the token endpoint and reads its answers, narrating both."""

    def __init__(self, session: requests.Session, url: str, narrator: "Narrator"):
        self.session = session
        self.url = url
        self.narrator = narrator

    def post(self, form: Mapping[str, str]) -> requests.Response:
        """Send one token request; network errors propagate so a caller may retry them."""
        self.narrator.request("POST", self.url, fields=form)
        # RFC 6749 §2.3.1 allows the client secret in the body (Auth0's default) or Basic auth.
        # RFC 9110 §15.4.8: on a 307 "the user agent MUST NOT change the request method if it
        # performs an automatic redirection", so following one re-sends the form, client secret
        # included, to another host: redirects are never followed (``read`` refuses them).
        return self.session.post(
            self.url,
            data=dict(form),
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT,
            allow_redirects=False,
        )

    def read(self, response: requests.Response) -> TokenResponse:
        """Narrate the answer and return the tokens, or raise :class:`TokenEndpointError`."""
        self.narrator.response(response)
        if response.is_redirect:
            location = response.headers["Location"]
            raise TokenEndpointError(
                response.status_code,
                "unexpected_response",
                f"redirect to {location} not followed (a token request carries client credentials)",
            )
        body = json_object(response)
        if response.status_code != 200 or body is None:
            body = body or {}
            raise TokenEndpointError(
                response.status_code,
                str(body.get("error", "unexpected_response")),
                str(body.get("error_description", "")),
            )
        access_token = body.get("access_token")
        # RFC 6749 §7.1: a client must understand the token type; these demos speak Bearer only.
        if not isinstance(access_token, str) or str(body.get("token_type", "")).lower() != "bearer":
            raise TokenEndpointError(
                response.status_code,
                "unexpected_response",
                "no Bearer access_token in the response",
            )
        expires_in = body.get("expires_in")
        # RFC 6749 §5.1: expires_in is "The lifetime in seconds of the access token". One that is
        # not a whole number of seconds from 1 to MAX_EXPIRES_IN is treated as not given.
        known_lifetime = type(expires_in) is int and 0 < expires_in <= MAX_EXPIRES_IN
        token_response = TokenResponse(
            access_token=access_token,
            expires_in=expires_in if known_lifetime else None,
            scope=_optional_string(body, "scope"),
            refresh_token=_optional_string(body, "refresh_token"),
            id_token=_optional_string(body, "id_token"),
        )
        self.narrator.token_claims("access token", token_response.access_token)
        if token_response.id_token:
            self.narrator.token_claims("ID token", token_response.id_token)
        return token_response

    def request(self, form: Mapping[str, str]) -> TokenResponse:
        """Send one token request and read the answer."""
        return self.read(self.post(form))


def shorten_credential(value: str) -> str:
    """A credential as a short prefix and its length: enough to tell two apart, no use to a
    thief."""
    return f"{value[:CREDENTIAL_PREFIX_LENGTH]}…({len(value)} chars)"


def redact(fields: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``fields`` safe to print: secrets hidden, credentials shortened."""
    safe: dict[str, object] = {}
    for name, value in fields.items():
        if name in SECRET_FIELDS:
            safe[name] = "[redacted]"
        elif name in CREDENTIAL_FIELDS and isinstance(value, str):
            safe[name] = shorten_credential(value)
        else:
            safe[name] = value
    return safe


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers safe to print: the credential in ``Authorization`` is shortened."""
    safe = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, credential = value.partition(" ")
            value = f"{scheme} {shorten_credential(credential)}"
        safe[name] = value
    return safe


def decode_for_display(token: str) -> dict | None:
    """Header and claims of a JWT, decoded WITHOUT verification, for display only (None if not a
    JWT)."""
    try:
        return {
            "header": jwt.get_unverified_header(token),
            "claims": jwt.decode(token, options={"verify_signature": False}),
        }
    except jwt.PyJWTError:
        return None


def random_url_safe(byte_count: int = 32) -> str:
    """An unguessable value for ``state`` or ``nonce``."""
    return secrets.token_urlsafe(byte_count)


class Narrator:
    """Prints a flow's numbered steps, the HTTP exchanges and decoded claims to a logger.

    Every event ends in ``_log(level, message, details)``: here a line with the details as
    indented JSON below it, for a person reading a terminal; a subclass changes the layout by
    overriding ``_with_details``, or hands the details to its log formatter by overriding
    ``_log``.
    """

    def __init__(self, logger: logging.Logger):
        self.logger = logger

    def step(self, label: str, text: str) -> None:
        self._log(logging.INFO, f"Step {label}. {text}", {})

    def info(self, message: str, /, **details: object) -> None:
        self._log(logging.INFO, message, redact(details))

    def warning(self, message: str, /, **details: object) -> None:
        self._log(logging.WARNING, message, redact(details))

    def request(
        self,
        method: str,
        url: str,
        *,
        fields: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        shown: dict[str, object] = {}
        if headers:
            shown["headers"] = redact_headers(headers)
        if fields:
            shown["body"] = redact(fields)
        self._log(logging.INFO, f"-> {method} {url}", shown)

    def response(self, response: requests.Response, *, only: tuple[str, ...] = ()) -> None:
        """The status and the JSON body (limited to the fields ``only`` names, if given)."""
        body = json_object(response)
        if body is not None and only:
            body = {name: body[name] for name in only if name in body}
        shown: object = redact(body) if body is not None else _text_excerpt(response)
        self._log(logging.INFO, f"<- {response.status_code} {response.reason}", {"body": shown})

    def token_claims(self, title: str, token: str) -> None:
        decoded = decode_for_display(token)
        if decoded is None:
            self._log(
                logging.INFO, f"{title} is opaque (not a JWT)", {"token": shorten_credential(token)}
            )
            return
        self._log(logging.INFO, f"{title} (decoded for display)", decoded)

    def _log(self, level: int, message: str, details: Mapping[str, object]) -> None:
        self.logger.log(level, "%s", self._with_details(message, details))

    def _with_details(self, message: str, details: Mapping[str, object]) -> str:
        message = escaped(message)
        if not details:
            return message
        text = _printable_json(details, indent=2)
        return message + "\n" + "\n".join("      " + line for line in text.split("\n"))


def _printable_json(details: Mapping[str, object], **layout: object) -> str:
    """``details`` as JSON with every unprintable character escaped. ``ensure_ascii=False``
    keeps names readable but leaves U+2028, U+0085 and the like raw, which log viewers take for
    line breaks: those become ``\\u`` escapes, the same JSON. Only the layout's own line breaks
    stay (json.dumps escapes those inside strings)."""
    text = json.dumps(details, default=str, ensure_ascii=False, **layout)
    return "".join(
        character if character.isprintable() or character == "\n" else json.dumps(character)[1:-1]
        for character in text
    )


def _text_excerpt(response: requests.Response, limit: int = 200) -> str:
    text = response.text
    return text if len(text) <= limit else text[:limit] + f"…({len(text)} chars)"
