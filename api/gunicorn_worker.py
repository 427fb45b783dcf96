"""The gunicorn worker of ``python -m api``: gthread, with gunicorn's own error answers in JSON.

gunicorn refuses some requests before the app sees them: a malformed request line or header, a
request line over ``limit_request_line`` (414), a header over ``limit_request_field_size`` or too
many headers (431). It answers those with an HTML page written by ``gunicorn.util.write_error``,
its only hook for them. In this worker's processes that function writes the body the app gives
every error instead (``shared.web``: ``{"error", "error_description"}``, generic, never echoing
the request), so no answer of the API is HTML. gunicorn still logs the precise reason.
"""

import json

from gunicorn import util
from werkzeug.exceptions import default_exceptions

from api import SECURITY_HEADERS
from shared.web import error_body
from shared.wsgi_server import QuickQuitThreadWorker


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error`` with the API's JSON body (``mesg``, which quotes the
    request, is only logged by gunicorn)."""
    # werkzeug knows every status gunicorn answers by itself (400, 403, 414, 417, 431, 500, 501).
    body = json.dumps(error_body(default_exceptions[status_int]())).encode("utf-8")
    headers = {
        "Connection": "close",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **SECURITY_HEADERS,
    }
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    util.write_nonblock(sock, (head + "\r\n").encode("latin-1") + body)


class JSONErrorThreadWorker(QuickQuitThreadWorker):
    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()
