"""``/openapi.json``: a valid OpenAPI 3.1 document that describes every route, the security each
one enforces, and the bodies the API really sends."""

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from api import MAX_BODY_BYTES, imports, messages
from api.openapi import build_document
from tests.api.conftest import PROTECTED_ENDPOINTS, REALM, bearer, call


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def conforms(document, response, status):
    """Validate ``response``'s JSON against what ``document`` says about ``status``."""
    operation = document["paths"][response.request.path][response.request.method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    OAS31Validator({"components": document["components"], **schema}).validate(response.get_json())


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)

    assert document["openapi"] == "3.1.0"


def test_every_route_is_described(document):
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }

    assert operations == {
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        ("GET", "/api/public"),
        ("GET", "/api/private"),
        ("GET", "/api/messages"),
        ("POST", "/api/messages"),
        ("GET", "/api/me"),
        ("POST", "/api/imports"),
        ("GET", "/api/imports"),
        ("GET", "/api/admin/stats"),
    }


def test_a_route_without_a_description_cannot_be_published(app):
    app.add_url_rule("/api/undocumented", "undocumented", lambda: {})

    with pytest.raises(LookupError, match="GET /api/undocumented"):
        build_document(app)


@pytest.mark.parametrize(
    ("method", "path", "names", "kind"),
    [
        ("get", "/api/private", [], None),
        ("get", "/api/messages", ["read:messages"], None),
        ("post", "/api/messages", ["write:messages"], "user"),
        ("get", "/api/me", [], "user"),
        ("post", "/api/imports", ["import:data"], "machine"),
        ("get", "/api/imports", ["read:imports"], None),
        ("get", "/api/admin/stats", ["read:stats"], None),
    ],
)
def test_each_operation_states_what_its_token_needs(document, method, path, names, kind):
    operation = document["paths"][path][method]

    assert operation["security"] == [{"oauth2": names}, {"bearerAuth": names}]
    assert operation.get("x-token-kind") == kind
    assert {"401", "503"} <= set(operation["responses"])


def test_rbac_permissions_are_told_apart_from_scopes(document):
    operation = document["paths"]["/api/admin/stats"]["get"]

    assert operation["x-required-permissions"] == ["read:stats"]
    assert operation["x-required-scopes"] == ["read:stats"]
    assert document["paths"]["/api/messages"]["get"]["x-required-permissions"] == []


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/api/public"])
def test_open_operations_need_no_token(document, path):
    assert document["paths"][path]["get"]["security"] == []


def test_the_security_schemes_point_at_the_issuer(document, issuer):
    schemes = document["components"]["securitySchemes"]

    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flows = schemes["oauth2"]["flows"]
    assert flows["authorizationCode"]["authorizationUrl"] == issuer + "authorize"
    assert flows["authorizationCode"]["tokenUrl"] == issuer + "oauth/token"
    assert flows["clientCredentials"]["tokenUrl"] == issuer + "oauth/token"
    assert set(flows["clientCredentials"]["scopes"]) == {
        "read:messages",
        "write:messages",
        "import:data",
        "read:imports",
        "read:stats",
    }
    assert REALM in schemes["oauth2"]["description"]


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_real_answers_match_the_documented_schemas(client, tokens, document, endpoint):
    success = call(client, endpoint, bearer(tokens.for_endpoint(endpoint)))
    refused = call(client, endpoint)

    conforms(document, success, endpoint.success)
    conforms(document, refused, 401)


def test_a_replayed_import_matches_its_documented_schema(client, tokens, document):
    endpoint = next(endpoint for endpoint in PROTECTED_ENDPOINTS if endpoint.path == "/api/imports")
    call(client, endpoint, bearer(tokens.for_endpoint(endpoint)))

    replay = call(client, endpoint, bearer(tokens.for_endpoint(endpoint)))

    assert replay.status_code == 200
    conforms(document, replay, 200)


@pytest.mark.parametrize("path", ["/healthz", "/api/public"])
def test_open_answers_match_the_documented_schemas(client, document, path):
    conforms(document, client.get(path), 200)


def test_the_documented_limits_are_the_enforced_ones(document):
    schemas = document["components"]["schemas"]
    batch = schemas["ImportBatch"]["properties"]
    record = batch["records"]["items"]["properties"]
    post_imports = document["paths"]["/api/imports"]["post"]

    assert schemas["NewMessage"]["properties"]["text"]["maxLength"] == messages.MAX_TEXT_LENGTH
    assert batch["batch_id"]["maxLength"] == imports.MAX_BATCH_ID_LENGTH
    assert batch["source"]["maxLength"] == imports.MAX_SOURCE_LENGTH
    assert batch["records"]["maxItems"] == imports.MAX_RECORDS
    assert record["external_id"]["maxLength"] == imports.MAX_EXTERNAL_ID_LENGTH
    (key,) = post_imports["parameters"]
    assert key["schema"]["maxLength"] == imports.MAX_IDEMPOTENCY_KEY_LENGTH
    assert imports.IDEMPOTENCY_KEY.fullmatch("k" * imports.MAX_IDEMPOTENCY_KEY_LENGTH)
    assert not imports.IDEMPOTENCY_KEY.fullmatch("k" * (imports.MAX_IDEMPOTENCY_KEY_LENGTH + 1))
    assert (
        f"latest {messages.LIST_LIMIT} messages"
        in document["paths"]["/api/messages"]["get"]["summary"]
    )
    assert (
        f"latest {imports.LIST_LIMIT} import batches"
        in document["paths"]["/api/imports"]["get"]["summary"]
    )
    assert MAX_BODY_BYTES == 1024 * 1024
    assert post_imports["responses"]["413"]["description"] == "The body is over 1 MiB"


@pytest.mark.parametrize(
    ("limit", "said"), [(2 * 1024 * 1024, "2 MiB"), (512 * 1024, "512 KiB"), (1000, "1000 bytes")]
)
def test_the_documented_body_limit_follows_the_app(app, limit, said):
    app.config["MAX_CONTENT_LENGTH"] = limit

    document = build_document(app)

    assert (
        document["paths"]["/api/messages"]["post"]["responses"]["413"]["description"]
        == f"The body is over {said}"
    )


def test_each_error_an_operation_answers_is_documented_once(document):
    post_messages = document["paths"]["/api/messages"]["post"]["responses"]

    assert {"201", "400", "401", "403", "413", "415", "503"} == set(post_messages)
    assert "403" not in document["paths"]["/api/private"]["get"]["responses"]
    assert set(document["paths"]["/healthz"]["get"]["responses"]) == {"200"}
