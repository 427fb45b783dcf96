"""ID tokens (OpenID Connect Core §2) for the code, implicit and refresh token flows.

Auth0's ID token: ``iss``, ``sub``, ``aud`` (the client id, a string), ``iat``, ``exp`` (the
tenant's ``id_token_lifetime``), ``auth_time``, ``nonce`` when the request had one, ``at_hash``
where OpenID Connect requires it (``id_token token`` from the authorization endpoint; not from the
token endpoint, where Auth0 leaves it out), and the profile and email claims the scope asks for.

Beside them: ``sid``, the SSO session's id (:mod:`authserver.sessions`), the same in every ID
token of the session whichever application it is for (OpenID Connect Back-Channel Logout 1.0);
and, for an application with ``id_token_permissions_claim`` (off by default), the user's
permissions for the requested API as the namespaced claim :data:`PERMISSIONS_CLAIM`, as an Auth0
Action adds them (``api.idToken.setCustomClaim``).
"""

from authlib.oidc import core as oidc

from .clock import now
from .keys import ALGORITHM
from .models import User
from .tokens import token_permissions

#: A custom claim named by a URL the tenant owns (namespaced, as Auth0 recommends for custom
#: claims): it can never collide with a standard claim, today's or tomorrow's.
PERMISSIONS_CLAIM = "https://flowlab.local/permissions"


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
        if request.sid is not None:
            # The authorization endpoint's ID token (the implicit flow), in the browser's session.
            sid = request.sid
            self.server.remember_logged_in(self.server.storage(), request.client, sid)
        else:
            # The token endpoint's: the grant's session, read and remembered in the transaction
            # that used the code or the refresh token (``grants.base.SingleUseMixin``).
            sid = request.grant_sid
        if sid is not None:
            # Back-Channel Logout §2.1, backchannel_logout_session_supported: "If supported, the
            # sid Claim is also included in ID Tokens issued by the OP."
            claims["sid"] = sid
        if request.client.id_token_permissions_claim:
            claims[PERMISSIONS_CLAIM] = self.permissions(request)
        return claims

    def permissions(self, request) -> list[str]:
        """The permissions the access token of this response carries (none when its API puts
        none in tokens): the same list, so the UI hint never promises more than the API grants."""
        api = request.resource_server
        scope = request.id_token_scope or ""
        return token_permissions(api, request.client, request.user, scope) or []

    def process_implicit_token(self, token: dict, code=None) -> dict:
        """The implicit grant's ID token (authlib's hook of OpenIDImplicitGrant)."""
        self.request.id_token_scope = token["scope"]
        return super().process_implicit_token(token, code)

    def exists_nonce(self, nonce: str, request) -> bool:
        return self.server.storage().nonce_used(request.payload.client_id, nonce)


class TokenEndpointIDToken(Auth0IDToken):
    """The ID token of the token endpoint (code and refresh token flows): without ``at_hash``."""

    def encode_id_token(self, token: dict, request) -> str:
        # OIDC Core §3.1.3.6, the code flow: "at_hash OPTIONAL"; Auth0 leaves it out. It is
        # REQUIRED only beside an access token from the authorization endpoint (§3.2.2.10).
        without_access_token = {key: value for key, value in token.items() if key != "access_token"}
        request.id_token_scope = token["scope"]
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
