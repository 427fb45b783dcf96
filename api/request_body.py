"""Strict JSON request bodies: the one way views read input.

A body is accepted only if it is ``application/json`` (else 415), at most ``MAX_CONTENT_LENGTH``
bytes (else 413), valid UTF-8 JSON without duplicate keys, ``NaN``/``Infinity`` or lone surrogates,
not absurdly deep, and a JSON object (else 400). Error messages say what is wrong without echoing
the input back.
"""

import json
from typing import Any

from flask import abort, request
from werkzeug.exceptions import UnsupportedMediaType


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value whatever its formatting; UnicodeEncodeError on lone surrogates."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def read_json_object() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            "The request body must be JSON (Content-Type: application/json)."
        )
    raw = request.get_data(cache=True)
    try:
        body = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
        canonical_json(body)
    except (ValueError, RecursionError):  # UnicodeError and JSONDecodeError are ValueErrors
        abort(400, description="The request body is not valid JSON.")
    if not isinstance(body, dict):
        abort(400, description="The request body must be a JSON object.")
    return body


def only_fields(value: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    if not value.keys() <= allowed:
        abort(
            400, description=f"{where} accepts only the fields " + ", ".join(sorted(allowed)) + "."
        )


def string_field(value: dict[str, Any], name: str, max_length: int, where: str) -> str:
    field = value.get(name)
    if not isinstance(field, str) or not field.strip() or len(field) > max_length:
        abort(
            400,
            description=f"{where}.{name} must be a non-blank string of at most {max_length} characters.",
        )
    return field
