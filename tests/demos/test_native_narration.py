"""What `python -m native_demo` prints: each token and answer once, the steps only with
`--quiet`, and a refusal's `WWW-Authenticate` challenge with the fix it calls for."""

import logging
import time

import pytest
import requests

from native_demo.bearer_challenge import challenge_parameters, hint
from native_demo.narration import TerminalNarrator
from tests.demos.scripted_server import Reply, ScriptedServer
from tests.demos.test_native_login import (
    keep_session,
    log_in,
    provider,  # noqa: F401 (a fixture)
    refreshed_id_token,
    run_kept,
    token_answer,
)

STEP_LINES = ["Step 1. ", "Step 2. ", "Step 3. ", "Step 4. ", "Step 5. ", "Step refresh. "]
INSUFFICIENT_SCOPE = (
    'Bearer realm="https://api.flowlab.local", error="insufficient_scope", '
    'error_description="The access token lacks the required scope.", scope="write:messages"'
)
INVALID_TOKEN = (
    'Bearer realm="https://api.flowlab.local", error="invalid_token", '
    'error_description="The access token expired."'
)


def login_and_refresh(token_factory):
    """Token replies: the code exchange, then the refresh; JWT access tokens both times."""

    def replies(query):
        login = token_answer(
            token_factory.id_token(client_id="native-demo", nonce=query["nonce"]),
            access_token=token_factory({"jti": "login"}),
            refresh_token="rt-login",
        )
        refresh = token_answer(
            refreshed_id_token(token_factory),
            access_token=token_factory({"jti": "refresh"}),
            refresh_token="rt-rotated",
        )
        return [login, refresh]

    return replies


def test_a_login_prints_each_token_and_each_answer_once(provider, tmp_path, token_factory, issuer):  # noqa: F811
    status, cli, _ = log_in(provider, tmp_path, issuer, login_and_refresh(token_factory))
    assert status == 0, cli.output
    stdout = cli.stdout
    for title in ("access token", "ID token"):
        first, again = [line for line in stdout.splitlines() if line.startswith(f"{title} (")]
        assert first.startswith(f"{title} (decoded for display; header {{")
        assert again.startswith(first) and ": as before, except " in again
    assert 'as before, except jti\n      {\n        "jti": "refresh"\n      }' in stdout
    # The claims appear in full once: the refreshed tokens show only what changed.
    assert stdout.count('"sub": "auth0|') == 2  # the access token's and the ID token's
    assert stdout.count("-> GET ") == 4  # discovery, /api/me, /api/messages, /api/me again
    assert stdout.count('"path": "/api/me"') == 1
    assert "<- 200 OK: the same as before" in stdout
    token_answers = [line for line in stdout.splitlines() if line.startswith("<- 200 OK")]
    assert "<- 200 OK: as before, except access_token, id_token, refresh_token" in token_answers


def test_quiet_prints_the_steps_and_the_url_to_open_only(provider, tmp_path, token_factory, issuer):  # noqa: F811
    status, cli, query = log_in(
        provider, tmp_path, issuer, login_and_refresh(token_factory), "--quiet"
    )
    assert status == 0, cli.output
    lines = [line for line in cli.stdout.splitlines() if line]
    steps = [line for line in lines if line.startswith("Step ")]
    assert [step[: len(prefix)] for step, prefix in zip(steps, STEP_LINES, strict=True)] == (
        STEP_LINES
    )
    assert [line for line in lines if line not in steps] == [
        "Open this URL in a browser to log in:",
        next(line for line in lines if line.startswith(f"{issuer}authorize?")),
    ]
    assert cli.stderr == ""


@pytest.mark.parametrize("quiet", [(), ("--quiet",)], ids=["default", "quiet"])
def test_a_403_shows_the_challenge_and_the_login_that_asks_for_the_missing_scope(
    provider,  # noqa: F811
    tmp_path,
    issuer,
    quiet,
):
    keep_session(tmp_path / "session.json", issuer)
    refusal = Reply(
        403,
        {"error": "insufficient_scope", "error_description": "lacks scope"},
        headers={"WWW-Authenticate": INSUFFICIENT_SCOPE},
    )
    provider.script("POST", "/api/messages", refusal)
    status, cli = run_kept(
        provider, tmp_path, issuer, "call", "/api/messages", "--data", '{"text": "hi"}', *quiet
    )
    assert status == 1
    assert f"WWW-Authenticate: {INSUFFICIENT_SCOPE}\n" in cli.stdout
    assert (
        "hint: the access token lacks the scope write:messages: log in again asking for it, "
        "`.venv/bin/python -m native_demo login --scope write:messages`"
    ) in cli.stdout
    assert cli.stderr == "error: the API answered 403 to POST /api/messages\n"


