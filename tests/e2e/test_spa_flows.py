"""The SPA in Chromium, in both modes, against the real authorization server and API.

Each test drives the page as a learner does: pick the flow, log in on the authorization
server's login page, come back, press the API buttons, log out. The tampered-state test plays
an attacker who rewrites the `state` in the authorization response on its way to the browser.
"""

import json
import re
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import USERS, login

MODES = ["code", "implicit"]
# What the steps panel narrates: the article's steps for a single page application, word for
# word, and its PKCE steps (written for a native app) with "native app" as "app" and the ID token
# an SPA gets in step 4.
ARTICLE_STEPS = {
    "implicit": [
        "The app initiates the flow and redirects the browser to Auth0, so the user can authenticate.",
        "Auth0 authenticates the user. The first time the user goes through this flow, and if the application is a third party application, a consent page will be shown where the permissions, that will be given to the Client, are listed (for example, post messages, list contacts, and so forth).",
        "Auth0 redirects the user to the app with an Access Token (and optionally an ID Token) in the hash fragment of the URI. The app can now extract the tokens from the hash fragment.",
        "The app can use the Access Token to call the API on behalf of the user.",
    ],
    "code": [
        "The app initiates the flow and redirects the user to Auth0 sending the code_challenge and code_challenge_method parameters.",
        "Auth0 redirects the user to the app with an authorization_code in the query string.",
        "The app sends the authorization_code and code_verifier together with the redirect_uri and the client_id to Auth0.",
        "Auth0 validates this information and returns an Access Token (and an ID Token).",
        "The app can use the Access Token to call the API on behalf of the user.",
    ],
}


class Spa:
    """The SPA page of one test, with what the browser did recorded along the way."""

    def __init__(self, page, stack):
        self.page = page
        self.stack = stack
        self.console_errors = []
        self.api_requests = []
        self.addresses = []
        page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(message.text),
        )
        page.on(
            "request",
            lambda request: (
                request.url.startswith(stack.api_url) and self.api_requests.append(request)
            ),
        )
        page.on(
            "framenavigated",
            lambda frame: frame == page.main_frame and self.addresses.append(frame.url),
        )

    @property
    def status(self):
        return self.page.get_by_test_id("status")

    @property
    def error(self):
        return self.page.get_by_test_id("error")

    def settle(self):
        """Wait until the page finished what it started (loading, a callback, a silent login)."""
        self.page.wait_for_selector("body[data-ready=true]")
        expect(self.status).not_to_have_attribute("data-state", "working")

    def open(self, mode):
        self.page.goto(f"{self.stack.spa_url}/")
        self.settle()
        self.page.get_by_test_id(f"mode-{mode}").check()

    def start_login(self):
        """Press "Log in" and arrive on the authorization server's login page."""
        self.page.get_by_test_id("login").click()
        self.page.wait_for_url(f"{self.stack.issuer}**")
        expect(self.page.locator("input[name=username]")).to_be_visible()

    def log_in(self, mode, user):
        self.open(mode)
        self.start_login()
        login(self.page, *USERS[user])
        self.settle()
        expect(self.status).to_have_attribute("data-state", "signed-in")

    def call(self, endpoint):
        """Press an API button; returns the status and the body the page shows."""
        result = self.page.get_by_test_id("api-result")
        calls = int(result.get_attribute("data-calls") or 0)
        self.page.get_by_test_id(f"call-{endpoint}").click()
        expect(result).to_have_attribute("data-calls", str(calls + 1))
        self.settle()
        return int(result.get_attribute("data-status")), json.loads(
            self.page.get_by_test_id("api-body").inner_text()
        )

    def decoded(self, token_part):
        """A decoded token payload from the tokens panel ("id-token-payload"), as its JSON
        (under "The payload as JSON", beside the claims explained one by one)."""
        return json.loads(self.page.get_by_test_id(f"{token_part}-json").text_content())

    def storage(self):
        return self.page.evaluate(
            "() => ({local: {...localStorage}, session: {...sessionStorage}, cookies: document.cookie})"
        )

    def is_silent_authentication(self, request):
        return request.url.startswith(self.stack.issuer) and "prompt=none" in request.url

    def csp_violations(self):
        return [text for text in self.console_errors if "Content Security Policy" in text]


