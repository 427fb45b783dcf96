"""`python -m native_demo login` as a real process against a scripted token endpoint: what it
sends at the code exchange, and how it refuses an ID token that does not validate.

The real authorization server always issues valid ID tokens, so the end-to-end tests cannot show
the refusal; here the issuer's discovery document and JWKS come from the support JWKS server and
the token endpoint answers whatever ID token the test mints.
"""

import os
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from native_demo.pkce import code_challenge_s256
from tests.demos.scripted_server import Reply
from tests.e2e.demo_process import DemoProcess

AUTHORIZE_URL = r"^(http://\S+\?\S*code_challenge=\S+)$"


@pytest.fixture
def provider(jwks_server, scripted):
    """The issuer (discovery + JWKS on the JWKS server) with its token endpoint and the API scripted."""
    jwks_server.serve_json(
        "/.well-known/openid-configuration",
        {
            "issuer": jwks_server.issuer,
            "authorization_endpoint": jwks_server.issuer + "authorize",
            "token_endpoint": scripted.base_url + "/oauth/token",
            "jwks_uri": jwks_server.jwks_url,
            "authorization_response_iss_parameter_supported": True,
        },
    )
    for path in ("/api/me", "/api/messages"):
        scripted.script("GET", path, Reply(200, {"path": path}))
    return scripted


def log_in(provider, tmp_path, issuer, mint_id_token):
    """Start the CLI, let ``mint_id_token(query)`` make the token endpoint's ID token, play the redirect."""
    env = {**os.environ, "AUTH_ISSUER": issuer, "API_URL": provider.base_url, "PYTHONUNBUFFERED": "1"}
    cli = DemoProcess("native_demo", "login", "--no-browser", "--timeout", "20", env=env, cwd=tmp_path)
    try:
        url = cli.wait_for_line(AUTHORIZE_URL).group(1)
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        provider.script(
            "POST",
            "/oauth/token",
            Reply(
                200,
                {
                    "access_token": "opaque-access",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "id_token": mint_id_token(query),
                },
            ),
        )
        requests.get(
            query["redirect_uri"],
            params={"code": "the-code", "state": query["state"], "iss": issuer},
            timeout=5,
        )
        status = cli.finish()
    finally:
        cli.kill()
    return status, cli, query


def test_a_valid_id_token_completes_the_login(provider, tmp_path, token_factory, issuer):
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        lambda query: token_factory.id_token(client_id="native-demo", nonce=query["nonce"]),
    )
    assert status == 0, cli.output
    assert [
        request.path
        for request in provider.requests_to("GET", "/api/me") + provider.requests_to("GET", "/api/messages")
    ] == ["/api/me", "/api/messages"]


def test_the_code_exchange_proves_pkce_with_the_verifier_of_the_challenge(
    provider, tmp_path, token_factory, issuer
):
    _, _, query = log_in(
        provider,
        tmp_path,
        issuer,
        lambda query: token_factory.id_token(client_id="native-demo", nonce=query["nonce"]),
    )
    (exchange,) = provider.requests_to("POST", "/oauth/token")
    form = exchange.form
    assert (form["grant_type"], form["code"], form["client_id"]) == (
        "authorization_code",
        "the-code",
        "native-demo",
    )
    assert form["redirect_uri"] == query["redirect_uri"]
    assert code_challenge_s256(form["code_verifier"]) == query["code_challenge"]
    assert "client_secret" not in form


@pytest.mark.parametrize(
    "mint",
    [
        lambda factory, keys, query: factory.id_token(client_id="native-demo", nonce="another-login's-nonce"),
        lambda factory, keys, query: factory.id_token(client_id="partner-app", nonce=query["nonce"]),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce=query["nonce"], claims={"iss": "https://attacker.example/"}
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce=query["nonce"], claims={"exp": 1000}
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce=query["nonce"], key=keys.with_kid("rsa-key-1")
        ),
    ],
    ids=["wrong-nonce", "other-audience", "other-issuer", "expired", "forged-signature"],
)
def test_an_id_token_that_does_not_validate_ends_the_login_before_the_api_is_called(
    provider, tmp_path, token_factory, issuer, second_rsa_key, mint
):
    status, cli, _ = log_in(
        provider, tmp_path, issuer, lambda query: mint(token_factory, second_rsa_key, query)
    )
    assert status == 1
    assert cli.stderr.splitlines()[-1].startswith("error: ID token rejected: ")
    assert provider.requests_to("GET", "/api/me") == []
