"""The endpoints applications call directly: ``/oauth/token``, ``/oauth/revoke``, ``/userinfo``.

Parameters come as a form or, as Auth0 accepts, a JSON object; anything else, and a parameter
given more than once, is refused with ``invalid_request`` before authlib sees it. Token
responses carry ``Cache-Control: no-store`` (authlib's token response headers, RFC 6749 §5.1).
"""

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Blueprint, request

from .server import current_server, request_parameters

bp = Blueprint("oauth", __name__)


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
