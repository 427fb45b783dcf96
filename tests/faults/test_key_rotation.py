"""Key rotation under load: clients get fresh client-credentials tokens and call the API while
``python -m authserver rotate-keys`` runs twice, a few seconds apart.

What users need: no failed token request and no failed API call. The first rotation promotes
the next key every resource server has known for an hour; the second, seconds later, would
promote a key the API's workers have never downloaded (they keep the JWKS for its max-age, then
wait for their cooldown; 30 s by default), so ``rotate-keys`` refuses it with one line saying
when it will be safe (authserver/keys.py, ``AUTHSERVER_ROTATION_SAFETY_PERIOD``); ``--force``
still rotates. The API runs with its default JWKS cache settings, those a learner has.

The keys of a tenant that has run for a while are made an hour ago by the admin command on its
injectable clock (``authserver.cli.main(clock=)``), so that nobody waits for a key to age.
"""

import subprocess
import sys
import time

import jwt
import pytest
import requests

from authserver import cli
from tests.api.conftest import APIProcess
from tests.authserver.helpers import API_AUDIENCE, M2M_SECRET, ServerProcess
from tests.faults.bearer_load import PRIVATE_PATH, Load, Outcome, call

AN_HOUR = 3600
LOAD_BEFORE_SECONDS = 1.5
ROTATIONS_APART_SECONDS = 3.0
LOAD_AFTER_SECONDS = 4.0


@pytest.fixture
def authserver(tmp_path, monkeypatch):
    directory = tmp_path / "authserver"
    directory.mkdir()
    server = ServerProcess(directory)
    monkeypatch.setenv("AUTHSERVER_ISSUER", server.issuer)
    monkeypatch.setenv("AUTHSERVER_DB", str(server.database))
    assert cli.main(["rotate-keys", "--force"], clock=lambda: time.time() - AN_HOUR) == 0
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(tmp_path, authserver):
    api = APIProcess(tmp_path, AUTH_ISSUER=authserver.issuer, AUTH_AUDIENCE=API_AUDIENCE)
    try:
        api.start()
        yield api
    finally:
        api.stop()


def rotate_keys(server: ServerProcess, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "authserver", "rotate-keys", *arguments],
        cwd=server.log_path.parent,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def current_kid(server: ServerProcess) -> str:
    return jwt.get_unverified_header(
        server.client_credentials(audience=API_AUDIENCE).json()["access_token"]
    )["kid"]


def test_rotating_twice_under_load_fails_no_token_request_and_no_api_call(authserver, api, figures):
    api_url = api.base_url + PRIVATE_PATH
    signing_kids: set[str] = set()

    def token_and_call(session: requests.Session) -> list[Outcome]:
        started = time.monotonic()
        try:
            response = session.post(
                authserver.url("/oauth/token"),
                data={
                    "grant_type": "client_credentials",
                    "client_id": "m2m-demo",
                    "client_secret": M2M_SECRET,
                    "audience": API_AUDIENCE,
                },
                timeout=30,
            )
        except requests.RequestException:
            return [Outcome("token", 0, time.monotonic() - started)]
        fetched = Outcome("token", response.status_code, time.monotonic() - started)
        if response.status_code != 200:
            return [fetched]
        token = response.json()["access_token"]
        signing_kids.add(jwt.get_unverified_header(token)["kid"])
        return [fetched, call(session, api_url, token)]

    with Load(token_and_call, threads=3) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        first = rotate_keys(authserver)
        time.sleep(ROTATIONS_APART_SECONDS)
        second = rotate_keys(authserver)
        time.sleep(LOAD_AFTER_SECONDS)
    token_requests, api_calls = load.of("token"), load.of("api")
    failed_tokens = [outcome for outcome in token_requests if outcome.status != 200]
    failed_calls = [outcome for outcome in api_calls if outcome.status != 200]
    forced = rotate_keys(authserver, "--force")

    figures(
        requests=len(token_requests) + len(api_calls),
        token_requests=len(token_requests),
        api_calls=len(api_calls),
        failures=len(failed_tokens) + len(failed_calls),
        five_xx=sum(outcome.status >= 500 for outcome in token_requests + api_calls),
        jwks_fetches=authserver.logs().count('"GET /.well-known/jwks.json'),
        signing_keys=len(signing_kids),
    )
    assert api_calls and token_requests
    assert len(failed_calls) == 0, failed_calls[:3]
    assert len(failed_tokens) == 0, failed_tokens[:3]
    assert first.returncode == 0, first.stderr
    promoted = first.stdout.split("current key: ")[1].split()[0]
    upcoming = first.stdout.split("next key:")[1].split()[0]
    assert promoted in signing_kids and len(signing_kids) == 2
    assert second.returncode == 1
    assert second.stdout == ""
    (refusal,) = second.stderr.splitlines()
    assert refusal.startswith(f"authserver: not rotated: next key {upcoming} was published at ")
    assert "it is safe from" in refusal and refusal.endswith("or now with --force")
    assert forced.returncode == 0, forced.stderr
    assert current_kid(authserver) == upcoming
