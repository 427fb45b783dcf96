"""The authorization server stopped with SIGTERM and started again on the same database, with
the API validating what it issued before.

What users need: a user added with ``users add``, refresh tokens and signing keys survive; access
tokens from before validate at an API that starts after the restart (so it has only the
restarted server's JWKS); a refresh token from before refreshes; and a refresh token rotated
just before the restart, replayed after it, is refused and revokes its family, so the token it
was rotated into is refused too. tests/authserver/test_restart.py already shows that SSO
sessions and consents survive and checks tokens with the shared validator; this test adds the
API, the SIGTERM exit and refresh-token reuse detection across the restart.
"""

import subprocess
import sys

import pytest
import requests

from tests.api.conftest import APIProcess
from tests.authserver.helpers import (
    API_AUDIENCE,
    NATIVE_CALLBACK,
    ServerProcess,
    UserAgent,
    run_code_flow,
)
from tests.faults.bearer_load import PRIVATE_PATH, call

CAROL = ("carol@flowlab.test", "carol-password")
SCOPE = "openid profile offline_access read:messages"


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


def add_carol(server: ServerProcess) -> None:
    added = subprocess.run(
        [sys.executable, "-m", "authserver", "users", "add", CAROL[0], "--permission"]
        + ["read:messages"],
        cwd=server.log_path.parent,
        env=server.env,
        input=f"{CAROL[1]}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stderr


def carol_logs_in(server: ServerProcess) -> dict:
    """A code flow of the native demo with Carol's credentials; its token response."""
    flow = run_code_flow(
        UserAgent(server),
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        credentials=CAROL,
        audience=API_AUDIENCE,
        scope=SCOPE,
    )
    return flow.tokens


def refresh(server: ServerProcess, refresh_token: str) -> requests.Response:
    return server.token(
        {"grant_type": "refresh_token", "client_id": "native-demo", "refresh_token": refresh_token}
    )


def test_a_restart_loses_no_user_key_or_refresh_token_and_forgets_no_reuse(
    authserver, tmp_path, figures
):
    add_carol(authserver)
    replayed_family = carol_logs_in(authserver)
    rotated = refresh(authserver, replayed_family["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    kept_family = carol_logs_in(authserver)
    machine = authserver.client_credentials(audience=API_AUDIENCE).json()
    jwks_before = requests.get(authserver.jwks_url, timeout=10).json()

    authserver.stop()
    stopped_with = authserver.process.returncode
    authserver.start()
    api = APIProcess(tmp_path, AUTH_ISSUER=authserver.issuer, AUTH_AUDIENCE=API_AUDIENCE)
    api.start()
    try:
        url = api.base_url + PRIVATE_PATH
        with requests.Session() as session:
            refreshed = refresh(authserver, kept_family["refresh_token"])
            replayed = refresh(authserver, replayed_family["refresh_token"])
            rotated_into = refresh(authserver, rotated.json()["refresh_token"])
            answers = {
                "user access token at the API": call(
                    session, url, kept_family["access_token"]
                ).status,
                "machine token at the API": call(session, url, machine["access_token"]).status,
                "refresh token from before": refreshed.status_code,
                "its new access token at the API": call(
                    session, url, refreshed.json().get("access_token", "")
                ).status,
                "rotated refresh token replayed": replayed.status_code,
                "the token it was rotated into": rotated_into.status_code,
                "added user logs in again": 200 if carol_logs_in(authserver) else 0,
            }
    finally:
        api.stop()
    expected = {
        "user access token at the API": 200,
        "machine token at the API": 200,
        "refresh token from before": 200,
        "its new access token at the API": 200,
        "rotated refresh token replayed": 400,
        "the token it was rotated into": 400,
        "added user logs in again": 200,
    }

    figures(
        requests=len(answers),
        failures=sum(answers[name] != expected[name] for name in expected),
        five_xx=sum(status >= 500 for status in answers.values()),
    )
    assert stopped_with == 0
    assert "Handling signal: term" in authserver.logs()
    assert requests.get(authserver.jwks_url, timeout=10).json() == jwks_before
    assert answers == expected
    assert replayed.json()["error"] == rotated_into.json()["error"] == "invalid_grant"
