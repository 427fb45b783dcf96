"""The three things the SPA server serves: the page, its settings, and its static files.

`/` and `/callback` are the same page: the authorization server redirects the browser back to
`/callback` (the redirect URI registered for `spa-demo`), and the page's JavaScript reads the
authorization response from the address bar. The server never sees the implicit grant's
tokens: they travel in the URL fragment, which browsers do not send to servers.
"""

from flask import Blueprint, current_app, jsonify, send_from_directory

bp = Blueprint("pages", __name__)

PAGE = "index.html"
CONFIG_EXTENSION = "spa_config"


@bp.get("/")
@bp.get("/callback")
def page():
    return send_from_directory(current_app.static_folder, PAGE, mimetype="text/html")


@bp.get("/config.json")
def config_json():
    return jsonify(current_app.extensions[CONFIG_EXTENSION].for_page())
