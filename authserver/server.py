"""The authorization server: authlib's Flask ``AuthorizationServer`` wired to the tenant and state.

It registers the grants of :mod:`authserver.grants`, token revocation (RFC 7009), the UserInfo
endpoint (OpenID Connect Core §5.3) and the ``iss`` authorization response parameter
(RFC 9207), and signs access tokens for the API each request names (:mod:`authserver.tokens`).
"""

import json
import time
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.integrations import flask_oauth2
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import current_app
from flask import request as flask_request
from joserfc.jws import extract_compact
from werkzeug.datastructures import MultiDict

from . import keys
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
from .tenant import ResourceServer, Tenant
from .tokens import AccessTokenGenerator
from .userinfo import UserInfoEndpoint


def body_parameters(request) -> MultiDict | None:
    """A POST body's parameters: a form, or (as Auth0 accepts) a JSON object of strings.

    None when a JSON body is anything else.
    """
    if not request.is_json:
        return request.form
    document = request.get_json(silent=True)
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        return None
    return MultiDict(document)


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
        super().__init__(request.method, issuer.rstrip("/") + request.full_path, headers=request.headers)
        self._request = request
        self._parameters = parameters
        self.payload = Parameters(parameters)
        #: The API the token is for (set by the grant).
        self.resource_server: ResourceServer | None = None
        #: The grant (stored authorization) the tokens of this request belong to.
        self.grant_id: str | None = None

    @property
    def args(self) -> MultiDict:
        return self._request.args

    @property
    def form(self) -> MultiDict:
        return self._parameters


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
            response.location = add_params_to_uri(response.location, [("iss", self.issuer)], fragment=in_fragment)


class AuthorizationServer(flask_oauth2.AuthorizationServer):
    def __init__(self, tenant: Tenant, issuer: str):
        super().__init__()
        self.tenant = tenant
        self.issuer = issuer
        self.userinfo_api = tenant.userinfo_api(issuer)
        self.issuer_parameter = IssuerParameterInResponseMode(issuer)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(self)])
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
        return keys.signing_key(self.storage())

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

    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except UnicodeDecodeError as error:
            # RFC 6749 §2.3.1: HTTP Basic client credentials are UTF-8 once base64-decoded; authlib
            # lets the decoding error of anything else escape.
            raise InvalidClientError(status_code=401, description="Malformed client credentials.") from error

    def create_oauth2_request(self, request) -> Auth0Request:
        # Authorization requests travel in the query string (of /authorize, and of the login and
        # consent pages that continue them); the token, revocation and userinfo endpoints read
        # the POST body (their blueprint refuses malformed bodies before this point).
        if flask_request.blueprint == "oauth":
            return Auth0Request(flask_request, self.issuer, body_parameters(flask_request))
        return Auth0Request(flask_request, self.issuer, flask_request.args)

    def get_authorization_grant(self, request):
        # RFC 6749 §4.1.2.1: error_description "MUST NOT include characters outside the set
        # %x20-21 / %x23-5B / %x5D-7E". authlib copies response_type into its description;
        # no valid response type contains other characters.
        if invalid_error_characters(request.payload.response_type or ""):
            raise InvalidRequestError("Malformed 'response_type'.")
        return super().get_authorization_grant(request)

    def generate_token(
        self, grant_type, client, user=None, scope=None, expires_in=None, include_refresh_token=True, *, api
    ) -> dict:
        # Auth0: tokens handed to the browser by the authorization endpoint (implicit grant) use
        # the API's "Token Expiration For Browser Flows"; all others its "Token Expiration".
        lifetime = api.token_lifetime_for_web if grant_type == ImplicitGrant.GRANT_TYPE else api.token_lifetime
        generator = AccessTokenGenerator(self.issuer, api, self.signing_key(), lifetime)
        return generator.generate(grant_type, client, user, scope, include_refresh_token=include_refresh_token)

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
                expires_at = int(time.time()) + self.tenant.refresh_token_lifetime
            storage.save_refresh_token(token["refresh_token"], source, expires_at)

    def create_authorization_error_response(self, error):
        """An error redirected to the client (``error.redirect_uri``), with ``state`` and ``iss``."""
        response = self.handle_error_response(None, error)
        self.issuer_parameter.add_issuer_parameter(self, response)
        return response


def current_server() -> AuthorizationServer:
    return current_app.extensions["authorization_server"]
