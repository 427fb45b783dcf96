"""The authorization server: authlib's Flask ``AuthorizationServer`` wired to the tenant and state.

It registers the grants of :mod:`authserver.grants`, token revocation (RFC 7009), the UserInfo
endpoint (OpenID Connect Core §5.3) and the ``iss`` authorization response parameter
(RFC 9207), and signs access tokens for the API each request names (:mod:`authserver.tokens`).
It reads every request's parameters (none may be repeated) and authenticates clients: one
method per request, the same digest work whether the client exists or not, and a limit on
failures (:mod:`authserver.throttle`).
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.integrations import flask_oauth2
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import current_app, g
from flask import request as flask_request
from joserfc.jws import extract_compact
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from shared.log_safety import escaped

from . import keys, sessions, web_message
from .clock import Clock, now
from .db import get_storage
from .grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    ImplicitGrant,
    OpenIDImplicitGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from .oidc import OpenIDCode, OpenIDRefreshToken
from .revocation import RevocationEndpoint
from .tenant import Application, ResourceServer, Tenant, client_secret_matches
from .throttle import ClientAuthenticationThrottle
from .tokens import AccessTokenGenerator
from .userinfo import UserInfoEndpoint

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How the throttle counts a client id that is not one of the tenant's (one key for them all).
UNKNOWN_CLIENT = "<unknown client>"


def not_repeated(parameters: MultiDict) -> MultiDict:
    # RFC 6749 §3.1 (authorization endpoint) and §3.2 (token endpoint): "Request and response
    # parameters MUST NOT be included more than once."
    for name, values in parameters.lists():
        if len(values) > 1:
            log.info("request refused: parameter %s given %d times", escaped(name), len(values))
            raise InvalidRequestError("Request parameters must not be included more than once.")
    return parameters


class _JSONMembers(list):
    """A JSON object as its (name, value) members, in order, a repeated name kept repeated."""


def _read_body(read: Callable[[], T]) -> T:
    """``read()`` of the body; a body that cannot be read (malformed framing, 400; over the size
    limit, 413) is an OAuth ``invalid_request`` of the same status.

    RFC 6749 §5.2: "invalid_request: The request is missing a required parameter, [...] or is
    otherwise malformed."
    """
    try:
        return read()
    except HTTPException as error:
        log.info("POST body refused: %s", escaped(error.name))
        raise InvalidRequestError("The body could not be read.", status_code=error.code) from None


def _is_unicode(text: str) -> bool:
    """``text`` has no lone surrogate: it can be encoded as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _body_parameters(request) -> MultiDict:
    """A POST body's parameters: a form, or (as Auth0 accepts) a JSON object of strings.

    A JSON member whose value is ``null`` is absent, as Auth0 reads it: auth0-python's
    ``GetToken`` always sends ``"organization": null``.
    """
    if not request.is_json:
        return not_repeated(_read_body(lambda: request.form))
    body = _read_body(request.get_data)
    try:
        # RFC 8259 §8.1: "JSON text exchanged between systems that are not part of a closed
        # ecosystem MUST be encoded using UTF-8" (json.loads would also take UTF-16 and UTF-32).
        document = json.loads(body.decode("utf-8"), object_pairs_hook=_JSONMembers)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        document = None
    if not isinstance(document, _JSONMembers):
        log.info("POST body refused: JSON, but not an object")
        raise InvalidRequestError("The body must be a form or a JSON object of strings.")
    for name, value in document:
        if value is not None and not isinstance(value, str):
            log.info(
                "POST body refused: JSON member %s is a %s, not a string or null",
                escaped(name),
                type(value).__name__,
            )
            raise InvalidRequestError("The body must be a form or a JSON object of strings.")
        if not _is_unicode(name) or value is not None and not _is_unicode(value):
            # RFC 8259 §8.2: a string with an escaped lone surrogate ("\uDEAD") is not Unicode,
            # and "the behavior of software that receives JSON texts containing such values is
            # unpredictable": here, SQLite cannot store or look it up.
            log.info("POST body refused: JSON member %s is not Unicode text", escaped(name))
            raise InvalidRequestError("The body must be a form or a JSON object of strings.")
    return not_repeated(MultiDict([(name, value) for name, value in document if value is not None]))


def request_parameters(request) -> MultiDict:
    """The OAuth parameters of a request; InvalidRequestError when malformed or repeated.

    Authorization requests travel in the query string (of /authorize, and of the login and
    consent pages that continue them); the token and revocation endpoints read the POST body;
    userinfo reads nothing but its Authorization header. Read and checked once per request
    (the blueprint's check and authlib's request share the result).
    """
    if "oauth_parameters" not in g:
        g.oauth_parameters = _read_parameters(request)
    return g.oauth_parameters


