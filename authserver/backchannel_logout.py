"""OpenID Connect Back-Channel Logout 1.0, the OP's side: logout tokens to the applications.

When an SSO session ends (``/v2/logout``, ``/oidc/logout``), every application with a
``backchannel_logout_uri`` that got an ID token in the session (:mod:`authserver.oidc` keeps
the list) is sent a logout token: a JWT signed with the current key, ``typ: logout+jwt``,
naming the user (``sub``) and the session (``sid``), with no ``nonce``. It is POSTed as
``logout_token=...`` to the application's URI from a small pool of threads, after the logout's
own response: a slow or unreachable application neither fails nor delays the user's logout. Each
POST waits :data:`TIMEOUT_SECONDS` at most (``BACKCHANNEL_LOGOUT_TIMEOUT``), follows no
redirect, is tried once, and its outcome is logged.
"""

import http.client
import logging
import secrets
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

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
#: How long one POST to an application may take, connecting included.
TIMEOUT_SECONDS = 5
#: The threads that send logout tokens, per app.
SENDERS = 4
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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer of the application, logged as a failure, never followed (the
    logout token goes to the registered URI only)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


#: Straight to the application: no proxy from the environment, no redirects.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


def deliver(client_id: str, uri: str, token: str, timeout: float) -> None:
    """POST one logout token; never raises: the outcome is logged."""
    # Back-Channel Logout §2.5: "The OP uses an HTTP POST to the registered back-channel logout
    # URI to trigger the logout actions by the RP. The POST body uses the
    # application/x-www-form-urlencoded encoding and must include a logout_token parameter".
    body = urlencode({"logout_token": token}).encode()
    # The URI is the tenant's, checked to be http(s) when the tenant file was read.
    request = urllib.request.Request(  # noqa: S310
        uri,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, http.client.HTTPException, ValueError) as error:
        log.warning(
            "back-channel logout of %s at %s failed: %s",
            escaped(client_id),
            escaped(uri),
            escaped(error),
        )
        return
    # §2.8: "If the logout succeeded, the RP MUST respond with HTTP 200 OK. [...] OPs should be
    # prepared to also process an HTTP 204 No Content response as a successful response."
    if status in (200, 204):
        log.info(
            "back-channel logout of %s at %s: done (%d)", escaped(client_id), escaped(uri), status
        )
    else:
        log.warning(
            "back-channel logout of %s at %s: refused (%d)",
            escaped(client_id),
            escaped(uri),
            status,
        )


def logout_requests(
    storage: Storage, tenant: Tenant, issuer: str, sid: str, issued_at: int
) -> list[tuple[str, str, str]]:
    """(client id, back-channel logout URI, logout token) for each application that got an ID
    token in the session ``sid`` and still has a back-channel logout URI."""
    key = keys.signing_key(storage)
    requests = []
    for row in storage.session_clients(sid):
        application = tenant.find_application(row["client_id"])
        if application is None or not application.backchannel_logout_uri:
            continue
        subject = f"{USER_SUBJECT_PREFIX}{row['user_id']}"
        token = logout_token(issuer, key, application.client_id, subject, sid, issued_at)
        requests.append((application.client_id, application.backchannel_logout_uri, token))
    return requests


def session_ended(sid: str) -> None:
    """Send a logout token to each application signed in through the session that just ended.

    The tokens are made here, in the logout request (they need its storage and signing key);
    the pool sends them once the request has gone on.
    """
    server = current_server()
    timeout = current_app.config.get("BACKCHANNEL_LOGOUT_TIMEOUT", TIMEOUT_SECONDS)
    senders = current_app.extensions[EXTENSION_NAME]
    for request in logout_requests(server.storage(), server.tenant, server.issuer, sid, now()):
        senders.submit(deliver, *request, timeout)


def sessions_ended(storage: Storage, tenant: Tenant, issuer: str, sids, issued_at: int) -> int:
    """Send the logout tokens of sessions an admin command ended, one after the other (the
    command waits for them); the number of logout tokens sent."""
    requests = [
        request
        for sid in sids
        for request in logout_requests(storage, tenant, issuer, sid, issued_at)
    ]
    for request in requests:
        deliver(*request, TIMEOUT_SECONDS)
    return len(requests)


def init_app(app) -> None:
    app.extensions[EXTENSION_NAME] = ThreadPoolExecutor(
        max_workers=SENDERS, thread_name_prefix="backchannel-logout"
    )
