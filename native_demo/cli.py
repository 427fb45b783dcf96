"""The command line of the native demo: ``login``, ``call PATH`` and ``refresh``.

``login`` runs the whole flow: steps 1-4, the ID token check, step 5 (``GET /api/me`` and
``GET /api/messages``) and a refresh-token round trip, all with the session in memory; ``--keep``
also saves it (mode 0600) for later ``call`` and ``refresh`` commands. A refresh that returns an
ID token has it checked against the login's (OpenID Connect Core §12.2).

Every failure (consent denied, timeout, an ``iss`` that does not match, an ID token that does not
validate) ends with one ``error: ...`` line on stderr and exit status 1. A redirect whose ``state``
is not this login's ends nothing: the loopback listener refuses it and goes on waiting.

Each refresh also says what revocation cannot do: the API validates JWT access tokens on its own,
so an access token stays valid until it expires, whatever the authorization server revokes.
"""

import argparse
import json
import logging
import os
import sys
import webbrowser
from datetime import UTC, datetime
from pathlib import Path

import requests

from native_demo.authorization_code import (
    DEFAULT_SCOPE,
    AuthorizationRequest,
    authorization_code_from,
    refresh_form,
)
from native_demo.loopback import LoopbackListener
from native_demo.session import DEFAULT_SESSION_PATH, Session, SessionError, SessionFile
from shared.oidc_client import (
    HTTP_TIMEOUT,
    ClientConfig,
    DiscoveryError,
    Narrator,
    OIDCClientError,
    ProviderMetadata,
    TokenEndpoint,
    fetch_provider_metadata,
    shorten_credential,
)
from shared.settings import ConfigurationError
from shared.token_validation import Claims, TokenValidationError, TokenValidator

CLIENT_ID = "native-demo"
DEFAULT_TIMEOUT_SECONDS = 120.0
LOGIN_API_PATHS = ("/api/me", "/api/messages")
INTERRUPTED_STATUS = 130  # the shell's convention for a process ended by SIGINT

logger = logging.getLogger("native_demo")


class RefreshRejected(OIDCClientError):
    """A refresh answered tokens that fail a check; they are discarded and the session is unchanged."""


