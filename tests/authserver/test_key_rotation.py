"""Key rotation like Auth0, checked with the shared validator the API uses
(shared/token_validation.py).

The JWKS publishes the current and the next key, so a resource server already holds the key
that signs after a rotation; the previous key stays published until its tokens have expired.
"""

import jwt
import pytest
import requests

from authserver.tenant import load_tenant
from shared.token_validation import InvalidToken, TokenValidator
from tests.authserver.helpers import API_AUDIENCE


def published_kids(server) -> list[str]:
    return [key["kid"] for key in requests.get(server.jwks_url, timeout=10).json()["keys"]]


def machine_token(server) -> str:
    response = server.client_credentials(audience=API_AUDIENCE)
    assert response.status_code == 200
    return response.json()["access_token"]


def jwks_downloads(caplog) -> int:
    return sum('"GET /.well-known/jwks.json"' in record.getMessage() for record in caplog.records)


def test_tokens_signed_before_and_after_a_rotation_both_validate(authserver, run_process, caplog):
    caplog.set_level("INFO", logger="authserver.http")
    validator = TokenValidator(authserver.issuer, API_AUDIENCE, jwks_url=authserver.jwks_url)
    before = machine_token(authserver)
    assert validator.validate(before).subject == "m2m-demo@clients"
    current, upcoming = published_kids(authserver)
    assert jwt.get_unverified_header(before)["kid"] == current

    rotation = run_process(authserver, "rotate-keys")
    assert rotation.returncode == 0, rotation.stderr
    assert f"current key: {upcoming}" in rotation.stdout
    assert f"previous key {current} stays published until" in rotation.stdout

    # The running server signs with the promoted key at once, no restart.
    after = machine_token(authserver)
    assert jwt.get_unverified_header(after)["kid"] == upcoming
    downloads = jwks_downloads(caplog)
    # The validator has known the promoted key since before the rotation: nothing to download.
    assert validator.validate(after).subject == "m2m-demo@clients"
    assert validator.validate(before).subject == "m2m-demo@clients"
    assert jwks_downloads(caplog) == downloads
    # A resource server that starts now still validates tokens signed before the rotation.
    fresh = TokenValidator(authserver.issuer, API_AUDIENCE, jwks_url=authserver.jwks_url)
    assert fresh.validate(before).subject == fresh.validate(after).subject == "m2m-demo@clients"
    kids = published_kids(authserver)
    assert kids[0] == upcoming and kids[2] == current and len(set(kids)) == 3


def test_previous_key_leaves_the_jwks_once_its_tokens_have_expired(
    start_authserver, clock, run_cli
):
    server = start_authserver(clock=clock)
    token = machine_token(server)
    previous = jwt.get_unverified_header(token)["kid"]
    assert run_cli(server, "rotate-keys").returncode == 0
    assert previous in published_kids(server)
    TokenValidator(server.issuer, API_AUDIENCE, jwks_url=server.jwks_url).validate(token)
    # The previous key stays published until the last token it can have signed expires, not a
    # second less: the longest token lifetime of the tenant, the machine token's here.
    longest = load_tenant(server.tenant_path).longest_token_lifetime()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == longest
    clock.advance(longest - 1)
    assert previous in published_kids(server)
    clock.advance(1)
    assert previous not in published_kids(server)
    # The validator runs on the real clock, where the token has not expired: the key is refused.
    with pytest.raises(InvalidToken, match=previous):
        TokenValidator(server.issuer, API_AUDIENCE, jwks_url=server.jwks_url).validate(token)
