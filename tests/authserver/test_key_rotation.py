"""Key rotation like Auth0, checked with the shared validator the API uses
(shared/token_validation.py).

The JWKS publishes the current and the next key, so a resource server already holds the key
that signs after a rotation; the previous key stays published until its tokens have expired; and
``rotate-keys`` promotes no next key that resource servers may not have downloaded yet (published
for less than the safety period) unless forced.
"""

import re
from datetime import UTC, datetime

import jwt
import pytest
import requests

from authserver.config import DEFAULT_ROTATION_SAFETY_PERIOD
from authserver.discovery import CACHE_CONTROL
from authserver.storage import Storage
from authserver.tenant import load_tenant
from shared.token_validation import DEFAULT_JWKS_COOLDOWN, InvalidToken, TokenValidator
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

    # The next key was published seconds ago (the tests' database template), but the only
    # resource server here downloaded the JWKS since: forcing the rotation is safe.
    rotation = run_process(authserver, "rotate-keys", "--force")
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
    clock.advance(DEFAULT_ROTATION_SAFETY_PERIOD)
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


def moment(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def test_a_next_key_published_too_recently_is_not_promoted_unless_forced(
    start_authserver, clock, run_cli
):
    server = start_authserver(clock=clock)
    clock.advance(DEFAULT_ROTATION_SAFETY_PERIOD)
    first = run_cli(server, "rotate-keys")
    assert first.returncode == 0, first.stderr
    promoted, published = published_kids(server)[:2]
    published_at = clock.now
    clock.advance(3)

    refused = run_cli(server, "rotate-keys")

    assert refused.returncode == 1
    assert refused.stdout == ""
    safe_at = published_at + DEFAULT_ROTATION_SAFETY_PERIOD
    assert refused.stderr == (
        f"authserver: not rotated: next key {published} was published at "
        f"{moment(published_at)}, and resource servers may not have downloaded it yet "
        f"(AUTHSERVER_ROTATION_SAFETY_PERIOD is {DEFAULT_ROTATION_SAFETY_PERIOD}s); it is safe "
        f"from {moment(safe_at)} (in {DEFAULT_ROTATION_SAFETY_PERIOD - 3}s), or now with --force\n"
    )
    assert published_kids(server)[:2] == [promoted, published]
    assert jwt.get_unverified_header(machine_token(server))["kid"] == promoted

    forced = run_cli(server, "rotate-keys", "--force")

    assert forced.returncode == 0, forced.stderr
    assert f"current key: {published}" in forced.stdout
    assert jwt.get_unverified_header(machine_token(server))["kid"] == published


def test_a_next_key_is_promoted_once_published_for_the_safety_period(
    start_authserver, clock, run_cli, monkeypatch
):
    monkeypatch.setenv("AUTHSERVER_ROTATION_SAFETY_PERIOD", "10")
    server = start_authserver(clock=clock)
    clock.advance(10)
    assert run_cli(server, "rotate-keys").returncode == 0
    published = published_kids(server)[1]

    clock.advance(9)
    assert "it is safe from" in run_cli(server, "rotate-keys").stderr
    clock.advance(1)
    rotation = run_cli(server, "rotate-keys")

    assert rotation.returncode == 0, rotation.stderr
    assert f"current key: {published}" in rotation.stdout


def test_the_default_safety_period_covers_the_jwks_max_age_and_the_validators_cooldown():
    max_age = int(re.search(r"max-age=(\d+)", CACHE_CONTROL).group(1))

    assert max_age + DEFAULT_JWKS_COOLDOWN == DEFAULT_ROTATION_SAFETY_PERIOD


def test_rotations_by_another_process_sign_at_once_after_the_server_opened_more_connections(
    authserver, run_process
):
    for _ in range(2):
        upcoming = published_kids(authserver)[1]
        # The server's process opens one more connection (as its pool does under load) while
        # the one that served the JWKS is open.
        Storage.open(authserver.database).close()

        rotation = run_process(authserver, "rotate-keys", "--force")

        assert rotation.returncode == 0, rotation.stderr
        assert jwt.get_unverified_header(machine_token(authserver))["kid"] == upcoming
