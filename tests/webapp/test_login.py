"""Login, SSO, the session cookie, the session's lifetimes and the logout of the web app,
against the real authorization server."""

import sqlite3
import time

import pytest
import requests

from shared.web import STORAGE_RETRY_AFTER_SECONDS
from tests.authserver.helpers import ALICE_SUB, FakeClock, forms
from tests.support.processes import free_port
from tests.webapp.conftest import USERS, Visitor, WebApp
from webapp_demo import create_app
from webapp_demo.config import LOCAL_CLIENT_SECRET
from webapp_demo.sessions import COOKIE_NAME, SECURE_COOKIE_NAME, SessionStore, id_hash

BACKCHANNEL_WAIT = 15.0


def subjects(webapp):
    with sqlite3.connect(webapp.store.path) as db:
        return [row[0] for row in db.execute("SELECT subject FROM sessions")]


def wait_until(condition, what):
    deadline = time.monotonic() + BACKCHANNEL_WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not within {BACKCHANNEL_WAIT:g} s: {what}"
        time.sleep(0.05)


def test_alice_signs_in_with_her_password_and_the_page_says_who_she_is(visitor):
    page = visitor.login("alice")
    assert page.status_code == 200
    assert visitor.saw_login_page
    assert "Signed in as <strong>Alice Example</strong>" in page.text
    assert "existing session" not in page.text
    state = visitor.session()
    assert state["signedIn"] is True
    assert state["user"]["email"] == "alice@flowlab.test"
    assert state["user"]["sso"] is False
    steps = [event["name"] for event in state["events"]]
    assert steps == ["request", "authentication", "callback", "token_request", "id_token"]
    assert subjects(visitor.webapp) == [ALICE_SUB]


def test_a_second_login_uses_the_sso_session_without_a_password(visitor, webapp):
    visitor.login("alice")
    webapp.clock.advance(5)  # auth_time has whole seconds: the next login starts later
    page = visitor.login("alice")
    assert not visitor.saw_login_page
    assert "Signed in through your existing session at the authorization server" in page.text
    assert visitor.session()["user"]["sso"] is True


def test_the_session_cookie_is_an_opaque_http_only_lax_cookie_renewed_at_login(visitor, webapp):
    visitor.get("/login")
    before = visitor.http.cookies[COOKIE_NAME]
    visitor.follow(visitor.get("/login"), ("alice@flowlab.test", "alice-password"))
    after = visitor.http.cookies[COOKIE_NAME]
    assert before != after
    assert len(after) >= 43 and "." not in after  # 256 random bits, no JWT, no signed data
    (cookie,) = [c for c in visitor.http.cookies if c.name == COOKIE_NAME]
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure
    set_cookie = visitor.get("/").headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    # Session fixation: the id from before the login opens nothing.
    planted = requests.get(f"{webapp.url}/session", cookies={COOKIE_NAME: before}, timeout=10)
    assert planted.json()["signedIn"] is False


def test_over_https_the_cookie_is_secure_with_the_host_prefix(tmp_path):
    app = create_app(
        {"WEBAPP_BASE_URL": "https://app.example.com", "WEBAPP_DB": str(tmp_path / "w.sqlite3")}
    )
    interface = app.session_interface
    with app.test_request_context("/"):
        from flask import session

        session["user"] = {"sub": "auth0|x"}
        response = app.response_class()
        interface.save_session(app, session, response)
    header = response.headers["Set-Cookie"]
    assert header.startswith(f"{SECURE_COOKIE_NAME}=")
    assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
    assert "Domain" not in header


@pytest.mark.parametrize(
    ("idle", "absolute_steps"), [(1801, []), (1000, [1000] * 28)], ids=["idle", "absolute"]
)
def test_a_session_ends_after_its_idle_or_absolute_lifetime(visitor, webapp, idle, absolute_steps):
    visitor.login("alice")
    for step in absolute_steps:  # a page load every 1000 s: never idle, but 8 hours go by
        webapp.clock.advance(step)
        assert "Signed in as" in visitor.get("/").text
    webapp.clock.advance(idle)
    state = visitor.session()
    assert state["signedIn"] is False
    assert state["expired"] == ("absolute" if absolute_steps else "idle")
    assert subjects(webapp) == []


def test_an_open_page_polling_its_state_does_not_keep_the_session_from_idling(visitor, webapp):
    visitor.login("alice")
    for _ in range(5):  # the page's /session polling, for 25 of the 30 idle minutes
        webapp.clock.advance(300)
        assert visitor.session()["signedIn"] is True
    visitor.bff("GET", "messages")  # an action of the user: the idle time starts again
    for _ in range(5):
        webapp.clock.advance(300)
        assert visitor.session()["signedIn"] is True
    webapp.clock.advance(300)
    state = visitor.session()
    assert state["signedIn"] is False
    assert state["expired"] == "idle"
    assert subjects(webapp) == []


