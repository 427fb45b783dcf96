"""Concurrency at ``python -m authserver`` as shipped (gunicorn, several worker processes and
their request threads, one SQLite file): a refresh token spent by 50 requests at once, and 200
client-credentials requests from 8 threads.

RFC 9700 §4.14.2: "If a refresh token is compromised and subsequently used by both the attacker
and the legitimate client, one of them will present an invalidated refresh token, which will
inform the authorization server of the breach." So of 50 simultaneous uses exactly one may
succeed; the others are replays, answered ``invalid_grant``, and revoke the family: the refresh
token the winner got is refused too.

The token endpoint's throttle (authserver/throttle.py) counts failed client authentications
only; neither test sends a wrong secret, so it stays out of the way as configured.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.authserver.helpers import (
    API_AUDIENCE,
    NATIVE_CALLBACK,
    ServerProcess,
    UserAgent,
    concurrently,
    run_code_flow,
)

PARALLEL_REFRESHES = 50
CLIENT_CREDENTIALS_REQUESTS = 200
CLIENT_THREADS = 8


@pytest.fixture
def authserver(tmp_path):
    process = ServerProcess(tmp_path)
    process.start()
    yield process
    process.stop()


def outcome(response) -> str:
    """``ok``, the OAuth error code of a 4xx, or ``5xx``."""
    if response.status_code == 200:
        return "ok"
    if response.status_code >= 500:
        return "5xx"
    return response.json().get("error", str(response.status_code))


def refresh(authserver, refresh_token):
    return authserver.token(
        {"grant_type": "refresh_token", "client_id": "native-demo", "refresh_token": refresh_token}
    )


def test_fifty_parallel_refreshes_of_one_token_one_wins_and_the_family_is_revoked(
    authserver, figures
):
    tokens = run_code_flow(
        UserAgent(authserver),
        client_id="native-demo",
        redirect_uri=NATIVE_CALLBACK,
        audience=API_AUDIENCE,
        scope="openid offline_access read:messages",
    ).tokens

    answers = concurrently(PARALLEL_REFRESHES, lambda: refresh(authserver, tokens["refresh_token"]))
    outcomes = Counter(outcome(answer) for answer in answers)
    (winner,) = [answer for answer in answers if answer.status_code == 200]
    after = refresh(authserver, winner.json()["refresh_token"])

    assert outcomes == {"ok": 1, "invalid_grant": PARALLEL_REFRESHES - 1}
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    assert "Traceback" not in authserver.logs()
    figures(
        requests=PARALLEL_REFRESHES + 1,
        ok=outcomes["ok"],
        invalid_grant=outcomes["invalid_grant"],
        five_xx=outcomes["5xx"],
        new_token_refused=after.status_code == 400,
    )


def test_client_credentials_from_eight_threads_all_succeed_without_lock_errors(authserver, figures):
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        answers = list(
            pool.map(
                lambda _: authserver.client_credentials(audience=API_AUDIENCE),
                range(CLIENT_CREDENTIALS_REQUESTS),
            )
        )
    outcomes = Counter(outcome(answer) for answer in answers)
    log = authserver.logs()

    assert outcomes == {"ok": CLIENT_CREDENTIALS_REQUESTS}
    assert "database is locked" not in log and "Traceback" not in log
    figures(
        requests=CLIENT_CREDENTIALS_REQUESTS,
        threads=CLIENT_THREADS,
        ok=outcomes["ok"],
        failures=CLIENT_CREDENTIALS_REQUESTS - outcomes["ok"],
        five_xx=outcomes["5xx"],
        database_locked=log.count("database is locked"),
    )
