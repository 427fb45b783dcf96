"""The native app: the authorization code flow with PKCE, the article's steps in order.

  1. The native app initiates the flow and redirects the user to Auth0 sending the code_challenge
     and code_challenge_method parameters.
  2. Auth0 redirects the user to the native app with an authorization_code in the query string.
  3. The native app sends the authorization_code and code_verifier together with the redirect_uri
     and the client_id to Auth0.
  4. Auth0 validates this information and returns an Access Token (and optionally a Refresh Token).
  5. The native app can use the Access Token to call the API on behalf of the user.

:meth:`NativeApp.login` runs steps 1 to 4, one method each, and checks the ID token;
:meth:`NativeApp.use_access_token` is step 5. Then a refresh-token round trip
(:meth:`NativeApp.refresh_round_trip`): a new access token without the browser, a rotated
refresh token, a refreshed ID token checked against the login's (OpenID Connect Core §12.2),
and a word on what revocation cannot do (the API validates JWT access tokens on its own, so an
access token stays valid until it expires, whatever the authorization server revokes).

When the API refuses a call (``401``, ``403``), its ``WWW-Authenticate`` challenge is printed with
the fix it calls for (``bearer_challenge``), such as ``login --scope write:messages``.

The parts it uses: ``authorization_code`` (the request of step 1 and the checks on the response
of step 2), ``pkce``, ``loopback`` (the listener the redirect reaches), ``session`` and
``bearer_challenge``.
"""

import logging
import webbrowser
from collections.abc import Mapping
from datetime import UTC, datetime

import requests

from native_demo.authorization_code import (
    AuthorizationRequest,
    authorization_code_from,
    refresh_form,
)
from native_demo.bearer_challenge import hint
from native_demo.loopback import LoopbackListener
from native_demo.session import Session, SessionError
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
from shared.token_validation import Claims, TokenValidationError, TokenValidator

LOGIN_API_PATHS = ("/api/me", "/api/messages")

logger = logging.getLogger(__package__)


class RefreshRejected(OIDCClientError):
    """A refresh answered tokens that fail a check; they are discarded, the session is unchanged."""


