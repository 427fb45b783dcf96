"""Flowlab's local Auth0-compatible authorization server, on authlib. A development server.

``create_app(test_config=None)`` builds the Flask application: it reads the tenant file, prepares
the SQLite state (schema, signing keys on the first start, the tenant's users) and registers the
endpoints under Auth0's paths. ``python -m authserver`` serves it with gunicorn; see cli.py.

``test_config`` may also give ``CLOCK``, the clock the server reads instead of ``time.time``
(:mod:`authserver.clock`).
"""

import secrets
import sqlite3
import time

from flask import Flask

from . import authorize, backchannel_logout, consent, db, discovery, keys, login, logout, oauth, web
from .clock import Clock, now
from .config import Settings, check_issuer
from .server import AuthorizationServer
from .storage import Storage
from .tenant import Tenant, TenantError, load_tenant

MAX_REQUEST_BYTES = 64 * 1024


def prepare_storage(path: str, tenant: Tenant, clock: Clock) -> str:
    """Create or update the state at start-up; returns the secret that signs the session cookie."""
    storage = Storage.open(path)
    try:
        storage.initialize()
        started_at = now(clock)
        keys.ensure_signing_keys(storage, started_at)
        try:
            storage.apply_tenant_users(tenant.users, started_at)
        except sqlite3.IntegrityError as error:
            raise TenantError(
                "a user added with `users add` has the email address of a tenant user"
            ) from error
        storage.purge_expired(started_at, tenant.refresh_token_lifetime)
        return storage.setting("session_cookie_secret", lambda: secrets.token_hex(32))
    finally:
        storage.close()


def create_app(test_config: dict | None = None) -> Flask:
    settings = Settings.from_env().app_config() if test_config is None else test_config
    issuer = check_issuer(settings["ISSUER"])
    tenant = load_tenant(settings.get("TENANT"))
    clock = settings.get("CLOCK", time.time)
    app = Flask(__name__)
    app.config.from_mapping(
        ISSUER=issuer,
        DATABASE=settings["DATABASE"],
        CLOCK=clock,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SECRET_KEY=prepare_storage(settings["DATABASE"], tenant, clock),
        # Every cookie of this server is prefixed authserver_: on localhost cookies are shared
        # by every port, so the SPA's and the API's cookies live beside these.
        SESSION_COOKIE_NAME="authserver_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=issuer.startswith("https:"),
        PERMANENT_SESSION_LIFETIME=tenant.session_lifetime,
    )
    # The throttle's windows are stored with the server's other times, by the same clock.
    app.extensions["authorization_server"] = AuthorizationServer(tenant, issuer, clock=clock)
    db.init_app(app)
    backchannel_logout.init_app(app)
    web.init_app(app, tenant.allowed_web_origins)
    for module in (discovery, authorize, login, consent, logout, oauth):
        app.register_blueprint(module.bp)
    return app
