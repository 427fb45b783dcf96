"""Server-side sessions: the browser holds an opaque random id, the server everything else.

OWASP's Session Management Cheat Sheet: "The session ID content (or value) must be meaningless
to prevent information disclosure attacks", with "at least 64 bits of entropy"; the id here is
256 random bits (`secrets.token_urlsafe(32)`). The SQLite store (`WEBAPP_DB`) keys each session
by the SHA-256 of its id, so a copy of the database holds no cookie value: it opens no session
here. It does hold the session's access, refresh and ID tokens as they are, which work without
any cookie (the refresh token until it is revoked or expires), so the file is created
owner-only (0600, its folder 0700): only this user (and root) can read them. Beside the
session's own data (the user, the CSRF token, authlib's state of a login under way) it keeps
the tokens and the narration in tables of their own, which only the requests that change them
write: two BFF calls of one browser at the same time never overwrite each other's refreshed
tokens.

A session ends when it has been idle for `idle_lifetime` seconds or has lasted
`absolute_lifetime` seconds since login, whichever comes first (both read the app's `CLOCK`).
Idle means no action of the user: a request whose view sets ``session.activity = False`` (the
page's `/session` polling, every 3 s while it is open) leaves the session's last activity as it
was.
OWASP: "the session ID must be renewed by the web application after any privilege level change
within the associated user session": :meth:`SessionInterface.renew` gives the session a new id
at login, so an id planted before login (session fixation) opens nothing after it.

The cookie is HttpOnly (no script reads it) and SameSite=Lax (not sent with a cross-site POST);
over https it is also Secure and named with the `__Host-` prefix (RFC 6265bis 4.1.3.2: sent only
to this host, over https, with Path=/).
"""

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from flask import Flask, Request, Response
from flask.sessions import SessionInterface as FlaskSessionInterface
from flask.sessions import SessionMixin
from werkzeug.datastructures import CallbackDict

from shared.log_safety import escaped
from shared.sqlite_files import is_storage_fault

log = logging.getLogger(__name__)

#: How long a statement waits for another connection's write lock before it fails ("database is
#: locked": answered 503 with Retry-After, ``shared.web``).
LOCK_TIMEOUT_SECONDS = 10
COOKIE_NAME = "webapp_session"
SECURE_COOKIE_NAME = "__Host-webapp_session"
SESSION_ID_BYTES = 32

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    subject TEXT,
    oidc_sid TEXT,
    created INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (subject);
