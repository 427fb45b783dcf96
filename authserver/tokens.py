"""Access tokens: RFC 9068 JWTs (``typ: at+jwt``, RS256, ``kid``) with Auth0's claims.

Auth0's access token for a user::

    {"iss": "http://localhost:9000/", "sub": "auth0|...", "aud": ["https://api.flowlab.local",
     "http://localhost:9000/userinfo"], "iat": ..., "exp": ..., "scope": "openid read:messages",
     "azp": "spa-demo", "permissions": ["read:messages"], "jti": "...", "client_id": "spa-demo"}

``aud`` is the API alone when ``openid`` was not asked for, and ``<issuer>userinfo`` alone when the
login named no API. A machine's token has ``sub: <client_id>@clients`` and
``gty: client-credentials``. ``permissions`` appears when the API has RBAC and "add permissions in
the access token" on (:func:`token_permissions`). ``client_id`` is the RFC 9068 claim, kept beside
Auth0's ``azp``.
"""

import secrets

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet

from .keys import ALGORITHM
from .tenant import ResourceServer


def token_permissions(api: ResourceServer, client, user, scope: str) -> list[str] | None:
    """The ``permissions`` claim of a token for ``api``; None when the API puts none in tokens.

    A first-party application's user token carries all the user's permissions for the API, as
    Auth0's does; a machine's, the scopes of its client grant. A third-party application's token
    carries only the permissions the user consented to, which are the token's scopes.
    """
    if not (api.enable_rbac and api.add_permissions_in_the_access_token):
        return None
    granted = scope_to_list(scope) or []
    if user is None:
        return granted
    if client.is_first_party:
        return list(user.permissions_for(api.identifier))
    # RFC 9700 §2.3: "The privileges associated with an access token SHOULD be restricted to the
    # minimum required for the particular application or use case. This prevents clients from
    # exceeding the privileges authorized by the resource owner."
    return [
        permission for permission in user.permissions_for(api.identifier) if permission in granted
    ]


def _refresh_token(**_) -> str:
    return secrets.token_urlsafe(32)


#: Random bytes of a token's ``jti``: 128 bits, so that no two tokens ever share one.
JTI_BYTES = 16


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Tokens for one API (resource server), signed with the current key, issued at a time."""

    def __init__(
        self, issuer: str, api: ResourceServer, key: KeySet, lifetime: int, *, issued_at: int
    ):
        super().__init__(
            issuer,
            alg=ALGORITHM,
            refresh_token_generator=_refresh_token,
            expires_generator=lifetime,
        )
        self.api = api
        self.key = key
        self.lifetime = lifetime
        self.issued_at = issued_at
        self.userinfo_audience = f"{issuer}userinfo"

    def get_jwks(self) -> KeySet:
        return self.key

    def get_jti(self, client, grant_type, user, scope) -> str:
        # RFC 7519 §4.1.7: "The identifier value MUST be assigned in a manner that ensures that
        # there is a negligible probability that the same value will be accidentally assigned to
        # a different data object". One read of the system's CSPRNG (authlib's default draws
        # each of its 16 characters with a read of its own: 95 bits, sixteen system calls).
        return secrets.token_urlsafe(JTI_BYTES)

    def get_audiences(self, client, user, scope) -> str | list[str]:
        if self.api.identifier == self.userinfo_audience:
            return self.userinfo_audience
        if "openid" in scope_to_list(scope):
            return [self.api.identifier, self.userinfo_audience]
        return self.api.identifier

    def get_extra_claims(self, client, grant_type, user, scope) -> dict:
        # authlib's access_token_generator sets iat and exp from time.time() and then adds these
        # claims over them: the token's times are the server's clock's (authserver.clock).
        claims = {
            "iat": self.issued_at,
            "exp": self.issued_at + self.lifetime,
            "azp": client.get_client_id(),
        }
        if user is None:
            claims["sub"] = f"{client.get_client_id()}@clients"
            claims["gty"] = "client-credentials"
        permissions = token_permissions(self.api, client, user, scope)
        if permissions is not None:
            claims["permissions"] = permissions
        return claims
