"""Logout, ``GET /v2/logout`` (Auth0's path): ends the SSO session.

``returnTo`` must be one of the application's (``client_id``) "Allowed Logout URLs", compared
exactly; anything else is refused on an error page and the session is left as it was. Without
``returnTo`` a "You are logged out" page is shown.
"""

import logging

from flask import Blueprint, redirect, render_template, request

from . import sessions
from .server import current_server
from .web import error_page

log = logging.getLogger(__name__)
bp = Blueprint("logout", __name__)


@bp.get("/v2/logout")
def logout():
    return_to = request.args.get("returnTo")
    if return_to is not None:
        application = current_server().tenant.find_application(request.args.get("client_id"))
        # RFC 9700 §1.2: 'An "open redirector" is an endpoint on a web server that forwards a
        # user's browser to an arbitrary URI obtained from a query parameter.' Auth0 redirects
        # only to a registered Allowed Logout URL of the application.
        if application is None or return_to not in application.allowed_logout_urls:
            log.info("logout refused: returnTo %r not allowed for %r", return_to, request.args.get("client_id"))
            return error_page("invalid_request", "The returnTo URL is not an allowed logout URL of this application.")
    sessions.sign_out()
    if return_to is not None:
        return redirect(return_to)
    return render_template("logged_out.html")
