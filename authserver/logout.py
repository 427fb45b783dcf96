"""Logout: Auth0's ``GET /v2/logout``, and OpenID Connect RP-Initiated Logout 1.0 at
``/oidc/logout``.

``/v2/logout`` is kept exactly as Auth0 has it, because Auth0's SDKs call it: a plain GET ends the
SSO session. That is a known risk (logout CSRF): any page can end the user's session with an
``<img src=".../v2/logout">``, and since the end of a session is sent to the applications signed
in through it (:mod:`.backchannel_logout`), such a page also ends the user's session at every one
of them with a back-channel logout URI (webapp-demo): the user is logged out everywhere and must
sign in again. Auth0's ``/v2/logout`` is a GET too, with the same effect once back-channel logout
is configured. No more than that: the request discloses nothing, and ``returnTo`` must be one of
the application's (``client_id``) "Allowed Logout URLs", compared exactly, or the request is
refused on an error page and the session is left as it was (no redirect to the attacker's page).
Without ``returnTo`` a "You are logged out" page is shown. An application that wants a logout no
other page can force uses ``/oidc/logout`` with ``id_token_hint``: without a valid one that
endpoint asks the user to confirm first.

``/oidc/logout`` (the ``end_session_endpoint`` of the discovery document) accepts GET and POST
with ``id_token_hint``, ``client_id``, ``post_logout_redirect_uri`` and ``state`` (``logout_hint``
and ``ui_locales`` are ignored). It logs out at once only for an ``id_token_hint`` this server
issued, in the current SSO session, to the signed-in user (or when nobody is signed in); any
other request gets a "Log out of Flowlab?" page whose form POSTs back with the CSRF token, and
only that POST ends the session. ``post_logout_redirect_uri`` must be an Allowed Logout URL of the
application (``client_id``, or the hint's ``aud``), compared exactly, and ``state`` is added to it;
an error is an error page and leaves the session as it was.
"""

import logging

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Blueprint, redirect, render_template, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.log_safety import escaped

from . import backchannel_logout, keys, sessions
from .clock import now
from .server import current_server, not_repeated
from .web import error_page

log = logging.getLogger(__name__)
bp = Blueprint("logout", __name__)

INVALID_LOGOUT_REQUEST = "This logout request is not valid. Your session was not changed."
# The ID tokens this server signs say typ JWT (oidc.py); its access tokens, signed with the same
# keys, say at+jwt (RFC 9068 §2.1).
ID_TOKEN_TYPE = "JWT"  # noqa: S105 (a JOSE type, not a credential)


@bp.get("/v2/logout")
def logout():
    return_to = request.args.get("returnTo")
    if return_to is not None:
        application = current_server().tenant.find_application(request.args.get("client_id"))
        # RFC 9700 §1.2: 'An "open redirector" is an endpoint on a web server that forwards a
        # user's browser to an arbitrary URI obtained from a query parameter.' Auth0 redirects
        # only to a registered Allowed Logout URL of the application.
        if application is None or return_to not in application.allowed_logout_urls:
            log.info(
                "logout refused: returnTo %s not allowed for %s",
                escaped(return_to),
                escaped(request.args.get("client_id")),
            )
            return error_page(
                "invalid_request",
                "The returnTo URL is not an allowed logout URL of this application.",
            )
    _sign_out()
    if return_to is not None:
        return redirect(return_to)
    return render_template("logged_out.html")


def _sign_out() -> None:
    """End the SSO session, and tell the applications signed in through it (back-channel).

    The session is ended and its applications read in one transaction, and the browser forgets
    the session only once it is committed: ended first and read after, a fault between them left
    the session ended with nobody told, and the logout, sent again, found no session to end.
    """
    if sessions.current_sid() is None:
        sessions.forget()  # no session to end: no transaction to wait for
        return
    server = current_server()
    storage = server.storage()
    with storage.transaction():
        sid = sessions.end_session()
        jobs = (
            []
            if sid is None
            else backchannel_logout.logout_jobs(storage, server.tenant, sid, now())
        )
    sessions.forget()
    backchannel_logout.send_later(jobs)


def _why_not_issued_here(token, issuer: str) -> str | None:
    """Why a token signed with this server's keys is not one of its ID tokens; None if it is."""
    # RFC 8725 §3.11: "If a particular kind of JWT is subject to such confusion, that JWT can
    # include an explicit JWT type value, and the validation rules can specify checking the type."
    if token.header.get("typ") != ID_TOKEN_TYPE:
        return f"typ {escaped(token.header.get('typ'))}"
    # RP-Initiated Logout §2: "When an id_token_hint parameter is present, the OP MUST validate
    # that it was the issuer of the ID Token."
    if token.claims.get("iss") != issuer:
        return f"iss {escaped(token.claims.get('iss'))}"
    # This server's ID tokens name one application as their audience: aud is a string (oidc.py).
    if not isinstance(token.claims.get("aud"), str):
        return "aud is not a client id"
    return None


