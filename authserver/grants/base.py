"""What the grants share: the API a token is for, the scope a user's token gets, single use.

* :class:`Auth0GrantMixin`, for every grant: the ``audience`` (or RFC 8707 ``resource``)
  parameter names the API (``request.resource_server``); with RBAC on, a user's token carries
  only the requested scopes the user has permission for (:meth:`~Auth0GrantMixin.scope_for`),
  computed once per request (:meth:`~Auth0GrantMixin.granted_scope`).
* :class:`Auth0AuthorizationMixin`, for the grants of the authorization endpoint (code,
  implicit): the exact redirect URI rule, one response mode per flow (plus ``web_message``),
  ``prompt`` and ``max_age`` for every request, and the stored grant the response's credentials
  belong to.
* :class:`SingleUseMixin`, for the grants whose credential may be used once (authorization
  codes; refresh tokens, rotated on every use): a replay revokes the whole grant.

The order in which authlib calls each grant's hooks is in the docstring of the grant's module.
"""

import logging
from functools import partial

from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oidc.core.errors import LoginRequiredError
from authlib.oidc.core.grants.util import is_openid_scope, validate_request_prompt

from shared.log_safety import escaped

from .. import web_message
from ..clock import now
from ..models import AuthorizationCode, RefreshToken, User
from ..storage import Claim
from ..tenant import OIDC_SCOPES, ResourceServer
from .group_commit import group_commit

log = logging.getLogger(__name__)


class Auth0GrantMixin:
    """What every grant shares: the API (``request.resource_server``) and the token shape."""

    #: Whether this grant may issue refresh tokens (when offline_access is granted).
    ISSUES_REFRESH_TOKENS = True

    def requested_api(self) -> ResourceServer | None:
        """The API named by ``audience`` (Auth0) or ``resource`` (RFC 8707), if any."""
        data = self.request.payload.data
        audience, resource = data.get("audience"), data.get("resource")
        if audience and resource and audience != resource:
            raise InvalidRequestError(
                "The 'audience' and 'resource' parameters name different APIs."
            )
        identifier = audience or resource
        if not identifier:
            return None
        api = self.server.tenant.find_api(identifier)
        if api is None:
            log.info(
                "client %s asked for unknown audience %s",
                escaped(data.get("client_id")),
                escaped(identifier),
            )
            raise AccessDeniedError("Service not found: the audience is not an API of this tenant.")
        return api

    def scope_for(self, user: User, scope: str | None) -> str:
        """The scopes a user's token for ``request.resource_server`` gets out of those requested."""
        requested = dict.fromkeys(scope_to_list(scope) or [])
        return list_to_scope([value for value in requested if self._grantable(value, user)])

    def _grantable(self, value: str, user) -> bool:
        api = self.request.resource_server
        if value == "offline_access":
            return (
                self.ISSUES_REFRESH_TOKENS
                and api.allow_offline_access
                and self.request.client.check_grant_type("refresh_token")
            )
        if value in OIDC_SCOPES:
            return True
        # Auth0 with RBAC on: the token's scope is the intersection of the requested scopes
        # and the user's permissions for the API. Scopes the API does not define are dropped.
        return value in api.scopes and (
            not api.enable_rbac or value in user.permissions_for(api.identifier)
        )

    def granted_scope(self, user: User, scope: str | None) -> str:
        """:meth:`scope_for`, computed once per request and kept on it.

        An authorization request may ask for it twice (the consent check, then the stored code or
        the implicit flow's token), always for the same user and requested scope: the first
        answer is kept in ``request.granted_scopes``, by grant, API, user and requested scope.
        """
        key = (type(self), self.request.resource_server.identifier, user.id, scope)
        granted = self.request.granted_scopes.get(key)
        if granted is None:
            granted = self.request.granted_scopes[key] = self.scope_for(user, scope)
        return granted

    def generate_token(
        self,
        user=None,
        scope=None,
        grant_type=None,
        expires_in=None,
        include_refresh_token=True,
    ):
        if user is not None:
            scope = self.granted_scope(user, scope)
        return self.server.generate_token(
            grant_type=grant_type or self.GRANT_TYPE,
            client=self.request.client,
            user=user,
            scope=scope,
            # OIDC Core §11: a refresh token only when offline_access was asked for and granted.
            include_refresh_token=include_refresh_token
            and "offline_access" in scope_to_list(scope or ""),
            api=self.request.resource_server,
        )


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
            log.info(
                "client %s: unregistered redirect_uri %s",
                escaped(client.client_id),
                escaped(redirect_uri),
            )
            raise InvalidRequestError("The redirect_uri is not registered for this application.")
        return redirect_uri

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        response_mode = self.request.payload.data.get("response_mode", self.RESPONSE_MODE)
        if response_mode == web_message.WEB_MESSAGE:
            # A web message that could not be posted is refused before anybody logs in for it
            # (an error page: it names no redirect_uri).
            web_message.check_target(self.request.client, redirect_uri)
        try:
            # OAuth 2.0 Multiple Response Type Encoding Practices §7: "In no case should a set of
            # Authorization Response parameters whose default Response Mode is the fragment
            # encoding be encoded using the query encoding." web_message uses neither encoding.
            if response_mode not in (self.RESPONSE_MODE, web_message.WEB_MESSAGE):
                raise InvalidRequestError(
                    f"Unsupported 'response_mode': this flow uses {self.RESPONSE_MODE}"
                    " or web_message."
                )
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
        self.validate_max_age(redirect_uri)
        self.redirect_uri = redirect_uri
        return redirect_uri

    def validate_max_age(self, redirect_uri: str) -> None:
        """``max_age``: a session signed in longer ago than that must sign in again."""
        value = self.request.payload.data.get("max_age")
        if value is None:
            return
        # OIDC Core §3.1.2.1: "max_age OPTIONAL. Maximum Authentication Age. Specifies the
        # allowable elapsed time in seconds since the last time the End-User was actively
        # authenticated by the OP." A number of seconds: digits, nothing else.
        if not (value.isascii() and value.isdigit()):
            log.info("authorization request refused: max_age %s", escaped(value))
            raise InvalidRequestError(
                "Invalid 'max_age' parameter.",
                redirect_uri=redirect_uri,
                redirect_fragment=self.ERROR_RESPONSE_FRAGMENT,
            )
        user = self.request.user
        if user is None or now() - user.auth_time <= int(value):
            return
        # "If the elapsed time is greater than this value, the OP MUST attempt to actively
        # re-authenticate the End-User." Without UI (prompt=none) it cannot: login_required.
        # (The ID token always carries auth_time, which "MUST" be there "When max_age is used".)
        if "none" in (self.request.payload.data.get("prompt") or "").split():
            raise LoginRequiredError(
                redirect_uri=redirect_uri, redirect_fragment=self.ERROR_RESPONSE_FRAGMENT
            )
        self.prompt = "login"

    def create_authorization_response(self, redirect_uri: str, grant_user):
        if grant_user:
            self.request.grant_id = self.server.storage().create_grant(
                self.request.client.client_id,
                grant_user.id,
                self.request.payload.data.get("nonce"),
                now(),
            )
        return super().create_authorization_response(redirect_uri, grant_user)