def test_logout_needs_the_csrf_token(visitor):
    visitor.login("alice")
    refused = visitor.http.post(f"{visitor.webapp.url}/logout", data={}, timeout=10)
    assert refused.status_code == 403
    wrong = visitor.http.post(
        f"{visitor.webapp.url}/logout", data={"csrf_token": "é" * 43}, timeout=10
    )
    assert wrong.status_code == 403
    assert visitor.session()["signedIn"] is True


def test_logout_ends_the_local_and_the_sso_session(visitor, webapp):
    visitor.login("alice")
    page = visitor.http.post(
        f"{webapp.url}/logout", data={"csrf_token": visitor.csrf_token()}, timeout=10
    )
    assert page.status_code == 200
    assert visitor.session()["signedIn"] is False
    (form,) = forms(page.text)
    assert form["action"].endswith("/oidc/logout") and form["method"] == "post"
    fields = {name: attrs["value"] for name, attrs in form["inputs"].items()}
    assert fields["post_logout_redirect_uri"] == f"{webapp.url}/"
    back = visitor.follow(
        visitor.http.post(form["action"], data=fields, allow_redirects=False, timeout=10)
    )
    assert back.url == f"{webapp.url}/"
    visitor.login("alice")
    assert visitor.saw_login_page  # the SSO session is over too
    steps = [event["name"] for event in visitor.session()["events"]]
    assert "logout" in steps


def refresh_grant(parts, refresh_token):
    return requests.post(
        f"{parts.issuer}oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "webapp-demo",
            "client_secret": LOCAL_CLIENT_SECRET,
        },
        timeout=10,
    )


def test_logout_revokes_the_refresh_token_at_the_authorization_server(visitor, webapp, parts):
    visitor.login("alice")
    refresh_token = webapp.store.tokens(id_hash(visitor.http.cookies[COOKIE_NAME]))["refresh_token"]
    visitor.http.post(f"{webapp.url}/logout", data={"csrf_token": visitor.csrf_token()}, timeout=10)
    refused = refresh_grant(parts, refresh_token)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_grant"
    (logout,) = [e for e in visitor.session()["events"] if e["name"] == "logout"]
    assert "revoked its refresh token" in logout["detail"]
    assert [a["label"] for a in logout["arrows"]][:2] == [
        "POST /oauth/revoke (refresh_token)",
        "200: revoked",
    ]


def test_a_login_started_while_the_store_is_locked_is_a_503(visitor, store_locked):
    # The answer to a request the store refused writes nothing more (its session included):
    # written again with the answer, the session would fail again and make the 503 a 500.
    with store_locked():
        started = visitor.get("/login")
    assert started.status_code == 503, started.text
    assert started.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    visitor.login("alice")
    assert visitor.session()["signedIn"] is True


def test_a_callback_while_the_store_is_locked_is_a_503_and_works_once_it_is_back(
    visitor, store_locked
):
    # The code is single use: the store must take a write before it is spent. Refused first,
    # the same callback then signs Alice in; spent first, it would be refused as a replay.
    callback_url = visitor.follow(
        visitor.get("/login"), USERS["alice"], stop_at=visitor.webapp.url + "/callback"
    )
    with store_locked():
        refused = visitor.http.get(callback_url, allow_redirects=False, timeout=10)
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    again = visitor.http.get(callback_url, allow_redirects=False, timeout=10)
    assert again.status_code == 302, again.text
    assert visitor.session()["signedIn"] is True


