"""The Backend-for-Frontend: ``/bff/api/<path>`` forwards to the API with the session's access
token (steps 6 and 7 of the package's docstring).

The BCP for browser-based apps, 6.1: "the BFF ... is responsible for obtaining tokens ... and
for making requests to resource servers on behalf of the frontend"; "the BFF MUST NOT expose
tokens to the browser". The page's JavaScript sends its calls here with the session cookie and
the header ``X-Flowlab-CSRF: 1`` (csrf.py); the BFF attaches ``Authorization: Bearer`` and
forwards the API's status, body and ``WWW-Authenticate`` as they are. An access token within
:data:`REFRESH_MARGIN` seconds of its expiry is first renewed with the refresh token; the
authorization server rotates it (a new refresh token each time), and one lock makes sure a
refresh token is used once, however many calls arrive together.

What reaches the API is only ever one of its own paths: the path after ``/bff/api/`` must be
segments of letters, digits, ``_`` and ``-`` once Flask has decoded it (so ``%252e%252e``,
``%2e%2e``, ``%3F``, ``%23``, ``%00``, a backslash or a Unicode dot is a 404), each segment is
percent-encoded again on the way out, and no query string is forwarded (the page sends none).
The body of a POST is at most :data:`MAX_BODY_BYTES`, however it is sent: the app's
``MAX_CONTENT_LENGTH`` bounds what is read, a chunked upload too.
"""

import logging
import re
import sqlite3
from urllib.parse import quote

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, Response, current_app, jsonify, request, session

from shared.log_safety import escaped
from shared.token_validation import TokenValidationError

from . import csrf
from .narration import arrow, record

log = logging.getLogger(__name__)
bp = Blueprint("bff", __name__, url_prefix="/bff")

REFRESH_MARGIN = 60
API_TIMEOUT = 10
MAX_BODY_BYTES = 64 * 1024
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "WWW-Authenticate", "Retry-After")
# The API's paths under /api/ (messages, me, admin/stats, ...): a few plain segments.
API_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}(?:/[A-Za-z0-9_-]{1,64}){0,3}")


def error(status: int, code: str, description: str) -> Response:
    response = jsonify({"error": code, "error_description": description})
    response.status_code = status
    return response


def config():
    return current_app.extensions["webapp_config"]


def fresh_tokens(key: str) -> dict | None:
    """The session's tokens, refreshed first when the access token is about to expire; None
    when the refresh failed (the session is then over)."""
    interface = current_app.session_interface
    tokens = interface.store.tokens(key)
    if tokens is None or tokens["expires_at"] - interface.now() > REFRESH_MARGIN:
        return tokens
    with interface.store.lock:
        tokens = interface.store.tokens(key)  # another call may have refreshed meanwhile
        if tokens["expires_at"] - interface.now() > REFRESH_MARGIN:
            return tokens
        return refreshed(key, tokens)


def refreshed(key: str, tokens: dict) -> dict | None:
    interface = current_app.session_interface
    client = current_app.extensions["webapp_oidc"]
    # The authorization server rotates the refresh token it is sent: the old one is spent. So the
    # store must take a write first; one that refuses writes for now (locked, read-only, full)
    # is then a 503 before anything changed, and the same call works once it is back.
    interface.store.touch(key, interface.now())  # as the callback checks, before its code
    try:
        answer = client.refresh(tokens["refresh_token"])
        if answer.get("id_token"):
            client.refreshed_id_token_claims(answer["id_token"], tokens["id_claims"])
    except (OAuthError, requests.RequestException, TokenValidationError, TypeError) as failure:
        log.info("refresh failed: %s", escaped(str(failure)))
        record(
            session,
            "refresh",
            "The refresh was refused: the session ends, sign in again.",
            [arrow("issuer", "browser", "✗ refresh refused", "error")],
        )
        interface.end(session)
        return None
    rotated = answer.get("refresh_token") not in (None, tokens["refresh_token"])
    tokens = {
        **tokens,
        "access_token": answer["access_token"],
        "refresh_token": answer.get("refresh_token", tokens["refresh_token"]),
        "id_token": answer.get("id_token", tokens["id_token"]),
        "expires_at": interface.now() + int(answer.get("expires_in", 0)),
    }
    try:
        interface.store.save_tokens(key, tokens)
    except sqlite3.Error as fault:
        # Rotated, and the new refresh token not stored: the session cannot refresh again and
        # ends here. A 503 would invite a retry with the spent refresh token, which the
        # authorization server takes for a stolen one (RFC 9700 4.14.2: the grant revoked).
        log.error(
            "the refreshed tokens could not be stored, the session ends: %s",
            escaped(str(fault)),
        )
        interface.forget(session)
        return None
    record(
        session,
        "refresh",
        "The access token was about to expire: the web app's server sent its refresh token "
        "(with its client secret) to the token endpoint and got a new access token"
        + (" and a new refresh token (rotation: the old one is now spent)." if rotated else "."),
        [
            arrow("browser", "issuer", "POST /oauth/token (refresh_token)"),
            arrow("issuer", "browser", "new access token", "response"),
        ],
    )
    return tokens