class NativeApp:
    """The native application: one issuer, one client id, one API."""

    def __init__(self, config: ClientConfig, http: requests.Session, narrator: Narrator):
        self.config = config
        self.http = http
        self.narrator = narrator
        self._metadata: ProviderMetadata | None = None
        self._id_token_validator: TokenValidator | None = None

    @property
    def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            self.narrator.info("Reading the issuer's discovery document for its endpoints:")
            self._metadata = fetch_provider_metadata(self.http, self.config, self.narrator)
        return self._metadata

    @property
    def token_endpoint(self) -> TokenEndpoint:
        return TokenEndpoint(self.http, self.config.token_url or self.metadata.token_endpoint, self.narrator)

    def login(self, *, scope: str, timeout: float, open_browser: bool) -> Session:
        """Steps 1 to 4: the browser login, the code exchange and the ID token check."""
        authorization_endpoint = self.metadata.authorization_endpoint
        if authorization_endpoint is None:
            raise DiscoveryError("the discovery document names no authorization_endpoint")
        with LoopbackListener() as listener:
            request = AuthorizationRequest.new(
                client_id=self.config.client_id,
                redirect_uri=listener.redirect_uri,
                scope=scope,
                audience=self.config.audience,
                resource_indicator=self.config.resource_indicator,
            )
            listener.expect(request.state)
            self.narrator.step(
                "1",
                "The native app initiates the flow and redirects the user to Auth0 sending the "
                "code_challenge and code_challenge_method parameters.",
            )
            self.narrator.info(
                "Authorization request (the code_verifier stays in this process):",
                **request.parameters(),
                code_verifier=request.code_verifier,
            )
            url = request.url(authorization_endpoint)
            logger.info("\nOpen this URL in a browser to log in:\n%s\n", url)
            if open_browser and not webbrowser.open(url):
                self.narrator.info("No browser could be started; open the URL above yourself.")
            self.narrator.info(f"Waiting up to {timeout:g} s for the redirect to {listener.redirect_uri} ...")
            response = listener.wait(timeout)
        self.narrator.step(
            "2", "Auth0 redirects the user to the native app with an authorization_code in the query string."
        )
        self.narrator.info("Authorization response:", **response)
        code = authorization_code_from(response, request, self.metadata)
        self.narrator.info("state matches this login; iss is the expected issuer.")
        self.narrator.step(
            "3",
            "The native app sends the authorization_code and code_verifier together with the "
            "redirect_uri and the client_id to Auth0.",
        )
        endpoint = self.token_endpoint
        answer = endpoint.post(request.code_exchange_form(code))
        self.narrator.step(
            "4",
            "Auth0 validates this information and returns an Access Token (and optionally a Refresh Token).",
        )
        tokens = endpoint.read(answer)
        if tokens.id_token is None:
            raise OIDCClientError("the token response has no ID token although scope openid was requested")
        claims = self.id_token_validator.validate_id_token(tokens.id_token, nonce=request.nonce)
        self.narrator.info(
            "ID token valid: signature (issuer's JWKS), iss, aud = client id, azp, exp and nonce checked.",
            sub=claims.subject,
            name=claims.get("name"),
            email=claims.get("email"),
        )
        return Session.from_tokens(self.config.issuer, self.config.client_id, tokens, claims)

    def call(self, session: Session, method: str, path: str, body: object | None = None) -> requests.Response:
        """Step 5: call the API with the user's access token."""
        url = self.config.api_url + path
        headers = {"Authorization": f"Bearer {session.access_token}"}
        self.narrator.request(method, url, headers=headers, fields=body if isinstance(body, dict) else None)
        # Never followed: a redirect would take the access token and the body to another address.
        response = self.http.request(
            method, url, headers=headers, json=body, timeout=HTTP_TIMEOUT, allow_redirects=False
        )
        self.narrator.response(response)
        return response

    def refresh(self, session: Session) -> Session:
        """A new access token from the refresh token, without the browser (RFC 6749 §6)."""
        if session.refresh_token is None:
            raise SessionError("the session has no refresh token (was offline_access granted?); log in again")
        self.narrator.step(
            "refresh",
            "The native app exchanges its refresh token for a new access token, without the browser.",
        )
        tokens = self.token_endpoint.request(refresh_form(self.config.client_id, session.refresh_token))
        if tokens.id_token:
            # OpenID Connect Core §12.2: a refreshed ID token has no nonce to check; instead it
            # must name the same issuer, user, audience, authorized party and auth_time as the
            # ID token validated at login.
            try:
                claims = self.id_token_validator.validate_refreshed_id_token(
                    tokens.id_token, original=Claims(session.id_token_claims)
                )
            except TokenValidationError as error:
                raise RefreshRejected(
                    f"refreshed ID token rejected: {error.reason}; its tokens were discarded, log in again"
                ) from error
            self.narrator.info(
                "Refreshed ID token valid: signature, iss, aud, exp, and the same user (sub), azp "
                "and auth_time as the ID token validated at login (OpenID Connect Core §12.2).",
                sub=claims.subject,
            )
        refreshed = session.refreshed(tokens)
        rotated = refreshed.refresh_token != session.refresh_token
        self.narrator.info(
            "Refresh token rotated: the used one is now invalid."
            if rotated
            else "The refresh token was not rotated.",
            used=shorten_credential(session.refresh_token),
            new=shorten_credential(refreshed.refresh_token),
        )
        self.narrator.info(
            "Revocation does not reach the API: an access token is a self-contained JWT that the API "
            "validates on its own, without asking the authorization server. The access token from "
            "before this refresh stays valid until it expires, even after the authorization server "
            "revokes this login's refresh tokens (as it does when a used refresh token is replayed; "
            "Auth0 behaves the same). What limits the damage: short access-token lifetimes and "
            "refresh-token rotation.",
            previous_access_token_valid_until=_utc_time(session.expires_at),
        )
        return refreshed

    @property
    def id_token_validator(self) -> TokenValidator:
        if self._id_token_validator is None:
            # OpenID Connect Core §3.1.3.7: the ID token's audience is the client id, not the API.
            self._id_token_validator = TokenValidator(
                self.config.issuer, audience=self.config.client_id, jwks_url=self.metadata.jwks_uri
            )
        return self._id_token_validator


