"""``python -m api``: serve the protected API with gunicorn (gthread workers) on 127.0.0.1:3010.

The app is built once, before gunicorn starts, so a bad setting stops the start with one line
naming it (exit status 1) instead of a traceback per worker. Each worker inherits that app; the
JWKS cache fills per worker on the first token. The workers answer the requests gunicorn itself
refuses (malformed, or over its size limits) in the API's JSON error form too
(``api.gunicorn_worker``). Logs (one line per request, from the app) go to standard error.
``API_HOST`` and ``API_PORT`` change the address (see ``api.config``); ``API_PORT=0`` binds any
free port, named in the "listening" line.
"""

import logging
import os
import sys
from typing import Any

from api import create_app
from api.config import ConfigurationError
from api.gunicorn_worker import JSONErrorThreadWorker
from shared.wsgi_server import serve

# One gthread worker process per core (the GIL lets one process use one core), each with a few
# threads: a keep-alive connection waits in the worker's poller, not in a thread, so threads
# only cover a request that waits (a JWKS download, a SQLite write lock). See api/README.md.
WORKERS = os.cpu_count() or 1
THREADS_PER_WORKER = 4
# Large enough for the validator to see (and refuse, with an RFC 6750 answer) tokens above its
# 8 KiB limit; gunicorn itself refuses any header field larger than this.
HEADER_FIELD_LIMIT_BYTES = 16 * 1024
# gunicorn's ``timeout``: the arbiter kills and replaces a worker process that has not checked
# in for this long (a hung worker; gthread workers check in while their threads serve).
WORKER_TIMEOUT_SECONDS = 30
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger(__package__)


def announce(server: Any) -> None:
    for listener in server.LISTENERS:
        logger.info("Flowlab API listening on %s", listener)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    try:
        app = create_app()
    except ConfigurationError as error:
        sys.exit(f"api: configuration error: {error}")
    serve(
        app,
        app.config["API_BIND"],
        workers=WORKERS,
        threads=THREADS_PER_WORKER,
        worker_class=JSONErrorThreadWorker,
        timeout=WORKER_TIMEOUT_SECONDS,
        limit_request_field_size=HEADER_FIELD_LIMIT_BYTES,
        when_ready=announce,
    )


if __name__ == "__main__":
    main()
