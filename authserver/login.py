"""The login page, ``/u/login`` (Auth0's Universal Login): email address and password.

It continues an authorization request: on success the SSO session starts and the browser goes
back to ``/authorize`` with the same parameters (303 after the POST). Every failure says the
same "Wrong email or password."; the precise reason goes to the log.
"""

import logging

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, redirect, render_template, request

from shared.log_safety import escaped

from . import sessions
from .authentication import LoginOutcome, authenticate
from .clock import now
from .flow import authorization_error, authorization_request_url
from .server import current_server
from .web import error_page

log = logging.getLogger(__name__)
bp = Blueprint("login", __name__)

MAX_EMAIL_LENGTH = 254
MESSAGES = {
    LoginOutcome.WRONG_CREDENTIALS: "Wrong email or password.",
    LoginOutcome.BLOCKED_FROM_SOURCE: (
        "Your account has been blocked after multiple consecutive login attempts. "
        "An administrator can unblock it."
    ),
    LoginOutcome.USER_BLOCKED: "This account is blocked. Contact an administrator.",
}


def _login_page(error: str | None = None, email: str = "", status: int = 200):
    server = current_server()
    page = render_template(
        "login.html",
        application=server.tenant.find_application(request.args.get("client_id")),
        csrf_token=sessions.csrf_token(),
        error=error,
        email=email,
        # Auth0's screen_hint=signup opens its sign-up page; this server has none: the login
        # page says so.
        signup=request.args.get("screen_hint") == "signup",
    )
    return page, status


def _login_hint() -> str:
    # OIDC Core §3.1.2.1: "login_hint OPTIONAL. Hint to the Authorization Server about the login
    # identifier the End-User might use to log in". It prefills the email address (Jinja escapes
    # it); one no email address could be is not shown.
    hint = request.args.get("login_hint", "").strip()
    return hint if len(hint) <= MAX_EMAIL_LENGTH else ""


@bp.route("/u/login", methods=("GET", "POST"))
def login():
    # The page continues an authorization request: one /authorize would refuse (an unknown
    # client, a redirect URI not registered, a repeated parameter...) is refused here as there,
    # before any form is shown or any password checked.
    try:
        current_server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return authorization_error(error)
    if request.method == "GET":
        return _login_page(email=_login_hint())
    if not sessions.csrf_token_valid(request.form):
        return error_page("invalid_request", "The form expired. Go back and try again.")
    email = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    if not email or not password:
        return _login_page("Enter your email address and password.", email, 400)
    # RFC 5321 §4.5.3.1.3: "The maximum total length of a reverse-path or forward-path is 256
    # octets (including the punctuation and element separators)": an address has at most 254.
    # A longer one is no account's; it is refused before anything is counted or stored for it.
    if len(email) > MAX_EMAIL_LENGTH:
        log.info("login refused: an email address of %d characters", len(email))
        return _login_page(MESSAGES[LoginOutcome.WRONG_CREDENTIALS], "", 400)
    server = current_server()
    outcome, user = authenticate(
        server.storage(),
        email,
        password,
        source=request.remote_addr,
        threshold=server.tenant.brute_force_threshold,
        now=now(),
    )
    if outcome is not LoginOutcome.SIGNED_IN:
        log.info(
            "login failed for %s from %s: %s",
            escaped(email),
            escaped(request.remote_addr),
            outcome.value,
        )
        return _login_page(MESSAGES[outcome], email, 400)
    sessions.sign_in(user, server.tenant.session_lifetime)
    log.info("login of %s from %s", escaped(user.get_user_id()), escaped(request.remote_addr))
    return redirect(authorization_request_url("authorize.authorize", satisfied_prompt="login"), 303)