def _utc_time(timestamp: float | None) -> str:
    if timestamp is None:
        return "unknown: the token response had no expires_in"
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def command_login(app: NativeApp, args: argparse.Namespace) -> int:
    scope = " ".join(dict.fromkeys(DEFAULT_SCOPE + tuple(args.scope.split())))
    session = app.login(scope=scope, timeout=args.timeout, open_browser=not args.no_browser)
    app.narrator.step("5", "The native app can use the Access Token to call the API on behalf of the user.")
    failed = [path for path in LOGIN_API_PATHS if not app.call(session, "GET", path).ok]
    if session.refresh_token is None:
        app.narrator.info("No refresh token came back (offline_access not granted): no refresh round trip.")
    else:
        session = app.refresh(session)
        app.call(session, "GET", "/api/me")
    if args.keep:
        SessionFile(args.session).save(session)
        app.narrator.info(f"Session kept in {args.session} (mode 0600) for `call` and `refresh`.")
    if failed:
        return _fail(f"login succeeded, but the API refused {', '.join(failed)}")
    app.narrator.info("Done.")
    return 0


def command_call(app: NativeApp, args: argparse.Namespace) -> int:
    store = SessionFile(args.session)
    session = store.load(app.config.issuer, app.config.client_id)
    if session.access_token_expired():
        session = app.refresh(session)
        store.save(session)
    method = "GET" if args.data is None else "POST"
    response = app.call(session, method, args.path, args.data)
    if response.status_code == 401 and session.refresh_token:
        app.narrator.info("The API refused the access token; refreshing once and retrying.")
        session = app.refresh(session)
        store.save(session)
        response = app.call(session, method, args.path, args.data)
    if not response.ok:
        return _fail(f"the API answered {response.status_code} to {method} {args.path}")
    return 0


def command_refresh(app: NativeApp, args: argparse.Namespace) -> int:
    store = SessionFile(args.session)
    store.save(app.refresh(store.load(app.config.issuer, app.config.client_id)))
    app.narrator.info(f"Session in {args.session} updated.")
    return 0


def api_path(text: str) -> str:
    """A path on the configured API; a full URL is refused so the token never goes elsewhere."""
    if not text.startswith("/") or text.startswith("//") or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError("PATH must be a path on the API such as /api/messages")
    return text


def json_body(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from error


def positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--client-id", help="client id (default: AUTH_CLIENT_ID or native-demo; try partner-app)"
    )
    common.add_argument(
        "--session",
        type=Path,
        default=DEFAULT_SESSION_PATH,
        help=f"session file (default {DEFAULT_SESSION_PATH})",
    )
    parser = argparse.ArgumentParser(
        prog="python -m native_demo",
        description=(
            "Log a user in from the command line with the authorization code flow + PKCE and a loopback "
            "redirect, then call the Flowlab API on the user's behalf. Settings come from AUTH_ISSUER "
            "(or AUTH0_DOMAIN), AUTH_AUDIENCE, AUTH_CLIENT_ID and API_URL; with none set it uses the local "
            "authorization server and API."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    login = commands.add_parser(
        "login", parents=[common], help="log in in the browser, call the API, refresh"
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the login URL instead of opening a browser"
    )
    login.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for the login (default 120)",
    )
    login.add_argument(
        "--scope", default="", help=f"extra scopes, space separated, added to: {' '.join(DEFAULT_SCOPE)}"
    )
    login.add_argument(
        "--keep", action="store_true", help="save the session (mode 0600) for `call` and `refresh`"
    )
    login.set_defaults(run=command_login)
    call = commands.add_parser("call", parents=[common], help="call the API with the kept session")
    call.add_argument("path", metavar="PATH", type=api_path, help="API path, e.g. /api/messages")
    call.add_argument("--data", type=json_body, help='JSON body; makes it a POST, e.g. \'{"text": "hi"}\'')
    call.set_defaults(run=command_call)
    refresh = commands.add_parser("refresh", parents=[common], help="refresh the kept session's access token")
    refresh.set_defaults(run=command_refresh)
    return parser


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    environ = dict(os.environ, AUTH_CLIENT_ID=args.client_id) if args.client_id else os.environ
    http = requests.Session()
    try:
        config = ClientConfig.from_env(environ, default_client_id=CLIENT_ID)
        return args.run(NativeApp(config, http, Narrator(logger)), args)
    except (OIDCClientError, ConfigurationError) as error:
        return _fail(str(error))
    except TokenValidationError as error:
        return _fail(f"ID token rejected: {error.reason}")
    except requests.RequestException as error:
        return _fail(
            f"cannot reach {error.request.url if error.request else 'the server'} ({type(error).__name__})"
        )
    except KeyboardInterrupt:
        _fail("interrupted")
        return INTERRUPTED_STATUS
    finally:
        http.close()
