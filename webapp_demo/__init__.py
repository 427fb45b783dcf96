"""Web app demo: a regular web application with SSO that is also a Backend-for-Frontend (BFF).

`python -m webapp_demo` serves http://localhost:3001, a server-rendered page whose server does
all of OAuth: it is the "Regular Web Application" `webapp-demo` of the tenant, a confidential
client with a client secret. The browser holds one cookie, an opaque random session id
(sessions.py); the tokens stay in the server's session store, and the page's JavaScript calls
the API through the server (`/bff/api/...`, bff.py), which the OAuth 2.0 for Browser-Based
Applications BCP recommends for browser apps that handle business data. The article names this
scenario: "There are other scenarios like SSO for regular web apps".

The flow's steps (Auth0's Authorization Code Flow for regular web apps, with PKCE and nonce),
each narrated on the page's "what happened" panel and drawn on the SPA's live sequence diagram:
  1. Authorization request: the web app redirects the browser to /authorize with
     response_type=code, state, nonce, code_challenge (S256) and the API's audience.
  2. The user authenticates at the authorization server, or is signed in through the SSO
     session it already has there (after a login to the SPA, say): no login page, and the web
     app says so (the ID token's auth_time is older than the login it started).
  3. Callback: the browser comes back to /callback with a one-time code and the state.
  4. Code exchange: the web app's server sends the code, the code_verifier and its client
     secret to the token endpoint, and gets an access token, an ID token and a refresh token.
  5. ID token checks: the shared validator (signature, iss, aud, exp, iat, nonce); a new
     session id is issued (session fixation), and the page shows who signed in; the admin
     panel only when the ID token's permissions claim has read:stats (a UI hint: the API
     decides).
  6. API call through the BFF: /bff/api/<path> with the session cookie and X-Flowlab-CSRF: 1;
     the server adds the access token and forwards the API's status and body.
  7. Refresh: when the access token nears its expiry, the server renews it with the refresh
     token (rotated on every use).
  8. Logout: the local session and its tokens are deleted, the refresh token is revoked at
     the revocation endpoint (RFC 7009, best effort), and the browser goes to the
     authorization server's end_session_endpoint to end the SSO session too.
  9. Back-channel logout: when the user logs out elsewhere, the authorization server POSTs a
     signed logout token to /backchannel-logout, and the web app ends that user's sessions.
"""

import logging
import os
import time
from collections.abc import Callable, Mapping

from flask import Flask

from shared.settings import origin_of
from shared.web import init_json_errors, init_request_log, init_security_headers

from . import backchannel, bff, login, pages
from .config import WebAppConfig
from .oidc import OidcClient
from .sessions import SessionInterface, SessionStore


def security_headers(config: WebAppConfig) -> dict[str, str]:
    """Script and styles from this origin only; forms post here or to the issuer (logout)."""
    return {
        "Content-Security-Policy": "; ".join(
            [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data:",
                "connect-src 'self'",
                f"form-action 'self' {origin_of(config.issuer)}",
                "frame-ancestors 'none'",
                "base-uri 'none'",
            ]
        ),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def create_app(
    test_config: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time
) -> Flask:
    """Build the web app; `test_config` replaces the environment, `clock` the time of its
    sessions, tokens and logout tokens (a test moves it instead of sleeping)."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    config = WebAppConfig.from_env(os.environ if test_config is None else test_config)
    app.config["CLOCK"] = clock
    # Every request body, with a Content-Length or chunked. Werkzeug answers a declared length
    # over it with 413, but reads a chunked body only up to it, without an error: one byte
    # more than the BFF accepts, so that a body reaching it is known to be too large (bff.py).
    app.config["MAX_CONTENT_LENGTH"] = bff.MAX_BODY_BYTES + 1
    app.extensions[login.CONFIG_EXTENSION] = config
    app.extensions[login.OIDC_EXTENSION] = OidcClient(app, config, clock)
    app.session_interface = SessionInterface(
        SessionStore(config.database),
        clock=clock,
        idle_lifetime=config.idle_lifetime,
        absolute_lifetime=config.absolute_lifetime,
        secure=config.secure_cookies,
    )
    init_security_headers(app, security_headers(config))
    init_json_errors(app)
    init_request_log(app, logging.getLogger("webapp_demo.requests"))
    for blueprint in (pages.bp, login.bp, backchannel.bp, bff.bp):
        app.register_blueprint(blueprint)
    return app
