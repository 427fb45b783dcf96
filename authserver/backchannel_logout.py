"""OpenID Connect Back-Channel Logout 1.0, the OP's side: logout tokens to the applications.

When an SSO session ends (``/v2/logout``, ``/oidc/logout``), every application with a
``backchannel_logout_uri`` that got an ID token in the session (``session_clients``: the token
endpoint records it in the transaction that uses the code or the refresh token,
:mod:`authserver.grants.base`; the authorization endpoint, :mod:`authserver.oidc`) is sent a
logout token: a JWT signed with the current key, ``typ: logout+jwt``,
naming the user (``sub``) and the session (``sid``), with no ``nonce``. It is POSTed as
``logout_token=...`` to the application's URI after the logout's own response, from a thread
of that application's own (:class:`Senders`): a slow or unreachable application neither fails
nor delays the user's logout, nor anybody's logout at another application.

Each POST takes :data:`TIMEOUT_SECONDS` at most in all (``BACKCHANNEL_LOGOUT_TIMEOUT``), connecting,
sending and waiting for the answer together (not per read of the socket), goes to the URI
directly (no proxy, no redirect followed), is tried once (an answer 503 is tried again, at
most :data:`ATTEMPTS` times in all, after the wait it asks for), and its outcome is logged. At most
:data:`QUEUE_SIZE` logout tokens wait for one application (more are dropped, logged); each is
minted when it is sent, and one that waited longer than :data:`LOGOUT_TOKEN_LIFETIME` since its
logout is not sent at all (logged).
"""

import http.client
import logging
import math
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode, urlsplit

from flask import current_app
from joserfc import jwt
from joserfc.jwk import KeySet

from shared.log_safety import escaped

from . import keys
from .clock import now
from .models import USER_SUBJECT_PREFIX
from .server import current_server
from .storage import Storage
from .tenant import Tenant

log = logging.getLogger(__name__)

#: Back-Channel Logout §2.4, events: "Claim whose value is a JSON object containing the member
#: name http://schemas.openid.net/event/backchannel-logout."
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: The JWT type of logout tokens (Back-Channel Logout §2.4, registered in §5.2).
LOGOUT_TOKEN_TYPE = "logout+jwt"  # noqa: S105 (a JOSE type, not a credential)
#: How long a logout token is valid: two minutes, enough for one delivery.
LOGOUT_TOKEN_LIFETIME = 120
#: How long one POST to an application may take in all, connecting included.
TIMEOUT_SECONDS = 5
#: How many logout tokens may wait for one application (``BACKCHANNEL_LOGOUT_QUEUE_SIZE``); more
#: are dropped. They are sent one after the other: of an unreachable application's queue, no more
#: than this many are tried within :data:`LOGOUT_TOKEN_LIFETIME` of their logout.
QUEUE_SIZE = LOGOUT_TOKEN_LIFETIME // TIMEOUT_SECONDS
#: How many times a logout token is sent to an application that answers 503 (its store busy for
#: now, say): the first time and two more, each after the wait it asks for (``Retry-After`` in
#: seconds, at most :data:`MAX_RETRY_WAIT`; :data:`DEFAULT_RETRY_WAIT` without one).
ATTEMPTS = 3
MAX_RETRY_WAIT = 10
DEFAULT_RETRY_WAIT = 1
EXTENSION_NAME = "authserver_backchannel_logout"


def logout_token(
    issuer: str, key: KeySet, client_id: str, subject: str, sid: str, issued_at: int
) -> str:
    """A logout token for ``client_id`` about the session ``sid`` of user ``subject``."""
    # RFC 8725 §3.11: "If a particular kind of JWT is subject to such confusion, that JWT can
    # include an explicit JWT type value, and the validation rules can specify checking the type."
    # Back-Channel Logout §4.1 (cross-JWT confusion) does so with logout+jwt; the kid is added
    # by joserfc from the signing key (the current key, as for ID tokens).
    header = {"alg": keys.ALGORITHM, "typ": LOGOUT_TOKEN_TYPE}
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": issued_at,
        "exp": issued_at + LOGOUT_TOKEN_LIFETIME,
        # "jti REQUIRED. Unique identifier for the token".
        "jti": secrets.token_urlsafe(16),
        # "A Logout Token MUST contain either a sub or a sid Claim, and MAY contain both."
        "sub": subject,
        "sid": sid,
        # "The corresponding member value MUST be a JSON object and SHOULD be the empty JSON
        # object {}." No nonce: "A nonce Claim MUST NOT be present."
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    return jwt.encode(header, claims, key, algorithms=[keys.ALGORITHM])


