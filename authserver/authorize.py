"""The authorization endpoint, ``GET /authorize``: the start of the code and implicit flows.

1. authlib validates the request (client, exact redirect URI, response type, PKCE, nonce,
   prompt, audience); an error goes back to the application's redirect URI with ``state`` and
   ``iss``, or, when the redirect URI itself is not registered, is shown on an error page.
2. Without an SSO session (or with ``prompt=login``) the browser goes to the login page, which
   comes back here; ``prompt=none`` answers ``login_required`` instead.
3. A third-party application without the user's consent for these scopes (or ``prompt=consent``)
   goes to the consent page; ``prompt=none`` answers ``consent_required``.
4. Otherwise the authorization response (code, or tokens in the fragment) is redirected to the
   application, with ``state`` and ``iss``; with ``response_mode=web_message`` it is posted to
   the application's window instead, errors included (:mod:`authserver.web_message`).

``max_age`` (a session signed in longer ago must log in again) is checked with ``prompt``
(:mod:`authserver.grants.base`); ``login_hint`` and ``screen_hint`` are the login page's.
"""

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Blueprint, redirect, request

from . import sessions
from .consent import consent_required
from .flow import authorization_error, authorization_request_url, silent
from .server import current_server
from .web import allow_framing_by

bp = Blueprint("authorize", __name__)


def _authorize():
    server = current_server()
    user = sessions.signed_in_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)
    if grant.prompt == "login":
        return redirect(authorization_request_url("login.login"))
    if consent_required(grant, user):
        if silent():
            return authorization_error(
                ConsentRequiredError(
                    redirect_uri=grant.redirect_uri,
                    redirect_fragment=grant.ERROR_RESPONSE_FRAGMENT,
                    state=request.args.get("state"),
                )
            )
        return redirect(authorization_request_url("consent.consent"))
    return server.create_authorization_response(grant=grant, grant_user=user)


@bp.get("/authorize")
def authorize():
    response = _authorize()
    # A prompt=none request shows no UI; its redirect may run in a hidden iframe of the
    # application (silent authentication), so the application's web origins may frame it.
    if silent() and response.status_code == 302:
        application = current_server().query_client(request.args.get("client_id"))
        allow_framing_by(response, application.allowed_web_origins)
    return response
