"""Bad and hostile input gets a clear JSON error and changes nothing.

The app runs with ``TESTING`` on, so Flask re-raises any unexpected exception into the test
instead of answering 500: every row below passing shows that its input never reaches the
internal-error path.
"""

import json

import pytest

from tests.api.conftest import assert_json_error, bearer

WRITER = ("write:messages",)
IMPORTER = ("import:data",)
ONE_MIB = 1024 * 1024


def json_bytes(text: str) -> dict:
    return {"data": text.encode("utf-8", "surrogatepass"), "content_type": "application/json"}


def import_body(records) -> dict:
    return {"json": {"batch_id": "b-1", "source": "crm", "records": records}}


def records(count: int) -> list[dict]:
    return [{"external_id": f"r-{number}", "data": {}} for number in range(count)]


MESSAGE_CASES = [
    pytest.param(
        {"data": "text=hi", "content_type": "text/plain"},
        415,
        "unsupported_media_type",
        id="text-plain",
    ),
    pytest.param({"data": "text=hi"}, 415, "unsupported_media_type", id="no-content-type"),
    pytest.param({"data": {"text": "hi"}}, 415, "unsupported_media_type", id="form-without-token"),
    pytest.param(json_bytes('{"text": '), 400, "bad_request", id="truncated-json"),
    pytest.param(json_bytes(""), 400, "bad_request", id="empty-body"),
    pytest.param(json_bytes('["hi"]'), 400, "bad_request", id="json-array"),
    pytest.param(json_bytes('"hi"'), 400, "bad_request", id="json-string"),
    pytest.param(json_bytes('{"text": "a", "text": "b"}'), 400, "bad_request", id="duplicate-keys"),
    pytest.param(json_bytes('{"text": NaN}'), 400, "bad_request", id="nan"),
    pytest.param(json_bytes('{"text": "\\ud800"}'), 400, "bad_request", id="lone-surrogate-escape"),
    pytest.param(json_bytes('{"text": "\ud800"}'), 400, "bad_request", id="lone-surrogate-bytes"),
    pytest.param(
        {"data": b'{"text": "\xff\xfe"}', "content_type": "application/json"},
        400,
        "bad_request",
        id="invalid-utf-8",
    ),
    pytest.param(
        {"data": '{"text": "hi"}'.encode("utf-16"), "content_type": "application/json"},
        400,
        "bad_request",
        id="utf-16",
    ),
    pytest.param(json_bytes('\ufeff{"text": "hi"}'), 400, "bad_request", id="byte-order-mark"),
    pytest.param(json_bytes("[" * 100_000 + "]" * 100_000), 400, "bad_request", id="deeply-nested"),
    pytest.param({"json": {"text": ""}}, 400, "bad_request", id="empty-text"),
    pytest.param({"json": {"text": " \n\t "}}, 400, "bad_request", id="blank-text"),
    pytest.param({"json": {"text": "x" * 501}}, 400, "bad_request", id="501-characters"),
    pytest.param({"json": {"text": 42}}, 400, "bad_request", id="number-text"),
    pytest.param({"json": {"text": None}}, 400, "bad_request", id="null-text"),
    pytest.param({"json": {"text": ["hi"]}}, 400, "bad_request", id="list-text"),
    pytest.param({"json": {}}, 400, "bad_request", id="no-text"),
    pytest.param(
        {"json": {"text": "hi", "author": "auth0|someone-else"}},
        400,
        "bad_request",
        id="author-spoofing",
    ),
    pytest.param(
        {"json": {"text": "x" * ONE_MIB}}, 413, "request_entity_too_large", id="oversized-body"
    ),
    pytest.param(
        {
            "data": "access_token=x&text=" + "x" * ONE_MIB,
            "content_type": "application/x-www-form-urlencoded",
        },
        413,
        "request_entity_too_large",
        id="oversized-form",
    ),
]


@pytest.mark.parametrize(("request_options", "status", "error"), MESSAGE_CASES)
def test_bad_message_bodies_get_a_json_error_and_change_nothing(
    client, tokens, database, request_options, status, error
):
    before = database()

    response = client.post("/api/messages", headers=bearer(tokens.user(WRITER)), **request_options)

    assert_json_error(response, status, error)
    assert database() == before


IMPORT_CASES = [
    pytest.param(import_body(records(1001)), {}, id="1001-records"),
    pytest.param(import_body({"r-1": {}}), {}, id="records-not-a-list"),
    pytest.param(import_body(["r-1"]), {}, id="record-not-an-object"),
    pytest.param(import_body([{"external_id": "r-1"}]), {}, id="record-without-data"),
    pytest.param(
        import_body([{"external_id": "r-1", "data": [1, 2]}]), {}, id="data-not-an-object"
    ),
    pytest.param(import_body([{"external_id": "", "data": {}}]), {}, id="empty-external-id"),
    pytest.param(import_body([{"external_id": "x" * 201, "data": {}}]), {}, id="long-external-id"),
    pytest.param(import_body([{"external_id": 7, "data": {}}]), {}, id="number-external-id"),
    pytest.param(
        import_body([{"external_id": "r-1", "data": {}, "extra": 1}]), {}, id="unknown-record-field"
    ),
    pytest.param(import_body(records(2) + records(1)), {}, id="repeated-external-id"),
    pytest.param({"json": {"source": "crm", "records": []}}, {}, id="no-batch-id"),
    pytest.param({"json": {"batch_id": "b-1", "records": []}}, {}, id="no-source"),
    pytest.param(
        {"json": {"batch_id": "b-1", "source": "crm", "records": [], "x": 1}},
        {},
        id="unknown-field",
    ),
    pytest.param(import_body(records(1)), {"Idempotency-Key": ""}, id="empty-idempotency-key"),
    pytest.param(
        import_body(records(1)), {"Idempotency-Key": "k" * 256}, id="long-idempotency-key"
    ),
    pytest.param(
        import_body(records(1)), {"Idempotency-Key": "two words"}, id="idempotency-key-with-space"
    ),
    pytest.param(
        import_body(records(1)), {"Idempotency-Key": "key-1, key-2"}, id="two-idempotency-keys"
    ),
    pytest.param(
        import_body(records(1)), {"Idempotency-Key": "clé-\u00e9"}, id="non-ascii-idempotency-key"
    ),
]


