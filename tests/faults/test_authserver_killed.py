"""The authorization server is killed (SIGKILL, master and worker) while the API is under load.

What users need: requests whose key the API has cached keep succeeding (0 failures), also once
the keys are stale and every refresh fails; a token with an unknown ``kid`` gets 503 with
``Retry-After`` (or 401), never 200, never another 5xx, and never waits longer than the fetch
timeout; and when the authorization server is back, with its keys rotated while it was down (the
API has never seen the key that signs now), a token signed with it is accepted within one
cooldown. The API runs with short cache settings through its environment: keys fresh for 3 s
(``AUTH_JWKS_MAX_AGE``), a 2 s cooldown and a 2 s fetch timeout.
"""

import math
import os
import signal
import subprocess
import sys
import time

import jwt
import pytest
import requests

from tests.api.conftest import APIProcess
from tests.authserver.helpers import API_AUDIENCE, ServerProcess
from tests.faults.bearer_load import (
    PRIVATE_PATH,
    Load,
    call,
    prime_every_worker,
    seconds_until_accepted,
)
from tests.support.fixtures import TokenFactory

KEYS_LIFETIME = 3.0
COOLDOWN = 2.0
FETCH_TIMEOUT = 2.0
# What two busy shared cores may add to a request that itself waits for nothing.
SLACK = 2.0
LOAD_BEFORE_SECONDS = 1.0
DOWN_SECONDS = 5.0
MACHINE_TOKENS = 3


@pytest.fixture
def authserver(tmp_path):
    directory = tmp_path / "authserver"
    directory.mkdir()
    server = ServerProcess(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(tmp_path, authserver):
    api = APIProcess(
        tmp_path,
        AUTH_ISSUER=authserver.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
        AUTH_JWKS_MAX_AGE=str(KEYS_LIFETIME),
        AUTH_JWKS_COOLDOWN=str(COOLDOWN),
        AUTH_HTTP_TIMEOUT=str(FETCH_TIMEOUT),
    )
    try:
        api.start()
        yield api
    finally:
        api.stop()


def jwks_downloads(server: ServerProcess) -> int:
    return server.logs().count('"GET /.well-known/jwks.json')


def machine_token(server: ServerProcess) -> str:
    response = server.client_credentials(audience=API_AUDIENCE)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def kill(server: ServerProcess) -> None:
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


def rotate_keys_while_down(server: ServerProcess) -> str:
    """Two forced rotations on the database of the stopped server; the key that signs now."""
    for _ in range(2):
        rotation = subprocess.run(
            [sys.executable, "-m", "authserver", "rotate-keys", "--force"],
            cwd=server.log_path.parent,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert rotation.returncode == 0, rotation.stderr
    return rotation.stdout.split("current key: ")[1].split()[0]


def test_cached_keys_keep_working_while_the_authserver_is_dead_and_new_keys_work_when_back(
    authserver, api, rsa_key, figures
):
    url = api.base_url + PRIVATE_PATH
    tokens = [machine_token(authserver) for _ in range(MACHINE_TOKENS)]
    unknown = TokenFactory(authserver.issuer, API_AUDIENCE, rsa_key)(machine=True)
    prime_every_worker(url, tokens[0], lambda: jwks_downloads(authserver), KEYS_LIFETIME)

    def cached_key_call(session: requests.Session) -> list:
        return [call(session, url, token) for token in tokens]

    unknown_calls = []
    with Load(cached_key_call, threads=3) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        kill(authserver)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < DOWN_SECONDS:
            with requests.Session() as session:
                unknown_calls.append(call(session, url, unknown, "unknown"))
            time.sleep(0.1)
    cached_calls = load.of("api")
    signing_kid = rotate_keys_while_down(authserver)
    authserver.start()
    rotated = machine_token(authserver)
    accepted_after = seconds_until_accepted(url, rotated, COOLDOWN + FETCH_TIMEOUT + SLACK)

    failures = [outcome for outcome in cached_calls if outcome.status != 200]
    unavailable = [outcome for outcome in unknown_calls if outcome.status == 503]
    longest = max(outcome.seconds for outcome in cached_calls + unknown_calls)
    figures(
        requests=len(cached_calls) + len(unknown_calls),
        failures=len(failures),
        five_xx=sum(outcome.status >= 500 for outcome in cached_calls),
        unknown_kid=len(unknown_calls),
        unknown_kid_503=len(unavailable),
        jwks_fetches=jwks_downloads(authserver),
        longest_wait=round(longest, 2),
        accepted_after=round(accepted_after, 1),
    )
    assert cached_calls
    assert len(failures) == 0, failures[:3]
    assert {outcome.status for outcome in unknown_calls} <= {401, 503}
    assert unavailable, "no unknown kid was told to retry while the authorization server was down"
    assert {outcome.retry_after for outcome in unavailable} == {str(math.ceil(COOLDOWN))}
    assert longest < FETCH_TIMEOUT + SLACK
    assert jwt.get_unverified_header(rotated)["kid"] == signing_kid
