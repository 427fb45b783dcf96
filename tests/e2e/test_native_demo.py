"""The native demo end to end: `python -m native_demo` as a real process against the real
authorization server and API, with Chromium playing the system browser (`--no-browser` prints the
URL, the test opens it)."""

import json
import os
import re
import stat
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from native_demo.session import Session, SessionFile
from tests.e2e.demo_process import DemoProcess
from tests.e2e.helpers import USERS, login

AUTHORIZE_URL = r"^(http://\S+\?\S*code_challenge=\S+)$"
CALLBACK_URL = re.compile(r"http://127\.0\.0\.1:\d+/callback\?.*")


def start_login(stack, tmp_path, *arguments):
    return DemoProcess(
        "native_demo",
        "login",
        "--no-browser",
        "--session",
        str(tmp_path / "session.json"),
        *arguments,
        env=stack.client_env(),
        cwd=tmp_path,
    )


def authorize_url(cli):
    return cli.wait_for_line(AUTHORIZE_URL).group(1)


def run_command(stack, tmp_path, *arguments):
    cli = DemoProcess(
        "native_demo",
        *arguments,
        "--session",
        str(tmp_path / "session.json"),
        env=stack.client_env(),
        cwd=tmp_path,
    )
    return cli.finish(), cli


@pytest.fixture(scope="module")
def alice_login(stack, browser, tmp_path_factory):
    """alice logs in once through the CLI with --keep; the tests below read what happened."""
    tmp_path = tmp_path_factory.mktemp("native")
    cli = start_login(stack, tmp_path, "--keep", "--timeout", "60")
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(authorize_url(cli))
        login(page, *USERS["alice"])
        page.wait_for_url(CALLBACK_URL)
        closing_page = page.text_content("body")
        status = cli.finish()
    finally:
        context.close()
        cli.kill()
    return {"status": status, "cli": cli, "closing_page": closing_page, "tmp_path": tmp_path}


def test_login_completes_and_the_browser_is_told_to_close_the_tab(alice_login):
    assert alice_login["status"] == 0, alice_login["cli"].output
    assert "You can close this tab" in alice_login["closing_page"]


# The article's steps for a native app, word for word.
ARTICLE_STEPS = [
    "Step 1. The native app initiates the flow and redirects the user to Auth0 sending the "
    "code_challenge and code_challenge_method parameters.",
    "Step 2. Auth0 redirects the user to the native app with an authorization_code "
    "in the query string.",
    "Step 3. The native app sends the authorization_code and code_verifier together with "
    "the redirect_uri and the client_id to Auth0.",
    "Step 4. Auth0 validates this information and returns an Access Token "
    "(and optionally a Refresh Token).",
    "Step 5. The native app can use the Access Token to call the API on behalf of the user.",
]


def test_login_narrates_the_articles_steps_and_the_refresh_in_order(alice_login):
    stdout = alice_login["cli"].stdout
    assert [
        line for line in stdout.splitlines() if line.startswith("Step ") and line[5].isdigit()
    ] == ARTICLE_STEPS
    markers = [
        "Step 1. ",
        "Step 2. ",
        "Step 3. ",
        "Step 4. ",
        "ID token valid",
        "Step 5. ",
        "Step refresh. ",
        "Refreshed ID token valid",
        "Refresh token rotated",
        "Done.",
    ]
    positions = [stdout.find(marker) for marker in markers]
    assert -1 not in positions, stdout
    assert positions == sorted(positions)


def test_login_calls_the_api_with_the_user_token(alice_login):
    stdout = alice_login["cli"].stdout
    assert re.search(r"-> GET http://localhost:\d+/api/me\n(.*\n)*?<- 200 OK", stdout)
    assert re.search(r"-> GET http://localhost:\d+/api/messages\n(.*\n)*?<- 200 OK", stdout)
    assert '"sub": "auth0|' in stdout and '"email": "alice@flowlab.test"' in stdout