class NativeApp:
    """The native application: one issuer, one client id, one API."""

    def __init__(self, config: ClientConfig, http: requests.Session, narrator: Narrator):
        self.config = config
        self.http = http
        self.narrator = narrator
        self._metadata: ProviderMetadata | None = None
        self._id_token_validator: TokenValidator | None = None

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
            self.redirect_user(request, authorization_endpoint, open_browser=open_browser)
            self.narrator.info(
                f"Waiting up to {timeout:g} s for the redirect to {listener.redirect_uri} ..."
            )
            response = listener.wait(timeout)
        code = self.receive_authorization_code(response, request)
        answer = self.send_code_and_verifier(code, request)
        return self.receive_tokens(answer, request)

    def redirect_user(
        self, request: AuthorizationRequest, authorization_endpoint: str, *, open_browser: bool
    ) -> None:
        """Step 1: the authorization request, with the code challenge, through the browser."""
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
            self.narrator.warning("No browser could be started; open the URL above yourself.")

    def receive_authorization_code(
        self, response: Mapping[str, str], request: AuthorizationRequest
    ) -> str:
        """Step 2: the code from the redirect, once its ``iss`` and ``state`` are checked."""
        self.narrator.step(
            "2",
            "Auth0 redirects the user to the native app with an authorization_code in the query "
            "string.",
        )
        self.narrator.info("Authorization response:", **response)
        code = authorization_code_from(response, request, self.metadata)
        self.narrator.info("state matches this login; iss is the expected issuer.")
        return code

    def send_code_and_verifier(self, code: str, request: AuthorizationRequest) -> requests.Response:
        """Step 3: the code exchange at the token endpoint, with the code verifier."""
        self.narrator.step(
            "3",
            "The native app sends the authorization_code and code_verifier together with the "
            "redirect_uri and the client_id to Auth0.",
        )
        return self.token_endpoint.post(request.code_exchange_form(code))

    def receive_tokens(self, answer: requests.Response, request: AuthorizationRequest) -> Session:
        """Step 4: the tokens, once the ID token is valid and carries this login's nonce."""
        self.narrator.step(
            "4",
            "Auth0 validates this information and returns an Access Token (and optionally a "
            "Refresh Token).",
        )
        tokens = self.token_endpoint.read(answer)
        if tokens.id_token is None:
            raise OIDCClientError(
                "the token response has no ID token although scope openid was requested"
            )
        claims = self.id_token_validator.validate_id_token(tokens.id_token, nonce=request.nonce)
        self.narrator.info(
            "ID token valid: signature (issuer's JWKS), iss, aud = client id, azp, exp and nonce "
            f"checked; the user is {claims.subject}."
        )
        return Session.from_tokens(self.config.issuer, self.config.client_id, tokens, claims)

    def use_access_token(self, session: Session) -> list[str]:
        """Step 5: call the API as the user; the paths it refused."""
        self.narrator.step(
            "5", "The native app can use the Access Token to call the API on behalf of the user."
        )
        return [path for path in LOGIN_API_PATHS if not self.call(session, "GET", path).ok]

    def call(
        self, session: Session, method: str, path: str, body: object | None = None
    ) -> requests.Response:
        """Call the API with the user's access token."""
        url = self.config.api_url + path
        headers = {"Authorization": f"Bearer {session.access_token}"}
        fields = body if isinstance(body, dict) else None
        self.narrator.request(method, url, headers=headers, fields=fields)
        # Never followed: a redirect would take the access token and the body to another address.
        response = self.http.request(
            method, url, headers=headers, json=body, timeout=HTTP_TIMEOUT, allow_redirects=False
        )
        self.narrator.response(response)
        if response.status_code in (401, 403):
            self.explain_refusal(response)
        return response

    def explain_refusal(self, response: requests.Response) -> None:
        """A ``401`` or ``403``: the API's ``WWW-Authenticate`` challenge, and how to fix it."""
        challenge = response.headers.get("WWW-Authenticate", "")
        self.narrator.warning(f"WWW-Authenticate: {challenge or '(none)'}")
        self.narrator.warning(f"hint: {hint(response.status_code, challenge)}")

    def refresh_round_trip(self, session: Session) -> Session:
        """After the login: a refresh, and the API called with the new access token."""
        if session.refresh_token is None:
            self.narrator.info(
                "No refresh token came back (offline_access not granted): no refresh round trip."
            )
            return session
        refreshed = self.refresh(session)
        self.call(refreshed, "GET", "/api/me")
        return refreshed

    def refresh(self, session: Session) -> Session:
        """A new access token from the refresh token, without the browser (RFC 6749 §6)."""
        if session.refresh_token is None:
            raise SessionError(
                "the session has no refresh token (was offline_access granted?); log in again"
            )
        self.narrator.step(
            "refresh",
            "The native app exchanges its refresh token for a new access token, without the "
            "browser.",
        )
        tokens = self.token_endpoint.request(
            refresh_form(self.config.client_id, session.refresh_token)
        )
        if tokens.id_token:
            # OpenID Connect Core §12.2: a refreshed ID token has no nonce to check; instead it
            # must name the same issuer, user, audience, authorized party and auth_time as the
            # ID token validated at login.
            try:
                self.id_token_validator.validate_refreshed_id_token(
                    tokens.id_token, original=Claims(session.id_token_claims)
                )
            except TokenValidationError as error:
                raise RefreshRejected(
                    f"refreshed ID token rejected: {error.reason}; its tokens were discarded, "
                    "log in again"
                ) from error
            self.narrator.info(
                "Refreshed ID token valid: signature, iss, aud, exp, and the same user (sub), azp "
                "and auth_time as the ID token validated at login (OpenID Connect Core §12.2)."
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
            "Revocation does not reach the API: an access token is a self-contained JWT that the "
            "API validates on its own, without asking the authorization server. The access token "
            "from before this refresh stays valid until it expires, even after the authorization "
            "server revokes this login's refresh tokens (as it does when a used refresh token is "
            "replayed; Auth0 behaves the same). What limits the damage: short access-token "
            "lifetimes and refresh-token rotation.",
            previous_access_token_valid_until=_utc_time(session.expires_at),
        )
        return refreshed

    @property
    def metadata(self) -> ProviderMetadata:
        """The issuer's discovery document, read once."""
        if self._metadata is None:
            self.narrator.info("Reading the issuer's discovery document for its endpoints:")
            self._metadata = fetch_provider_metadata(self.http, self.config, self.narrator)
        return self._metadata

    @property
    def token_endpoint(self) -> TokenEndpoint:
        url = self.config.token_url or self.metadata.token_endpoint
        return TokenEndpoint(self.http, url, self.narrator)

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
