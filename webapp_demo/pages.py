"""The web app's page, its state as JSON, and the SPA's diagram module and stylesheet.

``/`` is rendered on the server (a Jinja template): signed in or not, the SSO note, the CSRF
token of the logout form, the admin panel when the ID token's permissions claim has
``read:stats``. ``/session`` is what the page's script reads: who is signed in, the admin hint
and the narration; never a token, a secret or the session id. The page polls it every 3 s, so
it is no activity of the user (sessions.py): an open page does not keep an idle session alive,
and the answer says when the session has just expired (``expired``: ``idle`` or ``absolute``). The live sequence diagram is the
SPA's own module, served from spa_demo/static as it is (``/spa-static/``), with its stylesheet.
"""

from pathlib import Path

from flask import Blueprint, abort, jsonify, render_template, send_from_directory, session

from .narration import events

bp = Blueprint("pages", __name__)

SPA_STATIC = Path(__file__).resolve().parent.parent / "spa_demo" / "static"
SHARED_SPA_FILES = frozenset({"sequence_diagram.js", "style.css", "favicon.svg"})
ADMIN_PERMISSION = "read:stats"
SPA_URL = "http://localhost:3000/"


def user_view() -> dict | None:
    user = session.get("user")
    if user is None:
        return None
    permissions = user.get("permissions")
    return {
        "name": user.get("name"),
        "email": user.get("email"),
        "sso": user.get("sso", False),
        "permissions": permissions,
        "admin": permissions is not None and ADMIN_PERMISSION in permissions,
    }


@bp.get("/")
def page():
    user = user_view()
    return render_template(
        "index.html", user=user, csrf_token=session.get("csrf", ""), spa_url=SPA_URL
    )


@bp.get("/session")
def session_json():
    session.activity = False
    response = jsonify(
        {
            "signedIn": "user" in session,
            "user": user_view(),
            "events": events(session),
            "expired": session.expired,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/spa-static/<name>")
def spa_file(name: str):
    if name not in SHARED_SPA_FILES:
        abort(404)
    return send_from_directory(SPA_STATIC, name)