def test_login_sends_pkce_state_nonce_and_audience(alice_login, stack):
    stdout = alice_login["cli"].stdout
    url = re.search(AUTHORIZE_URL, stdout, re.MULTILINE).group(1)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["audience"] == [stack.audience]
    assert query["scope"] == ["openid profile email offline_access read:messages"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", query["redirect_uri"][0])
    assert query["state"][0] and query["nonce"][0]


def test_kept_session_is_0600_and_its_refresh_token_is_never_printed(alice_login):
    path = alice_login["tmp_path"] / "session.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    session = json.loads(path.read_text())
    output = alice_login["cli"].output
    assert session["refresh_token"] and session["refresh_token"] not in output
    assert f"{session['refresh_token'][:6]}…({len(session['refresh_token'])} chars)" in output
    assert session["access_token"] not in output


def test_call_uses_the_kept_session(alice_login, stack):
    status, cli = run_command(stack, alice_login["tmp_path"], "call", "/api/messages")
    assert status == 0, cli.output
    assert "<- 200 OK" in cli.stdout


def test_call_shows_a_refused_scope_and_exits_1(alice_login, stack):
    status, cli = run_command(
        stack, alice_login["tmp_path"], "call", "/api/messages", "--data", '{"text": "hello"}'
    )
    assert status == 1
    assert "<- 403 " in cli.stdout and "insufficient_scope" in cli.stdout
    assert cli.stderr.strip() == "error: the API answered 403 to POST /api/messages"


def test_call_refreshes_an_expired_access_token_first(alice_login, stack):
    path = alice_login["tmp_path"] / "session.json"
    kept = json.loads(path.read_text())
    SessionFile(path).save(Session(**{**kept, "expires_at": time.time() - 1}))
    status, cli = run_command(stack, alice_login["tmp_path"], "call", "/api/me")
    assert status == 0, cli.output
    stdout = cli.stdout
    api_call = stdout.index(f"-> GET {stack.api_url}/api/me")
    assert stdout.index("Step refresh. ") < stdout.index("Refreshed ID token valid") < api_call
    assert "<- 200 OK" in stdout[api_call:]
    after = json.loads(path.read_text())
    assert after["refresh_token"] != kept["refresh_token"] and after["expires_at"] > time.time()
    assert after["id_token_claims"] == kept["id_token_claims"]


def test_refresh_rotates_the_kept_refresh_token_and_the_old_one_is_dead(alice_login, stack):
    path = alice_login["tmp_path"] / "session.json"
    before = json.loads(path.read_text())
    status, cli = run_command(stack, alice_login["tmp_path"], "refresh")
    assert status == 0, cli.output
    after = json.loads(path.read_text())
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    token_endpoint = requests.get(
        stack.issuer + ".well-known/openid-configuration", timeout=5
    ).json()["token_endpoint"]
    reused = requests.post(
        token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": before["refresh_token"],
            "client_id": "native-demo",
        },
        timeout=5,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_third_party_app_shows_consent_and_deny_ends_with_access_denied(stack, page, tmp_path):
    cli = start_login(stack, tmp_path, "--client-id", "partner-app", "--timeout", "60")
    try:
        page.goto(authorize_url(cli))
        login(page, *USERS["alice"])
        page.wait_for_selector("button[name=decision][value=deny]")
        assert "Partner App" in page.text_content("body")
        page.click("button[name=decision][value=deny]")
        # The loopback listener answers the error response too, before the CLI stops.
        page.wait_for_url(CALLBACK_URL)
        expect(page.locator("body")).to_contain_text("You can close this tab")
        status = cli.finish()
    finally:
        cli.kill()
    assert status == 1
    assert re.fullmatch(
        r"error: login denied: the user or the authorization server "
        r"refused access \(access_denied: .*\)\n",
        cli.stderr,
    )
    assert "Step 3." not in cli.stdout


def test_third_party_app_completes_once_the_user_allows(stack, page, tmp_path):
    cli = start_login(stack, tmp_path, "--client-id", "partner-app", "--timeout", "60")
    try:
        page.goto(authorize_url(cli))
        login(page, *USERS["bob"])
        page.click("button[name=decision][value=allow]")
        page.wait_for_url(CALLBACK_URL)
        status = cli.finish()
    finally:
        cli.kill()
    assert status == 0, cli.output
    assert '"aud": "partner-app"' in cli.stdout and '"email": "bob@flowlab.test"' in cli.stdout


def test_login_timeout_ends_with_a_clear_message(stack, tmp_path):
    cli = start_login(stack, tmp_path, "--timeout", "1.5")
    status = cli.finish()
    assert status == 1
    assert cli.stderr == "error: login timed out: no response from the browser within 1.5 seconds\n"


def redirect_uri_of(url):
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def test_a_redirect_naming_another_issuer_is_refused_before_any_code_exchange(stack, tmp_path):
    cli = start_login(stack, tmp_path, "--timeout", "30")
    try:
        url = authorize_url(cli)
        parameters = {
            "code": "forged-code",
            "state": parse_qs(urlsplit(url).query)["state"][0],
            "iss": "https://attacker.example/",
        }
        answer = requests.get(redirect_uri_of(url), params=parameters, timeout=30)
        status = cli.finish()
    finally:
        cli.kill()
    assert answer.status_code == 200 and "You can close this tab" in answer.text
    assert status == 1
    assert cli.stderr == (
        f"error: login refused: the response names issuer https://attacker.example/, "
        f"not {stack.issuer}"
        " (RFC 9207 mix-up protection)\n"
    )
    assert "Step 3." not in cli.stdout and "-> POST" not in cli.stdout


def test_a_redirect_with_another_state_is_ignored_and_the_login_keeps_waiting(stack, tmp_path):
    cli = start_login(stack, tmp_path, "--timeout", "3")
    try:
        url = authorize_url(cli)
        forged = {"code": "forged-code", "state": "forged-state", "iss": stack.issuer}
        answer = requests.get(redirect_uri_of(url), params=forged, timeout=30)
        status = cli.finish()
    finally:
        cli.kill()
    # RFC 8252 §8.9 / RFC 6749 §10.12: not this login's redirect: it neither ends nor completes it.
    assert answer.status_code == 400 and "This request was not sent by this login" in answer.text
    assert "Ignored a callback whose state is not this login's" in cli.stdout + cli.stderr
    assert status == 1
    assert cli.stderr.endswith(
        "error: login timed out: no response from the browser within 3 seconds\n"
    )
    assert "Step 3." not in cli.stdout and "-> POST" not in cli.stdout
