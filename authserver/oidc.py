"""ID tokens (OpenID Connect Core §2) for the code, implicit and refresh token flows.

Auth0's ID token: ``iss``, ``sub``, ``aud`` (the client id, a string), ``iat``, ``exp`` (the
tenant's ``id_token_lifetime``), ``auth_time``, ``nonce`` when the request had one, ``at_hash``
where OpenID Connect requires it (``id_token token`` from the authorization endpoint; not from the
token endpoint, where Auth0 leaves it out), and the profile and email claims the scope asks for.
"""

from authlib.oidc import core as oidc

from .clock import now
from .keys import ALGORITHM
from .models import User


class UserClaims:
    """The claims about the user a scope asks for (OIDC Core §5.4), in ID tokens and at
    ``/userinfo`` alike: authlib asks both for them with ``generate_user_info``."""

    def generate_user_info(self, user: User, scope: str) -> oidc.UserInfo:
        return user.claims().filter(scope)


class Auth0IDToken(UserClaims):
    """What the three flows' ID tokens share; ``self.server`` is the AuthorizationServer."""

    def resolve_client_private_key(self, client):
        return self.server.signing_key()

    def get_client_algorithm(self, client) -> str:
        return ALGORITHM

    def get_encode_header(self, client) -> dict:
        return {"alg": ALGORITHM, "typ": "JWT"}

    def get_client_claims(self, client) -> dict:
        # authlib puts time.time() in iat and exp unless these are given: the server's clock.
        issued_at = now()
        return {
            "iss": self.server.issuer,
            "aud": client.get_client_id(),
            "iat": issued_at,
            "exp": issued_at + self.server.tenant.id_token_lifetime,
        }

    def get_compatible_claims(self, request) -> dict:
        claims = super().get_compatible_claims(request)
        # OIDC Core §2: auth_time is the "Time when the End-User authentication occurred",
        # the sign-in of the SSO session, not the time this token is issued.
        claims["auth_time"] = request.user.auth_time
        return claims

    def exists_nonce(self, nonce: str, request) -> bool:
        return self.server.storage().nonce_used(request.payload.client_id, nonce)


class TokenEndpointIDToken(Auth0IDToken):
    """The ID token of the token endpoint (code and refresh token flows): without ``at_hash``."""

    def encode_id_token(self, token: dict, request) -> str:
        # OIDC Core §3.1.3.6, the code flow: "at_hash OPTIONAL"; Auth0 leaves it out. It is
        # REQUIRED only beside an access token from the authorization endpoint (§3.2.2.10).
        without_access_token = {key: value for key, value in token.items() if key != "access_token"}
        return super().encode_id_token(without_access_token, request)


class OpenIDCode(TokenEndpointIDToken, oidc.OpenIDCode):
    """The ``id_token`` of the authorization code flow."""

    def __init__(self, server):
        super().__init__(require_nonce=False)
        self.server = server


class OpenIDRefreshToken(TokenEndpointIDToken, oidc.OpenIDToken):
    """A fresh ``id_token`` when a refresh token with the ``openid`` scope is used (as Auth0)."""

    def __init__(self, server):
        self.server = server
