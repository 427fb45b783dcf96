"""The grants, as authlib's grant classes with Auth0's behaviour added.

* :class:`AuthorizationCodeGrant` with :class:`S256CodeChallenge` (PKCE, S256 only, required for
  public clients) and :class:`~authserver.oidc.OpenIDCode` (ID tokens);
* :class:`ImplicitGrant` (``response_type=token``) and :class:`OpenIDImplicitGrant`
  (``id_token token`` and ``id_token``, nonce required), no refresh tokens;
* :class:`ClientCredentialsGrant`, limited to the application's client grant for the API;
* :class:`RefreshTokenGrant` with rotation on every use and replay detection.

Auth0 additions shared by all of them: the ``audience`` (or RFC 8707 ``resource``) parameter
names the API a token is for, and with RBAC on, a user's token carries only the requested scopes
the user has permission for.
"""

import logging
import time

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    grants,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc import core as oidc
from authlib.oidc.core.grants.util import validate_request_prompt

from shared.log_safety import escaped

from .models import AuthorizationCode
from .oidc import Auth0IDToken
from .storage import secret_hash
from .tenant import OIDC_SCOPES, ResourceServer

log = logging.getLogger(__name__)

PUBLIC_AND_CONFIDENTIAL = ["client_secret_basic", "client_secret_post", "none"]


class Auth0GrantMixin:
    """What every grant shares: the API (``request.resource_server``) and the token shape."""

    #: Whether this grant may issue refresh tokens (when offline_access is granted).
    ISSUES_REFRESH_TOKENS = True

    def requested_api(self) -> ResourceServer | None:
        """The API named by ``audience`` (Auth0) or ``resource`` (RFC 8707), if any."""
        data = self.request.payload.data
        audience, resource = data.get("audience"), data.get("resource")
        if audience and resource and audience != resource:
            raise InvalidRequestError("The 'audience' and 'resource' parameters name different APIs.")
        identifier = audience or resource
        if not identifier:
            return None
        api = self.server.tenant.find_api(identifier)
        if api is None:
            log.info("client %s asked for unknown audience %s", escaped(data.get("client_id")), escaped(identifier))
            raise AccessDeniedError("Service not found: the audience is not an API of this tenant.")
        return api

    def scope_for(self, user, scope: str | None) -> str:
        """The scopes a user's token for ``request.resource_server`` gets out of those requested."""
        api = self.request.resource_server
        granted = []
        for value in dict.fromkeys(scope_to_list(scope) or []):
            if value == "offline_access":
                if (
                    self.ISSUES_REFRESH_TOKENS
                    and api.allow_offline_access
                    and self.request.client.check_grant_type("refresh_token")
                ):
                    granted.append(value)
            elif value in OIDC_SCOPES:
                granted.append(value)
            # Auth0 with RBAC on: the token's scope is the intersection of the requested scopes
            # and the user's permissions for the API. Scopes the API does not define are dropped.
            elif value in api.scopes and (
                not api.enable_rbac or value in user.permissions_for(api.identifier)
            ):
                granted.append(value)
        return list_to_scope(granted)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        if user is not None:
            scope = self.scope_for(user, scope)
        return self.server.generate_token(
            grant_type=grant_type or self.GRANT_TYPE,
            client=self.request.client,
            user=user,
            scope=scope,
            # OIDC Core §11: a refresh token only when offline_access was asked for and granted.
            include_refresh_token=include_refresh_token and "offline_access" in scope_to_list(scope or ""),
            api=self.request.resource_server,
        )

    def now(self) -> int:
        return int(time.time())


