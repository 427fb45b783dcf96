"""Django settings of the example service: a token-protected JSON API and nothing else.

Settings, as for every Flowlab part: ``AUTH_ISSUER`` (required, exactly as in the tokens'
``iss``), ``AUTH_AUDIENCE`` (required, the API identifier), ``AUTH_JWKS_URL`` (only when the keys are fetched from
another address than the discovery document's ``jwks_uri``); ``DJANGO_ALLOWED_HOSTS``
(comma-separated, default ``localhost,127.0.0.1``).
"""

import os
import secrets

from django.core.exceptions import ImproperlyConfigured


def required_setting(name: str) -> str:
    """The environment variable ``name``; the service does not start without it."""
    value = os.environ.get(name)
    if not value:
        # No default: a service started without its settings would otherwise trust whatever
        # issuer a default names (http://localhost:9000/ is anything listening on port 9000).
        raise ImproperlyConfigured(f"{name} is not set: the service needs it to know whom to trust")
    return value


AUTH_ISSUER = required_setting("AUTH_ISSUER")
AUTH_AUDIENCE = required_setting("AUTH_AUDIENCE")
AUTH_JWKS_URL = os.environ.get("AUTH_JWKS_URL") or None

# No sessions, no cookies, no signed data: nothing depends on a fixed key.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
ROOT_URLCONF = f"{__package__}.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
USE_TZ = True

# The validator logs why it refused a token at INFO (logger "<package>.token_validation");
# Django's default logging passes on only its own loggers, so without this setting (a handler
# for the root logger at INFO) those reasons are never shown.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
