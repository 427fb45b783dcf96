"""The endpoints applications call directly: ``/oauth/token``, ``/oauth/revoke``, ``/userinfo``.

Parameters come as a form or, as Auth0 accepts, a JSON object (of strings; a ``null`` member is
absent); anything else, and a parameter
given more than once, is refused with ``invalid_request`` before authlib sees it. Token
responses carry ``Cache-Control: no-store`` (authlib's token response headers, RFC 6749 §5.1).

A request a browser sends from a page of another origin than the tenant's allowed web origins is
refused (403 ``access_denied``) before any client authentication: that page could not read the
answer anyway, and its wrong secrets would otherwise count against the clients at the address
it shares with the browser's machine (authserver.throttle).
"""

import logging

from authlib.oauth2.rfc6749 import AccessDeniedError, InvalidRequestError
from flask import Blueprint, request

from shared.log_safety import escaped

from .server import current_server, request_parameters

log = logging.getLogger(__name__)

bp = Blueprint("oauth", __name__)


@bp.before_request
def refuse_other_origins():
    # Fetch Standard §3.1 (the `Origin` header): browsers send it on every cross-origin request,
    # forms posted by other sites included; applications outside a browser send none.
    origin = request.headers.get("Origin")
    server = current_server()
    if origin is None or origin in server.tenant.allowed_web_origins or request.method == "OPTIONS":
        return None
    log.info(
        "%s %s refused: Origin %s is not an allowed web origin",
        request.method,
        request.path,
        escaped(origin),
    )
    error = AccessDeniedError(
        "The origin of this request is not an allowed web origin.", status_code=403
    )
    return server.handle_error_response(None, error)


@bp.before_request
def refuse_malformed_parameters():
    try:
        request_parameters(request)
    except InvalidRequestError as error:
        return current_server().handle_error_response(None, error)
    return None


@bp.post("/oauth/token")
def token():
    return current_server().create_token_response()


@bp.post("/oauth/revoke")
def revoke():
    return current_server().create_endpoint_response("revocation")


@bp.route("/userinfo", methods=("GET", "POST"))
def userinfo():
    return current_server().create_endpoint_response("userinfo")
