"""The database work of the token endpoint: a refresh and a code redemption each write in one
transaction, shared with the concurrent ones (authserver.grants.group_commit), so that one wait
for the disk serves several requests while every rule of single use holds
(tests/authserver/test_refresh_tokens.py and test_security_rules.py race them); a request reads
its signing key once; access tokens' ids are 128 random bits."""

import base64
import json
import string
import threading

import pytest

from authserver import db
from authserver.grants.group_commit import GroupCommit
from authserver.storage import Storage
from tests.authserver.helpers import (
    API_AUDIENCE,
    NATIVE_CALLBACK,
    PKCE,
    code_request,
    exchange_code,
    redirect_parameters,
)

WAIT_SECONDS = 30
BASE64URL = set(string.ascii_letters + string.digits + "-_")


@pytest.fixture
def statements(authserver) -> list[str]:
    """The SQL statements the server's request connections run, in order."""
    pool = authserver.app.extensions[db.EXTENSION_NAME]
    ran: list[str] = []
    take = pool.take

    def traced_take() -> Storage:
        storage = take()
        storage.db.set_trace_callback(ran.append)
        return storage

    pool.take = traced_take
    return ran


def native_code(user_agent, pkce: PKCE) -> str:
    request = code_request(
        "native-demo",
        NATIVE_CALLBACK,
        pkce,
        scope="openid offline_access read:messages",
        audience=API_AUDIENCE,
    )
    return redirect_parameters(user_agent.sign_in(user_agent.authorize(**request)))["code"]


def assert_one_transaction(ran: list[str]) -> None:
    verbs = [statement.split()[0].upper() for statement in ran]
    writes = [i for i, verb in enumerate(verbs) if verb in ("INSERT", "UPDATE", "DELETE")]
    begins = [i for i, verb in enumerate(verbs) if verb == "BEGIN"]
    commits = [i for i, verb in enumerate(verbs) if verb == "COMMIT"]
    assert writes, ran
    assert len(begins) == len(commits) == 1, ran
    assert all(begins[0] < write < commits[0] for write in writes), ran


def test_a_code_redemption_and_a_refresh_write_in_one_transaction_each(
    user_agent, authserver, statements
):
    pkce = PKCE.new()
    code = native_code(user_agent, pkce)
    statements.clear()
    tokens = exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier)
    assert tokens.status_code == 200
    # The code marked redeemed, the access token and the refresh token stored: one commit.
    assert_one_transaction(statements)
    statements.clear()
    refreshed = authserver.token(
        {
            "grant_type": "refresh_token",
            "client_id": "native-demo",
            "refresh_token": tokens.json()["refresh_token"],
        }
    )
    assert refreshed.status_code == 200
    assert_one_transaction(statements)


def test_a_request_reads_the_signing_key_once_for_its_access_token_and_id_token(
    user_agent, authserver, statements
):
    pkce = PKCE.new()
    code = native_code(user_agent, pkce)
    statements.clear()
    tokens = exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier).json()
    assert "id_token" in tokens and "access_token" in tokens
    assert len([statement for statement in statements if "FROM signing_keys" in statement]) == 1


def test_access_token_ids_are_128_random_bits(authserver):
    ids = set()
    for _ in range(3):
        token = authserver.client_credentials(audience=API_AUDIENCE).json()["access_token"]
        ids.add(jwt_claims(token)["jti"])
    # RFC 7519 §4.1.7: "a negligible probability that the same value will be accidentally
    # assigned to a different data object": 16 random bytes, 22 base64url characters.
    assert len(ids) == 3
    assert all(len(jti) == 22 and set(jti) <= BASE64URL for jti in ids)


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _insert(name: str):
    def work(storage: Storage) -> str:
        storage.db.execute("INSERT INTO settings (name, value) VALUES (?, 'v')", (name,))
        return name

    return work


def _fail(storage: Storage) -> None:
    storage.db.execute("INSERT INTO settings (name, value) VALUES ('failed', 'v')")
    raise ValueError("this write fails")


def _run(group: GroupCommit, storage: Storage, work, outcomes: dict, key: str) -> None:
    try:
        outcomes[key] = group.run(storage, work)
    except ValueError as error:
        outcomes[key] = error


def _wait_until(condition) -> None:
    waited = threading.Event()
    for _ in range(WAIT_SECONDS * 100):
        if condition():
            return
        waited.wait(0.01)
    raise AssertionError("the condition never held")


def queued_behind_a_commit(path, queued: dict) -> tuple[dict, int, set[str]]:
    """Run a first write that waits in its open transaction until the ``queued`` writes have
    queued, then let it go: each write's outcome, the number of commits, the names stored."""
    setup = Storage.open(path)
    setup.initialize()
    setup.close()
    connections = [Storage.open(path) for _ in range(len(queued) + 1)]
    commits: list[str] = []
    for storage in connections:
        storage.db.set_trace_callback(
            lambda statement: commits.append(statement) if statement == "COMMIT" else None
        )
    group = GroupCommit()
    inside, release = threading.Event(), threading.Event()

    def first(storage: Storage) -> str:
        inside.set()
        assert release.wait(WAIT_SECONDS)
        return _insert("first")(storage)

    outcomes: dict = {}
    works = {"first": first, **queued}
    threads = {
        key: threading.Thread(target=_run, args=(group, storage, works[key], outcomes, key))
        for key, storage in zip(works, connections, strict=True)
    }
    threads["first"].start()
    assert inside.wait(WAIT_SECONDS)
    for key in queued:
        threads[key].start()
    _wait_until(lambda: len(group) == len(queued))
    release.set()
    for thread in threads.values():
        thread.join(WAIT_SECONDS)
    stored = {row["name"] for row in connections[0].db.execute("SELECT name FROM settings")}
    for storage in connections:
        storage.close()
    return outcomes, len(commits), stored


def test_writes_queued_during_a_commit_share_the_next_one(tmp_path):
    queued = {"second": _insert("second"), "third": _insert("third")}
    outcomes, commits, stored = queued_behind_a_commit(tmp_path / "a.sqlite3", queued)
    assert outcomes == {"first": "first", "second": "second", "third": "third"}
    # Three writes, two commits: the first's, then one for the two that queued behind it.
    assert commits == 2
    assert {"first", "second", "third"} <= stored


def test_a_failing_write_fails_alone(tmp_path):
    queued = {"second": _insert("second"), "failing": _fail}
    outcomes, _, stored = queued_behind_a_commit(tmp_path / "a.sqlite3", queued)
    assert outcomes["first"] == "first" and outcomes["second"] == "second"
    assert isinstance(outcomes["failing"], ValueError)
    assert {"first", "second"} <= stored and "failed" not in stored
