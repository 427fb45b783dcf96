"""Token revocation (RFC 7009) at Auth0's ``/oauth/revoke``.

As at Auth0, refresh tokens are what can be revoked (a JWT access token stays valid until it
expires), and revoking one revokes its whole family: every refresh token and access token of the
same grant.
"""

from authlib.oauth2 import rfc7009

from .clock import now
from .tenant import CLIENT_AUTH_METHODS


class RevocationEndpoint(rfc7009.RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None):
        # RFC 7009 §2.2: "invalid tokens do not cause an error response since the client cannot
        # handle such an error in a reasonable way": an unknown token is answered with 200.
        return self.server.storage().find_refresh_token(token_string)

    def revoke_token(self, token, request) -> None:
        self.server.storage().revoke_grant(token.grant_id, now())