class SingleUseMixin:
    """Single use: a second use of a code or a refresh token revokes the whole grant.

    An authorization code may be used once, and so may a refresh token (it is rotated on every
    use). Using one twice revokes its grant, and with it every token issued from it
    (:meth:`~authserver.storage.Storage.revoke_grant`).

    Two hooks of the grant matter, and each calls one method here:

    1. The hook that finds the credential (``query_authorization_code``,
       ``authenticate_refresh_token``), first thing after the client is authenticated and before
       anything else about the request is checked, calls :meth:`replayed`: a credential used
       before revokes its grant, even when the replay would fail a later check (an intercepted
       code without its verifier, a refresh token from the wrong client).
    2. :meth:`save_token`, which authlib calls once the new tokens are made (and signed), marks
       the credential used and stores the new tokens atomically, in one transaction (with the
       writes of the concurrent requests: :mod:`.group_commit`). Concurrent requests that all
       passed :meth:`replayed` race there, and the first wins: its credential is marked used and
       its tokens stored together. A loser finds the credential used: it revokes the grant (and
       with it the winner's tokens), stores nothing, and answers ``invalid_grant``. So does a
       request whose grant a replay revoked, or whose user an admin blocked, after its checks
       (without revoking anything). The hook authlib calls last (``delete_authorization_code``,
       ``revoke_old_credential``) then has nothing left to do.

    Each grant class using it says which credential its request uses: ``used_credential()``,
    the one its first hook found.
    """

    #: What the log calls the credential.
    CREDENTIAL = "credential"
    #: The ``error_description`` of a replay: what authlib answers for an unknown credential.
    REPLAY_DESCRIPTION: str | None = None

    def replayed(self, credential: AuthorizationCode | RefreshToken) -> bool:
        """Whether ``credential`` was used before; if it was, its grant is revoked now."""
        if not credential.used:
            return False
        log.warning(
            "%s of grant %s used again: grant revoked", self.CREDENTIAL, credential.grant_id
        )
        revoke = partial(_revoke_grant, credential.grant_id, now())
        group_commit().run(self.server.storage(), revoke)
        return True

    def save_token(self, token: dict) -> None:
        """Mark the credential used and store ``token``, atomically; if another request used the
        credential first, revoke the grant, store nothing and refuse; if the grant was revoked
        or the user blocked since the checks, store nothing and refuse."""
        credential = self.used_credential()
        work = partial(self._use_once, credential, token, self.request)
        claim = group_commit().run(self.server.storage(), work)
        if claim is Claim.USED:
            return
        if claim is Claim.TAKEN:
            log.warning(
                "%s of grant %s used by two requests at once: grant revoked",
                self.CREDENTIAL,
                credential.grant_id,
            )
        else:
            log.warning(
                "%s of grant %s not used: the grant was revoked or the user blocked meanwhile",
                self.CREDENTIAL,
                credential.grant_id,
            )
        raise InvalidGrantError(self.REPLAY_DESCRIPTION)

    def _use_once(self, credential, token: dict, request, storage) -> Claim:
        """In the transaction: whether this request used ``credential`` (then ``token`` is
        stored); if another request used it first, the grant is revoked."""
        claim = storage.use_once(credential, now())
        if claim is Claim.USED:
            # The server stores it on this thread's connection: ``storage``, in the transaction.
            self.server.save_token(token, request)
            # The answer's ID token (OIDC Core 3.1.3.3, 12.2: with the openid scope) makes the
            # application logged in to the grant's session: remembered here, not after the
            # commit, where a storage fault would fail a request whose credential is used.
            if is_openid_scope(token.get("scope")):
                request.grant_sid = storage.grant_session(request.grant_id)
                if request.grant_sid is not None:
                    self.server.remember_logged_in(storage, request.client, request.grant_sid)
        elif claim is Claim.TAKEN:
            storage.revoke_grant(credential.grant_id, now())
        return claim


def _revoke_grant(grant_id: str, revoked_at: int, storage) -> None:
    storage.revoke_grant(grant_id, revoked_at)
