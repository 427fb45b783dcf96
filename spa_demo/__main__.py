"""`python -m spa_demo`: serve the SPA on $SPA_HOST:$SPA_PORT (127.0.0.1:3000) with gunicorn."""

import sys

from gunicorn.app.base import BaseApplication

from . import create_app
from .config import ConfigurationError

# The path only: a query string (an authorization code on /callback) is not worth logging.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s'


class SpaServer(BaseApplication):
    def __init__(self, app, host, port):
        self.app = app
        self.host = host
        self.port = port
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", f"{self.host}:{self.port}")
        self.cfg.set("workers", 1)
        self.cfg.set("threads", 4)
        self.cfg.set("accesslog", "-")
        self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)

    def load(self):
        return self.app


def main():
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"spa_demo: {error}")
    config = app.extensions["spa_config"]
    print(f"SPA demo on http://localhost:{config.port} (issuer {config.issuer}, API {config.api_url})", flush=True)
    SpaServer(app, config.host, config.port).run()


if __name__ == "__main__":
    main()
