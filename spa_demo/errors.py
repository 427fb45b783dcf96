"""Errors as small JSON documents, never an HTML error page or a traceback."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def _error_code(exception):
    return exception.name.lower().replace(" ", "_")


def init_app(app):
    @app.errorhandler(HTTPException)
    def http_error(exception):
        response = jsonify(error=_error_code(exception), error_description=exception.description)
        response.status_code = exception.code
        if exception.code == 405:
            response.headers["Allow"] = ", ".join(exception.valid_methods or ())
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exception):
        log.exception("unexpected error while serving a request")
        return http_error(InternalServerError())