def api_url(path: str) -> str:
    """The API's URL of ``path`` (already checked against :data:`API_PATH`), each segment
    percent-encoded again: what was decoded here is not decoded into something else there."""
    encoded = "/".join(quote(segment, safe="") for segment in path.split("/"))
    return f"{config().api_url}/api/{encoded}"


def forward(path: str, body: bytes | None, access_token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
    return requests.request(
        request.method,
        api_url(path),
        data=body,
        headers=headers,
        timeout=API_TIMEOUT,
        allow_redirects=False,
    )


@bp.route("/api/<path:path>", methods=("GET", "POST"))
def api(path: str):
    refusal = csrf.bff_request_refusal(config().origin)
    if refusal is not None:
        log.info("BFF call refused: %s", escaped(refusal))
        return error(403, "forbidden", "BFF calls must come from this app's own page.")
    # RFC 3986 5.2.4: dot segments would climb out of /api/ on the way to the API, and a path
    # decoded once here is decoded again there (%252e%252e arrives as %2e%2e, then is "..").
    # So only plain segments pass, and nothing that a second decoding could turn into one.
    if not API_PATH.fullmatch(path):
        log.info("BFF path refused: %s", escaped(path))
        return error(404, "not_found", "No such API path.")
    # RFC 3986 3.4: the query is part of the URI the API reads; the page sends none.
    if request.query_string:
        return error(400, "invalid_request", "The BFF forwards no query string.")
    if "user" not in session:
        return error(401, "not_signed_in", "Sign in first.")
    # Read before any token is used, at most MAX_BODY_BYTES + 1 bytes (MAX_CONTENT_LENGTH).
    body = request.get_data() if request.method == "POST" else None
    if body is not None and len(body) > MAX_BODY_BYTES:
        return error(413, "request_entity_too_large", "The request body is too large.")
    tokens = fresh_tokens(session.key)
    if tokens is None:
        return error(401, "not_signed_in", "The session has ended. Sign in again.")
    try:
        answer = forward(path, body, tokens["access_token"])
    except requests.RequestException as failure:
        log.info("API unreachable: %s", escaped(str(failure)))
        return error(502, "bad_gateway", "The API did not answer.")
    record(
        session,
        "api_call",
        f"The BFF called {request.method} /api/{path} with the session's access token "
        f"(Authorization: Bearer …, added on the server) and passed on the API's answer: "
        f"{answer.status_code}.",
        [
            arrow("browser", "api", f"{request.method} /api/{path} (Bearer, from the BFF)"),
            arrow(
                "api",
                "browser",
                str(answer.status_code),
                "response" if answer.status_code < 400 else "error",
            ),
        ],
        starts_flow=True,
    )
    response = Response(answer.content, status=answer.status_code)
    for name in FORWARDED_RESPONSE_HEADERS:
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    response.headers["Cache-Control"] = "no-store"
    return response