CREATE INDEX IF NOT EXISTS sessions_oidc_sid ON sessions (oidc_sid);
CREATE TABLE IF NOT EXISTS tokens (
    id_hash TEXT PRIMARY KEY REFERENCES sessions (id_hash) ON DELETE CASCADE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id_hash TEXT NOT NULL REFERENCES sessions (id_hash) ON DELETE CASCADE,
    event TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events (id_hash);
CREATE TABLE IF NOT EXISTS used_logout_tokens (
    jti TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
);
"""


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@contextmanager
def best_effort(what: str) -> Iterator[None]:
    """Run the block's writes best effort: a store that refuses them for now (a storage fault) is
    logged, ``what`` saying what was lost, and the request goes on; any other error is raised."""
    try:
        yield
    except sqlite3.OperationalError as fault:
        if not is_storage_fault(fault):
            raise
        log.warning("%s, the store refused it: %s", what, escaped(str(fault)))


class ServerSession(CallbackDict, SessionMixin):
    """Flask's session, kept on the server: ``session_id`` is None until it is first saved."""

    def __init__(
        self, data: dict | None = None, session_id: str | None = None, created: int | None = None
    ):
        def on_update(_):
            self.modified = True

        super().__init__(data or {}, on_update)
        self.session_id = session_id
        self.created = created
        self.modified = False
        #: Ended in this request (logout): the browser's cookie is deleted unless a new
        #: session replaces it.
        self.ended = False
        #: Whether this request is an action of the user (False: it does not keep the
        #: session from its idle timeout).
        self.activity = True
        #: "idle" or "absolute" when the browser's session expired at this request.
        self.expired: str | None = None

    @property
    def key(self) -> str | None:
        """The store's key of this session (the hash of its id)."""
        return None if self.session_id is None else id_hash(self.session_id)


class SessionStore:
    """The SQLite file of the sessions, their tokens and narration, and the used logout tokens."""

    def __init__(self, path: str) -> None:
        # The file itself, not a symbolic link to it: a link to a file not there yet would make
        # the exclusive create below fail and SQLite create the file with the umask's mode.
        resolved = Path(path).resolve()
        resolved.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created owner-only before SQLite opens it (its WAL and shared-memory files take the
        # same mode): it holds every session's tokens. Only when absent, as authserver's
        # Storage.open does: an open and close of a file SQLite has open elsewhere in this
        # process would drop that connection's POSIX locks.
        with suppress(FileExistsError):
            os.close(os.open(resolved, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        self.path = str(resolved)
        with self.connection() as db:
            db.executescript(SCHEMA)
        self.lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS)
        db.execute("PRAGMA foreign_keys = ON")
        try:
            with db:
                yield db
        finally:
            db.close()

    def load(self, key: str) -> tuple[dict, int, int] | None:
        """(data, created, last_seen) of the session, or None."""
        with self.connection() as db:
            row = db.execute(
                "SELECT data, created, last_seen FROM sessions WHERE id_hash = ?", (key,)
            ).fetchone()
        return None if row is None else (json.loads(row[0]), row[1], row[2])

    def create(self, key: str, now: int) -> None:
        with self.connection() as db:
            db.execute(
                "INSERT INTO sessions (id_hash, data, created, last_seen) VALUES (?, '{}', ?, ?)",
                (key, now, now),
            )

    def purge(self, idle_since: int, created_before: int) -> None:
        """Delete the sessions idle since ``idle_since`` or created before ``created_before``."""
        with self.connection() as db:
            db.execute(
                "DELETE FROM sessions WHERE last_seen <= ? OR created <= ?",
                (idle_since, created_before),
            )

    def save(self, key: str, data: dict, now: int) -> None:
        user = data.get("user") or {}
        with self.connection() as db:
            db.execute(
                "UPDATE sessions SET data = ?, subject = ?, oidc_sid = ?, last_seen = ? "
                "WHERE id_hash = ?",
                (json.dumps(data), user.get("sub"), user.get("sid"), now, key),
            )

    def touch(self, key: str, now: int) -> None:
        with self.connection() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (now, key))

    def delete(self, key: str) -> None:
        with self.connection() as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (key,))

    def move_events(self, old_key: str, new_key: str) -> None:
        with self.connection() as db:
            db.execute("UPDATE events SET id_hash = ? WHERE id_hash = ?", (new_key, old_key))

    def tokens(self, key: str) -> dict | None:
        with self.connection() as db:
            row = db.execute("SELECT data FROM tokens WHERE id_hash = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def save_tokens(self, key: str, tokens: dict) -> None:
        with self.connection() as db:
            db.execute(
                "INSERT INTO tokens (id_hash, data) VALUES (?, ?) "
                "ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data",
                (key, json.dumps(tokens)),
            )

    def add_event(self, key: str, event: dict) -> None:
        with self.connection() as db:
            db.execute(
                "INSERT INTO events (id_hash, event) VALUES (?, ?)", (key, json.dumps(event))
            )

    def events(self, key: str) -> list[dict]:
        with self.connection() as db:
            rows = db.execute(
                "SELECT event FROM events WHERE id_hash = ? ORDER BY seq", (key,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def log_out(
        self, jti: str, expires: int, now: int, *, subject: str | None, oidc_sid: str | None
    ) -> int | None:
        """A back-channel logout: in one transaction, record the logout token ``jti`` as used
        until ``expires`` and delete the sessions of that authorization-server session (``sid``),
        or else of that user (``sub``); the number deleted, None when ``jti`` was used already
        (nothing deleted). Apart, a fault between them left the token used and the sessions
        alive, and the same token, sent again, refused."""
        with self.connection() as db:
            db.execute("DELETE FROM used_logout_tokens WHERE expires < ?", (now,))
            cursor = db.execute(
                "INSERT OR IGNORE INTO used_logout_tokens (jti, expires) VALUES (?, ?)",
                (jti, expires),
            )
            if cursor.rowcount != 1:
                return None
            if oidc_sid is not None:
                cursor = db.execute("DELETE FROM sessions WHERE oidc_sid = ?", (oidc_sid,))
            else:
                cursor = db.execute("DELETE FROM sessions WHERE subject = ?", (subject,))
            return cursor.rowcount


class SessionInterface(FlaskSessionInterface):
    """Flask's session in :class:`SessionStore`, with idle and absolute lifetimes by ``clock``."""

    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Callable[[], float],
        idle_lifetime: int,
        absolute_lifetime: int,
        secure: bool,
    ) -> None:
        self.store = store
        self.clock = clock
        self.idle_lifetime = idle_lifetime
        self.absolute_lifetime = absolute_lifetime
        self.secure = secure
        self.cookie_name = SECURE_COOKIE_NAME if secure else COOKIE_NAME

    def now(self) -> int:
        return int(self.clock())

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        session_id = request.cookies.get(self.cookie_name)
        if not session_id:
            return ServerSession()
        key = id_hash(session_id)
        found = self.store.load(key)
        if found is None:
            return ServerSession()
        data, created, last_seen = found
        now = self.now()
        expired = (
            "absolute"
            if now - created >= self.absolute_lifetime
            else "idle"
            if now - last_seen >= self.idle_lifetime
            else None
        )
        if expired is not None:
            self.store.delete(key)
            session = ServerSession()
            session.expired = expired
            return session
        return ServerSession(data, session_id, created)

    def renew(self, session: ServerSession) -> None:
        """A new id for ``session`` (at login): the old one opens nothing any more."""
        old_key = session.key
        session.session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        session.created = self.now()
        # Expired sessions go when a new one comes, so the store does not grow for ever.
        self.store.purge(
            session.created - self.idle_lifetime, session.created - self.absolute_lifetime
        )
        self.store.create(session.key, session.created)
        if old_key is not None:
            self.store.move_events(old_key, session.key)
            self.store.delete(old_key)
        session.modified = True

    def end(self, session: ServerSession) -> None:
        """Delete ``session`` from the store (logout); its cookie is deleted in the answer."""
        if session.key is not None:
            self.store.delete(session.key)
        self._forget(session)

    def forget(self, session: ServerSession) -> None:
        """End ``session`` when the store may refuse to delete it: its cookie is deleted in the
        answer, and its row deleted if the store takes it (else the row stays until it expires,
        and a copy of the cookie still opens it: its spent refresh token is then refused, which
        ends it)."""
        if session.key is not None:
            with best_effort("ended session not deleted"):
                self.store.delete(session.key)
        self._forget(session)

    @staticmethod
    def _forget(session: ServerSession) -> None:
        session.clear()
        session.session_id = None
        session.ended = True

    def save_now(self, session: ServerSession) -> None:
        """Store ``session`` now rather than with the answer (which then writes it no more)."""
        self.ensure_saved(session)
        self.store.save(session.key, dict(session), self.now())
        session.modified = False

    def ensure_saved(self, session: ServerSession) -> str:
        """The store key of ``session``, creating its row first if it has none yet."""
        if session.session_id is None:
            self.renew(session)
        return session.key

    def _touch(self, key: str) -> None:
        """Note the session's last activity, best effort: the answer may already hold what cannot
        be undone (a BFF call forwarded to the API), and a missed note only brings the idle
        timeout closer."""
        with best_effort("session activity not noted"):
            self.store.touch(key, self.now())

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        if response.status_code >= 500:
            # The request failed (a 503: the store refused it for now): what it changed in the
            # session goes with it, as its writes did; writing again would only fail again.
            return
        if not session:
            if session.session_id is not None:
                self.store.delete(session.key)
            if session.session_id is not None or session.ended:
                response.delete_cookie(self.cookie_name, path="/", secure=self.secure)
            return
        self.ensure_saved(session)
        if session.modified:
            self.store.save(session.key, dict(session), self.now())
        elif session.activity:
            self._touch(session.key)
        response.set_cookie(
            self.cookie_name,
            session.session_id,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.secure,
        )
