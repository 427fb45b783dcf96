"""Settings from the environment, shared by the server and the admin commands.

===================== =============================== ==========================================
variable              default                         meaning
===================== =============================== ==========================================
``AUTHSERVER_HOST``   ``127.0.0.1``                   address to listen on
``AUTHSERVER_PORT``   ``9000``                        port to listen on
``AUTHSERVER_ISSUER`` ``http://localhost:9000/``      the issuer (``iss``), with the trailing
                                                      slash, exactly as Auth0 writes it
``AUTHSERVER_TENANT`` the packaged ``tenant.toml``    the tenant file
``AUTHSERVER_DB``     ``.data/authserver.sqlite3``    the SQLite state, relative to the current
                                                      directory
===================== =============================== ==========================================
"""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport

from shared.settings import LOCAL_ISSUER, ConfigurationError, port_number

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "9000"
DEFAULT_DATABASE = ".data/authserver.sqlite3"


def check_issuer(issuer: str) -> str:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError("AUTHSERVER_ISSUER must be an http(s) URL such as http://localhost:9000/")
    if parts.path != "/":
        raise ConfigurationError("AUTHSERVER_ISSUER must end with '/' after the host (as Auth0 issuers do)")
    # RFC 8414 §2: the issuer is "a URL that uses the "https" scheme"; authlib allows plain http
    # for loopback hosts only, for local development.
    if not is_secure_transport(issuer):
        raise ConfigurationError("AUTHSERVER_ISSUER must use https unless its host is localhost or a loopback address")
    return issuer


def app_settings(environ: Mapping[str, str] = os.environ) -> dict:
    """The settings :func:`authserver.create_app` needs."""
    return {
        "ISSUER": check_issuer(environ.get("AUTHSERVER_ISSUER") or LOCAL_ISSUER),
        "TENANT": environ.get("AUTHSERVER_TENANT") or None,
        "DATABASE": str(Path(environ.get("AUTHSERVER_DB") or DEFAULT_DATABASE).resolve()),
    }


def listen_address(environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    host = environ.get("AUTHSERVER_HOST") or DEFAULT_HOST
    return host, port_number("AUTHSERVER_PORT", environ.get("AUTHSERVER_PORT") or DEFAULT_PORT)