def _remaining(deadline: float) -> float:
    """The seconds left until ``deadline`` (a :func:`time.monotonic` time); once it has passed,
    :class:`TimeoutError`."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


class _DeadlineSocket(socket.socket):
    """A connected socket whose waits all end at one :attr:`deadline`.

    A socket's timeout bounds each wait, not a request: an application answering one byte at a
    time, each just within the timeout, would hold the sender for as long as it likes. Before
    each wait the timeout is set to what is left until the deadline.
    """

    deadline = math.inf

    def recv_into(self, buffer, nbytes=0, flags=0):
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):
        self.settimeout(_remaining(self.deadline))
        return super().sendall(data, flags)


class _DeadlineTLSSocket(ssl.SSLSocket):
    """:class:`_DeadlineSocket` once TLS is on (the TLS handshake waits at most the socket's
    timeout in all, which is what was left after connecting)."""

    deadline = math.inf

    def recv_into(self, buffer, nbytes=None, flags=0):
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):
        self.settimeout(_remaining(self.deadline))
        return super().sendall(data, flags)


_TLS = ssl.create_default_context()
_TLS.sslsocket_class = _DeadlineTLSSocket


class _Connection(http.client.HTTPConnection):
    """Straight to the application (no proxy), every wait ending at ``deadline``. http.client
    follows no redirect: a redirect is an answer of the application, logged as a refusal (the
    logout token goes to the registered URI only)."""

    def __init__(self, host: str, port: int | None, deadline: float) -> None:
        super().__init__(host, port)
        self.deadline = deadline

    def connect(self) -> None:
        plain = socket.create_connection((self.host, self.port), _remaining(self.deadline))
        self.sock = _DeadlineSocket(fileno=plain.detach())
        self.sock.deadline = self.deadline


class _TLSConnection(_Connection):
    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(_remaining(self.deadline))
        self.sock = _TLS.wrap_socket(self.sock, server_hostname=self.host)
        self.sock.deadline = self.deadline


def _post(uri: str, body: bytes, timeout: float) -> tuple[int, str | None]:
    """POST ``body`` to ``uri``: the status of the answer and its ``Retry-After``. Connecting,
    sending and reading the answer's status line and headers end ``timeout`` seconds from now,
    all together."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(uri)
    connection_class = _TLSConnection if parts.scheme == "https" else _Connection
    connection = connection_class(parts.hostname, parts.port, deadline)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with connection.getresponse() as response:
            return response.status, response.getheader("Retry-After")
    finally:
        connection.close()


def deliver(client_id: str, uri: str, token: str, timeout: float) -> float | None:
    """POST one logout token, giving up after ``timeout`` seconds in all; never raises: the
    outcome is logged. When the application answers 503 (Service Unavailable), the seconds it
    asks to wait before it is sent again (``Retry-After``, at most :data:`MAX_RETRY_WAIT`);
    otherwise None."""
    # Back-Channel Logout §2.5: "The OP uses an HTTP POST to the registered back-channel logout
    # URI to trigger the logout actions by the RP. The POST body uses the
    # application/x-www-form-urlencoded encoding and must include a logout_token parameter".
    # The URI is the tenant's, checked to be http(s) when the tenant file was read.
    body = urlencode({"logout_token": token}).encode()
    try:
        status, retry_after = _post(uri, body, timeout)
    except (OSError, http.client.HTTPException, ValueError) as error:
        log.warning(
            "back-channel logout of %s at %s failed: %s",
            escaped(client_id),
            escaped(uri),
            escaped(error),
        )
        return None
    # §2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK. [...] OPs should be
    # prepared to also process an HTTP 204 No Content response as a successful response."
    if status in (200, 204):
        log.info(
            "back-channel logout of %s at %s: done (%d)", escaped(client_id), escaped(uri), status
        )
        return None
    log.warning(
        "back-channel logout of %s at %s: refused (%d)", escaped(client_id), escaped(uri), status
    )
    # RFC 9110 15.6.4: 503 "indicates that the server is currently unable to handle the request
    # due to a temporary overload or scheduled maintenance, which will likely be alleviated after
    # some delay"; 10.2.3: Retry-After is a date or "a non-negative integer" of seconds.
    if status != 503:
        return None
    if retry_after is None or not (retry_after.isascii() and retry_after.isdigit()):
        return DEFAULT_RETRY_WAIT
    return min(int(retry_after), MAX_RETRY_WAIT)


@dataclass(frozen=True)
class LogoutJob:
    """A logout token to send: to which application, about which session, queued when."""

    client_id: str
    uri: str
    subject: str
    sid: str
    queued_at: int

    def token(self, issuer: str, key: KeySet, issued_at: int) -> str:
        return logout_token(issuer, key, self.client_id, self.subject, self.sid, issued_at)


def logout_jobs(storage: Storage, tenant: Tenant, sid: str, queued_at: int) -> list[LogoutJob]:
    """A job for each application that got an ID token in the session ``sid`` and still has a
    back-channel logout URI."""
    jobs = []
    for row in storage.session_clients(sid):
        application = tenant.find_application(row["client_id"])
        if application is None or not application.backchannel_logout_uri:
            continue
        subject = f"{USER_SUBJECT_PREFIX}{row['user_id']}"
        uri = application.backchannel_logout_uri
        jobs.append(LogoutJob(application.client_id, uri, subject, sid, queued_at))
    return jobs


