"""Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS, as an Auth0 tenant serves
them."""

import requests
from joserfc.jwk import RSAKey


def test_discovery_document_names_auth0_endpoints(authserver):
    response = requests.get(authserver.url("/.well-known/openid-configuration"), timeout=10)
    assert response.status_code == 200
    document = response.json()
    issuer = authserver.issuer
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{issuer}authorize"
    assert document["token_endpoint"] == f"{issuer}oauth/token"
    assert document["userinfo_endpoint"] == f"{issuer}userinfo"
    assert document["revocation_endpoint"] == f"{issuer}oauth/revoke"
    assert document["jwks_uri"] == f"{issuer}.well-known/jwks.json"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    methods = ["client_secret_basic", "client_secret_post", "none"]
    assert document["token_endpoint_auth_methods_supported"] == methods
    assert document["revocation_endpoint_auth_methods_supported"] == methods
    assert set(document["response_types_supported"]) == {
        "code",
        "token",
        "id_token",
        "id_token token",
    }
    assert "password" not in document["grant_types_supported"]
    assert document["response_modes_supported"] == ["query", "fragment", "web_message"]
    # OpenID Connect Back-Channel Logout 1.0 §2.1, and the sid claim it puts in ID tokens.
    assert document["backchannel_logout_supported"] is True
    assert document["backchannel_logout_session_supported"] is True
    assert "sid" in document["claims_supported"]


def test_jwks_publishes_the_current_and_the_next_public_key(authserver):
    response = requests.get(authserver.jwks_url, timeout=10)
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 2
    for jwk in keys:
        assert (jwk["kty"], jwk["use"], jwk["alg"], jwk["e"]) == ("RSA", "sig", "RS256", "AQAB")
        # Public members only: no private exponent or CRT parameters.
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
        # kid is the RFC 7638 thumbprint of the key.
        assert jwk["kid"] == RSAKey.import_key(jwk).thumbprint()
    assert keys[0]["kid"] != keys[1]["kid"]
