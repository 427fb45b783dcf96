"""CORS: the configured browser origins only; preflight never needs a token."""

import pytest

from api import create_app
from tests.api.conftest import PROTECTED_ENDPOINTS, SPA_ORIGIN, bearer

REQUESTED_HEADERS = "authorization, content-type, idempotency-key"


def preflight(client, path, method, origin=SPA_ORIGIN, headers=REQUESTED_HEADERS):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_preflight_from_the_spa_succeeds_without_a_token(client, database, endpoint):
    before = database()

    response = preflight(client, endpoint.path, endpoint.method)

    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    assert endpoint.method in response.headers["Access-Control-Allow-Methods"]
    allowed = {
        name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed == {"authorization", "content-type", "idempotency-key"}
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert database() == before


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3001",
        "https://localhost:3000",
        "http://localhost:3000.evil.example",
        "http://evil.example",
        "null",
    ],
)
def test_preflight_from_another_origin_gets_no_cors_permission(client, origin):
    response = preflight(client, "/api/messages", "GET", origin=origin)

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


def test_preflight_does_not_allow_other_request_headers(client):
    response = preflight(client, "/api/messages", "POST", headers="authorization, x-forwarded-user")

    allowed = {
        name.strip().lower()
        for name in response.headers.get("Access-Control-Allow-Headers", "").split(",")
    }
    assert "x-forwarded-user" not in allowed


def test_refusals_are_readable_by_the_spa(client):
    """A browser only shows the SPA a 401 and its challenge if CORS allows and exposes them."""
    response = client.get("/api/private", headers={"Origin": SPA_ORIGIN})

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
    exposed = {
        name.strip() for name in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert exposed == {"WWW-Authenticate", "Retry-After"}


def test_a_cross_origin_call_with_a_token_is_allowed_for_the_spa(client, tokens):
    response = client.get("/api/private", headers={"Origin": SPA_ORIGIN, **bearer(tokens.user())})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN


def test_cors_origins_lists_every_allowed_origin(app_config):
    client = create_app(
        {**app_config, "CORS_ORIGINS": "http://localhost:3000, https://app.example.com"}
    ).test_client()

    for origin in ("http://localhost:3000", "https://app.example.com"):
        assert (
            preflight(client, "/api/messages", "GET", origin=origin).headers[
                "Access-Control-Allow-Origin"
            ]
            == origin
        )
    assert (
        "Access-Control-Allow-Origin"
        not in preflight(client, "/api/messages", "GET", origin="http://x.example").headers
    )
