"""Login, callback and logout of the web app (steps 1 to 5 and 8 of the package's docstring).

The callback answers a bad or replayed authorization response with a 400 and changes nothing:
authlib's saved state is single use, and the ID token must pass the shared validator with the
nonce of that state. A callback the session store refuses for now is a 503 before the code is
spent, and works when sent again; one the store refuses after the code is spent starts the login
again.
"""

import logging
import re
import sqlite3

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, abort, current_app, redirect, render_template, request, session

from shared.log_safety import escaped
from shared.sqlite_files import is_storage_fault
from shared.token_validation import TokenValidationError

from . import csrf
from .narration import arrow, in_flow_order, record
from .oidc import PERMISSIONS_CLAIM, OidcClient

log = logging.getLogger(__name__)
bp = Blueprint("login", __name__)
OIDC_EXTENSION = "webapp_oidc"
CONFIG_EXTENSION = "webapp_config"
ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def oidc() -> OidcClient:
    return current_app.extensions[OIDC_EXTENSION]


def clock() -> float:
    return current_app.config["CLOCK"]()


@bp.get("/login")
def login():
    session["login_started"] = clock()
    if request.args.get("again") == "1":
        session["login_again"] = True  # see handle_callback
    try:
        response = oidc().authorization_redirect()
    except requests.RequestException as error:
        log.warning("discovery document unreachable: %s", escaped(str(error)))
        abort(503)
    record(
        session,
        "request",
        "The web app redirects the browser to the authorization endpoint: response_type=code, "
        "code_challenge (S256 of a code_verifier it keeps), state, nonce, the scopes and the "
        "API's audience. The verifier, state and nonce stay in the server-side session.",
        [arrow("browser", "issuer", "GET /authorize (code, PKCE, nonce)")],
        starts_flow=True,
    )
    return response


@bp.get("/callback")
def callback():
    with in_flow_order(session):
        return handle_callback()


def handle_callback():
    if "error" in request.args:
        error = request.args.get("error", "")
        log.info("authorization error %s", escaped(error))
        # RFC 6749 4.1.2.1: error codes are ASCII letters and underscores; nothing else is shown.
        shown = error if ERROR_CODE.fullmatch(error) else "invalid_response"
        record(
            session,
            "callback",
            f"The authorization server answered with an error: {shown}.",
            [arrow("issuer", "browser", f"✗ {shown}", "error")],
        )
        return redirect("/")
    state_data = oidc().state_data(session, request.args.get("state"))
    code = request.args.get("code")
    if state_data is None or not code:
        log.info("callback refused: unknown state or no code")
        abort(400)
    # The code is single use: the store must take a write before it is spent. One that refuses
    # writes for now (locked, read-only, full) is then a 503 before anything changed, and the
    # same callback works once it is back (the session, not saved with a 503, keeps its state).
    interface = current_app.session_interface
    interface.store.touch(session.key, interface.now())
    record(
        session,
        "callback",
        "The browser comes back to /callback with a one-time authorization code and the state "
        "the web app sent (checked: it matches the one saved in the session).",
        [arrow("issuer", "browser", "redirect to /callback?code=…&state=…", "response")],
    )
    again = session.pop("login_again", False)
    tokens = exchange(code, state_data)
    claims = checked_id_token(tokens, state_data["nonce"])
    try:
        sign_in(tokens, claims, session.pop("login_started", None))
    except sqlite3.OperationalError as fault:
        if not is_storage_fault(fault):
            raise
        # The code is spent: sent again, it would be refused as a replay. So no 503 that invites
        # that retry: the login starts again (through the SSO session, no password), and a store
        # still refusing writes then answers 503 before anything is spent. Once: a store that
        # takes that write but not the sign-in's would make a loop of logins.
        log.error("the new session could not be stored: %s", escaped(str(fault)))
        interface.forget(session)
        if again:
            abort(503)
        return redirect("/login?again=1")
    return redirect("/")


def exchange(code: str, state_data: dict) -> dict:
    try:
        tokens = oidc().exchange_code(code, state_data)
    except (OAuthError, requests.RequestException) as error:
        log.info("code exchange failed: %s", escaped(str(error)))
        record_token_failure("the token endpoint refused the code")
        abort(400)
    if not all(isinstance(tokens.get(name), str) for name in ("access_token", "id_token")):
        log.info("token response without an access token and an ID token")
        record_token_failure("the token response lacks a token")
        abort(400)
    granted = "an access token, an ID token" + (
        " and a refresh token" if tokens.get("refresh_token") else ""
    )
    record(
        session,
        "token_request",
        "The web app's server (not the browser) POSTs the code, the code_verifier and its "
        "client_id and client_secret (client_secret_post) to the token endpoint, and gets "
        f"{granted}. They stay on the server.",
        [
            arrow("browser", "issuer", "POST /oauth/token (code, verifier, secret)"),
            arrow("issuer", "browser", "tokens (kept on the server)", "response"),
        ],
    )
    return tokens


