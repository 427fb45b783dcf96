"""The user's tokens between commands: in memory, or with ``--keep`` in a file only the user can
read.

A refresh token is a long-lived credential: whoever reads it can act as the user until it is
revoked. The session file is therefore created with mode 0600 from the start (``mkstemp`` opens
it with that mode; never a chmod afterwards, which would leave a window), replaced atomically,
and refused on load when its permissions let anyone else read it, as ``ssh`` refuses a readable
private key.

A session also names the issuer and client it belongs to: its tokens are only ever sent back to
that issuer's token endpoint and the configured API. It keeps the claims of the ID token validated
at login, the "original authentication" that every refreshed ID token must match (OpenID Connect
Core 1.0 §12.2: same ``iss``, ``sub``, ``aud``, ``azp`` and ``auth_time``).
"""

import json
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from shared.files import write_atomically
from shared.oidc_client import OIDCClientError, TokenResponse

DEFAULT_SESSION_PATH = Path(".data") / "native_demo_session.json"
# Refresh a little before the access token expires rather than send one about to be refused.
EXPIRY_MARGIN_SECONDS = 30


class SessionError(OIDCClientError):
    """No usable session: missing, unreadable, too widely readable, or for another issuer/client."""


@dataclass(frozen=True)
class Session:
    issuer: str
    client_id: str
    access_token: str
    refresh_token: str | None
    expires_at: float | None
    scope: str | None
    # The claims of the ID token validated at login; refreshed ID tokens are checked against them.
    id_token_claims: dict

    @classmethod
    def from_tokens(
        cls,
        issuer: str,
        client_id: str,
        tokens: TokenResponse,
        id_token_claims: Mapping[str, object],
    ) -> "Session":
        return cls(
            issuer,
            client_id,
            tokens.access_token,
            tokens.refresh_token,
            _expires_at(tokens),
            tokens.scope,
            dict(id_token_claims),
        )

    def refreshed(self, tokens: TokenResponse) -> "Session":
        """The session after a refresh: the rotated refresh token replaces the used one; the
        original ID token's claims stay, as the reference for the next refresh."""
        return replace(
            self,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or self.refresh_token,
            expires_at=_expires_at(tokens),
            scope=tokens.scope or self.scope,
        )

    def access_token_expired(self) -> bool:
        return (
            self.expires_at is not None and time.time() >= self.expires_at - EXPIRY_MARGIN_SECONDS
        )


def _expires_at(tokens: TokenResponse) -> float | None:
    return time.time() + tokens.expires_in if tokens.expires_in else None


class SessionFile:
    def __init__(self, path: Path):
        self.path = path

    def save(self, session: Session) -> None:
        # Created with mode 0600 (mkstemp): only this user can read the tokens.
        try:
            write_atomically(self.path, json.dumps(asdict(session), indent=2))
        except OSError as error:
            raise SessionError(
                f"cannot write the session file {self.path} ({error.strerror})"
            ) from error

    def load(self, issuer: str, client_id: str) -> Session:
        try:
            session = Session(**json.loads(self._read_private()))
        except (ValueError, TypeError) as error:
            raise SessionError(
                f"{self.path} is not a session file; delete it and log in again"
            ) from error
        if not _well_typed(session):
            raise SessionError(f"{self.path} is not a session file; delete it and log in again")
        if session.issuer != issuer or session.client_id != client_id:
            raise SessionError(
                f"{self.path} belongs to {session.client_id} at {session.issuer}, "
                f"not {client_id} at {issuer}"
            )
        return session

    def _read_private(self) -> str:
        """The file's text, once the open file (not the path, which could be swapped) proves
        that only this user can read it."""
        try:
            with open(self.path, encoding="utf-8") as file:
                status = os.fstat(file.fileno())
                mode = stat.S_IMODE(status.st_mode)
                if status.st_uid != os.getuid() or mode & 0o077:
                    raise SessionError(
                        f"{self.path} is readable by other users (mode {mode:o}); "
                        "delete it and log in again"
                    )
                return file.read()
        except FileNotFoundError:
            raise SessionError(
                f"no saved session at {self.path}; "
                "run `.venv/bin/python -m native_demo login --keep` first"
            ) from None
        except OSError as error:
            raise SessionError(
                f"cannot read the session file {self.path} ({error.strerror})"
            ) from error


def _well_typed(session: Session) -> bool:
    strings = (session.issuer, session.client_id, session.access_token)
    return (
        all(isinstance(value, str) for value in strings)
        and isinstance(session.refresh_token, str | None)
        and isinstance(session.scope, str | None)
        and (session.expires_at is None or _number(session.expires_at))
        and _id_token_claims_well_typed(session.id_token_claims)
    )


def _id_token_claims_well_typed(claims: object) -> bool:
    """The claims a refreshed ID token is compared with have the types a validated ID token
    gives them."""
    if not isinstance(claims, dict):
        return False
    audience = claims.get("aud")
    return (
        all(isinstance(claims.get(name), str) for name in ("iss", "sub"))
        and _number(claims.get("iat"))
        and (
            isinstance(audience, str)
            or isinstance(audience, list)
            and all(isinstance(a, str) for a in audience)
        )
        and all(isinstance(claims[name], str) for name in ("azp", "nonce") if name in claims)
        and ("auth_time" not in claims or _number(claims["auth_time"]))
    )


#: The last second a date can show (9999-12-31T23:59:59Z); a stored time past it is corrupt.
LATEST_TIMESTAMP = 253402300799


def _number(value: object) -> bool:
    """A time in seconds since the epoch: a number from 0 to :data:`LATEST_TIMESTAMP` (not NaN)."""
    return type(value) in (int, float) and 0 <= value <= LATEST_TIMESTAMP
