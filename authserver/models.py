"""The stored things authlib's grants work with: users, authorization codes, refresh tokens.

Each is a frozen dataclass built from a database row by :mod:`authserver.storage`, implementing
the authlib mixin its grant expects.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin, UserInfo

#: Auth0's subjects of database users: ``auth0|<user id>``.
USER_SUBJECT_PREFIX = "auth0|"


def user_id_of(subject: str) -> str | None:
    """The user id of a user's ``sub``; None for any other subject (a machine's, say)."""
    if not subject.startswith(USER_SUBJECT_PREFIX):
        return None
    return subject.removeprefix(USER_SUBJECT_PREFIX)


@dataclass(frozen=True)
class User:
    """A user; ``auth_time`` is when they signed in for the request at hand (OIDC ``auth_time``)."""

    id: str
    email: str
    email_verified: bool
    name: str
    nickname: str
    picture: str
    permissions: Mapping[str, tuple[str, ...]]
    blocked: bool
    updated_at: int
    auth_time: int | None = None

    def get_user_id(self) -> str:
        return f"{USER_SUBJECT_PREFIX}{self.id}"

    def permissions_for(self, audience: str) -> tuple[str, ...]:
        return self.permissions.get(audience, ())

    def signed_in_at(self, auth_time: int) -> "User":
        return dataclasses.replace(self, auth_time=auth_time)

    def claims(self) -> UserInfo:
        """Every profile and email claim (OIDC Core §5.1), in Auth0's shapes.

        Auth0 sends ``updated_at`` as an ISO 8601 string rather than a number; so does this.
        """
        updated_at = datetime.fromtimestamp(self.updated_at, UTC)
        claims = UserInfo(
            sub=self.get_user_id(),
            name=self.name,
            nickname=self.nickname,
            updated_at=updated_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            email=self.email,
            email_verified=self.email_verified,
        )
        if self.picture:
            claims["picture"] = self.picture
        return claims


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):
    """An authorization code; ``used`` once it was redeemed (it may be used once)."""

    code_hash: str
    grant_id: str
    client_id: str
    user_id: str
    redirect_uri: str | None
    scope: str
    audience: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: int
    used: bool

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass(frozen=True)
class RefreshToken(TokenMixin):
    """A refresh token; ``used`` once it was rotated (each is used once, then replaced)."""

    token_hash: str
    grant_id: str
    client_id: str
    user_id: str
    scope: str
    audience: str
    auth_time: int
    expires_at: int
    used: bool
    grant_revoked: bool

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope
