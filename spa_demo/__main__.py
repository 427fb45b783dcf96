"""`python -m spa_demo`: serve the SPA on $SPA_HOST:$SPA_PORT (127.0.0.1:3000) with gunicorn."""

import sys

from shared.wsgi_server import bind_address, serve

from . import create_app
from .config import ConfigurationError

# The path only: a query string (an authorization code on /callback) is not worth logging.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s'


def main():
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"spa_demo: {error}")
    config = app.extensions["spa_config"]
    print(f"SPA demo on http://localhost:{config.port} (issuer {config.issuer}, API {config.api_url})", flush=True)
    serve(
        app,
        bind_address(config.host, config.port),
        threads=4,
        accesslog="-",
        access_log_format=ACCESS_LOG_FORMAT,
    )


if __name__ == "__main__":
    main()
