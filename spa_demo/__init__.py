"""SPA demo: a browser single page app that signs a user in and calls the protected API.

`python -m spa_demo` serves one static page (plain HTML, JavaScript modules and CSS, no build
step, no third-party script but Auth0's SDK, served from the npm install) on
http://localhost:3000. The page runs either flow, side by side behind a switch, and narrates the
numbered steps as they happen; a third mode does code + PKCE with Auth0's SDK (auth0-spa-js) and
narrates the same PKCE steps from what the SDK sent (static/sdk_mode.js).
Beside the steps panel, the page draws the same narration as a live sequence diagram (Browser /
App, Authorization server, API; one arrow per request and answer, refusals and errors in red),
in SVG from its own module (static/sequence_diagram.js); the decoded tokens show each claim with
a one-line meaning and the times as dates (static/claims.js).

Implicit grant (legacy; what the article describes, deprecated by RFC 9700), the article's steps:
  1. The app initiates the flow and redirects the browser to Auth0, so the user can authenticate.
  2. Auth0 authenticates the user. The first time the user goes through this flow, and if the
     application is a third party application, a consent page will be shown where the
     permissions, that will be given to the Client, are listed (for example, post messages,
     list contacts, and so forth).
  3. Auth0 redirects the user to the app with an Access Token (and optionally an ID Token) in
     the hash fragment of the URI. The app can now extract the tokens from the hash fragment.
  4. The app can use the Access Token to call the API on behalf of the user.
The app sends `response_type=token id_token` with `state` and `nonce` kept in sessionStorage;
at step 3 it removes the response from the address bar with `history.replaceState`, checks
`state`, `iss`, the ID token's signature, `nonce`, `at_hash` and expiry, and keeps the tokens
in memory only.

Authorization code + PKCE (recommended), the article's PKCE steps ("native app" becomes "app";
an SPA gets an ID token where a native app may get a refresh token):
  1. The app initiates the flow and redirects the user to Auth0 sending the code_challenge and
     code_challenge_method parameters.
  2. Auth0 redirects the user to the app with an authorization_code in the query string.
  3. The app sends the authorization_code and code_verifier together with the redirect_uri and
     the client_id to Auth0.
  4. Auth0 validates this information and returns an Access Token (and an ID Token).
  5. The app can use the Access Token to call the API on behalf of the user.
The `code_challenge` is the SHA-256 of a random `code_verifier` (WebCrypto); at step 2 the app
checks `state` and `iss`; step 3 is a `fetch` to the token endpoint (CORS); at step 4 it checks
the ID token and keeps the tokens in memory only.

In both modes, when the access token is about to expire (or the page was reloaded and the
tokens in memory are gone), the app re-authenticates silently: the same request with
`prompt=none` in a hidden iframe, answered without any page if the Auth0 session is alive.
"""

import logging
import os
from collections.abc import Mapping

from flask import Flask

from shared.web import init_json_errors, init_request_log, init_security_headers

from . import pages
from .config import SpaConfig
from .security_headers import security_headers


def create_app(test_config: Mapping[str, str] | None = None) -> Flask:
    """Build the SPA server; `test_config` replaces the environment variables it reads."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    config = SpaConfig.from_env(os.environ if test_config is None else test_config)
    app.extensions[pages.CONFIG_EXTENSION] = config
    init_security_headers(app, security_headers(config))
    init_json_errors(app)
    init_request_log(app, logging.getLogger("spa_demo.requests"))
    app.register_blueprint(pages.bp)
    return app
