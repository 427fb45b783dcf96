"""`python -m webapp_demo`: serve the web app on $WEBAPP_HOST:$WEBAPP_PORT (127.0.0.1:3001)."""

import logging
import sys

from shared.cli import log_to
from shared.settings import ConfigurationError
from shared.wsgi_server import bind_address, serve

from . import create_app
from .login import CONFIG_EXTENSION

THREADS = 4


def main() -> None:
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"webapp_demo: {error}")
    config = app.extensions[CONFIG_EXTENSION]
    log_to(
        "webapp_demo",
        sys.stdout,
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"),
    )
    print(
        f"Web app demo on {config.base_url} (issuer {config.issuer}, API {config.api_url})",
        flush=True,
    )
    # One worker: the BFF's refresh lock is per process (a refresh token is used once).
    serve(app, bind_address(config.host, config.port), threads=THREADS)


if __name__ == "__main__":
    main()
