"""The client credentials grant: the machine-to-machine daemon (article steps 1-3)."""

import json

import pytest
import requests

from authserver.tenant import hash_client_secret
from tests.authserver.helpers import (
    API_AUDIENCE,
    M2M_SECRET,
    tenant_text,
    verified_claims,
)

UNGRANTED_CLIENT = f"""
[[applications]]
client_id = "m2m-ungranted"
name = "A daemon without a client grant"
application_type = "non_interactive"
client_secret_hash = "{hash_client_secret(M2M_SECRET)}"
grant_types = ["client_credentials"]
"""


def test_audience_parameter_gets_a_token_with_the_client_grant_scopes(authserver):
    response = authserver.client_credentials(audience=API_AUDIENCE)
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 86400
    assert tokens["scope"] == "import:data read:imports read:messages"
    # RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
    assert "refresh_token" not in tokens and "id_token" not in tokens
    _, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    assert claims["aud"] == API_AUDIENCE


def test_resource_parameter_of_rfc_8707_and_basic_authentication(authserver):
    response = authserver.token(
        {"grant_type": "client_credentials", "resource": API_AUDIENCE, "scope": "read:imports"},
        auth=("m2m-demo", M2M_SECRET),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "read:imports"


def test_json_body_as_auth0_accepts_it(authserver):
    body = {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
        "audience": API_AUDIENCE,
    }
    response = requests.post(authserver.url("/oauth/token"), json=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["scope"] == "import:data read:imports read:messages"


def test_a_null_json_member_is_absent(authserver):
    # auth0-python's GetToken.client_credentials() always sends "organization": null.
    body = {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
        "audience": API_AUDIENCE,
        "organization": None,
        "scope": None,
    }
    response = requests.post(authserver.url("/oauth/token"), json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "import:data read:imports read:messages"
    # Absent, so not a repetition of the member beside it either.
    raw = json.dumps(body)[:-1] + ', "organization": "org_1", "audience": null}'
    response = requests.post(
        authserver.url("/oauth/token"),
        data=raw,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("value", [7, True, 1.5, ["read:messages"], {"a": "b"}])
def test_a_json_member_neither_string_nor_null_is_a_clear_400(authserver, value):
    body = {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
        "audience": API_AUDIENCE,
        "organization": value,
    }
    response = requests.post(authserver.url("/oauth/token"), json=body, timeout=10)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The body must be a form or a JSON object of strings.",
    }


def test_scopes_are_limited_to_the_client_grant(authserver):
    response = authserver.client_credentials(
        audience=API_AUDIENCE, scope="read:imports write:messages"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


def test_client_without_a_grant_for_the_api_is_denied_like_auth0(start_authserver):
    server = start_authserver(tenant_text(append=UNGRANTED_CLIENT))
    response = server.client_credentials(client_id="m2m-ungranted", audience=API_AUDIENCE)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "access_denied"
    assert body["error_description"].startswith("Client is not authorized to access")


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({}, "access_denied"),
        ({"audience": "https://unknown.example"}, "access_denied"),
        ({"audience": API_AUDIENCE, "resource": "https://other.example"}, "invalid_request"),
    ],
    ids=["no audience", "unknown audience", "audience and resource disagree"],
)
def test_the_api_must_be_named_and_known(authserver, parameters, error):
    response = authserver.client_credentials(**parameters)
    assert response.status_code in (400, 403)
    assert response.json()["error"] == error


def test_public_applications_cannot_use_client_credentials(authserver):
    response = authserver.token(
        {"grant_type": "client_credentials", "client_id": "spa-demo", "audience": API_AUDIENCE}
    )
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
