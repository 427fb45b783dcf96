"""Access tokens: RFC 9068 JWTs (``typ: at+jwt``, RS256, ``kid``) with Auth0's claims.

Auth0's access token for a user::

    {"iss": "http://localhost:9000/", "sub": "auth0|...", "aud": ["https://api.flowlab.local",
     "http://localhost:9000/userinfo"], "iat": ..., "exp": ..., "scope": "openid read:messages",
     "azp": "spa-demo", "permissions": ["read:messages"], "jti": "...", "client_id": "spa-demo"}

``aud`` is the API alone when ``openid`` was not asked for, and ``<issuer>userinfo`` alone when the
login named no API. A machine's token has ``sub: <client_id>@clients`` and
``gty: client-credentials``. ``permissions`` appears when the API has RBAC and "add permissions in
the access token" on. ``client_id`` is the RFC 9068 claim, kept beside Auth0's ``azp``.
"""

import secrets

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet

from .keys import ALGORITHM
from .tenant import ResourceServer


def _refresh_token(**_) -> str:
    return secrets.token_urlsafe(32)


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Tokens for one API (resource server), signed with the current key."""

    def __init__(self, issuer: str, api: ResourceServer, key: KeySet, lifetime: int):
        super().__init__(issuer, alg=ALGORITHM, refresh_token_generator=_refresh_token, expires_generator=lifetime)
        self.api = api
        self.key = key
        self.userinfo_audience = f"{issuer}userinfo"

    def get_jwks(self) -> KeySet:
        return self.key

    def get_audiences(self, client, user, scope) -> str | list[str]:
        if self.api.identifier == self.userinfo_audience:
            return self.userinfo_audience
        if "openid" in scope_to_list(scope):
            return [self.api.identifier, self.userinfo_audience]
        return self.api.identifier

    def get_extra_claims(self, client, grant_type, user, scope) -> dict:
        claims = {"azp": client.get_client_id()}
        if user is None:
            claims["sub"] = f"{client.get_client_id()}@clients"
            claims["gty"] = "client-credentials"
        if self.api.enable_rbac and self.api.add_permissions_in_the_access_token:
            granted = user.permissions_for(self.api.identifier) if user else scope_to_list(scope)
            claims["permissions"] = list(granted)
        return claims
