"""The issuer's JWKS endpoint misbehaves while a real ``python -m api`` is under load: slow (5 s),
garbage (an HTML page), an empty key set, a 2 MiB body (with and without its Content-Length).

What users need: no request waits longer than the fetch timeout, tokens signed with a known key
keep working, a token with an unknown ``kid`` gets 503 with ``Retry-After`` (or 401) and never
200, each worker fetches at most once per cooldown, and once the endpoint is well again a new
key is accepted within one cooldown. The API runs with short cache settings (its environment:
``AUTH_JWKS_COOLDOWN``, ``AUTH_HTTP_TIMEOUT``) and the JWKS says ``max-age=3``, so the workers'
keys go stale during the fault and each worker keeps trying to refresh them.
"""

import math
import time

import pytest

from api.__main__ import WORKERS
from tests.api.conftest import APIProcess
from tests.faults.bearer_load import (
    PRIVATE_PATH,
    Load,
    call,
    prime_every_worker,
    seconds_until_accepted,
)

KEYS_LIFETIME = 3.0  # seconds: the JWKS's Cache-Control max-age
COOLDOWN = 2.0
FETCH_TIMEOUT = 1.0
FAULT_SECONDS = 4.0
# What two busy shared cores may add to a request that itself waits for nothing.
SLACK = 2.0


@pytest.fixture
def api(tmp_path, jwks_server, audience):
    jwks_server.cache_control = f"max-age={KEYS_LIFETIME:g}"
    api = APIProcess(
        tmp_path,
        AUTH_ISSUER=jwks_server.issuer,
        AUTH_AUDIENCE=audience,
        AUTH_JWKS_COOLDOWN=str(COOLDOWN),
        AUTH_HTTP_TIMEOUT=str(FETCH_TIMEOUT),
    )
    try:
        api.start()
        yield api
    finally:
        api.stop()


@pytest.mark.parametrize(
    "fault", ["slow", "garbage", "no-keys", "oversized", "oversized-undeclared"]
)
def test_a_faulty_jwks_endpoint_keeps_known_keys_working_and_delays_no_one(
    api, jwks_server, token_factory, rsa_key, ec_key, second_rsa_key, fault, figures
):
    url = api.base_url + PRIVATE_PATH
    known, unknown = token_factory(), token_factory(key=second_rsa_key)
    prime_every_worker(url, known, jwks_server.count, KEYS_LIFETIME)
    fetches_before = jwks_server.count()

    jwks_server.misbehave(fault)
    started = time.monotonic()
    with (
        Load(lambda session: [call(session, url, known)], threads=2) as known_load,
        Load(lambda session: [call(session, url, unknown, "unknown")], threads=2) as unknown_load,
    ):
        time.sleep(FAULT_SECONDS)
    fault_seconds = time.monotonic() - started
    fetches = jwks_server.count() - fetches_before
    jwks_server.publish(rsa_key, ec_key, second_rsa_key)
    recovery = seconds_until_accepted(url, unknown, COOLDOWN + FETCH_TIMEOUT + SLACK * 2)

    known_calls, unknown_calls = known_load.of("api"), unknown_load.of("unknown")
    failures = [outcome for outcome in known_calls if outcome.status != 200]
    unavailable = [outcome for outcome in unknown_calls if outcome.status == 503]
    longest = max(outcome.seconds for outcome in known_calls + unknown_calls)
    figures(
        requests=len(known_calls) + len(unknown_calls),
        failures=len(failures),
        five_xx=sum(outcome.status >= 500 for outcome in known_calls),
        unknown_kid=len(unknown_calls),
        unknown_kid_503=len(unavailable),
        jwks_fetches=fetches,
        longest_wait=round(longest, 2),
        accepted_after=round(recovery, 1),
    )
    assert known_calls
    assert len(failures) == 0, failures[:3]
    assert {outcome.status for outcome in unknown_calls} <= {401, 503}
    # shared/flask_auth.py: the 503's Retry-After is the validator's cooldown.
    assert {outcome.retry_after for outcome in unavailable} <= {str(math.ceil(COOLDOWN))}
    assert longest < FETCH_TIMEOUT + SLACK
    # Each worker downloads at most once per cooldown, however many requests ask.
    assert fetches <= WORKERS * (fault_seconds // COOLDOWN + 1)
