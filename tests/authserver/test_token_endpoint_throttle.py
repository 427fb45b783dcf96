"""The limit on failed client authentications: 429 ``too_many_attempts`` with Retry-After.

Per client id and address (10 failures in 5 minutes) and per address (100), without checking
any secret once at the limit; other addresses and clients go on. The clock is moved, not waited.
The windows are rows of a real SQLite database. Requests come through Flask's test client, which
can give each one its own remote address.
"""

import base64

import pytest

from authserver.storage import Storage
from authserver.tenant import hash_client_secret
from authserver.throttle import ClientAuthenticationThrottle
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


@pytest.fixture
def storage(tmp_path):
    storage = Storage.open(tmp_path / "authserver.sqlite3")
    storage.initialize()
    yield storage
    storage.close()


def open_windows(storage: Storage, counted_by: str, clock) -> int:
    (count,) = storage.db.execute(
        "SELECT count(*) FROM client_authentication_failures WHERE counted_by = ? AND closes_at > ?",
        (counted_by, clock()),
    ).fetchone()
    return count


def per_client(clock, limit: int, **options) -> ClientAuthenticationThrottle:
    """A throttle whose limit per client id and address is ``limit`` in 60 s."""
    return ClientAuthenticationThrottle(
        per_client_and_address=limit, window=60, clock=clock, **options
    )


def test_a_key_is_refused_from_the_limit_until_its_window_closes(storage, clock):
    throttle = per_client(clock, 3)
    for _ in range(2):
        throttle.record_failure(storage, "key", ATTACKER)
        assert throttle.retry_after(storage, "key", ATTACKER) is None
    clock.advance(10)
    throttle.record_failure(storage, "key", ATTACKER)
    # The window opened at the first failure: 50 of its 60 seconds are left.
    assert throttle.retry_after(storage, "key", ATTACKER) == 50
    clock.advance(49.5)
    assert throttle.retry_after(storage, "key", ATTACKER) == 1
    clock.advance(0.5)
    assert throttle.retry_after(storage, "key", ATTACKER) is None
    throttle.record_failure(storage, "key", ATTACKER)
    assert throttle.retry_after(storage, "key", ATTACKER) is None, "a new window counts from zero"


def test_keys_are_counted_apart(storage, clock):
    throttle = per_client(clock, 1)
    throttle.record_failure(storage, "one", ATTACKER)
    assert throttle.retry_after(storage, "one", ATTACKER) == 60
    assert throttle.retry_after(storage, "two", ATTACKER) is None
    assert throttle.retry_after(storage, "one", DAEMON) is None


def test_memory_is_bounded(storage, clock):
    throttle = per_client(clock, 2, max_keys=3)
    for key in range(5):
        throttle.record_failure(storage, str(key), ATTACKER)
        clock.advance(1)
    assert open_windows(storage, "client_and_address", clock) == 3
    # The oldest windows went: the next failure of key 0 opens a new window, key 4's is its second.
    throttle.record_failure(storage, "4", ATTACKER)
    assert throttle.retry_after(storage, "4", ATTACKER) is not None
    throttle.record_failure(storage, "0", ATTACKER)
    assert throttle.retry_after(storage, "0", ATTACKER) is None
    clock.advance(60)
    assert open_windows(storage, "client_and_address", clock) == 0
    storage.purge_expired(int(clock()), grant_lifetime=10**9)
    (rows,) = storage.db.execute("SELECT count(*) FROM client_authentication_failures").fetchone()
    assert rows == 0, "closed windows are purged"


def test_a_window_at_its_limit_is_never_dropped_to_make_room(storage, clock):
    throttle = per_client(clock, 1, max_keys=3)
    throttle.record_failure(storage, "blocked", ATTACKER)
    for key in range(10):
        throttle.record_failure(storage, str(key), ATTACKER)
        clock.advance(1)
    assert throttle.retry_after(storage, "blocked", ATTACKER) is not None
    clock.advance(60)
    assert throttle.retry_after(storage, "blocked", ATTACKER) is None


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


def test_an_address_trying_many_client_ids_is_refused_for_all(storage, clock):
    throttle = ClientAuthenticationThrottle(per_client_and_address=10, per_address=3, clock=clock)
    for client_id in ("m2m-demo", "spa-demo", "partner-app"):
        throttle.record_failure(storage, client_id, ATTACKER)
    assert throttle.retry_after(storage, "m2m-other", ATTACKER) == 300
    assert throttle.retry_after(storage, "m2m-other", DAEMON) is None
    clock.advance(300)
    assert throttle.retry_after(storage, "m2m-other", ATTACKER) is None
