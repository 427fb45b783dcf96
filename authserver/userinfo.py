"""The UserInfo endpoint (OpenID Connect Core §5.3) at Auth0's ``/userinfo``.

authlib's ``UserInfoEndpoint`` behind an RFC 9068 access token validator: the bearer token must
be signed with a published key of this server, name it as ``iss``, have ``<issuer>userinfo`` in
its ``aud`` and ``openid`` in its scope, not be expired, and neither its grant may be revoked nor
its user blocked.
"""

import time
from dataclasses import dataclass

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from authlib.oidc import core as oidc
from joserfc.jwk import KeySet

from . import keys
from .models import User
from .tenant import Application

USER_SUBJECT_PREFIX = "auth0|"


class AccessTokenValidator(JWTBearerTokenValidator):
    def __init__(self, server):
        super().__init__(issuer=server.issuer, resource_server=server.userinfo_api.identifier)
        self.server = server

    def get_jwks(self) -> KeySet:
        return KeySet(keys.published_keys(self.server.storage(), int(time.time())))

    def validate_token(self, token, scopes, request, **kwargs) -> None:
        super().validate_token(token, scopes, request, **kwargs)
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
        subject = claims["sub"]
        user = None
        if subject.startswith(USER_SUBJECT_PREFIX):
            user = self.server.storage().find_user(subject.removeprefix(USER_SUBJECT_PREFIX))
        client = self.server.tenant.find_application(claims["client_id"])
        if user is None or user.blocked or client is None:
            raise InvalidTokenError()
        return UserInfoAccessToken(scope=claims.get("scope", ""), client=client, user=user)


class UserInfoEndpoint(oidc.UserInfoEndpoint):
    def __init__(self, server):
        super().__init__(server=server, resource_protector=UserInfoProtector(server))

    def generate_user_info(self, user: User, scope: str) -> oidc.UserInfo:
        return user.claims().filter(scope)
