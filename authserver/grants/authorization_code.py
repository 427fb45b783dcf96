"""The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, S256 only).

The order in which authlib calls the hooks (``[ext]``: an extension's hook; authlib keeps the
hooks of one event in a set, so two of them run in no fixed order):

At the authorization endpoint (``/authorize``, and the login and consent pages that continue it),
``server.get_consent_grant`` calls ``validate_consent_request`` (:mod:`.base`):

1. ``validate_authorization_request`` (:mod:`.base`, around authlib's): ``query_client``,
   :meth:`~.base.Auth0AuthorizationMixin.validate_authorization_redirect_uri`,
   ``client.check_response_type``, ``validate_requested_scope``, ``client.get_allowed_scope``
   (``request.scope``); then ``[ext]`` :meth:`S256CodeChallenge.validate_code_challenge` and,
   with ``openid``, ``[ext]`` OpenIDCode's nonce check; then the response mode and the API
   (``request.resource_server``).
2. ``validate_request_prompt`` (and, with ``openid``, ``[ext]`` OpenIDCode's again).

The view then decides on login and consent (``granted_scope``), and
``server.create_authorization_response`` calls ``validate_authorization_request`` again (same
grant, same request) and ``create_authorization_response``: the stored grant (:mod:`.base`),
``generate_authorization_code``, :meth:`AuthorizationCodeGrant.save_authorization_code`.

At the token endpoint (``grant_type=authorization_code``):

1. ``validate_token_request``: ``authenticate_token_endpoint_client``
   (``TOKEN_ENDPOINT_AUTH_METHODS``), ``client.check_grant_type``,
   :meth:`AuthorizationCodeGrant.query_authorization_code` (the early single-use check), the
   ``redirect_uri`` comparison; ``[ext]`` :meth:`S256CodeChallenge.validate_code_verifier`; then
   the grant id and the API of the code.
2. ``create_token_response``: :meth:`AuthorizationCodeGrant.authenticate_user`,
   ``generate_token``, :meth:`~.base.SingleUseMixin.save_token` (the atomic single-use claim,
   in one transaction with the new tokens), then
   :meth:`AuthorizationCodeGrant.delete_authorization_code` (nothing left to do); ``[ext]``
   OpenIDCode adds the ``id_token`` once the response is made (not for a refused replay).
"""

from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from ..clock import now
from ..models import AuthorizationCode
from ..storage import secret_hash
from ..tenant import CLIENT_AUTH_METHODS
from .base import Auth0AuthorizationMixin, SingleUseMixin


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with the S256 method only, required for public clients."""

    # RFC 9700 §2.1.1: "Clients SHOULD use PKCE code challenge methods that do not expose the PKCE
    # verifier in the authorization request. [...] Currently, S256 is the only such method."
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        # RFC 9700 §2.1.1: "Public clients MUST use PKCE [RFC7636]".
        if not data.get("code_challenge") and grant.request.client.is_public:
            raise InvalidRequestError(
                "Missing 'code_challenge': public applications must use PKCE (S256)."
            )
        # RFC 7636 §4.3: code_challenge_method "defaults to "plain" if not present in the request".
        if data.get("code_challenge") and not data.get("code_challenge_method"):
            raise InvalidRequestError("Missing 'code_challenge_method': only S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(
    Auth0AuthorizationMixin, SingleUseMixin, grants.AuthorizationCodeGrant
):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    CREDENTIAL = "authorization code"
    REPLAY_DESCRIPTION = "Invalid 'code' in request."

    def save_authorization_code(self, code: str, request) -> None:
        data = request.payload.data
        self.server.storage().save_authorization_code(
            AuthorizationCode(
                code_hash=secret_hash(code),
                grant_id=request.grant_id,
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=self.granted_scope(request.user, request.scope),
                audience=request.resource_server.identifier,
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=request.user.auth_time,
                # RFC 6749 §4.1.2: "The authorization code MUST expire shortly after it is issued".
                expires_at=now() + self.server.tenant.authorization_code_lifetime,
                used=False,
            )
        )

    def query_authorization_code(self, code: str, client) -> AuthorizationCode | None:
        authorization_code = self.server.storage().find_authorization_code(code)
        if authorization_code is None or authorization_code.client_id != client.client_id:
            return None
        # RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization
        # server MUST deny the request and SHOULD revoke (when possible) all tokens previously
        # issued based on that authorization code." §10.5: "If the authorization server observes
        # multiple attempts to exchange an authorization code [...] the authorization server
        # SHOULD attempt to revoke all access tokens already granted". Checked before the code
        # verifier and redirect_uri, so a replay that fails them (an intercepted code) revokes too;
        # delete_authorization_code catches the redemptions that race past this check.
        if self.replayed(authorization_code):
            return None
        if authorization_code.expires_at <= now():
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

    def used_credential(self) -> AuthorizationCode:
        # RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than once."
        # save_token marks it redeemed atomically with the tokens it stores: of two concurrent
        # redemptions one wins, and the other revokes the grant and gets nothing.
        return self.request.authorization_code

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing: save_token marked the code redeemed (it stays stored, so a replay revokes)."""
