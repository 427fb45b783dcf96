"""`python -m spa_demo`: serve the SPA on $SPA_HOST:$SPA_PORT (127.0.0.1:3000) with gunicorn."""

import sys

from shared.settings import ConfigurationError
from shared.wsgi_server import bind_address, serve

from . import create_app, pages

# The path only: a query string (an authorization code on /callback) is not worth logging.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s'
THREADS = 4


def main() -> None:
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"spa_demo: {error}")
    config = app.extensions[pages.CONFIG_EXTENSION]
    address = f"http://localhost:{config.port}"
    print(f"SPA demo on {address} (issuer {config.issuer}, API {config.api_url})", flush=True)
    serve(
        app,
        bind_address(config.host, config.port),
        threads=THREADS,
        accesslog="-",
        access_log_format=ACCESS_LOG_FORMAT,
    )


if __name__ == "__main__":
    main()