@pytest.mark.parametrize(("request_options", "headers"), IMPORT_CASES)
def test_bad_import_batches_are_400_and_change_nothing(
    client, tokens, database, request_options, headers
):
    before = database()

    response = client.post(
        "/api/imports", headers={**bearer(tokens.machine(IMPORTER)), **headers}, **request_options
    )

    assert_json_error(response, 400, "bad_request")
    assert database() == before


def test_two_idempotency_key_headers_are_refused(client, tokens, database):
    before = database()

    response = client.post(
        "/api/imports",
        json={"batch_id": "b-1", "source": "crm", "records": records(1)},
        headers=[
            *bearer(tokens.machine(IMPORTER)).items(),
            ("Idempotency-Key", "a"),
            ("Idempotency-Key", "b"),
        ],
    )

    assert_json_error(response, 400, "bad_request")
    assert database() == before


def test_an_oversized_import_is_413_and_changes_nothing(client, tokens, database):
    before = database()
    padding = "x" * 1100  # 1000 records of about 1.1 KB: just over 1 MiB

    response = client.post(
        "/api/imports",
        json={
            "batch_id": "b",
            "source": "crm",
            "records": [{"external_id": f"{n}", "data": {"p": padding}} for n in range(1000)],
        },
        headers=bearer(tokens.machine(IMPORTER)),
    )

    assert_json_error(response, 413, "request_entity_too_large")
    assert database() == before


def test_error_descriptions_do_not_echo_the_input(client, tokens):
    junk = "<script>alert(1)</script>"

    response = client.post(
        "/api/messages", json={"text": "hi", junk: junk}, headers=bearer(tokens.user(WRITER))
    )

    assert_json_error(response, 400, "bad_request")
    assert "<script>" not in response.get_data(as_text=True)
    assert "alert" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/api/me", None), ("POST", "/api/messages", {"text": "hi"})],
)
def test_a_signed_claim_with_an_unpaired_surrogate_is_invalid_token(
    client, tokens, database, method, path, body
):
    """Stored as it is, ``"\\ud800"`` in the token's name would make SQLite fail with a 500."""
    claims = {**tokens.factory.claims(), "scope": "openid write:messages", "name": "x"}
    token = tokens.factory.raw(
        tokens.factory.header(), json.dumps(claims).replace('"x"', '"\\ud800"').encode()
    )
    before = database()

    response = client.open(path, method=method, json=body, headers=bearer(token))

    assert_json_error(response, 401, "invalid_token")
    assert database() == before


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": 10**400}, id="exp-10**400"),
        pytest.param({"iat": -(10**400)}, id="iat--10**400"),
        pytest.param({"nbf": 10**309}, id="nbf-10**309"),
        pytest.param({"auth_time": 10**400}, id="auth_time-10**400"),
    ],
)
def test_a_signed_date_no_float_can_hold_is_invalid_token(client, tokens, database, claims):
    """``math.isfinite(10**400)`` raises OverflowError: such a date must be refused, not crash."""
    before = database()

    response = client.post(
        "/api/messages", json={"text": "hi"}, headers=bearer(tokens.factory(claims))
    )

    assert_json_error(response, 401, "invalid_token")
    assert database() == before


def test_a_huge_authorization_header_is_invalid_token(client, database):
    before = database()

    response = client.post(
        "/api/messages", json={"text": "hi"}, headers={"Authorization": "Bearer " + "A" * 100_000}
    )

    assert_json_error(response, 401, "invalid_token")
    assert database() == before


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        pytest.param("GET", "/api/nope", 404, "not_found", id="unknown-route"),
        pytest.param("GET", "/", 404, "not_found", id="root"),
        pytest.param("GET", "/api/%00%ff%fe", 404, "not_found", id="binary-path"),
        pytest.param("GET", "/api/\u202e\u0000\U0001f512", 404, "not_found", id="unicode-path"),
        pytest.param("GET", "/api/" + "a" * 10_000, 404, "not_found", id="long-path"),
        pytest.param("GET", "/static/../api/admin/stats", 404, "not_found", id="dot-dot-path"),
        pytest.param("DELETE", "/api/messages", 405, "method_not_allowed", id="delete-messages"),
        pytest.param("PUT", "/api/public", 405, "method_not_allowed", id="put-public"),
        pytest.param("POST", "/api/me", 405, "method_not_allowed", id="post-me"),
        pytest.param("PATCH", "/api/imports", 405, "method_not_allowed", id="patch-imports"),
    ],
)
def test_unknown_routes_and_wrong_methods_are_json(client, database, method, path, status, error):
    before = database()

    response = client.open(path, method=method)

    assert_json_error(response, status, error)
    assert database() == before


def test_a_wrong_method_names_the_allowed_ones(client):
    response = client.delete("/api/messages")

    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
