"""How every Flowlab Flask app finishes its answers: JSON errors, security headers, a log line.

:func:`init_json_errors` answers every HTTP error as ``{"error", "error_description"}``, with a
generic description, never an HTML page or a traceback. Werkzeug raises 404, 405, 413, 415 and
the 400s of malformed input as ``HTTPException``; the answer keeps the headers such an error
needs (``Allow`` on a 405). Any other exception is logged with its traceback to the app's logger
(``app.logger``, named after the app's package), the request's method and path escaped so they
cannot forge a log line (``shared.log_safety``, CWE-117), and answered as a generic 500. Under
``PROPAGATE_EXCEPTIONS`` (by default when ``TESTING`` or ``DEBUG`` is on) it is re-raised
instead, as Flask does, so a test sees the exception itself. A storage that refuses a request for
now (``shared.sqlite_files.is_storage_fault``: the database locked past its busy timeout,
read-only, an I/O error, the disk full) is no program error: it is logged as a warning, with
SQLite's reason, and answered ``503`` with ``Retry-After``, in the view or after it (a
server-side session saved with the answer; under ``PROPAGATE_EXCEPTIONS`` Flask raises a fault
after the view instead). The request's transaction was rolled back, so it changed nothing, and
the client may send it again.

An app whose answers are not all JSON (the authorization server's pages) passes its own
``respond``: it gets the ``HTTPException`` (``InternalServerError`` for an unexpected exception)
and may call :func:`json_error` for the requests that want JSON.

:func:`init_security_headers` sets a policy, a mapping of header names to values, on every
answer whose view has not set that header itself.

:func:`init_request_log` writes one line per request: the client's address, the method, the path
(never the query string: an authorization code or a token may travel there) and the status,
every one of them escaped (``shared.log_safety``) so that no request can forge a line. A passing
container healthcheck (:func:`is_passing_healthcheck`) gets no line, here nor in the API's and the
authorization server's own request logs.
"""

import logging
import sqlite3
from collections.abc import Callable, Mapping

from flask import Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from shared.log_safety import escaped, loggable_path
from shared.sqlite_files import is_storage_fault

ErrorResponder = Callable[[HTTPException], ResponseReturnValue]
#: When a client is told to try again (``Retry-After``) after a storage fault.
STORAGE_RETRY_AFTER_SECONDS = 10


def error_code(error: HTTPException) -> str:
    """The snake_case name of the HTTP status: ``not_found``, ``method_not_allowed``..."""
    return error.name.lower().replace(" ", "_")


def error_body(error: HTTPException) -> dict[str, str]:
    """``error``: :func:`error_code`; ``error_description``: the status's generic description."""
    return {"error": error_code(error), "error_description": error.description}


def json_error(error: HTTPException) -> Response:
    """``error`` as a JSON answer, with the headers it carries (``Allow`` on a 405)."""
    response = jsonify(error_body(error))
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_json_errors(app: Flask, respond: ErrorResponder = json_error) -> None:
    """Answer every error of ``app`` with ``respond``: JSON unless an app says otherwise."""

    def log_exception(exc_info) -> None:
        # Also Flask's own log of an error after the view, before server_error answers it: there
        # it would be unescaped, and a storage fault an error (database_error logs it instead).
        if is_storage_fault(exc_info[1]):
            return
        current_app.logger.error(
            "unexpected error on %s %s",
            escaped(request.method),
            loggable_path(request.path),
            exc_info=exc_info,
        )

    def unexpected_error(error: Exception) -> ResponseReturnValue:
        propagate = current_app.config["PROPAGATE_EXCEPTIONS"]
        if propagate or propagate is None and (current_app.testing or current_app.debug):
            raise error
        log_exception((type(error), error, error.__traceback__))
        return respond(InternalServerError())

    def database_error(error: sqlite3.OperationalError) -> ResponseReturnValue:
        if not is_storage_fault(error):
            return unexpected_error(error)
        current_app.logger.warning(
            "the database refused %s %s for now (%s): %s",
            escaped(request.method),
            loggable_path(request.path),
            escaped(error.sqlite_errorname),
            escaped(str(error)),
        )
        return respond(ServiceUnavailable(retry_after=STORAGE_RETRY_AFTER_SECONDS))

    def server_error(error: InternalServerError) -> ResponseReturnValue:
        # An error after the view (a server-side session saved with the answer) reaches no
        # handler of its own: Flask answers it as a 500 wrapping it. A storage fault is a 503
        # there too.
        if is_storage_fault(error.original_exception):
            return database_error(error.original_exception)
        return respond(error)

    app.log_exception = log_exception  # type: ignore[method-assign]
    app.register_error_handler(HTTPException, respond)
    app.register_error_handler(InternalServerError, server_error)
    app.register_error_handler(sqlite3.OperationalError, database_error)
    app.register_error_handler(Exception, unexpected_error)


def init_security_headers(app: Flask, policy: Mapping[str, str]) -> None:
    """Set each header of ``policy`` on every answer of ``app`` that does not set it itself."""
    headers = dict(policy)

    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    app.after_request(add_security_headers)


#: The User-Agent of docker-compose.yml's healthchecks, and the paths they ask.
HEALTHCHECK_USER_AGENT = "Flowlab-Healthcheck"
HEALTHCHECK_PATHS = frozenset({"/healthz", "/.well-known/openid-configuration"})
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")


def is_passing_healthcheck(response: Response) -> bool:
    """Whether this answer is a container's healthcheck that passed: a GET of a health path,
    from loopback, with :data:`HEALTHCHECK_USER_AGENT`, no credentials and no query string.
    Every 5 s, it would bury the request log. Anything else is logged, a failing healthcheck
    too: the User-Agent is the client's to choose, so it must not hide a request that reads
    data (a stolen token used on /api/me with this User-Agent is still logged)."""
    return (
        request.method == "GET"
        and response.status_code == 200
        and request.path in HEALTHCHECK_PATHS
        and not request.query_string
        and "Authorization" not in request.headers
        and request.remote_addr in LOOPBACK_ADDRESSES
        and request.user_agent.string == HEALTHCHECK_USER_AGENT
    )


def init_request_log(app: Flask, logger: logging.Logger) -> None:
    """One line per request on ``logger`` (see the module docstring)."""

    def log_request(response: Response) -> Response:
        if is_passing_healthcheck(response):
            return response
        logger.info(
            '%s "%s %s" %s',
            escaped(request.remote_addr),
            escaped(request.method),
            loggable_path(request.path),
            response.status_code,
        )
        return response

    app.after_request(log_request)
