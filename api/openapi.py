"""``GET /openapi.json``: the OpenAPI 3.1 description of this API.

Summaries and schemas are written here; what each operation requires (scopes, Auth0 RBAC
permissions, user or machine tokens) is read from the ``require_auth`` decorator of its view, and
every limit (lengths, counts, the body size) from the constant the code enforces, so the document
cannot drift from the code. Building the document fails if a route has no description here, so no
endpoint goes undocumented.
"""

from typing import Any

from flask import Blueprint, Flask, current_app

from api import imports, messages
from shared.flask_auth import AuthRequirements

bp = Blueprint("openapi", __name__)
EXTENSION_NAME = "flowlab_openapi"

API_SCOPES = {
    "read:messages": "Read messages",
    "write:messages": "Post messages (user tokens)",
    "import:data": "Import batches of records (machine tokens)",
    "read:imports": "List import batches",
    "read:stats": "Read the admin statistics (granted to users as an Auth0 RBAC permission)",
}


def _object(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


#: What ``str.strip()`` removes, so what ``api.request_body.string_field`` counts as blank: every
#: character whose ``str.isspace()`` is true. JSON Schema's ``\s`` (ECMA-262) is another set (it
#: has U+FEFF, not U+001C..U+001F nor U+0085), so the pattern names them one by one.
BLANK_CHARACTERS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: A string with at least one character that is not blank.
NOT_BLANK = "[^" + "".join(f"\\u{ord(character):04x}" for character in BLANK_CHARACTERS) + "]"


def _text(max_length: int) -> dict[str, Any]:
    """A non-blank string of at most ``max_length`` characters (``string_field``'s rule)."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NOT_BLANK}


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}
TIMESTAMP = {"type": "string", "format": "date-time"}

SCHEMAS = {
    "Error": _object({"error": STRING, "error_description": STRING}),
    "PublicMessage": _object({"message": STRING}),
    "PrivateMessage": _object(
        {
            "message": STRING,
            "sub": STRING,
            "client_id": NULLABLE_STRING,
            "scopes": {"type": "array", "items": STRING},
        }
    ),
    "Message": _object(
        {"id": {"type": "integer"}, "author": STRING, "text": STRING, "created_at": TIMESTAMP}
    ),
    "MessageList": _object(
        {"messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}}
    ),
    "NewMessage": _object({"text": _text(messages.MAX_TEXT_LENGTH)}),
    "Profile": _object(
        {
            "id": {"type": "integer"},
            "sub": STRING,
            "email": NULLABLE_STRING,
            "name": NULLABLE_STRING,
            "created_at": TIMESTAMP,
            "last_seen_at": TIMESTAMP,
        }
    ),
    "ImportBatch": _object(
        {
            "batch_id": _text(imports.MAX_BATCH_ID_LENGTH),
            "source": _text(imports.MAX_SOURCE_LENGTH),
            "records": {
                "type": "array",
                "maxItems": imports.MAX_RECORDS,
                "items": _object(
                    {
                        "external_id": _text(imports.MAX_EXTERNAL_ID_LENGTH),
                        "data": {"type": "object"},
                    }
                ),
            },
        }
    ),
    "ImportResult": _object(
        {
            "batch_id": STRING,
            "source": STRING,
            "received": COUNT,
            "created": COUNT,
            "replayed": {"type": "boolean"},
        }
    ),
    "ImportList": _object(
        {
            "imports": {
                "type": "array",
                "items": _object(
                    {
                        "batch_id": STRING,
                        "source": STRING,
                        "client_id": STRING,
                        "received": COUNT,
                        "created": COUNT,
                        "received_at": TIMESTAMP,
                    }
                ),
            },
            "records": COUNT,
        }
    ),
    "Stats": _object(
        {"users": COUNT, "messages": COUNT, "import_batches": COUNT, "imported_records": COUNT}
    ),
    "Health": _object({"status": {"const": "ok"}}),
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _byte_size(byte_count: int) -> str:
    """``1048576`` as ``1 MiB``: in the largest binary unit that divides it."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if byte_count % factor == 0:
            return f"{byte_count // factor} {unit}"
    return f"{byte_count} bytes"


def error_responses(max_body_bytes: int) -> dict[str, dict[str, Any]]:
    """The error answers an operation may name, by status."""
    return {
        "400": _json(
            "Error",
            "Malformed request (invalid_request), including a token sent outside the Authorization"
            " header",
        ),
        "401": _json(
            "Error",
            'No access token (bare Bearer challenge) or an invalid one (error="invalid_token")',
        ),
        "403": _json(
            "Error",
            "insufficient_scope: the token lacks a scope or permission, or is the wrong kind",
        ),
        "413": _json("Error", f"The body is over {_byte_size(max_body_bytes)}"),
        "415": _json("Error", "The body is not application/json"),
        "422": _json("Error", "The idempotency key was already used for a different batch"),
        "503": _json(
            "Error",
            "The issuer's signing keys cannot be fetched, or the database cannot store data,"
            " right now (see Retry-After)",
        ),
    }


# (method, path) -> the hand-written part of each operation; "errors" names the statuses of
# error_responses() it may answer besides those of its token checks.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/healthz"): {
        "summary": "Readiness probe",
        "responses": {"200": _json("Health", "Ready")},
    },
    ("GET", "/openapi.json"): {
        "summary": "This document",
        "responses": {
            "200": {"description": "OpenAPI 3.1 document", "content": {"application/json": {}}}
        },
    },
    ("GET", "/api/public"): {
        "summary": "Public endpoint: no token needed",
        "responses": {"200": _json("PublicMessage", "A greeting")},
    },
    ("GET", "/api/private"): {
        "summary": "Any valid access token for this API",
        "responses": {"200": _json("PrivateMessage", "Who called, with which client and scopes")},
    },
    ("GET", "/api/messages"): {
        "summary": f"List the latest {messages.LIST_LIMIT} messages, newest first",
        "responses": {"200": _json("MessageList", "Messages")},
    },
    ("POST", "/api/messages"): {
        "summary": "Post a message as the calling user",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/NewMessage"}}
            },
        },
        "responses": {"201": _json("Message", "The stored message")},
        "errors": ("400", "413", "415"),
    },
    ("GET", "/api/me"): {
        "summary": "The API's own profile of the calling user, created on first call",
        "responses": {"200": _json("Profile", "Local profile linked to the token's sub")},
    },
    ("POST", "/api/imports"): {
        "summary": "Import a batch of records, idempotently",
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": (
                    "Names the batch (default: its batch_id), per client. Same key and body: the"
                    " stored answer is replayed; same key, other body: 422."
                ),
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": imports.MAX_IDEMPOTENCY_KEY_LENGTH,
                    "pattern": f"^{imports.IDEMPOTENCY_KEY_CHARACTER}+$",
                },
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ImportBatch"}}
            },
        },
        "responses": {
            "201": _json(
                "ImportResult",
                "First delivery: records stored, owned by the calling client (created counts the"
                " ones new to this client; another client's record with the same source and"
                " external_id is another record)",
            ),
            "200": _json("ImportResult", "Replay of an already delivered batch: nothing written"),
        },
        "errors": ("400", "413", "415", "422"),
    },
    ("GET", "/api/imports"): {
        "summary": (
            f"The latest {imports.LIST_LIMIT} import batches and the total number of imported"
            " records"
        ),
        "responses": {"200": _json("ImportList", "Import batches")},
    },
    ("GET", "/api/admin/stats"): {
        "summary": "Counts of users, messages, import batches and records",
        "responses": {"200": _json("Stats", "Counts")},
    },
}


