"""The web app (regular web app + BFF) in Chromium, beside the SPA, against the real parts.

Every part is a process as a learner starts it: the authorization server (the packaged tenant,
its SPA and web app addresses replaced by the test's), the API, the SPA server and
`python -m webapp_demo`, on free ports with their own SQLite files. The tests sign in to the SPA
and then open the web app (SSO), call the API through the BFF, try the BFF from another site,
log out here and elsewhere (back-channel logout), and look for the session's tokens everywhere
the browser keeps something.
"""

import json
import re
import sqlite3
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AUDIENCE, PACKAGED_SPA_ORIGIN
from tests.e2e.helpers import USERS, login
from tests.support.processes import (
    PROJECT_ROOT,
    Service,
    api_service,
    authserver_service,
    free_port,
    service_environment,
)

PACKAGED_WEBAPP_ORIGIN = "http://localhost:3001"
ATTACKER = "http://attacker.example"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.")


class WebAppStack:
    """The authorization server, the API, the SPA and the web app of this module."""

    def __init__(self, tmp_path):
        ports = {name: free_port() for name in ("authserver", "api", "spa", "webapp")}
        self.issuer = f"http://localhost:{ports['authserver']}/"
        self.api_url = f"http://localhost:{ports['api']}"
        self.spa_url = f"http://localhost:{ports['spa']}"
        self.webapp_url = f"http://localhost:{ports['webapp']}"
        self.webapp_db = tmp_path / "webapp.sqlite3"
        tenant = tmp_path / "tenant.toml"
        tenant.write_text(
            (PROJECT_ROOT / "authserver" / "tenant.toml")
            .read_text()
            .replace(PACKAGED_SPA_ORIGIN, self.spa_url)
            .replace(PACKAGED_WEBAPP_ORIGIN, self.webapp_url)
        )
        env = service_environment()
        client = {"AUTH_ISSUER": self.issuer, "AUTH_AUDIENCE": AUDIENCE, "API_URL": self.api_url}
        self.services = [
            authserver_service(tmp_path, ports["authserver"], self.issuer, tenant),
            api_service(tmp_path, ports["api"], self.issuer, AUDIENCE, CORS_ORIGINS=self.spa_url),
            Service(
                "spa",
                "spa_demo",
                env | client | {"SPA_PORT": str(ports["spa"]), "AUTH_CLIENT_ID": "spa-demo"},
                f"{self.spa_url}/",
                tmp_path / "spa.log",
            ),
            Service(
                "webapp",
                "webapp_demo",
                env
                | client
                | {
                    "WEBAPP_PORT": str(ports["webapp"]),
                    "WEBAPP_BASE_URL": self.webapp_url,
                    "WEBAPP_DB": str(self.webapp_db),
                },
                f"{self.webapp_url}/",
                tmp_path / "webapp.log",
            ),
        ]

    def tokens(self):
        """Every token the web app's server holds (access, refresh and ID tokens)."""
        with sqlite3.connect(self.webapp_db) as db:
            rows = [json.loads(row[0]) for row in db.execute("SELECT data FROM tokens")]
        return [row[name] for row in rows for name in ("access_token", "refresh_token", "id_token")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = WebAppStack(tmp_path_factory.mktemp("webapp-stack"))
    try:
        for service in running.services:
            service.start()
        yield running
    finally:
        for service in reversed(running.services):
            service.stop()


class WebAppPage:
    """The web app's page in one browser tab, with every address the browser asked for."""

    def __init__(self, page, stack):
        self.page = page
        self.stack = stack
        self.urls = []
        page.on("request", lambda request: self.urls.append(request.url))

    @property
    def status(self):
        return self.page.get_by_test_id("status")

    def open(self):
        self.page.goto(f"{self.stack.webapp_url}/")
        self.page.wait_for_selector("body[data-ready=true]")

    def log_in(self, user):
        self.open()
        self.page.get_by_test_id("login").click()
        self.page.wait_for_url(f"{self.stack.issuer}**")
        login(self.page, *USERS[user])
        self.page.wait_for_url(f"{self.stack.webapp_url}/")
        self.page.wait_for_selector("body[data-ready=true]")
        expect(self.status).to_have_attribute("data-state", "signed-in")

    def call(self, test_id):
        result = self.page.get_by_test_id("api-result")
        calls = int(result.get_attribute("data-calls") or 0)
        self.page.get_by_test_id(test_id).click()
        expect(result).to_have_attribute("data-calls", str(calls + 1))
        status = int(self.page.get_by_test_id("api-status").get_attribute("data-status"))
        return status, json.loads(self.page.get_by_test_id("api-body").inner_text())

    def login_page_was_shown(self):
        return any(url.startswith(f"{self.stack.issuer}u/login") for url in self.urls)


@pytest.fixture
def webapp(page, stack):
    return WebAppPage(page, stack)


def sign_in_to_the_spa(page, stack, user):
    page.goto(f"{stack.spa_url}/")
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_test_id("mode-code").check()
    page.get_by_test_id("login").click()
    page.wait_for_url(f"{stack.issuer}**")
    login(page, *USERS[user])
    expect(page.get_by_test_id("status")).to_have_attribute("data-state", "signed-in")


def test_signed_in_to_the_spa_the_user_opens_the_web_app_without_a_password(webapp, stack):
    sign_in_to_the_spa(webapp.page, stack, "alice")
    signed_in_at = int(time.time())
    # auth_time has whole seconds: the web app's login must start in a later second than the
    # SPA's, or it could not tell the two apart.
    while int(time.time()) <= signed_in_at:
        time.sleep(0.05)
    webapp.urls.clear()
    webapp.open()
    webapp.page.get_by_test_id("login").click()
    webapp.page.wait_for_url(f"{stack.webapp_url}/")
    expect(webapp.status).to_have_attribute("data-state", "signed-in")
    expect(webapp.page.get_by_test_id("sso-note")).to_contain_text(
        "Signed in through your existing session at the authorization server"
    )
    assert not webapp.login_page_was_shown()
    expect(webapp.page.get_by_test_id("steps")).to_contain_text("2. The user authenticates")


def test_alice_calls_the_api_through_the_bff_and_sees_the_admin_panel(webapp):
    webapp.log_in("alice")
    status, body = webapp.call("call-messages")
    assert status == 200 and "messages" in body
    expect(webapp.page.get_by_test_id("admin-panel")).to_be_visible()
    status, _ = webapp.call("call-stats")
    assert status == 200
    expect(webapp.page.get_by_test_id("steps")).to_contain_text("6. API call through the BFF")
    arrows = webapp.page.get_by_test_id("sequence-diagram").locator("[data-testid=arrow]")
    expect(arrows.first).to_have_attribute("data-label", re.compile("/api/admin/stats"))


def test_bob_has_no_admin_panel_and_a_forced_call_shows_the_apis_403(webapp):
    webapp.log_in("bob")
    expect(webapp.page.get_by_test_id("admin-panel")).to_have_count(0)
    status, body = webapp.call("force-stats")
    assert status == 403 and body["error"] == "insufficient_scope"
    expect(webapp.page.get_by_test_id("api-www-authenticate")).to_contain_text("insufficient_scope")
    status, _ = webapp.call("call-post-message")
    assert status == 403


def test_the_session_cookie_is_http_only_and_lax_and_no_token_reaches_the_browser(webapp, stack):
    webapp.log_in("alice")
    webapp.call("call-messages")
    webapp.call("call-me")
    cookies = webapp.page.context.cookies(stack.webapp_url)
    (session_cookie,) = [c for c in cookies if c["name"] == "webapp_session"]
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax"
    assert not session_cookie["secure"]  # http://localhost: no Secure, no __Host- prefix
    seen = webapp.page.evaluate(
        "async () => ({local: {...localStorage}, session: {...sessionStorage}, "
        "cookie: document.cookie, text: document.body.innerText, "
        "html: document.documentElement.outerHTML, "
        "state: await (await fetch('/session')).text()})"
    )
    assert "webapp_session" not in seen["cookie"]
    tokens = stack.tokens()
    assert tokens
    # The web app's one cookie (cookies are per host, not per port: the authorization server's
    # own session cookie on localhost is its business).
    everything = json.dumps([seen, session_cookie["value"], webapp.urls])
    for token in tokens:
        assert token not in everything
    assert not JWT.search(everything)


def attacker_page(webapp_url, text):
    """A page of another site: a fetch with the BFF's header (which needs a CORS preflight the
    web app never answers) and a form that posts the message as JSON-looking text/plain."""
    return (
        f'<form method="post" action="{webapp_url}/bff/api/messages" enctype="text/plain">'
        f'<input name=\'{{"text": "{text}", "x": "\' value=\'"}}\'>'
        '<button id="send">send</button></form><script>'
        f"fetch('{webapp_url}/bff/api/messages', {{method: 'POST', credentials: 'include', "
        "headers: {'X-Flowlab-CSRF': '1', 'Content-Type': 'application/json'}, "
        f"body: JSON.stringify({{text: '{text}'}})}})"
        ".then(() => { document.title = 'sent'; }, () => { document.title = 'blocked'; });"
        "</script>"
    )


def test_a_bff_call_from_another_site_is_refused(webapp, stack):
    webapp.log_in("alice")
    forged = "posted from another site"
    webapp.page.route(
        f"{ATTACKER}/**",
        lambda route: route.fulfill(
            content_type="text/html", body=attacker_page(stack.webapp_url, forged)
        ),
    )
    webapp.page.goto(f"{ATTACKER}/")
    expect(webapp.page).to_have_title("blocked")
    webapp.page.click("#send")
    webapp.page.wait_for_url(f"{stack.webapp_url}/bff/api/messages")
    assert json.loads(webapp.page.inner_text("body"))["error"] in ("forbidden", "not_signed_in")
    webapp.open()
    status, body = webapp.call("call-messages")
    assert status == 200
    assert forged not in json.dumps(body)


def test_logout_ends_the_web_app_and_the_sso_session(webapp, stack):
    webapp.log_in("alice")
    before = stack.tokens()  # this session's three, and those of the other tests' sessions
    webapp.page.get_by_test_id("logout").click()
    webapp.page.wait_for_url(f"{stack.webapp_url}/")
    expect(webapp.status).to_have_attribute("data-state", "signed-out")
    assert len(stack.tokens()) == len(before) - 3  # gone from the server too
    webapp.urls.clear()
    webapp.page.get_by_test_id("login").click()
    webapp.page.wait_for_url(f"{stack.issuer}**")
    expect(webapp.page.locator("input[name=username]")).to_be_visible()


def test_logging_out_elsewhere_ends_the_web_apps_session_by_back_channel(webapp, stack):
    webapp.log_in("alice")
    elsewhere = webapp.page.context.new_page()
    elsewhere.goto(f"{stack.issuer}v2/logout")
    expect(webapp.status).to_have_attribute("data-state", "ended")
    expect(webapp.status).to_contain_text("back-channel logout")
    webapp.open()
    expect(webapp.status).to_have_attribute("data-state", "signed-out")


def comparison(page):
    table = page.get_by_test_id("patterns").locator("table")
    return [row.inner_text().split("\t") for row in table.locator("tr").all()]


def test_the_spa_and_the_web_app_show_one_comparison_table_and_link_to_each_other(page, stack):
    page.goto(f"{stack.spa_url}/")
    spa_table = comparison(page)
    assert page.get_by_test_id("webapp-link").get_attribute("href") == "http://localhost:3001/"
    page.goto(f"{stack.webapp_url}/")
    assert comparison(page) == spa_table
    assert page.get_by_test_id("spa-link").get_attribute("href") == "http://localhost:3000/"
    assert [row[0] for row in spa_table[1:]] == [
        "Where the tokens are",
        "Single-execution token theft",
        "Persistent token theft",
        "Acquiring new tokens",
        "Proxying requests through the browser",
    ]
    assert spa_table[0][1:] == [
        "Implicit grant (legacy)",
        "Code + PKCE in the browser",
        "Backend-for-Frontend",
    ]
