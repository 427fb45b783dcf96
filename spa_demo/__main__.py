"""`python -m spa_demo`: serve the SPA on $SPA_HOST:$SPA_PORT (127.0.0.1:3000) with gunicorn."""

import logging
import sys

from shared.cli import log_to
from shared.settings import ConfigurationError
from shared.wsgi_server import bind_address, serve

from . import create_app, pages

THREADS = 4


def main() -> None:
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"spa_demo: {error}")
    config = app.extensions[pages.CONFIG_EXTENSION]
    address = f"http://localhost:{config.port}"
    log_to(
        "spa_demo", sys.stdout, logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    print(f"SPA demo on {address} (issuer {config.issuer}, API {config.api_url})", flush=True)
    # One escaped line per request from the app (shared.web.init_request_log), not gunicorn's
    # access log: gunicorn writes the percent-decoded path as it is, so a CR LF in it would start
    # a forged line.
    serve(app, bind_address(config.host, config.port), threads=THREADS)


if __name__ == "__main__":
    main()
