"""RFC 6750 on every protected endpoint: 200 with the right token, 400/401/403/503 with the exact
``WWW-Authenticate`` challenge and a JSON body otherwise, and nothing written when refused."""

import pytest

from tests.api.conftest import (
    KIND_RESTRICTED_ENDPOINTS,
    PROTECTED_ENDPOINTS,
    REALM,
    SCOPED_ENDPOINTS,
    assert_json_error,
    bearer,
    call,
)

MISSING_CHALLENGE = f'Bearer realm="{REALM}"'
INVALID_TOKEN_CHALLENGE = f'Bearer realm="{REALM}", error="invalid_token", error_description="The access token is invalid."'
INVALID_REQUEST_CHALLENGE = f'Bearer realm="{REALM}", error="invalid_request", error_description="The request is malformed."'
INSUFFICIENT_SCOPE_DESCRIPTION = "The access token does not grant the required scope."


def insufficient_scope_challenge(scope: str) -> str:
    return (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        f'error_description="{INSUFFICIENT_SCOPE_DESCRIPTION}", scope="{scope}"'
    )


def wrong_kind_challenge(kind: str) -> str:
    return (
        f'Bearer realm="{REALM}", error="insufficient_scope", '
        f'error_description="This endpoint accepts {kind} access tokens only."'
    )


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_a_token_with_what_the_endpoint_requires_passes(client, tokens, endpoint):
    response = call(client, endpoint, bearer(tokens.for_endpoint(endpoint)))

    assert response.status_code == endpoint.success, response.get_data(as_text=True)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_no_credentials_get_a_bare_challenge_without_error_code(client, database, endpoint):
    before = database()

    response = call(client, endpoint)

    assert_json_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == MISSING_CHALLENGE
    assert database() == before


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_another_authentication_scheme_counts_as_no_credentials(client, tokens, endpoint):
    response = call(client, endpoint, {"Authorization": f"Basic {tokens.for_endpoint(endpoint)}"})

    assert_json_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == MISSING_CHALLENGE


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_an_expired_token_is_invalid_token(client, tokens, database, endpoint):
    expired = tokens.factory(
        {"iat": 1_600_000_000, "exp": 1_600_003_600}, machine=endpoint.kind == "machine"
    )
    before = database()

    response = call(client, endpoint, bearer(expired))

    assert_json_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert database() == before


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda tokens, key: tokens.factory(key=key), id="signed-by-unknown-key"),
        pytest.param(
            lambda tokens, key: tokens.factory({"aud": "https://other.api"}), id="other-audience"
        ),
        pytest.param(
            lambda tokens, key: tokens.factory({"iss": "https://evil.example/"}), id="other-issuer"
        ),
        pytest.param(lambda tokens, key: tokens.factory(header={"alg": "none"}), id="alg-none"),
        pytest.param(lambda tokens, key: tokens.user()[:-4] + "AAAA", id="tampered-signature"),
        pytest.param(lambda tokens, key: "not-a-jwt", id="not-a-jwt"),
        pytest.param(lambda tokens, key: "a" * 9000, id="9-KiB-token"),
    ],
)
def test_invalid_tokens_are_refused_with_invalid_token(client, tokens, second_rsa_key, make_token):
    response = client.get("/api/private", headers=bearer(make_token(tokens, second_rsa_key)))

    assert_json_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE


@pytest.mark.parametrize("endpoint", SCOPED_ENDPOINTS, ids=str)
def test_a_token_without_the_required_scope_or_permission_gets_insufficient_scope(
    client, tokens, database, endpoint
):
    before = database()

    response = call(
        client, endpoint, bearer(tokens.for_endpoint(endpoint, scopes=(), permissions=()))
    )

    body = assert_json_error(response, 403, "insufficient_scope")
    assert body["error_description"] == INSUFFICIENT_SCOPE_DESCRIPTION
    required = " ".join(dict.fromkeys(endpoint.scopes + endpoint.permissions))
    assert response.headers["WWW-Authenticate"] == insufficient_scope_challenge(required)
    assert database() == before


@pytest.mark.parametrize("endpoint", KIND_RESTRICTED_ENDPOINTS, ids=str)
def test_a_token_of_the_wrong_kind_is_refused_even_with_every_scope(
    client, tokens, database, endpoint
):
    before = database()

    response = call(client, endpoint, bearer(tokens.of_wrong_kind(endpoint)))

    assert_json_error(response, 403, "insufficient_scope")
    assert response.headers["WWW-Authenticate"] == wrong_kind_challenge(endpoint.kind)
    assert database() == before


def test_machine_tokens_are_recognised_by_their_sub_alone(client, tokens):
    """Auth0 marks client-credentials tokens with gty, but sub ``<client>@clients`` is enough."""
    machine_without_gty = tokens.factory(
        {"sub": "m2m-demo@clients", "scope": "openid"}, machine=False
    )

    response = client.get("/api/me", headers=bearer(machine_without_gty))

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == wrong_kind_challenge("user")


def test_a_scope_does_not_stand_in_for_an_rbac_permission(client, tokens):
    response = client.get("/api/admin/stats", headers=bearer(tokens.user(scopes=("read:stats",))))

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == insufficient_scope_challenge("read:stats")


