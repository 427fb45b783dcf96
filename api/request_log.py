"""One log line per request: method, path, status, duration, who called, and why it was refused.

The query string is never logged (a client may have put an access token in it, which the API
refuses but must not record), and the path is percent-encoded (``shared.log_safety``) so that a
hostile path cannot forge log lines.
"""

import logging
import time

from flask import Flask, Response, g, request

from shared.log_safety import loggable_path
from shared.web import is_passing_healthcheck

logger = logging.getLogger("api.requests")


def start_timer() -> None:
    g.request_started = time.perf_counter()


def log_request(response: Response) -> Response:
    if is_passing_healthcheck(response):
        return response
    elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
    claims = g.get("claims")
    caller = f" sub={claims.subject!r} client={claims.client_id!r}" if claims is not None else ""
    refusal = f" refused={g.auth_refusal!r}" if "auth_refusal" in g else ""
    logger.info(
        "%s %s %d %.1fms%s%s",
        request.method,
        loggable_path(request.path),
        response.status_code,
        elapsed_ms,
        caller,
        refusal,
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(start_timer)
    app.after_request(log_request)