class Auth0AuthorizationMixin(Auth0GrantMixin):
    """What the grants of the authorization endpoint share."""

    #: The only response mode each flow answers with.
    RESPONSE_MODE = "query"

    @staticmethod
    def validate_authorization_redirect_uri(request, client) -> str:
        redirect_uri = request.payload.redirect_uri
        if redirect_uri is None:
            redirect_uri = client.get_default_redirect_uri()
            if not redirect_uri:
                raise InvalidRequestError("Missing 'redirect_uri' in request.")
            return redirect_uri
        # RFC 6749 §4.1.2.1: "If the request fails due to a missing, invalid, or mismatching
        # redirection URI [...] the authorization server SHOULD inform the resource owner of the
        # error and MUST NOT automatically redirect the user-agent to the invalid redirection URI."
        # The error carries no redirect_uri, so it is shown on the error page, not redirected.
        if not client.check_redirect_uri(redirect_uri):
            log.info("client %s: unregistered redirect_uri %s", escaped(client.client_id), escaped(redirect_uri))
            raise InvalidRequestError("The redirect_uri is not registered for this application.")
        return redirect_uri

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        try:
            # OAuth 2.0 Multiple Response Type Encoding Practices §7: "In no case should a set of
            # Authorization Response parameters whose default Response Mode is the fragment
            # encoding be encoded using the query encoding."
            if self.request.payload.data.get("response_mode", self.RESPONSE_MODE) != self.RESPONSE_MODE:
                raise InvalidRequestError(f"Unsupported 'response_mode': this flow uses {self.RESPONSE_MODE}.")
            self.request.resource_server = self.requested_api() or self.server.userinfo_api
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            error.redirect_fragment = self.ERROR_RESPONSE_FRAGMENT
            raise
        return redirect_uri

    @hooked
    def validate_consent_request(self) -> str:
        redirect_uri = self.validate_authorization_request()
        # OIDC Core §3.1.2.1 "prompt", for every request: Auth0 honours prompt=none and
        # prompt=login in plain OAuth requests too.
        validate_request_prompt(self, redirect_uri, redirect_fragment=self.ERROR_RESPONSE_FRAGMENT)
        self.redirect_uri = redirect_uri
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user):
        if grant_user:
            self.request.grant_id = self.server.storage().create_grant(
                self.request.client.client_id, grant_user.id, self.request.payload.data.get("nonce"), self.now()
            )
        return super().create_authorization_response(redirect_uri, grant_user)


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with the S256 method only, required for public clients."""

    # RFC 9700 §2.1.1: "Clients SHOULD use PKCE code challenge methods that do not expose the PKCE
    # verifier in the authorization request. [...] Currently, S256 is the only such method."
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        # RFC 9700 §2.1.1: "Public clients MUST use PKCE [RFC7636]".
        if not data.get("code_challenge") and grant.request.client.is_public:
            raise InvalidRequestError("Missing 'code_challenge': public applications must use PKCE (S256).")
        # RFC 7636 §4.3: code_challenge_method "defaults to "plain" if not present in the request".
        if data.get("code_challenge") and not data.get("code_challenge_method"):
            raise InvalidRequestError("Missing 'code_challenge_method': only S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(Auth0AuthorizationMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        self.server.storage().save_authorization_code(
            AuthorizationCode(
                code_hash=secret_hash(code),
                grant_id=request.grant_id,
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=self.scope_for(request.user, request.scope),
                audience=request.resource_server.identifier,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=request.user.auth_time,
                # RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued".
                expires_at=self.now() + self.server.tenant.authorization_code_lifetime,
                redeemed=False,
            )
        )

    def query_authorization_code(self, code: str, client) -> AuthorizationCode | None:
        storage = self.server.storage()
        authorization_code = storage.find_authorization_code(code)
        if authorization_code is None or authorization_code.client_id != client.client_id:
            return None
        # RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
        # server MUST deny the request and SHOULD revoke (when possible) all tokens previously
        # issued based on that authorization code." §10.5: "If the authorization server observes
        # multiple attempts to exchange an authorization code [...] the authorization server
        # SHOULD attempt to revoke all access tokens already granted". Checked before the code
        # verifier and redirect_uri, so a replay that fails them (an intercepted code) revokes too;
        # delete_authorization_code catches the redemptions that race past this check.
        if authorization_code.redeemed:
            log.warning("authorization code of grant %s used twice: grant revoked", authorization_code.grant_id)
            storage.revoke_grant(authorization_code.grant_id, self.now())
            return None
        if authorization_code.expires_at <= self.now():
            return None
        return authorization_code

    def validate_token_request(self) -> None:
        super().validate_token_request()
        authorization_code = self.request.authorization_code
        self.request.grant_id = authorization_code.grant_id
        self.request.resource_server = self.server.api_or_userinfo(authorization_code.audience)

    def authenticate_user(self, authorization_code: AuthorizationCode):
        user = self.server.storage().find_user(authorization_code.user_id)
        if user is None or user.blocked:
            return None
        return user.signed_in_at(authorization_code.auth_time)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than once."
        # Redeeming is atomic: of two concurrent redemptions one wins, and the tokens of the
        # other, already stored under the same grant, are revoked with it.
        storage = self.server.storage()
        if not storage.redeem_authorization_code(authorization_code.code_hash, self.now()):
            log.warning("authorization code of grant %s redeemed twice at once", authorization_code.grant_id)
            storage.revoke_grant(authorization_code.grant_id, self.now())
            raise InvalidGrantError("Invalid 'code' in request.")


class ImplicitGrant(Auth0AuthorizationMixin, grants.ImplicitGrant):
    RESPONSE_MODE = "fragment"
    # RFC 6749 §4.2.2: "The authorization server MUST NOT issue a refresh token."
    ISSUES_REFRESH_TOKENS = False


class OpenIDImplicitGrant(Auth0AuthorizationMixin, Auth0IDToken, oidc.OpenIDImplicitGrant):
    RESPONSE_MODE = "fragment"
    ISSUES_REFRESH_TOKENS = ImplicitGrant.ISSUES_REFRESH_TOKENS


class ClientCredentialsGrant(Auth0GrantMixin, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client = self.request.client
        api = self.requested_api()
        if api is None:
            raise AccessDeniedError("No audience parameter was provided.", status_code=403)
        # Auth0: an application gets client credentials tokens for an API only through a
        # "client grant" that authorizes it, and only the scopes that grant lists.
        client_grant = self.server.tenant.find_client_grant(client.client_id, api.identifier)
        if client_grant is None:
            raise AccessDeniedError(
                "Client is not authorized to access this API. "
                "You need to create a client-grant associated to this API.",
                status_code=403,
            )
        requested = scope_to_list(self.request.payload.scope) or list(client_grant.scope)
        if not set(requested) <= set(client_grant.scope):
            raise AccessDeniedError("Client has not been granted all the requested scopes.", status_code=403)
        self.request.scope = list_to_scope(requested)
        self.request.resource_server = api

    def create_token_response(self):
        # authlib issues the raw requested scope; Auth0 issues the scope the client grant allows.
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class RefreshTokenGrant(Auth0GrantMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL
    # RFC 9700 §4.14.2: "Authorization servers MUST utilize one of these methods to detect refresh
    # token replay by malicious actors for public clients: [...] Refresh token rotation".
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
        storage = self.server.storage()
        token = storage.find_refresh_token(refresh_token)
        if token is None or token.grant_revoked:
            return None
        # RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the
        # attacker and the legitimate client, one of them will present an invalidated refresh
        # token, which will inform the authorization server of the breach. [...] it will revoke
        # the active refresh token" (here: the whole family, as Auth0 does). Checked before the
        # client and the scope, so any replay revokes; revoke_old_credential catches the refreshes
        # that race past this check.
        if token.rotated:
            log.warning("rotated refresh token of grant %s used again: grant revoked", token.grant_id)
            storage.revoke_grant(token.grant_id, self.now())
            return None
        if token.expires_at <= self.now():
            return None
        return token

    def validate_token_request(self) -> None:
        super().validate_token_request()
        token = self.request.refresh_token
        user = self.server.storage().find_user(token.user_id)
        if user is None or user.blocked:
            raise InvalidGrantError("The user is blocked.")
        self.request.user = user.signed_in_at(token.auth_time)
        self.request.grant_id = token.grant_id
        self.request.resource_server = self.server.api_or_userinfo(token.audience)

    def authenticate_user(self, refresh_token):
        # The user validate_token_request found and checked for this refresh token.
        return self.request.user

    def revoke_old_credential(self, refresh_token) -> None:
        # Rotation: the used refresh token is invalidated atomically. If another request used it
        # first, this request is a replay and the family is revoked (RFC 9700 §4.14.2 above).
        storage = self.server.storage()
        if not storage.rotate_refresh_token(refresh_token.token_hash, self.now()):
            log.warning("refresh token of grant %s used concurrently: grant revoked", refresh_token.grant_id)
            storage.revoke_grant(refresh_token.grant_id, self.now())
            raise InvalidGrantError()
