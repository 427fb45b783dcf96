"""How every response is finished: security headers, CORS, error pages, one log line.

* Pages that show UI may not be framed (``X-Frame-Options: DENY`` and CSP
  ``frame-ancestors 'none'``); only a ``prompt=none`` authorization response may be framed, by
  the application's allowed web origins (:func:`allow_framing_by`), and the web message page of
  ``response_mode=web_message`` (:mod:`authserver.web_message`), by the same origins.
* A strict Content Security Policy: no scripts at all, styles from this server only; the one
  exception is the web message page's script, allowed by a nonce on that page alone.
* ``Cache-Control: no-store`` unless a view says otherwise (discovery, JWKS, the stylesheet).
* CORS only on the token, revocation, userinfo, discovery and JWKS endpoints, only for the
  tenant's allowed web origins; their answers all carry ``Vary: Origin``.
* Errors are a generic JSON body (API endpoints) or page (everything else): never a traceback.
  A database that refuses a request for now (locked past the busy timeout, read-only, full) is a
  503 with ``Retry-After`` (``shared.web``); its transaction was rolled back, so a refresh
  token, a code or a login can be sent again.
  The requests gunicorn refuses before the app sees them (a request line over its limit, a
  malformed header) get the error page too, with the same headers (:func:`refusal_page`).
* One log line per request; what the client sent is escaped (``shared.log_safety``, CWE-117).
"""

import logging
import re
import time

from flask import g, jsonify, make_response, render_template, request
from flask_cors import CORS
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from shared.log_safety import escaped, loggable_path
from shared.web import error_code, init_json_errors, init_security_headers, is_passing_healthcheck

log = logging.getLogger("authserver.http")

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
API_PATH_PREFIXES = ("/oauth/", "/userinfo", "/.well-known/")
CORS_RESOURCES = (
    r"/oauth/token",
    r"/oauth/revoke",
    r"/userinfo",
    r"/\.well-known/(openid-configuration|jwks\.json)",
)
_CORS_PATH = re.compile("|".join(CORS_RESOURCES))


def allow_framing_by(response, origins):
    """Let ``origins`` frame this response (silent authentication); nobody when there are none.

    RFC 9700 §4.16: "authorization servers SHOULD allow administrators to configure allowed
    origins for particular clients": an application's "Allowed Web Origins".
    """
    if origins:
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; frame-ancestors " + " ".join(origins)
        )
    return response


def error_page(error: str, description: str, status: int = 400, headers=None):
    """The HTML error page: the OAuth error code and a generic description."""
    return make_response(
        render_template("error.html", error=error, description=description), status, headers or {}
    )


def _start_timer():
    g.started = time.perf_counter()


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response
    # header field [RFC2616] with a value of "no-store" in any response containing tokens,
    # credentials, or other sensitive information". authlib sets it on token responses; this
    # covers authorization responses (codes and tokens in Location) and pages too.
    "Cache-Control": "no-store",
}


def _finish(response):
    headers = response.headers
    # Fetch Standard §3.2.5 (CORS protocol and HTTP caches): "If CORS protocol requirements are
    # more complicated than setting `Access-Control-Allow-Origin` to * or a static origin, `Vary`
    # is to be used." These answers carry the caller's origin, or none: every one says so, with
    # or without an Origin header, so no cache hands one origin's answer to another.
    if _CORS_PATH.fullmatch(request.path):
        response.vary.add("Origin")
    if "Content-Security-Policy" not in headers:
        # RFC 9700 §4.16: "Authorization servers MUST prevent clickjacking attacks. Multiple
        # countermeasures are described in [RFC6819], including the use of the X-Frame-Options
        # HTTP response header field [...]. In addition to those, authorization servers SHOULD
        # also use Content Security Policy (CSP) level 2 [CSP-2] or greater."
        headers["Content-Security-Policy"] = PAGE_POLICY
        headers["X-Frame-Options"] = "DENY"
    if is_passing_healthcheck(response):
        return response
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    log.info(
        '%s "%s %s" %s %.0fms',
        escaped(request.remote_addr),
        escaped(request.method),
        loggable_path(request.path),
        response.status_code,
        elapsed,
    )
    return response


def _error_response(error: HTTPException):
    """A JSON error for the endpoints applications call, the error page everywhere else."""
    if isinstance(error, InternalServerError):
        code, description = "server_error", "Something went wrong on our side."
    else:
        code, description = error_code(error), f"{error.name}."
    # The headers the error carries: Allow on a 405, Retry-After on a 503.
    headers = [(name, value) for name, value in error.get_headers() if name != "Content-Type"]
    if request.path.startswith(API_PATH_PREFIXES):
        return jsonify(error=code, error_description=description), error.code, headers
    return error_page(code, description, error.code, headers)


def refusal_page(app):
    """``refusal(status)`` for ``shared.wsgi_server.serve``: the error page and its headers."""

    def refusal(status: int) -> tuple[dict[str, str], bytes]:
        # werkzeug knows every status gunicorn answers by itself (400, 403, 414, 417, 431, 500, 501).
        error = default_exceptions[status]()
        with app.test_request_context():
            page = render_template(
                "error.html", error=error_code(error), description=f"{error.name}."
            )
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": PAGE_POLICY,
            "X-Frame-Options": "DENY",
            "Content-Type": "text/html; charset=utf-8",
        }
        return headers, page.encode("utf-8")

    return refusal


def init_app(app, allowed_web_origins) -> None:
    app.before_request(_start_timer)
    app.after_request(_finish)
    init_security_headers(app, SECURITY_HEADERS)
    init_json_errors(app, _error_response)
    # Auth0 answers cross-origin requests from an application's "Allowed Web Origins" only, and
    # only on the endpoints a browser application calls directly.
    CORS(
        app,
        resources=list(CORS_RESOURCES),
        origins=list(allowed_web_origins),
        methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Auth0-Client"],
        # A browser application may read when to try again after a 429 (authserver.throttle).
        expose_headers=["Retry-After"],
        always_send=False,
        max_age=600,
    )
