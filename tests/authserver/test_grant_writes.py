"""The database work of the token endpoint: a refresh and a code redemption each write in one
transaction, shared with the concurrent ones (authserver.grants.group_commit), so that one wait
for the disk serves several requests while every rule of single use holds
(tests/authserver/test_refresh_tokens.py and test_security_rules.py race them), also against a
grant revoked or a user blocked after a request's checks; a request reads its signing key once;
access tokens' ids are 128 random bits. The authorization endpoint stores what its response
hands out (the grant with its nonce, the code or the implicit grant's tokens, the grant's
session) in one transaction: a fault halfway stores none of it, and the same request works once
the fault is gone."""

import base64
import json
import re
import secrets
import sqlite3
import string
import threading
import time

import pytest

from authserver import db
from authserver.grants.authorization_code import AuthorizationCodeGrant
from authserver.grants.group_commit import GroupCommit
from authserver.grants.refresh_token import RefreshTokenGrant
from authserver.models import RefreshToken
from authserver.storage import Storage, secret_hash
from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    WEBAPP_CALLBACK,
    WEBAPP_SECRET,
    code_request,
    exchange_code,
    redirect_parameters,
    writes_failing,
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


def assert_session_read_before_the_commit(ran: list[str]) -> None:
    """The grant's session (the ID token's ``sid``) is read in the transaction, not after it."""
    commit = next(i for i, statement in enumerate(ran) if statement.split()[0].upper() == "COMMIT")
    reads = [i for i, statement in enumerate(ran) if "FROM session_grants" in statement]
    assert reads and all(read < commit for read in reads), ran