@pytest.fixture
def spa(page, stack):
    return Spa(page, stack)


@pytest.mark.parametrize("mode", MODES)
def test_alice_logs_in_and_calls_the_api(spa, mode):
    spa.open(mode)
    spa.start_login()
    login(spa.page, *USERS["alice"])
    spa.settle()

    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.status).to_contain_text("alice@flowlab.test")
    expect(spa.page.get_by_test_id("profile")).to_contain_text("Alice Example")
    assert spa.page.url == f"{spa.stack.spa_url}/"
    assert spa.call("messages")[0] == 200
    assert spa.call("admin-stats")[0] == 200
    assert all(
        request.headers["authorization"].startswith("Bearer ") for request in spa.api_requests
    )
    assert spa.decoded("id-token-payload")["aud"] == "spa-demo"
    assert "read:stats" in spa.decoded("access-token-payload")["permissions"]
    # The article's steps of the flow were narrated in order as they happened (the last one for
    # each API call), in its words, and none failed after the login started.
    narrated = spa.page.locator("[data-testid=step]").evaluate_all(
        "(items) => items.map((item) => [item.dataset.step, item.querySelector('.step-text')?.textContent ?? null, item.dataset.outcome])"
    )
    article = ARTICLE_STEPS[mode]
    expected_numbers = list(range(1, len(article) + 1)) + [len(article)]
    assert [int(number) for number, _, _ in narrated] == expected_numbers
    assert [title for _, title, _ in narrated] == [
        article[number - 1] for number in expected_numbers
    ]
    assert {outcome for _, _, outcome in narrated} == {"done"}
    assert spa.csp_violations() == []


@pytest.mark.parametrize("mode", MODES)
def test_bob_is_shown_403_for_write_messages(spa, mode):
    spa.log_in(mode, "bob")

    assert spa.call("messages")[0] == 200
    status, body = spa.call("post-message")
    assert status == 403
    assert body["error"] == "insufficient_scope"
    expect(spa.page.get_by_test_id("api-status")).to_have_text(re.compile(r"^403\b"))
    expect(spa.page.get_by_test_id("api-body")).to_contain_text("insufficient_scope")
    # RBAC: bob asked for write:messages like everyone, and the issuer left it out.
    assert "write:messages" not in spa.decoded("access-token-payload")["scope"].split()


@pytest.mark.parametrize("mode", MODES)
def test_logout_ends_the_session_at_the_issuer(spa, mode):
    spa.log_in(mode, "alice")

    # The discovery document's end_session_endpoint (RP-Initiated Logout), with the ID token as
    # the hint, so the issuer logs out without asking, and a state it sends back.
    with (
        spa.page.expect_request(
            lambda request: request.url.startswith(f"{spa.stack.issuer}oidc/logout")
        ) as sent,
        spa.page.expect_event("load"),
    ):
        spa.page.get_by_test_id("logout").click()
    spa.settle()

    parameters = parse_qs(urlsplit(sent.value.url).query)
    assert set(parameters) == {"client_id", "post_logout_redirect_uri", "id_token_hint", "state"}
    assert parameters["post_logout_redirect_uri"] == [f"{spa.stack.spa_url}/"]
    assert f"{spa.stack.spa_url}/?state=" + quote(parameters["state"][0], safe="") in spa.addresses
    # The state left the address bar, and the page checked it was its own logout's.
    assert spa.page.url == f"{spa.stack.spa_url}/"
    expect(
        spa.page.locator("[data-testid=step]", has_text="Back from the issuer's logout endpoint")
    ).to_contain_text("✓ state matches")
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    # Back on the page, silent authentication asked the issuer: no session any more.
    expect(spa.page.get_by_test_id("steps")).to_contain_text(
        "checking for an existing session: none (the issuer answered error=login_required"
    )
    expect(spa.page.locator("[data-testid=step][data-outcome=failed]")).to_have_count(0)
    expect(spa.error).to_be_hidden()
    spa.start_login()