def _security(requirements: AuthRequirements) -> dict[str, Any]:
    names = list(dict.fromkeys(requirements.scopes + requirements.permissions))
    operation: dict[str, Any] = {
        "security": [{"oauth2": names}, {"bearerAuth": names}],
        "x-required-scopes": list(requirements.scopes),
        "x-required-permissions": list(requirements.permissions),
    }
    if requirements.user_only:
        operation["x-token-kind"] = "user"
    if requirements.machine_only:
        operation["x-token-kind"] = "machine"
    return operation


def _operation(
    app: Flask, method: str, path: str, endpoint: str, errors: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    if (method, path) not in OPERATIONS:
        raise LookupError(f"{method} {path} has no OpenAPI description in api/openapi.py")
    operation = {"operationId": endpoint.replace(".", "_"), **OPERATIONS[method, path]}
    answered = operation.pop("errors", ())
    requirements = getattr(app.view_functions[endpoint], "auth_requirements", None)
    if requirements is None:
        security: dict[str, Any] = {"security": []}
    else:
        security = _security(requirements)
        checked = () if requirements == AuthRequirements() else ("403",)
        answered = ("401", "400", "503", *checked, *answered)
    responses = {**{code: errors[code] for code in answered}, **operation["responses"]}
    return {**operation, **security, "responses": responses}


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s routes, with the app's issuer in the OAuth flows."""
    authorization_server = app.config["AUTH_ISSUER"].rstrip("/")
    scopes = dict(API_SCOPES)
    errors = error_responses(app.config["MAX_CONTENT_LENGTH"])
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(rule.rule, {})[method.lower()] = _operation(
                app, method, rule.rule, rule.endpoint, errors
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Flowlab protected API",
            "version": "1.0.0",
            "description": (
                "A resource server protected by OAuth 2.0 access tokens (JWT, RFC 9068) from "
                f"{app.config['AUTH_ISSUER']}. Ask for tokens with audience "
                f"{app.config['AUTH_AUDIENCE']}. Errors are JSON {{error, error_description}}; "
                "token errors carry an RFC 6750 WWW-Authenticate challenge."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "oauth2": {
                    "type": "oauth2",
                    "description": "Auth0 endpoints of the issuer; send audience="
                    + app.config["AUTH_AUDIENCE"],
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": authorization_server + "/authorize",
                            "tokenUrl": authorization_server + "/oauth/token",
                            "refreshUrl": authorization_server + "/oauth/token",
                            "scopes": scopes,
                        },
                        "implicit": {
                            "authorizationUrl": authorization_server + "/authorize",
                            "scopes": scopes,
                        },
                        "clientCredentials": {
                            "tokenUrl": authorization_server + "/oauth/token",
                            "scopes": scopes,
                        },
                    },
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return current_app.extensions[EXTENSION_NAME]


def init_app(app: Flask) -> None:
    """Serve the document of every route of ``app``: call it after registering the others."""
    app.register_blueprint(bp)
    app.extensions[EXTENSION_NAME] = build_document(app)