def test_the_session_link_of_an_application_with_back_channel_logout_is_in_that_transaction(
    user_agent, authserver, statements
):
    # Back-Channel Logout 2.3: the server remembers which applications got an ID token in the
    # session. Written in the transaction that uses the code or the refresh token: written after
    # it, a storage fault would fail a request whose credential is already used, and the
    # client's retry would be taken for a reuse (the grant revoked).
    pkce = PKCE.new()
    request = code_request(
        "webapp-demo", WEBAPP_CALLBACK, pkce, scope="openid offline_access", audience=API_AUDIENCE
    )
    code = redirect_parameters(user_agent.sign_in(user_agent.authorize(**request)))["code"]
    client = {"client_id": "webapp-demo", "client_secret": WEBAPP_SECRET}
    statements.clear()
    tokens = authserver.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": WEBAPP_CALLBACK,
            "code_verifier": pkce.verifier,
            **client,
        }
    )
    assert tokens.status_code == 200, tokens.text
    assert "id_token" in tokens.json()
    assert any("INTO session_clients" in statement for statement in statements), statements
    assert_one_transaction(statements)
    assert_session_read_before_the_commit(statements)
    statements.clear()
    refresh_token = tokens.json()["refresh_token"]
    refreshed = authserver.token(
        {"grant_type": "refresh_token", "refresh_token": refresh_token, **client}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert "id_token" in refreshed.json()
    assert any("INTO session_clients" in statement for statement in statements), statements
    assert_one_transaction(statements)
    assert_session_read_before_the_commit(statements)


def test_a_refresh_of_a_grant_made_in_no_session_reads_its_session_once(authserver, statements):
    # A grant stored without a session (as an admin tool or bench/http.py stores one): its ID
    # token has no sid, and the read that finds none is not made again after the commit.
    storage = Storage.open(authserver.database)
    try:
        user, _ = storage.find_credentials(ALICE[0])
        issued_at = int(time.time())
        with storage.transaction():
            grant_id = storage.create_grant("native-demo", user.id, None, issued_at)
            refresh_token = secrets.token_urlsafe(32)
            source = RefreshToken(
                token_hash=secret_hash(refresh_token),
                grant_id=grant_id,
                client_id="native-demo",
                user_id=user.id,
                scope="openid offline_access",
                audience=API_AUDIENCE,
                auth_time=issued_at,
                expires_at=issued_at + 3600,
                used=False,
                grant_revoked=False,
            )
            storage.save_refresh_token(refresh_token, source, source.expires_at)
    finally:
        storage.close()
    statements.clear()
    refreshed = authserver.token(
        {"grant_type": "refresh_token", "client_id": "native-demo", "refresh_token": refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert "sid" not in jwt_claims(refreshed.json()["id_token"])
    assert len([statement for statement in statements if "FROM session_grants" in statement]) == 1
    assert_session_read_before_the_commit(statements)


def authorization_requests() -> dict[str, dict]:
    """An authorization request of each kind that stores a grant, each with its own nonce."""
    return {
        "code": code_request(
            "webapp-demo", WEBAPP_CALLBACK, PKCE.new(), nonce=secrets.token_urlsafe(12)
        ),
        "implicit": {
            "response_type": "id_token token",
            "client_id": "spa-demo",
            "redirect_uri": SPA_CALLBACK,
            "scope": "openid profile read:messages",
            "audience": API_AUDIENCE,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(12),
        },
    }


INSERT_INTO = re.compile(r"\s*INSERT(?: OR \w+)? INTO (\w+)", re.IGNORECASE)
#: What each kind of authorization response hands out, and so stores: the table a fault fails.
HANDED_OUT = {"code": "authorization_codes", "implicit": "access_tokens"}


def signed_in(user_agent) -> None:
    """Alice has an SSO session: the next /authorize answers at once, without the login page."""
    request = code_request("spa-demo", SPA_CALLBACK, PKCE.new())
    assert "code" in redirect_parameters(user_agent.sign_in(user_agent.authorize(**request)))


@pytest.mark.parametrize("kind", HANDED_OUT)
def test_an_authorization_response_is_stored_in_one_transaction(
    user_agent, authserver, statements, kind
):
    signed_in(user_agent)
    statements.clear()
    answer = user_agent.authorize(**authorization_requests()[kind])
    assert answer.status_code == 302, answer.text
    assert "error" not in redirect_parameters(answer)
    inserted = {match.group(1) for match in map(INSERT_INTO.match, statements) if match is not None}
    assert {"grants", HANDED_OUT[kind], "session_grants"} <= inserted, statements
    assert_one_transaction(statements)


def grant_count(database) -> int:
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT count(*) FROM grants").fetchone()[0]
    finally:
        connection.close()


@pytest.mark.parametrize("kind", HANDED_OUT)
def test_a_fault_storing_an_authorization_response_stores_nothing_and_the_retry_works(
    user_agent, authserver, kind
):
    signed_in(user_agent)
    request = authorization_requests()[kind]
    grants = grant_count(authserver.database)
    with writes_failing(authserver.database, HANDED_OUT[kind]):
        failed = user_agent.authorize(**request)
    assert failed.status_code == 500
    assert "Traceback" not in failed.text
    # No grant is left holding the request's nonce: the same request, sent again, is answered.
    assert grant_count(authserver.database) == grants
    answer = redirect_parameters(user_agent.authorize(**request))
    assert "error" not in answer, answer
    assert ("code" if kind == "code" else "id_token") in answer
    assert grant_count(authserver.database) == grants + 1


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


class Interrupted(BaseException):
    """What stops a thread whatever it does (as KeyboardInterrupt or SystemExit would)."""


def _interrupt(storage: Storage) -> None:
    """Interrupts the thread that runs it: the one that commits the queued writes."""
    raise Interrupted(threading.current_thread().name)


def _run(group: GroupCommit, storage: Storage, work, outcomes: dict, key: str) -> None:
    try:
        outcomes[key] = group.run(storage, work)
    except (ValueError, Interrupted) as error:
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
    queued (in their order, each from a thread named by its key), then let it go: each write's
    outcome, the number of commits, the names stored."""
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
        key: threading.Thread(
            target=_run, args=(group, storage, works[key], outcomes, key), name=key
        )
        for key, storage in zip(works, connections, strict=True)
    }
    threads["first"].start()
    assert inside.wait(WAIT_SECONDS)
    for count, key in enumerate(queued, 1):
        threads[key].start()
        _wait_until(lambda count=count: len(group) == count)
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


def test_an_interruption_while_retrying_one_by_one_fails_only_the_writes_not_committed(tmp_path):
    queued = {
        "second": _insert("second"),
        "third": _insert("third"),
        "failing": _fail,
        "interrupted": _interrupt,
    }
    outcomes, _, stored = queued_behind_a_commit(tmp_path / "a.sqlite3", queued)
    # The four share a transaction, which _fail fails; one by one, second and third commit,
    # failing fails, and interrupted stops the thread committing them (it raises the
    # interruption, whichever write is its own).
    (leader,) = outcomes["interrupted"].args
    assert {"second", "third"} <= stored and "failed" not in stored
    for key in ("second", "third"):
        assert outcomes[key] == key or key == leader, outcomes
    assert isinstance(outcomes["interrupted"], Interrupted)


def revoke_the_grant(storage: Storage, grant) -> None:
    """What a replay of an older refresh token of the family does, in a parallel request."""
    storage.revoke_grant(grant.request.grant_id, int(time.time()))


def block_the_user(storage: Storage, grant) -> None:
    """What ``users block`` does, in the admin's terminal."""
    storage.set_blocked(ALICE[0], True, int(time.time()))


def meanwhile(monkeypatch, server, hook: tuple[type, str], action) -> None:
    """``action(storage, grant)`` on a connection of its own, right after the grant's ``hook``:
    after authlib's checks of the request, before the grant's save_token."""
    grant_class, name = hook
    original = getattr(grant_class, name)

    def hooked(grant, *args):
        result = original(grant, *args)
        storage = Storage.open(server.database)
        try:
            action(storage, grant)
        finally:
            storage.close()
        return result

    monkeypatch.setattr(grant_class, name, hooked)


def stored_rows(server) -> dict[str, int]:
    storage = Storage.open(server.database)
    try:
        return {
            table: storage.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("access_tokens", "refresh_tokens")
        } | {
            "used": storage.db.execute(
                "SELECT (SELECT count(*) FROM refresh_tokens WHERE rotated_at IS NOT NULL)"
                " + (SELECT count(*) FROM authorization_codes WHERE redeemed_at IS NOT NULL)"
            ).fetchone()[0]
        }
    finally:
        storage.close()


REFRESH_CHECKED = (RefreshTokenGrant, "validate_token_request")
CODE_CHECKED = (AuthorizationCodeGrant, "authenticate_user")


@pytest.mark.parametrize(
    ("hook", "action"),
    [
        (REFRESH_CHECKED, revoke_the_grant),
        (REFRESH_CHECKED, block_the_user),
        (CODE_CHECKED, revoke_the_grant),
        (CODE_CHECKED, block_the_user),
    ],
    ids=[
        "refresh-grant-revoked",
        "refresh-user-blocked",
        "code-grant-revoked",
        "code-user-blocked",
    ],
)
def test_a_grant_revoked_or_a_user_blocked_after_the_checks_gets_no_tokens(
    user_agent, authserver, monkeypatch, hook, action
):
    pkce = PKCE.new()
    code = native_code(user_agent, pkce)
    tokens = None
    if hook is REFRESH_CHECKED:
        tokens = exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier)
        assert tokens.status_code == 200
    before = stored_rows(authserver)
    meanwhile(monkeypatch, authserver, hook, action)
    if hook is REFRESH_CHECKED:
        response = authserver.token(
            {
                "grant_type": "refresh_token",
                "client_id": "native-demo",
                "refresh_token": tokens.json()["refresh_token"],
            }
        )
    else:
        response = exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    # Nothing stored, nothing marked used.
    assert stored_rows(authserver) == before
