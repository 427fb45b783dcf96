"""Universal Login, the SSO session, prompt handling, brute-force protection and logout."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter
from werkzeug.security import check_password_hash

from authserver import authentication
from authserver import storage as storage_module
from authserver.storage import FAILED_LOGIN_MEMORY, Storage
from tests.authserver.helpers import (
    ALICE,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    UserAgent,
    code_request,
    forms,
    redirect_parameters,
    run_code_flow,
    ui_pages,
    verified_claims,
    writes_failing,
)


class SourceAddressAdapter(HTTPAdapter):
    """Connect from another loopback address (Linux routes all of 127.0.0.0/8 to lo)."""

    def __init__(self, source_address: str):
        self.source_address = source_address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_address, 0)
        super().init_poolmanager(*args, **kwargs)


def alert(page: requests.Response) -> str:
    return re.search(r'role="alert">(.*?)</p>', page.text, re.DOTALL).group(1).strip()


def spa_request(**extra):
    return code_request("spa-demo", SPA_CALLBACK, PKCE.new(), **extra)


def test_login_page_form(user_agent):
    page = user_agent.authorize(**spa_request())
    assert page.status_code == 200
    (form,) = forms(page.text)
    assert form["method"] == "post"
    assert form["inputs"]["username"]["type"] == "email"
    assert form["inputs"]["password"]["type"] == "password"
    assert form["inputs"]["csrf_token"]["value"]
    assert [button["type"] for button in form["buttons"]] == ["submit"]
    assert "Flowlab SPA demo" in page.text


def test_pages_are_plain_html_that_load_nothing_from_elsewhere(user_agent):
    for name, page in ui_pages(user_agent).items():
        assert page.headers["Content-Type"] == "text/html; charset=utf-8", name
        assert "<script" not in page.text, name
        # Only this server's own resources (the stylesheet): no CDN, font or analytics.
        references = re.findall(r'\b(?:src|href|action)="([^"]*)"', page.text)
        assert references and all(
            ref.startswith("/") and not ref.startswith("//") for ref in references
        ), name


def test_successful_login_answers_303_back_to_authorize(user_agent):
    request = spa_request()
    response = user_agent.login(user_agent.authorize(**request), *ALICE)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/authorize?")
    assert redirect_parameters(user_agent.follow(response))["state"] == request["state"]


def test_wrong_email_or_password_get_the_same_generic_message(user_agent):
    page = user_agent.authorize(**spa_request())
    wrong_password = user_agent.login(page, ALICE[0], "not-her-password")
    unknown_user = user_agent.login(page, "nobody@flowlab.test", "whatever-password")
    assert wrong_password.status_code == unknown_user.status_code == 400
    assert alert(wrong_password) == alert(unknown_user) == "Wrong email or password."


def test_brute_force_protection_blocks_the_account_for_that_source_until_unblocked(
    authserver, run_cli
):
    attacker = UserAgent(authserver)
    page = attacker.authorize(**spa_request())
    for _ in range(10):
        page = attacker.login(page, ALICE[0], "guess-password")
        assert alert(page) == "Wrong email or password."
    blocked = attacker.login(page, *ALICE)
    assert blocked.status_code == 400
    assert "blocked after multiple consecutive login attempts" in alert(blocked)
    # The same account from another address is not blocked.
    elsewhere = UserAgent(authserver)
    elsewhere.session.mount("http://", SourceAddressAdapter("127.0.0.2"))
    assert "code" in redirect_parameters(elsewhere.sign_in(elsewhere.authorize(**spa_request())))
    # An administrator lifts the block.
    unblocked = run_cli(authserver, "users", "unblock", ALICE[0])
    assert unblocked.returncode == 0, unblocked.stderr
    assert "code" in redirect_parameters(attacker.sign_in(attacker.authorize(**spa_request())))


def test_unblock_also_lifts_a_count_at_the_threshold_without_a_block(authserver, run_cli):
    # Attempts count as failures until they succeed: ten counted together, or a correct one
    # whose success the database refused, reach the threshold with no block marked.
    database = Storage.open(authserver.database)
    try:
        database.db.execute(
            "INSERT INTO failed_logins (email, source, failures, last_attempt_at) "
            "VALUES (?, '127.0.0.1', 10, ?)",
            (ALICE[0], int(time.time())),
        )
    finally:
        database.close()
    attacker = UserAgent(authserver)
    page = attacker.authorize(**spa_request())
    assert "blocked after multiple" in alert(attacker.login(page, *ALICE))
    unblocked = run_cli(authserver, "users", "unblock", ALICE[0])
    assert unblocked.returncode == 0, unblocked.stderr
    assert "(1 brute-force block(s) lifted)" in unblocked.stdout
    assert "code" in redirect_parameters(attacker.sign_in(attacker.authorize(**spa_request())))


def test_parallel_logins_get_no_more_passwords_checked_than_the_threshold(authserver, monkeypatch):
    checked = []

    def counting_check(password_hash, password):
        checked.append(password)
        return check_password_hash(password_hash, password)

    monkeypatch.setattr(authentication, "check_password_hash", counting_check)
    attackers = [UserAgent(authserver) for _ in range(40)]
    pages = [attacker.authorize(**spa_request()) for attacker in attackers]
    released = threading.Barrier(len(attackers))

    def guess(index):
        released.wait(timeout=10)
        return attackers[index].login(pages[index], ALICE[0], f"guess-{index}")

    with ThreadPoolExecutor(max_workers=len(attackers)) as pool:
        answers = list(pool.map(guess, range(len(attackers))))
    assert {answer.status_code for answer in answers} == {400}
    # Threshold 10: every attempt is counted before its password is checked.
    assert len(checked) == 10
    assert (
        sum("blocked after multiple consecutive login attempts" in alert(a) for a in answers) == 30
    )
    assert "blocked after" in alert(attackers[0].login(pages[0], *ALICE))


def test_failed_logins_that_blocked_nothing_are_forgotten_after_a_day(authserver):
    user_agent = UserAgent(authserver)
    user_agent.login(user_agent.authorize(**spa_request()), "nobody@flowlab.test", "guess-password")
    storage = Storage.open(authserver.database)
    try:
        (before,) = storage.db.execute("SELECT count(*) FROM failed_logins").fetchone()
        storage.purge_expired(int(time.time()) + FAILED_LOGIN_MEMORY - 60, grant_lifetime=10**9)
        (kept,) = storage.db.execute("SELECT count(*) FROM failed_logins").fetchone()
        storage.purge_expired(int(time.time()) + FAILED_LOGIN_MEMORY + 60, grant_lifetime=10**9)
        (after,) = storage.db.execute("SELECT count(*) FROM failed_logins").fetchone()
    finally:
        storage.close()
    assert (before, kept, after) == (1, 1, 0)


def test_failed_logins_are_bounded_in_number(authserver, monkeypatch):
    monkeypatch.setattr(storage_module, "MAX_FAILED_LOGIN_ROWS", 3)
    user_agent = UserAgent(authserver)
    page = user_agent.authorize(**spa_request())
    for index in range(5):
        page = user_agent.login(page, f"nobody-{index}@flowlab.test", "guess-password")
    storage = Storage.open(authserver.database)
    try:
        emails = [
            row[0] for row in storage.db.execute("SELECT email FROM failed_logins ORDER BY rowid")
        ]
    finally:
        storage.close()
    assert emails == ["nobody-2@flowlab.test", "nobody-3@flowlab.test", "nobody-4@flowlab.test"]


def test_a_block_is_never_forgotten_to_make_room_for_other_failures(authserver, monkeypatch):
    monkeypatch.setattr(storage_module, "MAX_FAILED_LOGIN_ROWS", 3)
    attacker = UserAgent(authserver)
    page = attacker.authorize(**spa_request())
    for _ in range(10):
        page = attacker.login(page, ALICE[0], "guess-password")
    for index in range(5):
        page = attacker.login(page, f"nobody-{index}@flowlab.test", "guess-password")
    assert "blocked after multiple consecutive login attempts" in alert(
        attacker.login(page, *ALICE)
    )


def test_failure_counts_restart_after_a_day_without_attempts(authserver):
    storage = Storage.open(authserver.database)
    try:
        then = 1_000_000
        for _ in range(9):
            assert storage.count_login_attempt("carol@flowlab.test", "127.0.0.1", 10, then)
        assert not storage.block_failed_login("carol@flowlab.test", "127.0.0.1", 10, then)
        a_day_later = then + FAILED_LOGIN_MEMORY + 1
        assert storage.count_login_attempt("carol@flowlab.test", "127.0.0.1", 10, a_day_later)
        (failures,) = storage.db.execute("SELECT failures FROM failed_logins").fetchone()
    finally:
        storage.close()
    assert failures == 1


def test_an_email_address_longer_than_254_characters_is_refused_before_it_is_counted(authserver):
    user_agent = UserAgent(authserver)
    answer = user_agent.login(
        user_agent.authorize(**spa_request()), "a" * 250 + "@flowlab.test", "guess-password"
    )
    assert answer.status_code == 400 and alert(answer) == "Wrong email or password."
    storage = Storage.open(authserver.database)
    try:
        assert storage.db.execute("SELECT count(*) FROM failed_logins").fetchone()[0] == 0
    finally:
        storage.close()


def test_a_login_whose_session_cannot_be_stored_can_be_submitted_again(user_agent, authserver):
    # The browser's session (its CSRF token with it) is only replaced once the new SSO session
    # is stored: a fault storing it leaves the login form as it was, valid for a second try.
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    with writes_failing(authserver.database, "sessions"):
        failed = user_agent.login(page, *ALICE)
    assert failed.status_code == 500
    assert "Traceback" not in failed.text
    assert "code" in redirect_parameters(user_agent.sign_in(page))


def test_sso_session_lets_a_second_application_in_without_a_prompt(user_agent, authserver):
    first = run_code_flow(
        user_agent, audience="https://api.flowlab.local", scope="openid read:messages"
    )
    pkce = PKCE.new()
    response = user_agent.authorize(**code_request("native-demo", NATIVE_CALLBACK, pkce))
    assert response.status_code == 302
    assert "code" in redirect_parameters(response)
    _, id_claims = verified_claims(authserver, first.tokens["id_token"], "spa-demo")
    assert id_claims["auth_time"] <= id_claims["iat"]


def test_prompt_none_without_a_session_answers_login_required(user_agent, authserver):
    request = spa_request(prompt="none")
    response = user_agent.authorize(**request)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{SPA_CALLBACK}?")
    answer = redirect_parameters(response)
    assert answer == {
        "error": "login_required",
        "state": request["state"],
        "iss": authserver.issuer,
    }


def test_prompt_none_with_a_session_answers_without_ui(user_agent):
    run_code_flow(user_agent)
    assert "code" in redirect_parameters(user_agent.authorize(**spa_request(prompt="none")))


def test_prompt_login_asks_again_despite_the_session(user_agent):
    run_code_flow(user_agent)
    page = user_agent.authorize(**spa_request(prompt="login"))
    assert page.status_code == 200 and "username" in forms(page.text)[0]["inputs"]
    assert "code" in redirect_parameters(user_agent.sign_in(page))


def test_the_sso_cookie_is_httponly_samesite_lax_and_prefixed(user_agent):
    response = user_agent.login(user_agent.authorize(**spa_request()), *ALICE)
    cookies = response.raw.headers.getlist("Set-Cookie")
    assert cookies
    for cookie in cookies:
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert attributes[0].startswith("authserver_")
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
    assert all(cookie.name.startswith("authserver_") for cookie in user_agent.session.cookies)


@pytest.mark.parametrize("csrf_token", [None, "forged-token", "é-not-ascii"])
def test_login_form_requires_the_csrf_token_of_the_session(user_agent, csrf_token):
    page = user_agent.authorize(**spa_request())
    data = {"username": ALICE[0], "password": ALICE[1]}
    if csrf_token:
        data["csrf_token"] = csrf_token
    response = user_agent.session.post(page.url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert (
        redirect_parameters(user_agent.authorize(**spa_request(prompt="none")))["error"]
        == "login_required"
    )


def test_logout_ends_the_session_and_returns_to_an_allowed_url(user_agent, authserver):
    run_code_flow(user_agent)
    response = user_agent.session.get(
        authserver.url("/v2/logout"),
        params={"client_id": "spa-demo", "returnTo": "http://localhost:3000/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "http://localhost:3000/"
    assert (
        redirect_parameters(user_agent.authorize(**spa_request(prompt="none")))["error"]
        == "login_required"
    )


@pytest.mark.parametrize(
    "parameters",
    [
        {"client_id": "spa-demo", "returnTo": "https://evil.example/"},
        {"client_id": "spa-demo", "returnTo": "http://localhost:3000/other"},
        {"client_id": "native-demo", "returnTo": "http://localhost:3000/"},
        {"returnTo": "http://localhost:3000/"},
    ],
    ids=["foreign", "other path", "other application", "no application"],
)
def test_logout_redirects_only_to_an_allowed_return_to(user_agent, authserver, parameters):
    run_code_flow(user_agent)
    response = user_agent.session.get(
        authserver.url("/v2/logout"), params=parameters, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    # Refused, and nothing changed: the session is still alive.
    assert "code" in redirect_parameters(user_agent.authorize(**spa_request(prompt="none")))


def test_logout_without_return_to_shows_a_page(user_agent, authserver):
    run_code_flow(user_agent)
    response = user_agent.session.get(authserver.url("/v2/logout"), timeout=10)
    assert response.status_code == 200
    assert "You are logged out" in response.text
