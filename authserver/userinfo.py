"""The UserInfo endpoint (OpenID Connect Core §5.3) at Auth0's ``/userinfo``.

authlib's ``UserInfoEndpoint`` behind an RFC 9068 access token validator: the bearer token must
be signed with a published key of this server, name it as ``iss``, have ``<issuer>userinfo`` in
its ``aud`` and ``openid`` in its scope, not be expired, and neither its grant may be revoked nor
its user blocked.
"""

from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc import core as oidc
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from . import keys
from .clock import now
from .models import User, user_id_of
from .oidc import UserClaims
from .tenant import Application


class AccessTokenValidator(JWTBearerTokenValidator):
    def __init__(self, server):
        super().__init__(issuer=server.issuer, resource_server=server.userinfo_api.identifier)
        self.server = server

    def get_jwks(self) -> KeySet:
        return KeySet(keys.published_keys(self.server.storage(), now()))

    def validate_token(self, token, scopes, request) -> None:
        # authlib's validate_token checks the claims against time.time(); these are checked
        # against the server's clock, then the scope as authlib's does. (Its groups, roles and
        # entitlements checks have nothing to check: userinfo asks for none.)
        try:
            token.validate(now=now())
        except JoseError as error:
            raise InvalidTokenError(
                realm=self.realm, extra_attributes=self.extra_attributes
            ) from error
        if self.scope_insufficient(token.get("scope", []), scopes):
            raise InsufficientScopeError()
        # OIDC Core §5.3: the UserInfo endpoint returns claims for a *valid* access token; one
        # whose grant was revoked (refresh token replay, code reuse, revocation) is not.
        if self.server.storage().access_token_revoked(token["jti"]):
            raise InvalidTokenError()


@dataclass(frozen=True)
class UserInfoAccessToken:
    """A validated access token, as authlib's UserInfoEndpoint uses it."""

    scope: str
    client: Application
    user: User

    def get_client(self) -> Application:
        return self.client

    def get_user(self) -> User:
        return self.user


class UserInfoProtector(ResourceProtector):
    def __init__(self, server):
        super().__init__()
        self.server = server
        self.register_token_validator(AccessTokenValidator(server))

    def validate_request(self, scopes, request, **kwargs) -> UserInfoAccessToken:
        claims = super().validate_request(scopes, request, **kwargs)
        user_id = user_id_of(claims["sub"])
        user = None if user_id is None else self.server.storage().find_user(user_id)
        client = self.server.tenant.find_application(claims["client_id"])
        if user is None or user.blocked or client is None:
            raise InvalidTokenError()
        return UserInfoAccessToken(scope=claims.get("scope", ""), client=client, user=user)


class UserInfoEndpoint(UserClaims, oidc.UserInfoEndpoint):
    def __init__(self, server):
        super().__init__(server=server, resource_protector=UserInfoProtector(server))
