"""The refresh token grant (RFC 6749 §6), with rotation on every use and replay detection.

The order in which authlib calls the hooks, at the token endpoint (``grant_type=refresh_token``):

1. ``validate_token_request``: ``authenticate_token_endpoint_client``
   (``TOKEN_ENDPOINT_AUTH_METHODS``), ``client.check_grant_type``,
   :meth:`RefreshTokenGrant.authenticate_refresh_token` (the early single-use check), the
   token's ``check_client``, the requested ``scope`` (no more than the token's); then the user
   (not blocked), the grant id and the API of the token.
2. ``create_token_response``: :meth:`RefreshTokenGrant.authenticate_user`, ``issue_token``
   (``generate_token``, with a new refresh token), :meth:`~.base.SingleUseMixin.save_token`
   (the atomic single-use claim, in one transaction with the new tokens), then
   :meth:`RefreshTokenGrant.revoke_old_credential` (nothing left to do); ``[ext]``
   OpenIDRefreshToken adds an ``id_token`` with ``openid`` once the response is made.
"""

from authlib.oauth2.rfc6749 import InvalidGrantError, grants

from ..clock import now
from ..models import RefreshToken
from ..tenant import CLIENT_AUTH_METHODS
from .base import Auth0GrantMixin, SingleUseMixin


class RefreshTokenGrant(Auth0GrantMixin, SingleUseMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    # RFC 9700 §4.14.2: "Authorization servers MUST utilize one of these methods to detect refresh
    # token replay by malicious actors for public clients: [...] Refresh token rotation".
    INCLUDE_NEW_REFRESH_TOKEN = True
    CREDENTIAL = "refresh token"

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        token = self.server.storage().find_refresh_token(refresh_token)
        if token is None or token.grant_revoked:
            return None
        # RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the
        # attacker and the legitimate client, one of them will present an invalidated refresh
        # token, which will inform the authorization server of the breach. [...] it will revoke
        # the active refresh token" (here: the whole family, as Auth0 does). Checked before the
        # client and the scope, so any replay revokes; revoke_old_credential catches the refreshes
        # that race past this check.
        if self.replayed(token):
            return None
        if token.expires_at <= now():
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

    def authenticate_user(self, refresh_token: RefreshToken):
        # The user validate_token_request found and checked for this refresh token.
        return self.request.user

    def used_credential(self) -> RefreshToken:
        # Rotation: save_token invalidates the used refresh token atomically with storing its
        # successor. If another request used it first, this request is a replay and the family
        # is revoked (RFC 9700 §4.14.2 above).
        return self.request.refresh_token

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing: save_token rotated the refresh token (it stays stored, so a replay revokes)."""