def test_a_401_shows_the_challenge_and_says_to_log_in_again(
    provider,  # noqa: F811
    tmp_path,
    token_factory,
    issuer,
):
    keep_session(tmp_path / "session.json", issuer)
    refusal = Reply(401, {"error": "invalid_token"}, headers={"WWW-Authenticate": INVALID_TOKEN})
    provider.script("GET", "/api/me", refusal, refusal)
    provider.script(
        "POST",
        "/oauth/token",
        token_answer(refreshed_id_token(token_factory), refresh_token="rt-rotated"),
    )
    status, cli = run_kept(provider, tmp_path, issuer, "call", "/api/me")
    assert status == 1
    assert cli.stdout.count(f"WWW-Authenticate: {INVALID_TOKEN}\n") == 2
    assert (
        "hint: the API refused the access token (The access token expired.): log in again, "
        "`.venv/bin/python -m native_demo login`"
    ) in cli.stdout


@pytest.mark.parametrize(
    ("challenge", "parameters"),
    [
        (INSUFFICIENT_SCOPE, {"scope": "write:messages", "error": "insufficient_scope"}),
        ('Bearer realm="a, b", error=invalid_token', {"realm": "a, b", "error": "invalid_token"}),
        (r'bearer ERROR="x\"y", scope="a b"', {"error": 'x"y', "scope": "a b"}),
        ('Basic realm="site"', {}),
        ("", {}),
    ],
    ids=["rfc-6750", "comma-in-quotes-and-a-token", "quoted-pair", "other-scheme", "none"],
)
def test_a_challenges_parameters_are_read_as_rfc_6750_writes_them(challenge, parameters):
    assert parameters.items() <= challenge_parameters(challenge).items()
    assert challenge_parameters(challenge).keys() >= parameters.keys()


@pytest.mark.parametrize(
    ("status", "challenge", "advice"),
    [
        (403, 'Bearer error="insufficient_scope", scope="a b"', "--scope 'a b'`"),
        (403, 'Bearer error="insufficient_scope", error_description="machine only"', "no scope"),
        (401, "Bearer", "log in first"),
        (403, "", "without naming a scope"),
    ],
    ids=["two-scopes-quoted", "no-scope-fixes-it", "no-token", "no-challenge"],
)
def test_the_hint_fits_the_refusal(status, challenge, advice):
    assert advice in hint(status, challenge)


def test_a_body_seen_before_is_shown_as_what_changed(caplog):
    server = ScriptedServer().start()
    try:
        server.script(
            "GET",
            "/api/me",
            Reply(200, {"sub": "u", "last_seen_at": 1}),
            Reply(200, {"sub": "u", "last_seen_at": 2}),
            Reply(200, {"sub": "u", "last_seen_at": 2}),
        )
        narrator = TerminalNarrator(logging.getLogger("tests.narration"))
        with caplog.at_level(logging.INFO, "tests.narration"), requests.Session() as http:
            for _ in range(3):
                narrator.response(http.get(server.base_url + "/api/me", timeout=5))
    finally:
        server.close()
    first, second, third = caplog.messages
    assert '"sub": "u"' in first and '"last_seen_at": 1' in first
    assert second.startswith("<- 200 OK: as before, except last_seen_at\n")
    assert '"sub"' not in second and '"last_seen_at": 2' in second
    assert third == "<- 200 OK: the same as before"


def test_a_body_cannot_start_a_line_of_its_own(caplog):
    narrator = TerminalNarrator(logging.getLogger("tests.narration"))
    with caplog.at_level(logging.INFO, "tests.narration"):
        narrator.info("answer", detail="one\u2028Step 9. forged", other="two\nStep 9. forged")
    (message,) = caplog.messages
    assert not any(line.startswith("Step") for line in message.splitlines())
    assert "\\u2028" in message and "\\n" in message


def test_a_request_shows_its_headers_and_body_apart_and_its_token_shortened(caplog):
    narrator = TerminalNarrator(logging.getLogger("tests.narration"))
    with caplog.at_level(logging.INFO, "tests.narration"):
        narrator.request(
            "POST", "http://api/x", headers={"Authorization": "Bearer abcdefgh"}, fields={"t": 1}
        )
        narrator.request("GET", "http://api/y", headers={"Authorization": "Bearer abcdefgh"})
    both, headers_only = caplog.messages
    assert both.splitlines()[2:4] == [
        '        "headers": {"Authorization": "Bearer abcdef…(8 chars)"},',
        '        "body": {"t": 1}',
    ]
    assert headers_only.splitlines()[2] == '        "Authorization": "Bearer abcdef…(8 chars)"'


def test_a_hostile_challenge_is_read_in_linear_time():
    # A server may send megabytes of header; the CLI's challenge reader must not hang on them.
    started = time.perf_counter()
    assert challenge_parameters("Bearer " + "a" * 8000) == {}
    assert challenge_parameters("Bearer " + "a" * 1_000_000) == {}
    assert time.perf_counter() - started < 1.0