def _read_parameters(request) -> MultiDict:
    if request.blueprint != "oauth":
        return not_repeated(request.args)
    if request.method != "POST":
        return MultiDict()
    return _body_parameters(request)


class Parameters(OAuth2Payload):
    def __init__(self, parameters: MultiDict):
        self._parameters = parameters

    @property
    def data(self) -> MultiDict:
        return self._parameters

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {key: self._parameters.getlist(key) for key in self._parameters}


class Auth0Request(OAuth2Request):
    """An authlib request whose parameters are given: the query string or the POST body.

    Its URI is built on the issuer, not on the ``Host`` the request came with (containers reach
    the server under another name), so authlib's transport check judges the issuer.
    """

    def __init__(self, request, issuer: str, parameters: MultiDict):
        super().__init__(
            request.method, issuer.rstrip("/") + request.full_path, headers=request.headers
        )
        self._request = request
        self._parameters = parameters
        self.payload = Parameters(parameters)
        #: The API the token is for (set by the grant).
        self.resource_server: ResourceServer | None = None
        #: The grant (stored authorization) the tokens of this request belong to.
        self.grant_id: str | None = None
        #: The scope a user's token gets, by (user id, requested scope): computed once per request.
        self.granted_scopes: dict[tuple[str, str | None], str] = {}
        #: The SSO session's ``sid``, at the authorization endpoint (authserver.sessions).
        self.sid: str | None = None
        #: The ``sid`` of the grant's session, at the token endpoint: read in the transaction
        #: that uses the code or the refresh token (authserver.grants.base) when the answer has
        #: an ID token, the only read of it (None: the grant was made in no session).
        self.grant_sid: str | None = None
        #: The scope of the token response an ID token is made for (authserver.oidc).
        self.id_token_scope: str | None = None

    @property
    def args(self) -> MultiDict:
        return self._request.args

    @property
    def form(self) -> MultiDict:
        return self._parameters


@dataclass(frozen=True)
class ClientCredentials:
    """How a request authenticates its client: the one method it uses, the client id, the secret."""

    method: str
    client_id: str | None
    client_secret: str = ""


def _basic_credentials(request) -> tuple[str | None, str | None] | None:
    """The client id and secret of an HTTP Basic ``Authorization`` header; None without one."""
    authorization = request.headers.get("Authorization", "")
    scheme = authorization.split(None, 1)[0] if authorization.strip() else ""
    if scheme.lower() != "basic":
        return None
    # RFC 7235 §2.1: "credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]": spaces only.
    # "Basic<TAB>..." is malformed, not something to ignore while the body's credentials are used.
    if not authorization.startswith(f"{scheme} "):
        raise InvalidClientError(status_code=401, description="Malformed client credentials.")
    try:
        return extract_basic_authorization(request.headers)
    except UnicodeDecodeError as error:
        # RFC 6749 §2.3.1: HTTP Basic client credentials are UTF-8 once base64-decoded; authlib
        # lets the decoding error of anything else escape.
        raise InvalidClientError(
            status_code=401, description="Malformed client credentials."
        ) from error


def presented_credentials(request) -> ClientCredentials:
    """The client authentication a request presents; InvalidRequestError when more than one."""
    body = request.payload.data
    body_client_id, body_secret = body.get("client_id"), body.get("client_secret")
    basic = _basic_credentials(request)
    if basic is None:
        if body_secret:
            return ClientCredentials("client_secret_post", body_client_id, body_secret)
        return ClientCredentials("none", body_client_id)
    client_id, client_secret = basic
    # RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    # request." The secret in the body as well as in the Authorization header is two.
    if body_secret:
        log.info(
            "client %s: secret both in the Authorization header and the body", escaped(client_id)
        )
        raise InvalidRequestError("Use one client authentication method only.")
    # A body client_id naming the client of the Authorization header is allowed (many SDKs send
    # it); naming another would make one request speak for two clients.
    if body_client_id is not None and body_client_id != client_id:
        log.info("client %s: body names client_id %s", escaped(client_id), escaped(body_client_id))
        raise InvalidRequestError("The client_id differs from the authenticated client.")
    return ClientCredentials("client_secret_basic", client_id, client_secret or "")


