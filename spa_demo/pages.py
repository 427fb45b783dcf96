"""What the SPA server serves: the page, its settings, its static files, and Auth0's SDK.

`/` and `/callback` are the same page: the authorization server redirects the browser back to
`/callback` (the redirect URI registered for `spa-demo`), and the page's JavaScript reads the
authorization response from the address bar. The server never sees the implicit grant's
tokens: they travel in the URL fragment, which browsers do not send to servers.

`/vendor/auth0-spa-js/` serves the SDK mode's two files (the ES module and the Web Worker it
keeps refresh tokens in) straight from the npm install of `@auth0/auth0-spa-js`: nothing of
the SDK is copied into this repository, and nothing else of node_modules is reachable. Without
the npm install they are 404 and the page says so in the SDK mode; the other modes need neither.
"""

from flask import Blueprint, abort, current_app, jsonify, send_from_directory

bp = Blueprint("pages", __name__)

PAGE = "index.html"
CONFIG_EXTENSION = "spa_config"
SDK_FILES = frozenset(
    {
        "auth0-spa-js.production.esm.js",
        "auth0-spa-js.production.esm.js.map",
        "auth0-spa-js.worker.production.js",
        "auth0-spa-js.worker.production.js.map",
    }
)


@bp.get("/")
@bp.get("/callback")
def page():
    return send_from_directory(current_app.static_folder, PAGE, mimetype="text/html")


@bp.get("/config.json")
def config_json():
    return jsonify(current_app.extensions[CONFIG_EXTENSION].for_page())


@bp.get("/vendor/auth0-spa-js/<name>")
def sdk_file(name):
    if name not in SDK_FILES:
        abort(404)
    mimetype = "application/json" if name.endswith(".map") else "text/javascript"
    directory = current_app.extensions[CONFIG_EXTENSION].sdk_dist
    return send_from_directory(directory, name, mimetype=mimetype)
