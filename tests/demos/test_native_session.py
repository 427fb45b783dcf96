"""The native demo's session file: mode 0600 from creation, refused when others could read it."""

import json
import os
import stat
import time
from dataclasses import asdict

import pytest

from native_demo.session import Session, SessionError, SessionFile
from shared.oidc_client import TokenResponse

ISSUER = "http://localhost:9000/"
ID_TOKEN_CLAIMS = {
    "iss": ISSUER,
    "sub": "auth0|5f7c8ec7c33c6c004bbafe82",
    "aud": "native-demo",
    "iat": 1700000000,
    "exp": 1700036000,
    "nonce": "n-1",
    "auth_time": 1699999990,
}


def session(**overrides):
    values = dict(
        issuer=ISSUER,
        client_id="native-demo",
        access_token="at-1",
        refresh_token="rt-1",
        expires_at=None,
        scope="openid",
        id_token_claims=ID_TOKEN_CLAIMS,
    )
    values.update(overrides)
    return Session(**values)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask():
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_saved_session_is_0600_even_under_a_permissive_umask(tmp_path, permissive_umask):
    path = tmp_path / "session.json"
    SessionFile(path).save(session())
    assert mode(path) == 0o600
    assert SessionFile(path).load(ISSUER, "native-demo") == session()


def test_saving_over_a_readable_file_leaves_a_0600_file_and_no_temporary(
    tmp_path, permissive_umask
):
    path = tmp_path / "session.json"
    path.write_text("{}")
    path.chmod(0o644)
    SessionFile(path).save(session())
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]


@pytest.mark.parametrize("file_mode", [0o640, 0o604, 0o644, 0o666])
def test_a_session_file_others_can_read_is_refused(tmp_path, file_mode):
    path = tmp_path / "session.json"
    SessionFile(path).save(session())
    path.chmod(file_mode)
    with pytest.raises(SessionError, match="readable by other users"):
        SessionFile(path).load(ISSUER, "native-demo")


@pytest.mark.parametrize(
    ("issuer", "client_id"),
    [("https://attacker.example/", "native-demo"), (ISSUER, "partner-app")],
    ids=["other-issuer", "other-client"],
)
def test_a_session_of_another_issuer_or_client_is_refused(tmp_path, issuer, client_id):
    path = tmp_path / "session.json"
    SessionFile(path).save(session())
    with pytest.raises(SessionError, match="belongs to native-demo at http://localhost:9000/"):
        SessionFile(path).load(issuer, client_id)


def test_missing_session_tells_how_to_make_one(tmp_path):
    with pytest.raises(SessionError, match="login --keep"):
        SessionFile(tmp_path / "absent.json").load(ISSUER, "native-demo")


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"issuer": ISSUER}),
        json.dumps({**asdict(session()), "expires_at": "tomorrow"}),
        json.dumps({**asdict(session()), "refresh_token": 42}),
        json.dumps(
            {name: value for name, value in asdict(session()).items() if name != "id_token_claims"}
        ),
        json.dumps({**asdict(session()), "id_token_claims": {}}),
        json.dumps(
            {**asdict(session()), "id_token_claims": {**ID_TOKEN_CLAIMS, "iat": "yesterday"}}
        ),
        json.dumps(
            {**asdict(session()), "id_token_claims": {**ID_TOKEN_CLAIMS, "aud": ["native-demo", 7]}}
        ),
        json.dumps({**asdict(session()), "id_token_claims": {**ID_TOKEN_CLAIMS, "nonce": None}}),
        json.dumps(
            {**asdict(session()), "id_token_claims": {**ID_TOKEN_CLAIMS, "auth_time": "earlier"}}
        ),
        json.dumps({**asdict(session()), "expires_at": float("nan")}),
        json.dumps({**asdict(session()), "expires_at": 10**400}),
        json.dumps({**asdict(session()), "expires_at": -1}),
    ],
    ids=[
        "garbage",
        "array",
        "fields-missing",
        "string-expiry",
        "number-refresh-token",
        "no-id-token-claims",
        "empty-id-token-claims",
        "string-iat",
        "number-in-aud",
        "null-nonce",
        "string-auth-time",
        "nan-expiry",
        "huge-expiry",
        "negative-expiry",
    ],
)
def test_a_damaged_session_file_is_refused(tmp_path, content):
    path = tmp_path / "session.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(descriptor, content.encode())
    os.close(descriptor)
    with pytest.raises(SessionError, match="not a session file"):
        SessionFile(path).load(ISSUER, "native-demo")


def test_a_session_file_that_cannot_be_read_is_one_clear_error(tmp_path):
    folder = tmp_path / "session.json"
    folder.mkdir(mode=0o700)
    with pytest.raises(SessionError, match=f"cannot read the session file {folder}"):
        SessionFile(folder).load(ISSUER, "native-demo")


def test_a_session_file_that_cannot_be_written_is_one_clear_error(tmp_path):
    blocking_file = tmp_path / "not-a-folder"
    blocking_file.write_text("")
    with pytest.raises(SessionError, match="cannot write the session file"):
        SessionFile(blocking_file / "session.json").save(session())


def test_refresh_replaces_the_rotated_refresh_token_and_keeps_the_original_id_token_claims():
    refreshed = session().refreshed(TokenResponse("at-2", 600, "openid", "rt-2", "new.id.token"))
    assert (refreshed.access_token, refreshed.refresh_token) == ("at-2", "rt-2")
    assert refreshed.expires_at is not None and not refreshed.access_token_expired()
    assert refreshed.id_token_claims == ID_TOKEN_CLAIMS


def test_refresh_without_rotation_keeps_the_refresh_token():
    refreshed = session().refreshed(TokenResponse("at-2", None, None, None, None))
    assert (refreshed.access_token, refreshed.refresh_token, refreshed.scope) == (
        "at-2",
        "rt-1",
        "openid",
    )


def test_an_access_token_about_to_expire_counts_as_expired():
    assert session(expires_at=time.time() + 10).access_token_expired()
    assert not session(expires_at=time.time() + 120).access_token_expired()
    assert not session(expires_at=None).access_token_expired()