class TooManyAttemptsError(OAuth2Error):
    """Auth0's answer once too many attempts failed: 429 ``too_many_attempts``."""

    error = "too_many_attempts"
    status_code = 429

    def __init__(self, retry_after: int):
        super().__init__("Too many failed attempts. Try again later.")
        self.retry_after = retry_after

    def get_headers(self):
        # RFC 6585 §4: "The response representations SHOULD include details explaining the
        # condition, and MAY include a Retry-After header indicating how long to wait before
        # making a new request."
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class IssuerParameterInResponseMode(IssuerParameter):
    """RFC 9207 ``iss``, put where the other response parameters are (query or fragment)."""

    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer

    def add_issuer_parameter(self, authorization_server, response) -> None:
        # RFC 9207 §2: "In authorization responses to the client, including error responses, an
        # authorization server supporting this specification MUST indicate its identity by
        # including the iss parameter in the response." Fragment responses get it in the fragment.
        if response.location:
            in_fragment = bool(urlsplit(response.location).fragment)
            response.location = add_params_to_uri(
                response.location, [("iss", self.issuer)], fragment=in_fragment
            )


class AuthorizationServer(flask_oauth2.AuthorizationServer):
    def __init__(self, tenant: Tenant, issuer: str, *, clock: Clock):
        super().__init__()
        self.tenant = tenant
        self.issuer = issuer
        self.userinfo_api = tenant.userinfo_api(issuer)
        self.issuer_parameter = IssuerParameterInResponseMode(issuer)
        self.throttle = ClientAuthenticationThrottle(clock=clock)
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(self)]
        )
        self.register_grant(ImplicitGrant)
        self.register_grant(OpenIDImplicitGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(RefreshTokenGrant, [OpenIDRefreshToken(self)])
        # RFC 9700 §2.4: "The resource owner password credentials grant [RFC6749] MUST NOT be
        # used." Its grant class is not registered: grant_type=password is unsupported_grant_type.
        self.register_endpoint(RevocationEndpoint)
        self.register_endpoint(UserInfoEndpoint(self))
        self.register_extension(self.issuer_parameter)

    def storage(self):
        return get_storage()

    def signing_key(self):
        # Read once per request: its access token and its ID token are signed with one key.
        if "signing_key" not in g:
            g.signing_key = keys.signing_key(self.storage())
        return g.signing_key

    def api_or_userinfo(self, identifier: str) -> ResourceServer:
        """The API a stored grant was for (it may have left the tenant file since)."""
        if identifier == self.userinfo_api.identifier:
            return self.userinfo_api
        api = self.tenant.find_api(identifier)
        if api is None:
            raise InvalidGrantError("The API of this grant no longer exists.")
        return api

    def query_client(self, client_id: str):
        return self.tenant.find_application(client_id)

    def authenticate_client(self, request, methods, endpoint="token") -> Application:
        """The client the request authenticates with the one method it uses, out of ``methods``."""
        credentials = presented_credentials(request)
        address = flask_request.remote_addr
        # RFC 6749 §2.3.1: "Since this client authentication method involves a password, the
        # authorization server MUST protect any endpoint utilizing it against brute force
        # attacks." At a limit of throttle.py, no secret is checked at all.
        throttled_as = (
            credentials.client_id if self.query_client(credentials.client_id) else UNKNOWN_CLIENT
        )
        retry_after = self.throttle.retry_after(self.storage(), throttled_as, address)
        if retry_after is not None:
            log.warning(
                "client %s from %s: refused for %d s after too many failed authentications",
                escaped(credentials.client_id),
                escaped(address),
                retry_after,
            )
            raise TooManyAttemptsError(retry_after)
        client, failure = self._check_credentials(credentials, methods, endpoint)
        if client is None:
            self.throttle.record_failure(self.storage(), throttled_as, address)
            client_id = escaped(credentials.client_id)
            log.info(
                "client %s from %s: authentication failed: %s", client_id, escaped(address), failure
            )
            # The same answer for every failure: it tells nobody which client ids exist.
            raise InvalidClientError(status_code=401, description="Client authentication failed.")
        request.auth_method = credentials.method
        return client

    def _check_credentials(
        self, credentials: ClientCredentials, methods, endpoint
    ) -> tuple[Application | None, str]:
        """The client ``credentials`` authenticate, or None and why not (for the log)."""
        client = self.query_client(credentials.client_id)
        secret_matches = True
        if credentials.method != "none":
            # A secret costs one digest whether its client exists or not (timing tells nothing).
            if client is None:
                secret_matches = client_secret_matches(None, credentials.client_secret)
            else:
                secret_matches = client.check_client_secret(credentials.client_secret)
        if client is None:
            return None, "unknown client"
        if credentials.method not in methods or not client.check_endpoint_auth_method(
            credentials.method, endpoint
        ):
            return None, f"{credentials.method} is not allowed for this client here"
        if not secret_matches:
            return None, "the client secret does not match"
        return client, ""

    def create_oauth2_request(self, request) -> Auth0Request:
        # The blueprint of the token, revocation and userinfo endpoints refuses malformed or
        # repeated parameters before this point; the views of authorization requests catch it.
        return Auth0Request(flask_request, self.issuer, request_parameters(flask_request))

    def get_authorization_grant(self, request):
        # RFC 6749 §4.1.2.1: error_description "MUST NOT include characters outside the set
        # %x20-21 / %x23-5B / %x5D-7E". authlib copies response_type into its description;
        # no valid response type contains other characters.
        if invalid_error_characters(request.payload.response_type or ""):
            raise InvalidRequestError("Malformed 'response_type'.")
        return super().get_authorization_grant(request)

    def generate_token(
        self,
        grant_type,
        client,
        user=None,
        scope=None,
        expires_in=None,
        include_refresh_token=True,
        *,
        api,
    ) -> dict:
        # Auth0: tokens handed to the browser by the authorization endpoint (implicit grant) use
        # the API's "Token Expiration For Browser Flows"; all others its "Token Expiration".
        lifetime = (
            api.token_lifetime_for_web
            if grant_type == ImplicitGrant.GRANT_TYPE
            else api.token_lifetime
        )
        generator = AccessTokenGenerator(
            self.issuer, api, self.signing_key(), lifetime, issued_at=now()
        )
        return generator.generate(
            grant_type, client, user, scope, include_refresh_token=include_refresh_token
        )

    def remember_logged_in(self, storage, client: Application, sid: str) -> None:
        """``client`` got an ID token in the session ``sid``."""
        # Back-Channel Logout §2.3: "OPs supporting back-channel logout need to keep track of the
        # set of logged-in RPs so that they know what RPs to contact at their back-channel logout
        # URIs to cause them to log out." Kept on the server, for the applications with a URI.
        if client.backchannel_logout_uri:
            storage.add_session_client(sid, client.client_id)

    def save_token(self, token: dict, request: Auth0Request) -> None:
        storage = self.storage()
        if request.grant_id is None:
            # A machine's token belongs to no user's grant: nothing can revoke it, nothing to store.
            return
        claims = json.loads(extract_compact(token["access_token"].encode()).payload)
        storage.save_access_token(claims["jti"], request.grant_id, claims["exp"])
        if "refresh_token" in token:
            if request.refresh_token:
                source, expires_at = request.refresh_token, request.refresh_token.expires_at
            else:
                source = request.authorization_code
                expires_at = now() + self.tenant.refresh_token_lifetime
            storage.save_refresh_token(token["refresh_token"], source, expires_at)

    def create_authorization_response(self, request=None, grant_user=None, grant=None):
        if grant_user is not None:
            grant.request.sid = sessions.current_sid()
        storage = self.storage()
        # One transaction: the nonce's check and the grant that records it, the code or the
        # implicit grant's tokens, and the grant's session. Stored one by one, a fault after the
        # grant left its nonce used, and the application's retry was refused as a replay.
        with storage.transaction():
            response = super().create_authorization_response(request, grant_user, grant)
            if grant.request.grant_id is not None and grant.request.sid is not None:
                # The code's tokens, and the refresh tokens after them, are issued at the token
                # endpoint, without the browser's cookie: their ID tokens find the sid by the
                # grant.
                storage.link_grant_to_session(grant.request.grant_id, grant.request.sid)
        return self.in_response_mode(response, grant.redirect_uri)

    def create_authorization_error_response(self, error):
        """An error redirected to the client (to ``error.redirect_uri``), with state and iss."""
        response = self.handle_error_response(None, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return self.in_response_mode(response, error.redirect_uri)

    def in_response_mode(self, response, redirect_uri: str | None):
        """An authorization response redirected to ``redirect_uri``, in the requested mode.

        authlib answers every authorization response (and error) as a redirect; with
        ``response_mode=web_message`` its parameters are posted to the application's window
        instead (:mod:`authserver.web_message`).
        """
        if not (web_message.requested() and redirect_uri and response.location):
            return response
        client = self.query_client(flask_request.args.get("client_id"))
        return web_message.response(client, redirect_uri, response.location)


def current_server() -> AuthorizationServer:
    return current_app.extensions["authorization_server"]