def forge_state(spa, forged):
    """Play an attacker on the way back: the issuer's answer to the login form reaches the
    browser with another `state` in the redirect to the SPA's callback.

    Playwright routes only the first request of a redirect chain, so the issuer's own redirects
    (login form, then /authorize) are followed here, with the browser context's cookies."""

    def rewrite(route):
        if not route.request.is_navigation_request():
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        location = response.headers.get("location")
        while location and not location.startswith(f"{spa.stack.spa_url}/callback"):
            location = spa.page.context.request.get(
                urljoin(spa.stack.issuer, location), max_redirects=0
            ).headers.get("location")
        location = re.sub(r"(?<=[?#&])state=[^&]*", "state=forged-by-an-attacker", location)
        forged.append(location)
        route.fulfill(status=303, headers={"location": location})

    spa.page.route(re.compile("^" + re.escape(spa.stack.issuer)), rewrite)


@pytest.mark.parametrize("mode", MODES)
def test_a_tampered_state_in_the_callback_is_refused(spa, mode):
    spa.open(mode)
    spa.start_login()
    forged = []
    forge_state(spa, forged)
    login(spa.page, *USERS["alice"])
    spa.settle()

    assert len(forged) == 1 and "state=forged-by-an-attacker" in forged[0]
    expect(spa.error).to_be_visible()
    expect(spa.error).to_have_attribute("data-code", "state_mismatch")
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    expect(spa.page.get_by_test_id("id-token-payload")).to_be_hidden()
    expect(spa.page.get_by_test_id("access-token-payload")).to_be_hidden()
    assert spa.api_requests == []
    assert "eyJ" not in json.dumps(spa.storage())
    # Nothing was kept that a later call could send.
    assert spa.call("messages")[0] == 401
    assert "authorization" not in spa.api_requests[-1].headers


@pytest.mark.parametrize("mode", MODES)
def test_tokens_stay_in_memory_never_in_web_storage_or_cookies(spa, mode):
    spa.log_in(mode, "alice")
    assert spa.call("messages")[0] == 200
    access_token = spa.api_requests[-1].headers["authorization"].removeprefix("Bearer ")

    storage = spa.storage()
    assert storage["local"] == {}
    assert access_token not in json.dumps(storage)
    assert "eyJ" not in json.dumps(storage)


@pytest.mark.parametrize(
    ("mode", "part", "credential"),
    [("implicit", "fragment", "access_token"), ("code", "query", "code")],
)
def test_the_authorization_response_leaves_the_address_bar(spa, mode, part, credential):
    spa.log_in(mode, "alice")

    landed = [
        address
        for address in spa.addresses
        if credential in parse_qs(getattr(urlsplit(address), part))
    ]
    assert landed, "the authorization response never reached the page"
    assert spa.page.url == f"{spa.stack.spa_url}/"
    assert spa.page.evaluate("() => window.location.href") == f"{spa.stack.spa_url}/"


@pytest.mark.parametrize("mode", MODES)
def test_a_reload_restores_the_session_silently_with_prompt_none(spa, mode):
    spa.log_in(mode, "alice")
    nonce_before = spa.decoded("id-token-payload")["nonce"]

    with spa.page.expect_request(spa.is_silent_authentication):
        spa.page.reload()
    spa.settle()

    expect(spa.status).to_have_attribute("data-state", "signed-in")
    assert spa.decoded("id-token-payload")["nonce"] != nonce_before
    assert spa.call("messages")[0] == 200
    assert spa.csp_violations() == []