def test_a_delegated_endpoint_needs_the_scope_as_well_as_the_permission(client, tokens):
    """The permission says what the user may do; the scope, that the user let this application do it."""
    response = client.get(
        "/api/admin/stats", headers=bearer(tokens.user(permissions=("read:stats",)))
    )

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == insufficient_scope_challenge("read:stats")


def test_a_permission_does_not_stand_in_for_a_scope(client, tokens):
    response = client.get(
        "/api/messages", headers=bearer(tokens.user(permissions=("read:messages",)))
    )

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == insufficient_scope_challenge("read:messages")


def test_every_required_scope_is_needed_and_named(client, tokens):
    token = tokens.user(scopes=("read:messages",))

    response = client.post("/api/messages", json={"text": "hi"}, headers=bearer(token))

    assert response.headers["WWW-Authenticate"] == insufficient_scope_challenge("write:messages")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(client, tokens, scheme):
    response = client.get("/api/private", headers={"Authorization": f"{scheme} {tokens.user()}"})

    assert response.status_code == 200


def test_several_spaces_may_separate_scheme_and_token(client, tokens):
    response = client.get("/api/private", headers={"Authorization": f"Bearer   {tokens.user()}"})

    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
@pytest.mark.parametrize("with_header", [False, True], ids=["alone", "beside-a-valid-header"])
def test_a_token_in_the_query_string_is_invalid_request(
    client, tokens, database, endpoint, with_header
):
    """RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token"."""
    token = tokens.for_endpoint(endpoint)
    before = database()

    response = call(
        client,
        endpoint,
        bearer(token) if with_header else None,
        query_string={"access_token": token},
    )

    assert_json_error(response, 400, "invalid_request")
    assert response.headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE
    assert database() == before


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data"]
)
@pytest.mark.parametrize("with_header", [False, True], ids=["alone", "beside-a-valid-header"])
def test_a_token_in_a_form_body_is_invalid_request(
    client, tokens, database, content_type, with_header
):
    token = tokens.user(scopes=("write:messages",))
    before = database()

    response = client.post(
        "/api/messages",
        data={"access_token": token, "text": "hi"},
        content_type=content_type,
        headers=bearer(token) if with_header else {},
    )

    assert_json_error(response, 400, "invalid_request")
    assert response.headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE
    assert database() == before


@pytest.mark.parametrize("endpoint", PROTECTED_ENDPOINTS, ids=str)
def test_two_authorization_headers_are_invalid_request(client, tokens, database, endpoint):
    token = tokens.for_endpoint(endpoint)
    before = database()

    response = client.open(
        endpoint.path,
        method=endpoint.method,
        json=endpoint.body,
        headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")],
    )

    assert_json_error(response, 400, "invalid_request")
    assert response.headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE
    assert database() == before


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer ", id="empty-token"),
        pytest.param("Bearer {token} extra", id="two-words"),
        pytest.param("Bearer {token},", id="trailing-comma"),
        pytest.param("Bearer\t{token}", id="tab-separator"),
        pytest.param("Bearer {token}, Basic Zm9vOmJhcg==", id="bearer-then-basic"),
    ],
)
def test_malformed_bearer_credentials_are_invalid_request(client, tokens, authorization):
    header = authorization.format(token=tokens.user())

    response = client.get("/api/private", headers={"Authorization": header})

    assert_json_error(response, 400, "invalid_request")
    assert response.headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda token: token.replace(".", ".*!$", 1), id="not-base64url-in-a-segment"),
        pytest.param(lambda token: f'"{token}"', id="quoted-token"),
        pytest.param(lambda token: token + "\u00ff\u00fe", id="latin-1-junk"),
        pytest.param(lambda token: "=abc", id="padding-first"),
        pytest.param(lambda token: "<script>", id="markup"),
    ],
)
def test_a_malformed_bearer_token_is_invalid_token(client, tokens, database, make_token):
    """RFC 6750 3.1: invalid_token is for a token that is "expired, revoked, malformed, or invalid
    for other reasons" (401, so that the client fetches a new one); one word after "Bearer" is
    the token, however it is spelled."""
    before = database()

    response = client.post(
        "/api/messages",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {make_token(tokens.user())}"},
    )

    assert_json_error(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert database() == before


def test_claims_reach_the_view_on_flask_g(client, tokens):
    token = tokens.user(scopes=("read:messages",), sub="auth0|claims-on-g", azp="native-demo")

    body = client.get("/api/private", headers=bearer(token)).get_json()

    assert body["sub"] == "auth0|claims-on-g"
    assert body["client_id"] == "native-demo"
    assert body["scopes"] == ["openid", "profile", "read:messages"]


def test_unavailable_signing_keys_give_503_with_retry_after_and_no_challenge(
    client, tokens, jwks_server, database
):
    jwks_server.misbehave("500")
    before = database()

    response = client.post(
        "/api/messages",
        json={"text": "hi"},
        headers=bearer(tokens.user(scopes=("write:messages",))),
    )

    assert_json_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"] == "30"
    assert "WWW-Authenticate" not in response.headers
    assert database() == before


def test_the_public_endpoint_needs_no_token(client):
    response = client.get("/api/public")

    assert response.status_code == 200
    assert response.get_json() == {
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
    }