def send(
    job: LogoutJob, mint: Callable[[int], str], clock: Callable[[], int], timeout: float
) -> None:
    """POST ``job``'s logout token, minted (``mint(issued_at)``) just before each POST, unless
    it waited so long that a token made when it was queued would have expired; answered 503,
    again after the wait the application asks for, up to :data:`ATTEMPTS` times in all (a new
    token each time). ``clock``: whole seconds since the epoch."""
    for attempt in range(1, ATTEMPTS + 1):
        sent_at = clock()
        if sent_at - job.queued_at > LOGOUT_TOKEN_LIFETIME:
            log.warning(
                "back-channel logout of %s at %s skipped: queued %ds ago",
                escaped(job.client_id),
                escaped(job.uri),
                sent_at - job.queued_at,
            )
            return
        wait = deliver(job.client_id, job.uri, mint(sent_at), timeout)
        if wait is None or attempt == ATTEMPTS:
            return
        time.sleep(wait)


def _send(job: LogoutJob) -> None:
    """In the app's context: :func:`send`, with the current key and the app's clock."""
    server = current_server()

    def mint(issued_at: int) -> str:
        return job.token(server.issuer, keys.signing_key(server.storage()), issued_at)

    timeout = current_app.config.get("BACKCHANNEL_LOGOUT_TIMEOUT", TIMEOUT_SECONDS)
    send(job, mint, now, timeout)


class _Outbox:
    """One application's waiting logout tokens (at most ``size``), and the thread sending them."""

    def __init__(self, app, client_id: str, size: int) -> None:
        self._app = app
        self._jobs: queue.Queue[LogoutJob | None] = queue.Queue(maxsize=size)
        self._thread = threading.Thread(
            target=self._send_all, name=f"backchannel-logout {client_id}", daemon=True
        )
        self._thread.start()

    def offer(self, job: LogoutJob) -> bool:
        """Queue ``job``; False when the outbox is full."""
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            return False
        return True

    def close(self) -> None:
        """Send what waits, then stop."""
        self._jobs.put(None)
        self._thread.join()

    def _send_all(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._app.app_context():
                try:
                    _send(job)
                except Exception:
                    log.exception(
                        "back-channel logout of %s at %s failed",
                        escaped(job.client_id),
                        escaped(job.uri),
                    )


class Senders:
    """The app's outboxes, one per application, made with its first logout token: a slow or
    unreachable application delays only its own logout tokens."""

    def __init__(self, app) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._outboxes: dict[str, _Outbox] = {}

    def submit(self, job: LogoutJob) -> None:
        """Queue ``job`` in its application's outbox; when that is full, drop it (logged)."""
        size = self._app.config.get("BACKCHANNEL_LOGOUT_QUEUE_SIZE", QUEUE_SIZE)
        with self._lock:
            outbox = self._outboxes.get(job.client_id)
            if outbox is None:
                outbox = self._outboxes[job.client_id] = _Outbox(self._app, job.client_id, size)
        if not outbox.offer(job):
            log.warning(
                "back-channel logout of %s at %s dropped: %d logout tokens wait already",
                escaped(job.client_id),
                escaped(job.uri),
                size,
            )

    def shutdown(self) -> None:
        """Send every logout token that waits, then stop the threads (returns once they did)."""
        with self._lock:
            outboxes, self._outboxes = list(self._outboxes.values()), {}
        for outbox in outboxes:
            outbox.close()


def send_later(jobs: list[LogoutJob]) -> None:
    """Queue the logout tokens of a session that just ended (:func:`logout_jobs`).

    Each is minted when its application's thread sends it, after the logout has answered.
    """
    senders = current_app.extensions[EXTENSION_NAME]
    for job in jobs:
        senders.submit(job)


def sessions_ended(storage: Storage, tenant: Tenant, issuer: str, sids, issued_at: int) -> int:
    """Send the logout tokens of sessions an admin command ended, one after the other (the
    command waits for them, and for the retries of a 503: :func:`send`), each minted just before
    it is sent, at the command's time (which it reads once) plus the time spent sending since;
    the number of logout tokens."""
    jobs = [job for sid in sids for job in logout_jobs(storage, tenant, sid, issued_at)]
    key = keys.signing_key(storage)
    started = time.monotonic()

    def clock() -> int:
        return issued_at + int(time.monotonic() - started)

    for job in jobs:
        send(job, partial(job.token, issuer, key), clock, TIMEOUT_SECONDS)
    return len(jobs)


def init_app(app) -> None:
    app.extensions[EXTENSION_NAME] = Senders(app)
