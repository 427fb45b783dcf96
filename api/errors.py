"""JSON error responses: every HTTP error the API answers is ``{"error", "error_description"}``.

Werkzeug raises 404, 405, 413, 415 and the 400s of malformed input as ``HTTPException``; Flask
turns any unexpected exception into ``InternalServerError`` after logging its traceback. One
handler renders them all as JSON with a generic description, keeping the headers they need
(``Allow`` on a 405), so a client never sees an HTML page or a traceback.
"""

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


def error_body(error: HTTPException) -> dict[str, str]:
    """``error``: the snake_case name of the HTTP status (``not_found``,
    ``method_not_allowed``...); ``error_description``: its generic description."""
    return {"error": error.name.lower().replace(" ", "_"), "error_description": error.description}


def http_error_response(error: HTTPException) -> Response:
    response = jsonify(error_body(error))
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error_response)
