"""``python -m api``: serve the protected API with gunicorn (gthread workers) on 127.0.0.1:3010.

The app is built once, before gunicorn starts, so a bad setting stops the start with one line
naming it (exit status 1) instead of a traceback per worker. Each worker inherits that app; the
JWKS cache fills per worker on the first token. The requests gunicorn itself refuses (a
malformed request line or header, one over its size limits: 400, 414, 431) get the API's JSON
error body and security headers too (:func:`json_refusal`), never gunicorn's HTML page; gunicorn
logs the precise reason. Logs (one line per request, from the app) go to standard error.
``API_HOST`` and ``API_PORT`` change the address (see ``api.config``); ``API_PORT=0`` binds any
free port, named in the "listening" line.
"""

import json
import logging
import os
import sys
from typing import Any

from werkzeug.exceptions import default_exceptions

from api import SECURITY_HEADERS, create_app
from api.config import ConfigurationError
from shared.web import error_body
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


def json_refusal(status: int) -> tuple[dict[str, str], bytes]:
    """The headers and body of a request gunicorn refuses: the body every API error has
    (``{"error", "error_description"}``, generic, never echoing the request)."""
    # werkzeug knows every status gunicorn answers by itself (400, 403, 414, 417, 431, 500, 501).
    body = json.dumps(error_body(default_exceptions[status]())).encode("utf-8")
    return {"Content-Type": "application/json", **SECURITY_HEADERS}, body


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
        refusal=json_refusal,
        timeout=WORKER_TIMEOUT_SECONDS,
        limit_request_field_size=HEADER_FIELD_LIMIT_BYTES,
        when_ready=announce,
    )


if __name__ == "__main__":
    main()