def test_the_access_token_is_renewed_silently_before_it_expires(spa):
    # The page's clock is Playwright's: the test jumps it to the renewal time instead of waiting.
    # The implicit grant's access token (2 h) expires well within the ID token's lifetime (10 h),
    # so the ID token issued at the real time still validates at the jumped-to time.
    spa.page.clock.install()
    spa.log_in("implicit", "alice")
    nonce_before = spa.decoded("id-token-payload")["nonce"]
    expires_at = int(
        spa.page.get_by_test_id("access-token-expiry").get_attribute("data-expires-at")
    )

    with spa.page.expect_request(spa.is_silent_authentication):
        spa.page.clock.fast_forward(expires_at - spa.page.evaluate("() => Date.now()"))
    expect(spa.page.get_by_test_id("steps")).to_contain_text("the access token is about to expire")
    spa.settle()

    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.error).to_be_hidden()
    assert spa.decoded("id-token-payload")["nonce"] != nonce_before


# Short, so that a hung server's timeout is seen at once; long enough for the real servers on
# two busy cores. The page reads it from /config.json, where the test adds it.
HUNG_TIMEOUT_MS = 3000


def with_short_timeouts(spa):
    def add_timeout(route):
        settings = route.fetch().json()
        route.fulfill(json=settings | {"requestTimeoutMs": HUNG_TIMEOUT_MS})

    spa.page.route(f"{spa.stack.spa_url}/config.json", add_timeout)


HUNG_SERVERS = {
    # name: (the URL that never answers, the flow that meets it, the words naming it)
    "the discovery document": (
        "{issuer}.well-known/openid-configuration",
        None,
        "the issuer's discovery document",
    ),
    "the token endpoint": ("{issuer}oauth/token", "code", "the token endpoint"),
    "the JWKS": ("{issuer}.well-known/jwks.json", "implicit", "the issuer's JWKS"),
    "the API": ("{api_url}/api/public", None, "the API"),
}


@pytest.mark.parametrize("case", HUNG_SERVERS.values(), ids=HUNG_SERVERS.keys())
def test_a_server_that_never_answers_is_a_timeout_error_not_working_for_ever(spa, case):
    url, mode, named = case
    url = url.format(issuer=spa.stack.issuer, api_url=spa.stack.api_url)
    hung = []
    with_short_timeouts(spa)
    spa.page.route(url, lambda route: hung.append(route))  # never fulfilled, continued or aborted

    if mode is not None:
        spa.open(mode)
        spa.start_login()
        login(spa.page, *USERS["alice"])
    else:
        spa.page.goto(f"{spa.stack.spa_url}/")
    spa.settle()
    if url.endswith("/api/public"):
        spa.page.get_by_test_id("call-public").click()
        expect(spa.page.get_by_test_id("api-result")).to_have_attribute("data-status", "0")
        expect(spa.page.get_by_test_id("api-status")).to_have_text("0 timeout")
        spa.settle()

    assert len(hung) == 1 and hung[0].request.url == url
    expect(spa.error).to_be_visible()
    expect(spa.error).to_have_attribute("data-code", "timeout")
    expect(spa.error).to_contain_text(f"{named} (")
    expect(spa.error).to_contain_text(f"did not answer within {HUNG_TIMEOUT_MS // 1000} s")
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    expect(spa.page.get_by_test_id("id-token-payload")).to_be_hidden()
    if mode is not None or url.endswith("/api/public"):
        # The step that waited is the one that failed, with the reason.
        failed = spa.page.locator("[data-testid=step][data-outcome=failed]").last
        expect(failed).to_contain_text(f"timeout: {named}")


def test_the_implicit_mode_carries_the_rfc_9700_banner(spa):
    banner = spa.page.get_by_test_id("implicit-banner")
    spa.open("code")
    expect(banner).to_be_hidden()
    spa.open("implicit")
    expect(banner).to_be_visible()
    text = banner.inner_text()
    assert "RFC 9700" in text
    assert len(re.findall(r"[.!?](?:\s|$)", text.strip())) == 2
