"""``response_mode=web_message``: the authorization response posted to the application's window.

auth0-spa-js asks for it in ``getTokenSilently()`` (a hidden iframe, with ``prompt=none``) and
``loginWithPopup()`` (a popup). Instead of redirecting to the ``redirect_uri``, the server answers
a small page whose script posts ``{type: "authorization_response", response: {...}}``, the
parameters the redirect would have carried (``code``, ``state``, ``iss``; the implicit flow's
token fields; or ``error``, ``error_description``, ``state``), to ``window.parent`` when framed,
else to ``window.opener``.

* The message goes to the exact origin of the (registered) ``redirect_uri``, which must be one of
  the application's allowed web origins; never to another origin, never to ``*``. Otherwise the
  answer is an error page, without a message.
* The page's script is allowed by a nonce of its own (CSP ``script-src 'nonce-...'``); every
  other page of the server stays without scripts. This page, and only this one, may be framed by
  the application's allowed web origins.
* The values reach the script JSON-encoded by Jinja's ``tojson`` (``<``, ``>``, ``&``, ``'``
  escaped; every non-ASCII character, U+2028 and U+2029 included, as a JSON ``\\u`` escape).
"""

import logging
import secrets
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import make_response, render_template, request

from shared.log_safety import escaped

from .tenant import Application
from .web import error_page

log = logging.getLogger(__name__)

WEB_MESSAGE = "web_message"
DEFAULT_PORTS = {"http": 80, "https": 443}
#: The description of every refusal of a web message (the precise reason goes to the log).
REFUSED = "The response cannot be sent to this application's window."


def requested() -> bool:
    """Whether this authorization request asks for ``response_mode=web_message``."""
    return request.args.get("response_mode") == WEB_MESSAGE


def origin_of(uri: str) -> str | None:
    """The origin (RFC 6454 §6.2, ASCII serialization) of ``uri``; None for no tuple origin."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def target_origin(client: Application | None, redirect_uri: str) -> str | None:
    """The origin a web message to ``redirect_uri`` goes to; None when it may not be sent."""
    origin = origin_of(redirect_uri)
    # HTML Standard, cross-document messaging (security): "Authors should not use the wildcard
    # keyword (*) in the targetOrigin argument in messages that contain any confidential
    # information". The message goes to the redirect URI's origin, and only if the application
    # lists that origin in its "Allowed Web Origins".
    if client is None or origin is None or origin not in client.allowed_web_origins:
        log.info(
            "web_message refused: client %s, redirect_uri %s: origin not an allowed web origin",
            escaped(client.client_id if client else None),
            escaped(redirect_uri),
        )
        return None
    return origin


def check_target(client: Application, redirect_uri: str) -> None:
    """Refuse (before anything is issued) a web message that could not be sent."""
    if target_origin(client, redirect_uri) is None:
        # No redirect_uri on the error: it is shown on the error page, nothing is posted.
        raise InvalidRequestError(REFUSED)


def _added_parameters(location: str, redirect_uri: str) -> list[tuple[str, str]]:
    """The parameters the authorization response added to ``redirect_uri`` (query and fragment)."""
    sent, registered = urlsplit(location), urlsplit(redirect_uri)
    added = []
    for component in ("query", "fragment"):
        own = parse_qsl(getattr(registered, component), keep_blank_values=True)
        # authlib appends its parameters after the redirect URI's own (add_params_to_uri).
        added += parse_qsl(getattr(sent, component), keep_blank_values=True)[len(own) :]
    return added


def _message_value(name: str, value: str):
    # RFC 6749 §5.1: expires_in is a number in a token response; the fragment carried it as text.
    if name == "expires_in" and value.isdigit():
        return int(value)
    return value


def response(client: Application | None, redirect_uri: str, location: str):
    """The web message page for the redirect to ``location``, or an error page (no message)."""
    origin = target_origin(client, redirect_uri)
    if origin is None:
        return error_page("invalid_request", REFUSED)
    parameters = {
        name: _message_value(name, value)
        for name, value in _added_parameters(location, redirect_uri)
    }
    nonce = secrets.token_urlsafe(18)
    page = make_response(
        render_template("web_message.html", target_origin=origin, response=parameters, nonce=nonce)
    )
    # CSP Level 3 §7.1 (nonce reuse): "If a server delivers a nonce-source expression as part of a
    # policy, the server MUST generate a unique value each time it transmits a policy. The
    # generated value SHOULD be at least 128 bits long" (here 144, from the system's CSPRNG).
    # RFC 9700 §4.16: "authorization servers SHOULD allow administrators to configure allowed
    # origins for particular clients": framing only by the application's "Allowed Web Origins".
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; "
        f"frame-ancestors {' '.join(client.allowed_web_origins)}"
    )
    return page
