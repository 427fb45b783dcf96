"""Flowlab's protected API: a Flask resource server for OAuth 2.0 access tokens, Auth0's way.

Clients (the SPA, the native app, the machine-to-machine daemon) get access tokens for the API's
audience from the authorization server and send them as ``Authorization: Bearer``; the API
validates each one with ``shared.token_validation`` (signature from the issuer's JWKS, issuer,
audience, expiry) and checks scopes, Auth0 RBAC permissions and the kind of token through
``shared.flask_auth``. Business data lives in the API's own SQLite database, keyed by the token's
``sub``.

``create_app(test_config=None)`` builds the app from the environment (see ``api.config``), or
from ``test_config`` (the same keys, plus any Flask setting such as ``TESTING``).
``python -m api`` serves it with gunicorn on 127.0.0.1 (``API_HOST``, ``API_PORT``).
"""

import os
import sqlite3
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_cors import CORS

from api import admin, db, health, imports, messages, openapi, profile, quickstart, request_log
from api.config import ConfigurationError, Settings, token_validator
from shared import flask_auth
from shared.web import init_json_errors, init_security_headers

MAX_BODY_BYTES = 1024 * 1024
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
# Readable by browser code: the RFC 6750 challenge of a refusal and when to retry after a 503.
CORS_EXPOSED_HEADERS = ["WWW-Authenticate", "Retry-After"]
CORS_MAX_AGE_SECONDS = 600


# On every answer. Answers depend on the caller's token: no shared or browser cache may keep them.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    settings = Settings.from_env(os.environ if test_config is None else test_config)
    validator = token_validator(settings)
    app = Flask(__name__)
    app.config.from_mapping(test_config or {})
    app.config.update(
        AUTH_ISSUER=settings.issuer,
        AUTH_AUDIENCE=settings.audience,
        API_BIND=settings.bind,
        DATABASE_PATH=settings.database_path,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )

    request_log.init_app(app)
    init_json_errors(app)
    init_security_headers(app, SECURITY_HEADERS)
    try:
        db.init_app(app)
    except (OSError, sqlite3.Error) as error:
        raise ConfigurationError(
            f"DATABASE_URL: cannot use {settings.database_path}: {error}"
        ) from None
    flask_auth.init_app(app, validator, realm=settings.audience)
    CORS(
        app,
        resources={r"/api/*": {"origins": list(settings.cors_origins)}},
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        methods=["GET", "POST"],
        max_age=CORS_MAX_AGE_SECONDS,
    )

    for blueprint_module in (health, quickstart, messages, profile, imports, admin):
        app.register_blueprint(blueprint_module.bp)
    openapi.init_app(app)
    return app
