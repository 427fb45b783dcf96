"""Key rotation like Auth0, checked with the shared validator the API uses (shared/token_validation.py).

The JWKS publishes the current and the next key, so a resource server already holds the key
that signs after a rotation; the previous key stays published until its tokens have expired.
"""

import time

import jwt
import pytest
import requests

from shared.token_validation import InvalidToken, TokenValidator
from tests.authserver.helpers import API, tenant_text

SHORT_LIFETIMES = (
    ("\ntoken_lifetime = 86400", "\ntoken_lifetime = 2"),
    ("\ntoken_lifetime_for_web = 7200", "\ntoken_lifetime_for_web = 2"),
    ("\nid_token_lifetime = 36000", "\nid_token_lifetime = 2"),
    ("\nuserinfo_token_lifetime = 86400", "\nuserinfo_token_lifetime = 2"),
)


def published_kids(server) -> list[str]:
    return [key["kid"] for key in requests.get(server.jwks_url, timeout=10).json()["keys"]]


def machine_token(server) -> str:
    response = server.client_credentials(audience=API)
    assert response.status_code == 200
    return response.json()["access_token"]


def jwks_downloads(caplog) -> int:
    return sum('"GET /.well-known/jwks.json"' in record.getMessage() for record in caplog.records)


def test_tokens_signed_before_and_after_a_rotation_both_validate(authserver, run_process, caplog):
    caplog.set_level("INFO", logger="authserver.http")
    validator = TokenValidator(authserver.issuer, API, jwks_url=authserver.jwks_url)
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
    fresh = TokenValidator(authserver.issuer, API, jwks_url=authserver.jwks_url)
    assert fresh.validate(before).subject == fresh.validate(after).subject == "m2m-demo@clients"
    kids = published_kids(authserver)
    assert kids[0] == upcoming and kids[2] == current and len(set(kids)) == 3


def test_previous_key_leaves_the_jwks_once_its_tokens_have_expired(start_authserver, run_cli):
    server = start_authserver(tenant_text(*SHORT_LIFETIMES))
    token = machine_token(server)
    previous = jwt.get_unverified_header(token)["kid"]
    assert run_cli(server, "rotate-keys").returncode == 0
    assert previous in published_kids(server)
    # The leeway keeps the 2 s token valid however slowly the rotation ran: the key is what counts.
    TokenValidator(server.issuer, API, jwks_url=server.jwks_url, leeway=60).validate(token)
    time.sleep(2.2)
    assert previous not in published_kids(server)
    with pytest.raises(InvalidToken, match=previous):
        TokenValidator(server.issuer, API, jwks_url=server.jwks_url, leeway=60).validate(token)