def record_token_failure(detail: str) -> None:
    record(session, "token_request", detail, [arrow("issuer", "browser", "✗ refused", "error")])


def checked_id_token(tokens: dict, nonce: str) -> dict:
    try:
        claims = oidc().id_token_claims(tokens.get("id_token"), nonce)
    except TokenValidationError as error:
        record(
            session,
            "id_token",
            f"The ID token was refused ({error.code}).",
            [arrow("browser", "browser", f"✗ ID token {error.code}", "error")],
        )
        abort(400)
    record(
        session,
        "id_token",
        "The ID token passed the shared validator: signature with the issuer's JWKS, iss, "
        "aud (this client), exp, iat and the nonce of this login.",
        [arrow("browser", "browser", "check the ID token")],
    )
    return dict(claims)


def signed_in_through_sso(claims: dict, login_started: float | None) -> bool:
    """Whether the user was signed in without the login page: the authorization server's
    ``auth_time`` (whole seconds) is from before this login began."""
    auth_time = claims.get("auth_time")
    return (
        isinstance(auth_time, int | float)
        and login_started is not None
        and auth_time < int(login_started)
    )


def sign_in(tokens: dict, claims: dict, login_started: float | None) -> None:
    interface = current_app.session_interface
    interface.renew(session)  # session fixation: a new id at login
    sso = signed_in_through_sso(claims, login_started)
    permissions = claims.get(PERMISSIONS_CLAIM)
    session["user"] = {
        "sub": claims["sub"],
        "sid": claims.get("sid"),
        "name": claims.get("name"),
        "email": claims.get("email"),
        "permissions": permissions if isinstance(permissions, list) else None,
        "sso": sso,
    }
    session["csrf"] = csrf.new_token()
    interface.store.save_tokens(
        session.key,
        {
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "id_token": tokens["id_token"],
            "expires_at": clock() + int(tokens.get("expires_in", 0)),
            "id_claims": claims,
        },
    )
    record(
        session,
        "authentication",
        "Signed in through your existing session at the authorization server: no login page "
        "was shown (the ID token's auth_time is older than this login)."
        if sso
        else "The user signed in on the authorization server's login page.",
        [arrow("issuer", "issuer", "SSO session reused" if sso else "the user signed in")],
    )
    interface.save_now(session)  # here rather than with the answer: the callback's last write


# What became of the session's refresh token at logout: narration and diagram arrows.
REVOCATION_STEPS = {
    "revoked": (
        "revoked its refresh token at the revocation endpoint (RFC 7009: the authorization "
        "server refuses it from now on)",
        [
            arrow("browser", "issuer", "POST /oauth/revoke (refresh_token)"),
            arrow("issuer", "browser", "200: revoked", "response"),
        ],
    ),
    "failed": (
        "could not revoke its refresh token at the revocation endpoint (no answer in time, or "
        "an error: it stays usable until it expires)",
        [
            arrow("browser", "issuer", "POST /oauth/revoke (refresh_token)"),
            arrow("issuer", "browser", "✗ not revoked", "error"),
        ],
    ),
    "none": ("had no refresh token to revoke", []),
}


def revoke(refresh_token: str | None) -> str:
    """Revoke the session's refresh token, best effort: a key of :data:`REVOCATION_STEPS`."""
    if not refresh_token:
        return "none"
    try:
        oidc().revoke(refresh_token)
    except (requests.RequestException, KeyError) as error:
        log.warning("refresh token not revoked: %s", escaped(str(error)))
        return "failed"
    return "revoked"


@bp.post("/logout")
def logout():
    if not csrf.form_token_matches(session):
        log.info("logout refused: CSRF token missing or wrong")
        abort(403)
    interface = current_app.session_interface
    tokens = interface.store.tokens(session.key) or {}
    interface.end(session)
    session["signed_out"] = True
    # Stored before the refresh token is revoked: a store that refuses writes is then a 503
    # that changed nothing, and after the revocation only the narration is written (best effort),
    # so the page that ends the SSO session is shown whatever the store does.
    interface.save_now(session)
    revocation, revocation_arrows = REVOCATION_STEPS[revoke(tokens.get("refresh_token"))]
    metadata = oidc().metadata()
    record(
        session,
        "logout",
        f"The web app deleted its session (and the tokens in it), {revocation}, then sends the "
        "browser to the authorization server's end_session_endpoint to end the SSO session; "
        "the ID token goes as id_token_hint in a POST body, never in a URL.",
        [*revocation_arrows, arrow("browser", "issuer", "POST /oidc/logout (id_token_hint)")],
        starts_flow=True,
    )
    config = current_app.extensions[CONFIG_EXTENSION]
    return render_template(
        "logout.html",
        end_session_endpoint=metadata["end_session_endpoint"],
        id_token_hint=tokens.get("id_token", ""),
        client_id=config.client_id,
        post_logout_redirect_uri=config.logout_return_url,
    )
