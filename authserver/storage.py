"""SQLite state: users, sessions, grants, codes, refresh tokens, consents, signing keys and the
counts of failed logins and client authentications.

Everything the server must remember across a restart lives in one SQLite file (``AUTHSERVER_DB``,
default ``.data/authserver.sqlite3``), created with owner-only permissions. Secrets the server
hands out (authorization codes, refresh tokens, session ids) are stored as SHA-256 digests only.

A *grant* is one authorization a user gave an application: the authorization code, the refresh
token family and the access tokens issued from it all point to it, so revoking the grant revokes
them together. Every method runs on one connection; a request, or a CLI command, opens its own.

:meth:`Storage.initialize` (at start-up, and before an admin command) refuses a file that is not
this server's database, before anything is written to it: a corrupt file, or another program's
SQLite database, which the server must not change. The error names the file.
"""

import enum
import hashlib
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from shared.sqlite_files import check_application, stamp

from .models import AuthorizationCode, RefreshToken, User

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    picture TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    permissions TEXT NOT NULL,
    blocked INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS failed_logins (
    email TEXT NOT NULL,
    source TEXT NOT NULL,
    failures INTEGER NOT NULL,
    blocked_at INTEGER,
    last_attempt_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (email, source)
);
-- The windows of failed client authentications (authserver.throttle), shared by every worker
-- process: counted_by names the limit ('client_and_address' or 'address'), key what it counts.
CREATE TABLE IF NOT EXISTS client_authentication_failures (
    counted_by TEXT NOT NULL,
    key TEXT NOT NULL,
    failures INTEGER NOT NULL,
    closes_at INTEGER NOT NULL,
    PRIMARY KEY (counted_by, key)
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nonce TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS grants_by_nonce ON grants (client_id, nonce);
CREATE TABLE IF NOT EXISTS authorization_codes (
    code_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT,
    scope TEXT NOT NULL,
    audience TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    audience TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE TABLE IF NOT EXISTS access_tokens (
    jti TEXT PRIMARY KEY,
    grant_id TEXT REFERENCES grants (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consents (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    audience TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id, audience)
);
-- OpenID Connect Back-Channel Logout: the SSO session each grant was made in (its ID tokens carry
-- the session's sid, the digest it is stored under), and the applications with a back-channel
-- logout URI that got an ID token in a session (each hears once of its end).
CREATE TABLE IF NOT EXISTS session_grants (
    grant_id TEXT PRIMARY KEY REFERENCES grants (id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS session_clients (
    session_hash TEXT NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    PRIMARY KEY (session_hash, client_id)
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid TEXT PRIMARY KEY,
    private_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('next', 'current', 'previous')),
    created_at INTEGER NOT NULL,
    published_until INTEGER
);
"""


#: The authserver's SQLite files (shared.sqlite_files): "FlAS".
APPLICATION_ID = 0x466C4153
#: The server's tables: a database made before the application id was set has no other.
TABLES = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA))
#: Consecutive failed logins are forgotten after a day without attempts (a block stays until an
#: administrator lifts it, as Auth0's does).
FAILED_LOGIN_MEMORY = 86400
#: Beyond this many (email, source) pairs, the least recently tried pair that blocks nothing is
#: forgotten. A block is never forgotten to make room: each one cost its attacker a threshold of
#: checked passwords, so there can only be few.
MAX_FAILED_LOGIN_ROWS = 100_000
#: How long a statement waits for another connection's write lock (SQLite ``busy timeout``) before
#: it fails with "database is locked": the server's request threads and the admin commands share
#: the file, and every write is short.
LOCK_TIMEOUT_SECONDS = 10
#: The credentials that may be used once: their table, the digest column that identifies one (a
#: field of the same name on the model), and the column set when it is used.
_SINGLE_USE = {
    AuthorizationCode: ("authorization_codes", "code_hash", "redeemed_at"),
    RefreshToken: ("refresh_tokens", "token_hash", "rotated_at"),
}


class Claim(enum.Enum):
    """What :meth:`Storage.use_once` did with a code or a refresh token."""

    #: Marked used by this call: the request may store its new tokens.
    USED = "used"
    #: Used already, by another request.
    TAKEN = "taken"
    #: Not used: its grant is revoked or its user blocked (perhaps since the request checked).
    REFUSED = "refused"


class UnusableDatabase(sqlite3.DatabaseError):
    """The file at the database path is not this server's database, or cannot be read."""


class UserExists(Exception):
    """A user with that id or email address is already stored."""


def secret_hash(secret: str) -> str:
    """The digest under which a high-entropy secret the server issued is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        email_verified=bool(row["email_verified"]),
        name=row["name"],
        nickname=row["nickname"],
        picture=row["picture"],
        permissions={aud: tuple(scopes) for aud, scopes in json.loads(row["permissions"]).items()},
        blocked=bool(row["blocked"]),
        updated_at=row["updated_at"],
    )


def _permissions_json(permissions: Mapping[str, Iterable[str]]) -> str:
    """How a user's permissions (API identifier to scopes) are stored; :func:`_user` reads them."""
    return json.dumps({audience: list(scopes) for audience, scopes in permissions.items()})


_USER_COLUMNS = (
    "users.id, email, email_verified, name, nickname, picture, permissions, blocked, updated_at"
)


class Storage:
    """The authorization server's state, on one SQLite connection."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> "Storage":
        # The file itself, not a symbolic link to it: a link to a file not there yet would make
        # the exclusive create below fail and SQLite create the file with the umask's mode.
        path = Path(path).resolve()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created owner-only before SQLite opens it: it holds private keys and password hashes.
        # Only when absent. "How To Corrupt An SQLite Database File", 2.2: "the close() system
        # call will cancel all POSIX advisory locks on the same file for all threads and all
        # file descriptors in the process." With this process's connections unlocked, an admin
        # command takes itself for the last connection and deletes the WAL on exit, and these
        # connections go on reading an old snapshot (the key `rotate-keys` promoted never signs).
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        connection = sqlite3.connect(
            path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA foreign_keys = ON")
        return cls(connection, path)

    def close(self) -> None:
        self.db.close()

    def initialize(self) -> None:
        """Create or update the schema; :class:`UnusableDatabase` names a file that is no
        database, a damaged one, or another application's."""
        try:
            check_application(self.db, APPLICATION_ID, TABLES)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.executescript(SCHEMA)
            # A database of an earlier version lacks failed_logins.last_attempt_at: add it.
            columns = {row["name"] for row in self.db.execute("PRAGMA table_info(failed_logins)")}
            if "last_attempt_at" not in columns:
                self.db.execute(
                    "ALTER TABLE failed_logins ADD COLUMN last_attempt_at INTEGER NOT NULL DEFAULT 0"
                )
            stamp(self.db, APPLICATION_ID)
        except sqlite3.DatabaseError as error:
            raise UnusableDatabase(f"{self.path}: {error}") from error

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that takes the database lock up front (no lost updates)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # https://www.sqlite.org/lang_transaction.html: after SQLITE_FULL, SQLITE_IOERR and a
            # few others "it might be necessary for SQLite to rollback and cancel the entire
            # transaction"; a ROLLBACK then fails, and would hide the error.
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _one(self, sql: str, *parameters) -> sqlite3.Row | None:
        return self.db.execute(sql, parameters).fetchone()

    # -- settings -------------------------------------------------------------------------

    def setting(self, name: str, create) -> str:
        """The value of a setting, created with ``create()`` the first time it is asked for."""
        with self.transaction():
            row = self._one("SELECT value FROM settings WHERE name = ?", name)
            if row is not None:
                return row["value"]
            value = create()
            self.db.execute("INSERT INTO settings (name, value) VALUES (?, ?)", (name, value))
            return value

    # -- users ----------------------------------------------------------------------------

    def apply_tenant_users(self, users: Iterable, now: int) -> None:
        """Insert or update the tenant file's users; ``blocked`` stays as the admin set it."""
        with self.transaction():
            for user in users:
                self.db.execute(
                    """
                    INSERT INTO users (id, email, email_verified, name, nickname, picture,
                                       password_hash, permissions, updated_at)
                    VALUES (:id, :email, :email_verified, :name, :nickname, :picture,
                            :password_hash, :permissions, :now)
                    ON CONFLICT (id) DO UPDATE SET
                        email = excluded.email, email_verified = excluded.email_verified,
                        name = excluded.name, nickname = excluded.nickname,
                        picture = excluded.picture, password_hash = excluded.password_hash,
                        permissions = excluded.permissions, updated_at = excluded.updated_at
                    WHERE (users.email, users.email_verified, users.name, users.nickname,
                           users.picture, users.password_hash, users.permissions)
                       IS NOT (excluded.email, excluded.email_verified, excluded.name,
                               excluded.nickname, excluded.picture, excluded.password_hash,
                               excluded.permissions)
                    """,
                    {
                        "id": user.id,
                        "email": user.email,
                        "email_verified": user.email_verified,
                        "name": user.name,
                        "nickname": user.nickname,
                        "picture": user.picture,
                        "password_hash": user.password_hash,
                        "permissions": _permissions_json(user.permissions),
                        "now": now,
                    },
                )

    def add_user(self, user: User, password_hash: str) -> None:
        try:
            self.db.execute(
                """
                INSERT INTO users (id, email, email_verified, name, nickname, picture,
                                   password_hash, permissions, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    user.id,
                    user.email,
                    user.email_verified,
                    user.name,
                    user.nickname,
                    user.picture,
                    password_hash,
                    _permissions_json(user.permissions),
                    user.updated_at,
                ),
            )
        except sqlite3.IntegrityError as error:
            raise UserExists(user.email) from error

    def set_blocked(self, email: str, blocked: bool, now: int) -> list[str] | None:
        """Block (ending their sessions) or unblock a user: the digests of the live sessions this
        ended (the ones to send logout tokens for), in the same transaction; None when no user
        has that address."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE users SET blocked = ?, updated_at = ? WHERE email = ?",
                (blocked, now, email),
            )
            if cursor.rowcount != 1:
                return None
            if not blocked:
                return []
            # RETURNING needs SQLite 3.35 or later (sqlite3.sqlite_version).
            ended = self.db.execute(
                """
                UPDATE sessions SET ended_at = ?
                WHERE ended_at IS NULL AND user_id = (SELECT id FROM users WHERE email = ?)
                RETURNING id_hash, expires_at
                """,
                (now, email),
            ).fetchall()
        return [row["id_hash"] for row in ended if row["expires_at"] > now]

    def find_user(self, user_id: str) -> User | None:
        row = self._one(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", user_id)
        return _user(row) if row else None

    def find_credentials(self, email: str) -> tuple[User, str] | None:
        """The user with that email address and their password hash."""
        row = self._one(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE email = ?", email)
        return (_user(row), row["password_hash"]) if row else None

    # -- brute-force protection -------------------------------------------------------------

    def count_login_attempt(self, email: str, source: str, threshold: int, now: int) -> bool:
        """Count an attempt before its password is checked; False when it may not be checked.

        The attempt counts as a failure until :meth:`clear_failed_logins` says it succeeded, so
        however many attempts arrive at once, at most ``threshold`` of them are checked.
        """
        with self.transaction():
            row = self._one(
                """
                SELECT failures, blocked_at, last_attempt_at FROM failed_logins
                WHERE email = ? AND source = ?
                """,
                email,
                source,
            )
            if (
                row is not None
                and row["blocked_at"] is None
                and row["last_attempt_at"] <= now - FAILED_LOGIN_MEMORY
            ):
                self.db.execute(
                    "DELETE FROM failed_logins WHERE email = ? AND source = ?", (email, source)
                )
                row = None
            if row is not None and (row["blocked_at"] is not None or row["failures"] >= threshold):
                return False
            if row is None:
                self._make_room_for_a_failed_login(now)
            self.db.execute(
                """
                INSERT INTO failed_logins (email, source, failures, last_attempt_at)
                VALUES (?, ?, 1, ?)
                ON CONFLICT (email, source)
                DO UPDATE SET failures = failures + 1, last_attempt_at = ?
                """,
                (email, source, now, now),
            )
            return True

    def _make_room_for_a_failed_login(self, now: int) -> None:
        (count,) = self._one("SELECT count(*) FROM failed_logins")
        if count < MAX_FAILED_LOGIN_ROWS:
            return
        self.db.execute(
            "DELETE FROM failed_logins WHERE blocked_at IS NULL AND last_attempt_at <= ?",
            (now - FAILED_LOGIN_MEMORY,),
        )
        self.db.execute(
            """
            DELETE FROM failed_logins WHERE rowid IN (
                SELECT rowid FROM failed_logins WHERE blocked_at IS NULL
                ORDER BY last_attempt_at, rowid
                LIMIT max(0, (SELECT count(*) FROM failed_logins) - ? + 1))
            """,
            (MAX_FAILED_LOGIN_ROWS,),
        )

    def block_failed_login(self, email: str, source: str, threshold: int, now: int) -> bool:
        """After a failed attempt: block at the threshold; True when this failure blocked it."""
        cursor = self.db.execute(
            """
            UPDATE failed_logins SET blocked_at = ?
            WHERE email = ? AND source = ? AND failures >= ? AND blocked_at IS NULL
            """,
            (now, email, source, threshold),
        )
        return cursor.rowcount == 1

    def clear_failed_logins(self, email: str, source: str) -> None:
        self.db.execute("DELETE FROM failed_logins WHERE email = ? AND source = ?", (email, source))

    def unblock_logins(self, email: str, threshold: int) -> int:
        """Lift the brute-force blocks of an email address, and forget its failures from every
        source; the number of sources unblocked. A source whose count reached ``threshold`` is
        refused as a blocked one is (:meth:`count_login_attempt`), marked or not: attempts
        counted together, or one whose success could not be stored, count without a mark."""
        with self.transaction():
            (blocked,) = self._one(
                """
                SELECT count(*) FROM failed_logins
                WHERE email = ? AND (blocked_at IS NOT NULL OR failures >= ?)
                """,
                email,
                threshold,
            )
            self.db.execute("DELETE FROM failed_logins WHERE email = ?", (email,))
            return blocked

    def client_authentication_windows(
        self, windows: Iterable[tuple[str, str]], now: float
    ) -> list[sqlite3.Row]:
        """The open windows (``counted_by``, ``key``, ``failures``, ``closes_at``) of the
        ``(counted_by, key)`` pairs: one read of the primary key, nothing written."""
        windows = list(windows)
        pairs = " OR ".join(["(counted_by = ? AND key = ?)"] * len(windows))
        return self.db.execute(
            f"""
            SELECT counted_by, key, failures, closes_at FROM client_authentication_failures
            WHERE ({pairs}) AND closes_at > ?
            """,
            (*(value for window in windows for value in window), now),
        ).fetchall()

    def count_client_authentication_failure(
        self, windows: Iterable[tuple[str, str, int, int]], now: float, max_keys: int
    ) -> None:
        """Count a failure in the window of each ``(counted_by, key, limit, closes_at)``, in one
        transaction; a window opens at a key's first failure, and again at its first after the
        window closed, until ``closes_at``. A failure that needs a new row when ``counted_by`` has
        ``max_keys`` makes room: the closed windows go, then the oldest one still under its
        ``limit``. A window at its limit is never dropped before it closes (that would lift the
        limit)."""
        with self.transaction():
            for counted_by, key, limit, closes_at in windows:
                stored = self._one(
                    "SELECT 1 FROM client_authentication_failures WHERE counted_by = ? AND key = ?",
                    counted_by,
                    key,
                )
                if stored is None:
                    self._make_room_for_a_window(counted_by, limit, now, max_keys)
                # In an UPDATE, every column named on the right is the row's value before it.
                self.db.execute(
                    """
                    INSERT INTO client_authentication_failures (counted_by, key, failures, closes_at)
                    VALUES (:counted_by, :key, 1, :closes_at)
                    ON CONFLICT (counted_by, key) DO UPDATE SET
                        failures = iif(closes_at > :now, failures + 1, 1),
                        closes_at = iif(closes_at > :now, closes_at, excluded.closes_at)
                    """,
                    {"counted_by": counted_by, "key": key, "now": now, "closes_at": closes_at},
                )

    def _make_room_for_a_window(
        self, counted_by: str, limit: int, now: float, max_keys: int
    ) -> None:
        """At ``max_keys`` windows of ``counted_by``: the closed ones go, then the oldest ones still
        under ``limit``, a tenth of ``max_keys`` at once, so the next new keys find room without
        a sort each (a flood of new addresses then costs a count per failure)."""
        (count,) = self._one(
            "SELECT count(*) FROM client_authentication_failures WHERE counted_by = ?", counted_by
        )
        if count < max_keys:
            return
        closed = self.db.execute(
            "DELETE FROM client_authentication_failures WHERE counted_by = ? AND closes_at <= ?",
            (counted_by, now),
        ).rowcount
        keep = max_keys - max(1, max_keys // 10)
        self.db.execute(
            """
            DELETE FROM client_authentication_failures WHERE rowid IN (
                SELECT rowid FROM client_authentication_failures
                WHERE counted_by = ? AND failures < ?
                ORDER BY closes_at, rowid
                LIMIT ?)
            """,
            (counted_by, limit, max(0, count - closed - keep)),
        )

    # -- SSO sessions ---------------------------------------------------------------------

    def create_session(self, user_id: str, auth_time: int, expires_at: int) -> str:
        session_id = secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?)",
            (secret_hash(session_id), user_id, auth_time, expires_at),
        )
        return session_id

    def session_user(self, session_id: str, now: int) -> User | None:
        """The signed-in user of a live session; None once it ended, expired or they are blocked."""
        row = self._one(
            f"""
            SELECT {_USER_COLUMNS}, sessions.auth_time
            FROM sessions JOIN users ON users.id = user_id
            WHERE id_hash = ? AND ended_at IS NULL AND expires_at > ? AND NOT blocked
            """,
            secret_hash(session_id),
            now,
        )
        return _user(row).signed_in_at(row["auth_time"]) if row else None

    def end_session(self, session_id: str, now: int) -> bool:
        """End a session; whether this call ended it (False: it had ended, or never existed)."""
        cursor = self.db.execute(
            "UPDATE sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL",
            (now, secret_hash(session_id)),
        )
        return cursor.rowcount == 1

    def link_grant_to_session(self, grant_id: str, session_hash: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO session_grants (grant_id, session_hash) VALUES (?, ?)",
            (grant_id, session_hash),
        )

    def grant_session(self, grant_id: str) -> str | None:
        """The digest of the SSO session a grant was made in, while that session is stored."""
        row = self._one("SELECT session_hash FROM session_grants WHERE grant_id = ?", grant_id)
        return row["session_hash"] if row else None

    def add_session_client(self, session_hash: str, client_id: str) -> None:
        """Remember that ``client_id`` got an ID token in the session, if it has not ended."""
        self.db.execute(
            """
            INSERT OR IGNORE INTO session_clients (session_hash, client_id)
            SELECT id_hash, ? FROM sessions WHERE id_hash = ? AND ended_at IS NULL
            """,
            (client_id, session_hash),
        )

    def session_clients(self, session_hash: str) -> list[sqlite3.Row]:
        """The applications that got an ID token in the session (``client_id``, ``user_id``)."""
        return self.db.execute(
            """
            SELECT client_id, user_id FROM session_clients
            JOIN sessions ON sessions.id_hash = session_hash
            WHERE session_hash = ? ORDER BY client_id
            """,
            (session_hash,),
        ).fetchall()

    # -- grants ---------------------------------------------------------------------------

    def create_grant(self, client_id: str, user_id: str, nonce: str | None, now: int) -> str:
        grant_id = secrets.token_urlsafe(16)
        self.db.execute(
            "INSERT INTO grants (id, client_id, user_id, nonce, created_at) VALUES (?, ?, ?, ?, ?)",
            (grant_id, client_id, user_id, nonce, now),
        )
        return grant_id

    def revoke_grant(self, grant_id: str, now: int) -> None:
        """Revoke the grant, and with it its refresh tokens and access tokens."""
        self.db.execute(
            "UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, grant_id)
        )

    def nonce_used(self, client_id: str, nonce: str) -> bool:
        return (
            self._one("SELECT 1 FROM grants WHERE client_id = ? AND nonce = ?", client_id, nonce)
            is not None
        )

    # -- authorization codes --------------------------------------------------------------

    def save_authorization_code(self, code: AuthorizationCode) -> None:
        self.db.execute(
            """
            INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id,
                redirect_uri, scope, audience, nonce, code_challenge, code_challenge_method,
                auth_time, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                code.code_hash,
                code.grant_id,
                code.client_id,
                code.user_id,
                code.redirect_uri,
                code.scope,
                code.audience,
                code.nonce,
                code.code_challenge,
                code.code_challenge_method,
                code.auth_time,
                code.expires_at,
            ),
        )

    def find_authorization_code(self, code: str) -> AuthorizationCode | None:
        row = self._one("SELECT * FROM authorization_codes WHERE code_hash = ?", secret_hash(code))
        if row is None:
            return None
        fields = {key: row[key] for key in row.keys() if key != "redeemed_at"}  # noqa: SIM118 (a Row iterates values)
        return AuthorizationCode(**fields, used=row["redeemed_at"] is not None)

    # -- refresh tokens and access tokens -------------------------------------------------

    def save_refresh_token(
        self, token: str, issued_from: RefreshToken | AuthorizationCode, expires_at: int
    ) -> None:
        """Store a refresh token for the same grant, client, user, scope and API as its source."""
        self.db.execute(
            """
            INSERT INTO refresh_tokens (token_hash, grant_id, client_id, user_id, scope, audience,
                                        auth_time, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            (
                secret_hash(token),
                issued_from.grant_id,
                issued_from.client_id,
                issued_from.user_id,
                issued_from.scope,
                issued_from.audience,
                issued_from.auth_time,
                expires_at,
            ),
        )

    def find_refresh_token(self, token: str) -> RefreshToken | None:
        row = self._one(
            """
            SELECT refresh_tokens.*, grants.revoked_at AS grant_revoked_at
            FROM refresh_tokens JOIN grants ON grants.id = grant_id WHERE token_hash = ?
            """,
            secret_hash(token),
        )
        if row is None:
            return None
        # A Row iterates its values, so its keys() are named.
        used_columns = ("rotated_at", "grant_revoked_at")
        fields = {key: row[key] for key in row.keys() if key not in used_columns}  # noqa: SIM118
        return RefreshToken(
            **fields,
            used=row["rotated_at"] is not None,
            grant_revoked=row["grant_revoked_at"] is not None,
        )

    def save_access_token(self, jti: str, grant_id: str | None, expires_at: int) -> None:
        self.db.execute(
            "INSERT INTO access_tokens (jti, grant_id, expires_at) VALUES (?, ?, ?)",
            (jti, grant_id, expires_at),
        )

    def access_token_revoked(self, jti: str) -> bool:
        row = self._one(
            """
            SELECT grants.revoked_at FROM access_tokens JOIN grants ON grants.id = grant_id
            WHERE jti = ?
            """,
            jti,
        )
        return row is not None and row["revoked_at"] is not None

    # -- single use -----------------------------------------------------------------------

    def use_once(self, credential: AuthorizationCode | RefreshToken, now: int) -> Claim:
        """Mark a code redeemed or a refresh token rotated, if it is unused, its grant not revoked
        and its user not blocked (:attr:`Claim.USED`); else why not.

        One conditional UPDATE, so of concurrent uses exactly one gets USED, and none once a
        concurrent replay revoked the grant or an admin blocked the user (each in a transaction
        of its own, before or after this one).
        """
        table, digest, used_at = _SINGLE_USE[type(credential)]
        value = getattr(credential, digest)
        cursor = self.db.execute(
            f"""
            UPDATE {table} SET {used_at} = ?
            WHERE {digest} = ? AND {used_at} IS NULL AND EXISTS (
                SELECT 1 FROM grants JOIN users ON users.id = grants.user_id
                WHERE grants.id = {table}.grant_id AND grants.revoked_at IS NULL
                  AND NOT users.blocked
            )
            """,
            (now, value),
        )
        if cursor.rowcount == 1:
            return Claim.USED
        row = self._one(f"SELECT {used_at} FROM {table} WHERE {digest} = ?", value)
        return Claim.TAKEN if row is not None and row[used_at] is not None else Claim.REFUSED

    # -- consents -------------------------------------------------------------------------

    def consented_scopes(
        self, user_id: str, client_id: str, audience: str
    ) -> frozenset[str] | None:
        """The scopes the user consented to for the application and API; None: never asked."""
        row = self._one(
            "SELECT scope FROM consents WHERE user_id = ? AND client_id = ? AND audience = ?",
            user_id,
            client_id,
            audience,
        )
        return frozenset(row["scope"].split()) if row else None

    def save_consent(
        self, user_id: str, client_id: str, audience: str, scopes: Iterable[str], now: int
    ) -> None:
        with self.transaction():
            granted = (self.consented_scopes(user_id, client_id, audience) or frozenset()) | set(
                scopes
            )
            self.db.execute(
                """
                INSERT INTO consents (user_id, client_id, audience, scope, granted_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (user_id, client_id, audience)
                DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at
                """,
                (user_id, client_id, audience, " ".join(sorted(granted)), now),
            )

    # -- signing keys ---------------------------------------------------------------------

    def signing_keys(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT kid, private_key, state, created_at, published_until FROM signing_keys "
            "ORDER BY created_at"
        ).fetchall()

    def current_signing_key(self) -> sqlite3.Row:
        """The kid and private key of the current key (the one every grant signs with)."""
        return self._one("SELECT kid, private_key FROM signing_keys WHERE state = 'current'")

    def insert_signing_key(self, kid: str, private_key: str, state: str, now: int) -> None:
        self.db.execute(
            "INSERT INTO signing_keys (kid, private_key, state, created_at) VALUES (?, ?, ?, ?)",
            (kid, private_key, state, now),
        )

    def set_signing_key_state(
        self, kid: str, state: str, published_until: int | None = None
    ) -> None:
        self.db.execute(
            "UPDATE signing_keys SET state = ?, published_until = ? WHERE kid = ?",
            (state, published_until, kid),
        )

    # -- housekeeping ---------------------------------------------------------------------

    def purge_expired(self, now: int, grant_lifetime: int) -> None:
        """Forget what can no longer be used: expired codes, tokens, sessions, retired keys,
        failed logins that blocked nothing and saw no attempt for :data:`FAILED_LOGIN_MEMORY`,
        and the closed windows of failed client authentications."""
        with self.transaction():
            self.db.execute("DELETE FROM authorization_codes WHERE expires_at <= ?", (now,))
            self.db.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (now,))
            self.db.execute("DELETE FROM access_tokens WHERE expires_at <= ?", (now,))
            self.db.execute(
                "DELETE FROM sessions WHERE expires_at <= ? OR ended_at IS NOT NULL", (now,)
            )
            self.db.execute(
                "DELETE FROM failed_logins WHERE blocked_at IS NULL AND last_attempt_at <= ?",
                (now - FAILED_LOGIN_MEMORY,),
            )
            self.db.execute(
                "DELETE FROM client_authentication_failures WHERE closes_at <= ?", (now,)
            )
            self.db.execute("DELETE FROM grants WHERE created_at <= ?", (now - grant_lifetime,))
            self.db.execute(
                "DELETE FROM signing_keys WHERE state = 'previous' AND published_until <= ?", (now,)
            )
