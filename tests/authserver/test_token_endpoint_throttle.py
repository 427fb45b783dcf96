"""The limit on failed client authentications: 429 ``too_many_attempts`` with Retry-After.

Per client id and address (10 failures in 5 minutes) and per address (100), without checking
any secret once at the limit; other addresses and clients go on. The clock is moved, not waited.
Requests come through Flask's test client, which can give each one its own remote address.
"""

import base64

import pytest

from authserver.tenant import hash_client_secret
from authserver.throttle import ClientAuthenticationThrottle, FailureLimit
from tests.authserver.helpers import API_AUDIENCE, M2M_SECRET, tenant_text

ATTACKER = "203.0.113.66"
DAEMON = "198.51.100.7"
OTHER_SECRET = "m2m-other-local-secret"
OTHER_CLIENT = f"""
[[applications]]
client_id = "m2m-other"
name = "Another daemon"
application_type = "non_interactive"
client_secret_hash = "{hash_client_secret(OTHER_SECRET)}"
grant_types = ["client_credentials"]

[[client_grants]]
client_id = "m2m-other"
audience = "{API_AUDIENCE}"
scope = ["read:messages"]
"""


def test_a_key_is_refused_from_the_limit_until_its_window_closes(clock):
    limit = FailureLimit(3, 60, clock=clock)
    for _ in range(2):
        limit.record_failure("key")
        assert limit.retry_after("key") is None
    clock.advance(10)
    limit.record_failure("key")
    # The window opened at the first failure: 50 of its 60 seconds are left.
    assert limit.retry_after("key") == 50
    clock.advance(49.5)
    assert limit.retry_after("key") == 1
    clock.advance(0.5)
    assert limit.retry_after("key") is None
    limit.record_failure("key")
    assert limit.retry_after("key") is None, "a new window counts from zero"


def test_keys_are_counted_apart(clock):
    limit = FailureLimit(1, 60, clock=clock)
    limit.record_failure("one")
    assert limit.retry_after("one") == 60
    assert limit.retry_after("two") is None


def test_memory_is_bounded(clock):
    limit = FailureLimit(2, 60, max_keys=3, clock=clock)
    for key in range(5):
        limit.record_failure(key)
        clock.advance(1)
    assert len(limit) == 3
    # The oldest windows went: the next failure of key 0 opens a new window, key 4's is its second.
    limit.record_failure(4)
    assert limit.retry_after(4) is not None
    limit.record_failure(0)
    assert limit.retry_after(0) is None
    clock.advance(60)
    assert len(limit) == 0, "expired windows are dropped"


def test_a_window_at_its_limit_is_never_dropped_to_make_room(clock):
    limit = FailureLimit(1, 60, max_keys=3, clock=clock)
    limit.record_failure("blocked")
    for key in range(10):
        limit.record_failure(key)
        clock.advance(1)
    assert limit.retry_after("blocked") is not None
    clock.advance(60)
    assert limit.retry_after("blocked") is None


def authorization(client_id: str, client_secret: str) -> dict:
    credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


class Clients:
    """Token requests through Flask's test client, each from the address it names."""

    def __init__(self, app):
        self.client = app.test_client()

    def token(self, address: str, client_id: str, client_secret: str, *, path="/oauth/token"):
        form = {
            "grant_type": "client_credentials",
            "audience": API_AUDIENCE,
            "token": "no-such-token",
        }
        headers = authorization(client_id, client_secret)
        return self.client.post(
            path, data=form, headers=headers, environ_base={"REMOTE_ADDR": address}
        )


@pytest.fixture
def server(start_authserver, clock):
    # The server's clock is the throttle's: moving it moves the windows.
    return start_authserver(tenant_text(append=OTHER_CLIENT), clock=clock)


@pytest.fixture
def clients(server) -> Clients:
    return Clients(server.app)


def fail(clients: Clients, times: int, address=ATTACKER, client_id="m2m-demo", path="/oauth/token"):
    for attempt in range(times):
        response = clients.token(address, client_id, f"wrong-{attempt}", path=path)
        assert response.status_code == 401, response.get_data(as_text=True)


def assert_too_many_attempts(response, retry_after: int):
    assert response.status_code == 429
    assert response.json["error"] == "too_many_attempts"
    assert "access_token" not in response.json
    assert response.headers["Retry-After"] == str(retry_after)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_ten_failures_of_a_client_from_an_address_get_429_without_checking_the_secret(
    clients, clock, digests, path
):
    fail(clients, 10, path=path)
    clock.advance(100)
    digests.clear()
    assert_too_many_attempts(
        clients.token(ATTACKER, "m2m-demo", M2M_SECRET, path=path), retry_after=200
    )
    assert digests == [], "no secret is checked once at the limit"


def test_the_limit_ends_with_its_window(clients, clock):
    fail(clients, 10)
    assert clients.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 429
    clock.advance(300)
    assert clients.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 200


def test_successes_are_not_counted(clients):
    for _ in range(12):
        assert clients.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200


def test_other_addresses_and_other_clients_are_not_affected(clients):
    fail(clients, 10)
    assert clients.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 429
    assert clients.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200
    assert clients.token(ATTACKER, "m2m-other", OTHER_SECRET).status_code == 200
    assert clients.token(ATTACKER, "m2m-other", "wrong").status_code == 401


def test_the_daemon_authenticates_while_another_address_attacks_it(clients):
    attacker_answers = []
    for round_number in range(10):
        for attempt in range(5):
            attacker_answers.append(
                clients.token(ATTACKER, "m2m-demo", f"wrong-{round_number}-{attempt}").status_code
            )
        assert clients.token(DAEMON, "m2m-demo", M2M_SECRET).status_code == 200
    assert attacker_answers == [401] * 10 + [429] * 40


def test_unknown_client_ids_count_as_one_client(clients, clock, digests):
    for number in range(10):
        fail(clients, 1, client_id=f"guess-{number}")
    assert_too_many_attempts(clients.token(ATTACKER, "guess-new", "x"), retry_after=300)
    assert clients.token(ATTACKER, "m2m-demo", M2M_SECRET).status_code == 200


def test_an_address_trying_many_client_ids_is_refused_for_all(clock):
    throttle = ClientAuthenticationThrottle(per_client_and_address=10, per_address=3, clock=clock)
    for client_id in ("m2m-demo", "spa-demo", "partner-app"):
        throttle.record_failure(client_id, "203.0.113.66")
    assert throttle.retry_after("m2m-other", "203.0.113.66") == 300
    assert throttle.retry_after("m2m-other", "198.51.100.7") is None
    clock.advance(300)
    assert throttle.retry_after("m2m-other", "203.0.113.66") is None