def test_a_callback_whose_store_fails_after_the_code_exchange_starts_the_login_again(
    locked_after,
):
    # The code is spent, so a 503 would invite a retry the authorization server refuses as a
    # replay: the browser is sent to sign in again instead (through its SSO session, no password).
    visitor, proxy = locked_after(
        "AUTH_TOKEN_URL", "oauth/token", lambda form: form["grant_type"] == "authorization_code"
    )
    callback_url = visitor.follow(
        visitor.get("/login"), USERS["alice"], stop_at=visitor.webapp.url + "/callback"
    )
    answer = visitor.http.get(callback_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/login?again=1"
    assert COOKIE_NAME not in visitor.http.cookies
    proxy.release()
    visitor.follow(visitor.get("/login"))  # no password given: signed in through SSO
    assert visitor.session()["signedIn"] is True


def test_a_callback_whose_store_refuses_its_last_write_starts_the_login_again(
    visitor, store_locked, monkeypatch
):
    # The tokens are stored, then the store refuses the signed-in session itself: written with
    # the answer, it would make the callback a 503 after the code was spent. (``store_locked``:
    # the web app's connections wait 50 ms for the lock.)
    holder = sqlite3.connect(
        visitor.webapp.store.path, isolation_level=None, check_same_thread=False
    )
    save, locked = SessionStore.save, []

    def save_under_a_held_lock(store, key, data, now):
        if "user" in data and not locked:
            holder.execute("BEGIN IMMEDIATE")
            locked.append(key)
        return save(store, key, data, now)

    monkeypatch.setattr(SessionStore, "save", save_under_a_held_lock)
    callback_url = visitor.follow(
        visitor.get("/login"), USERS["alice"], stop_at=visitor.webapp.url + "/callback"
    )
    answer = visitor.http.get(callback_url, allow_redirects=False, timeout=10)
    assert locked, "the signed-in session was never saved"
    holder.execute("ROLLBACK")
    holder.close()
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"] == "/login?again=1"
    visitor.follow(visitor.get("/login"))
    assert visitor.session()["signedIn"] is True


def test_a_store_that_keeps_refusing_the_sign_in_stops_after_the_second_login(visitor, monkeypatch):
    # A store that takes small writes but refuses the tokens (a nearly full disk, say): one more
    # login, then an error, rather than a loop of logins each spending a code.
    visitor.login("alice")  # the SSO session: the logins after it need no password
    readonly = sqlite3.connect(f"file:{visitor.webapp.store.path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        readonly.execute("DELETE FROM sessions")
    readonly.close()

    def save_tokens(store, key, tokens):
        raise refused.value

    monkeypatch.setattr(SessionStore, "save_tokens", save_tokens)
    answers = []
    url = visitor.webapp.url + "/login"
    while len(answers) < 20:
        answer = visitor.http.get(url, allow_redirects=False, timeout=10)
        answers.append((url.split("?")[0].rsplit("/", 1)[-1], answer.status_code))
        if not answer.is_redirect:
            break
        url = requests.compat.urljoin(url, answer.headers["Location"])
    assert [answer for answer in answers if answer[0] == "callback"] == [
        ("callback", 302),
        ("callback", 503),
    ]


def test_a_logout_whose_store_fails_after_the_revocation_still_ends_the_sso_session(
    locked_after, parts
):
    # The refresh token is revoked, then the store refuses writes: the page that sends the
    # browser to end its SSO session is shown all the same (only the narration is lost).
    visitor, proxy = locked_after(
        "AUTH_REVOCATION_URL", "oauth/revoke", lambda form: "token" in form
    )
    visitor.login("alice")
    refresh_token = visitor.webapp.store.tokens(id_hash(visitor.http.cookies[COOKIE_NAME]))[
        "refresh_token"
    ]
    page = visitor.http.post(
        f"{visitor.webapp.url}/logout", data={"csrf_token": visitor.csrf_token()}, timeout=10
    )
    proxy.release()
    assert page.status_code == 200, page.text
    assert refresh_grant(parts, refresh_token).json()["error"] == "invalid_grant"
    (form,) = forms(page.text)
    fields = {name: attrs["value"] for name, attrs in form["inputs"].items()}
    visitor.follow(
        visitor.http.post(form["action"], data=fields, allow_redirects=False, timeout=10)
    )
    visitor.login("alice")
    assert visitor.saw_login_page  # the SSO session ended too


def test_logout_without_a_reachable_revocation_endpoint_still_ends_the_session(
    parts, webapp_port, tmp_path
):
    unreachable = f"http://127.0.0.1:{free_port()}/oauth/revoke"
    webapp = WebApp(
        parts,
        webapp_port,
        tmp_path / "webapp.sqlite3",
        FakeClock(),
        {"AUTH_REVOCATION_URL": unreachable},
    )
    try:
        visitor = Visitor(webapp)
        visitor.login("alice")
        page = visitor.http.post(
            f"{webapp.url}/logout", data={"csrf_token": visitor.csrf_token()}, timeout=10
        )
        assert page.status_code == 200
        assert visitor.session()["signedIn"] is False
        assert subjects(webapp) == [None]  # only the new session of the narration
        (logout,) = [e for e in visitor.session()["events"] if e["name"] == "logout"]
        assert "could not revoke its refresh token" in logout["detail"]
    finally:
        webapp.stop()


def test_a_logout_elsewhere_ends_the_web_apps_session_by_back_channel(visitor, webapp, parts):
    visitor.login("alice")
    key = id_hash(visitor.http.cookies[COOKIE_NAME])
    assert webapp.store.tokens(key) is not None
    # The user logs out of the authorization server directly (from another app, say).
    visitor.http.get(f"{parts.issuer}v2/logout", timeout=10)
    wait_until(lambda: subjects(webapp) == [], "the back-channel logout")
    assert webapp.store.tokens(key) is None
    assert visitor.session()["signedIn"] is False