def id_token_hint_claims(hint: str | None) -> dict | None:
    """The claims of ``hint`` if it is an ID token this server issued, else None (reason logged).

    RP-Initiated Logout §2: "The OP SHOULD accept ID Tokens when the RP identified by the ID
    Token's aud claim and/or sid claim has a current session or had a recent session at the OP,
    even when the exp time has passed." ``exp`` is not checked: the signature with a published
    key, the type and the issuer are.
    """
    if not hint:
        return None
    server = current_server()
    published = KeySet(keys.published_keys(server.storage(), now()))
    try:
        token = jwt.decode(hint, published, algorithms=[keys.ALGORITHM])
    except JoseError as error:
        log.info("id_token_hint ignored: %s", escaped(error))
        return None
    reason = _why_not_issued_here(token, server.issuer)
    if reason is not None:
        log.info("id_token_hint ignored: not an ID token of this server (%s)", reason)
        return None
    return token.claims


def _belongs_to_the_session(claims: dict | None) -> bool:
    """Whether the hint is an ID token of the signed-in user's current session (or nobody's in)."""
    if claims is None:
        return False
    user = sessions.signed_in_user()
    if user is None:
        return True
    # RP-Initiated Logout §2: "the OP MUST ask the End-User this question if an id_token_hint was
    # not provided or if the supplied ID Token does not belong to the current OP session with the
    # RP and/or currently logged in End-User." The ID token's sid names its session; an ID token
    # without one (issued before sid existed) is told by the user (sub) and the time they signed
    # in to it (auth_time).
    if "sid" in claims:
        return claims["sid"] == sessions.current_sid()
    return (claims.get("sub"), claims.get("auth_time")) == (user.get_user_id(), user.auth_time)


def _confirmed_by_the_user() -> bool:
    # RP-Initiated Logout §6: "Logout requests without a valid id_token_hint value are a potential
    # means of denial of service; therefore, OPs should obtain explicit confirmation from the
    # End-User before acting upon them." That is the confirmation form's POST: its body carries
    # the CSRF token of the session (never the query string, which a link can set).
    return sessions.csrf_token_valid(request.form)


def _post_logout_redirect_allowed(client_id: str | None, post_logout_redirect_uri: str) -> bool:
    application = current_server().tenant.find_application(client_id)
    # RP-Initiated Logout §3: "The OP also MUST NOT perform post-logout redirection if the
    # post_logout_redirect_uri value supplied does not exactly match one of the previously
    # registered post_logout_redirect_uris values." Here: the application's Allowed Logout URLs.
    return application is not None and post_logout_redirect_uri in application.allowed_logout_urls


def _confirmation_page(
    client_id: str | None, post_logout_redirect_uri: str | None, state: str | None
):
    carried = {
        "client_id": client_id,
        "post_logout_redirect_uri": post_logout_redirect_uri,
        "state": state,
    }
    return render_template(
        "confirm_logout.html",
        user=sessions.signed_in_user(),
        csrf_token=sessions.csrf_token(),
        parameters={name: value for name, value in carried.items() if value is not None},
    )


def _after_logout(post_logout_redirect_uri: str | None, state: str | None):
    if post_logout_redirect_uri is None:
        return render_template("logged_out.html")
    # RP-Initiated Logout §2, state: "If included in the logout request, the OP passes this value
    # back to the RP using the state parameter when redirecting the User Agent back to the RP."
    if state is not None:
        post_logout_redirect_uri = add_params_to_uri(post_logout_redirect_uri, [("state", state)])
    return redirect(post_logout_redirect_uri, 303)


# RP-Initiated Logout §2: "The OP MUST support the use of the HTTP GET and POST methods defined in
# RFC 7231 at the Logout Endpoint."
@bp.route("/oidc/logout", methods=("GET", "POST"))
def end_session():
    # "If using the HTTP GET method, the request parameters are serialized using URI Query String
    # Serialization [...]. If using the HTTP POST method, the request parameters are serialized
    # using Form Serialization".
    try:
        parameters = not_repeated(request.form if request.method == "POST" else request.args)
    except InvalidRequestError:
        return error_page("invalid_request", INVALID_LOGOUT_REQUEST)
    claims = id_token_hint_claims(parameters.get("id_token_hint"))
    client_id = parameters.get("client_id")
    # RP-Initiated Logout §2: "When both client_id and id_token_hint are present, the OP MUST
    # verify that the Client Identifier matches the one used as the audience of the ID Token."
    if claims is not None and client_id is not None and client_id != claims["aud"]:
        log.info(
            "logout refused: client_id %s is not the aud of the id_token_hint", escaped(client_id)
        )
        return error_page("invalid_request", INVALID_LOGOUT_REQUEST)
    if client_id is None and claims is not None:
        client_id = claims["aud"]
    post_logout_redirect_uri = parameters.get("post_logout_redirect_uri")
    if post_logout_redirect_uri is not None and not _post_logout_redirect_allowed(
        client_id, post_logout_redirect_uri
    ):
        log.info(
            "logout refused: post_logout_redirect_uri %s not allowed for %s",
            escaped(post_logout_redirect_uri),
            escaped(client_id),
        )
        return error_page("invalid_request", INVALID_LOGOUT_REQUEST)
    state = parameters.get("state")
    if not (_belongs_to_the_session(claims) or _confirmed_by_the_user()):
        return _confirmation_page(client_id, post_logout_redirect_uri, state)
    _sign_out()
    return _after_logout(post_logout_redirect_uri, state)
