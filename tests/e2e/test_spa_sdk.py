"""The SPA's third mode in Chromium: Auth0's SDK (auth0-spa-js) against the real stack.

The page calls the SDK only (createAuth0Client, loginWithRedirect, handleRedirectCallback,
getUser, isAuthenticated, getTokenSilently, logout) and narrates what the SDK sent as the
article's PKCE steps; these tests drive it as a learner does and check both what the SDK got
(a session, a token the API accepts) and what the steps panel says it sent.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import USERS, login
from tests.e2e.test_spa_flows import ARTICLE_STEPS, Spa
from tests.support.processes import PROJECT_ROOT

SDK_FILE = PROJECT_ROOT / "node_modules/@auth0/auth0-spa-js/dist/auth0-spa-js.production.esm.js"


@pytest.fixture(autouse=True)
def sdk_installed():
    # Installed by `make` (npm ci from package.json and package-lock.json), as Chromium is.
    if not SDK_FILE.exists():
        pytest.fail(f"auth0-spa-js not found at {SDK_FILE}: run `make test` (it runs npm ci)")


class SdkSpa(Spa):
    def open_sdk(self, use_refresh_tokens=False):
        self.open("sdk")
        self.settle()
        if use_refresh_tokens:
            self.page.get_by_test_id("sdk-refresh-tokens").check()
        expect(self.page.get_by_test_id("sdk-banner")).to_be_visible()
        expect(self.page.get_by_test_id("sdk-missing")).to_be_hidden()

    def log_in_with_redirect(self, user="alice", use_refresh_tokens=False):
        self.open_sdk(use_refresh_tokens)
        self.start_login()
        login(self.page, *USERS[user])
        self.settle()
        expect(self.status).to_have_attribute("data-state", "signed-in")

    def steps(self):
        """The steps panel: (step number or None, title, lines) for each entry."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll("[data-testid=step]")].map((item) => ({
                step: item.dataset.step ? Number(item.dataset.step) : null,
                outcome: item.dataset.outcome,
                title: (item.querySelector(".step-text") ?? item.querySelector(".step-title")).textContent,
                lines: [...item.querySelectorAll("ul li")].map((line) => line.textContent),
            }))"""
        )

    def numbered(self, number):
        return [entry for entry in self.steps() if entry["step"] == number]

    def narrated_parameters(self, entry):
        """The `  name = value` lines of a step entry, as a dict."""
        return dict(
            re.fullmatch(r"  (\S+) = (.*)", line).groups()
            for line in entry["lines"]
            if re.fullmatch(r"  (\S+) = (.*)", line)
        )

    def cookies(self):
        return {cookie["name"] for cookie in self.page.context.cookies(self.stack.spa_url)}


@pytest.fixture
def spa(page, stack):
    return SdkSpa(page, stack)


def authorize_requests(spa):
    """The /authorize requests the browser really sent (page, iframe or popup)."""
    return [
        request for request in spa.sent if request.url.startswith(f"{spa.stack.issuer}authorize?")
    ]


@pytest.fixture
def recorded(spa):
    spa.sent = []
    spa.page.context.on("request", lambda request: spa.sent.append(request))
    return spa


def test_login_with_redirect_narrates_the_requests_the_sdk_sent(recorded):
    spa = recorded
    spa.log_in_with_redirect()

    # handleRedirectCallback, getUser, isAuthenticated: the profile is the SDK's user.
    expect(spa.status).to_contain_text("alice@flowlab.test")
    expect(spa.status).to_contain_text("Auth0 SDK (auth0-spa-js)")
    expect(spa.page.get_by_test_id("profile")).to_contain_text("alice@flowlab.test")
    assert spa.decoded("id-token-payload")["email"] == "alice@flowlab.test"
    assert spa.stack.audience in spa.decoded("access-token-payload")["aud"]

    # Step 1: the /authorize URL the SDK built, parameter by parameter, as the browser sent it.
    (request_step,) = spa.numbered(1)
    assert request_step["title"] == ARTICLE_STEPS["code"][0]
    narrated = spa.narrated_parameters(request_step)
    # The SDK's (it names itself in auth0Client); the login page sends the browser back to the
    # same URL once the password is checked.
    sent = [request for request in authorize_requests(spa) if "auth0Client=" in request.url]
    assert sent
    query = {name: values[0] for name, values in parse_qs(urlsplit(sent[0].url).query).items()}
    assert narrated == query
    assert narrated["response_type"] == "code"
    assert narrated["response_mode"] == "query"
    assert narrated["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", narrated["code_challenge"])
    assert narrated["client_id"] == "spa-demo"
    assert narrated["redirect_uri"] == f"{spa.stack.spa_url}/callback"
    assert narrated["audience"] == spa.stack.audience
    assert "offline_access" not in narrated["scope"]
    assert any("openUrl" in line for line in request_step["lines"])

    # Steps 2 to 4: the code in the query string, then the SDK's token request and its answer.
    (response_step,) = spa.numbered(2)
    assert response_step["title"] == ARTICLE_STEPS["code"][1]
    assert "code" in spa.narrated_parameters(response_step)
    (token_request,) = spa.numbered(3)
    assert token_request["title"] == ARTICLE_STEPS["code"][2]
    token_parameters = spa.narrated_parameters(token_request)
    assert token_parameters["grant_type"] == "authorization_code"
    assert token_parameters["client_id"] == "spa-demo"
    assert token_parameters["redirect_uri"] == f"{spa.stack.spa_url}/callback"
    assert {"code", "code_verifier"} <= token_parameters.keys()
    assert token_request["lines"][0].startswith(f"POST {spa.stack.issuer}oauth/token (fetch")
    (token_response,) = spa.numbered(4)
    assert token_response["title"] == ARTICLE_STEPS["code"][3]
    assert token_response["lines"][0].startswith("200 from the token endpoint: ")
    assert "access_token" in token_response["lines"][0]
    notes = "\n".join(line for entry in spa.steps() for line in [entry["title"], *entry["lines"]])
    assert "getUser() → alice@flowlab.test" in notes
    assert "isAuthenticated() → true" in notes

    # Step 5: the API buttons use getTokenSilently(), from the SDK's cache.
    status, body = spa.call("messages")
    assert status == 200
    assert isinstance(body, list | dict)
    api_step = spa.numbered(5)[-1]
    assert api_step["title"] == ARTICLE_STEPS["code"][4]
    assert spa.api_requests[-1].headers["authorization"].startswith("Bearer ey")
    assert any(
        "from the SDK's memory cache" in line for entry in spa.steps() for line in entry["lines"]
    )

    # The SDK keeps no token in web storage or cookies (memory cache), only its transaction's
    # absence and its is.authenticated flag.
    storage = spa.storage()
    assert storage["local"] == {}
    assert not any("ey" in value for value in storage["session"].values())
    assert spa.csp_violations() == []


def test_get_token_silently_with_use_refresh_tokens(recorded):
    spa = recorded
    spa.log_in_with_redirect(use_refresh_tokens=True)
    (request_step,) = spa.numbered(1)
    assert "offline_access" in spa.narrated_parameters(request_step)["scope"].split()
    (token_request,) = spa.numbered(3)
    assert "Web Worker" in token_request["lines"][0]
    first_token = spa.decoded("access-token-payload")

    # "Renew silently": getTokenSilently({ cacheMode: "off" }) with the refresh token, no iframe.
    iframes_before = len(authorize_requests(spa))
    spa.page.get_by_test_id("renew").click()
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.error).to_be_hidden()
    # Not one of the article's steps: a note with the request the page gave the worker.
    entries = spa.steps()
    (refresh_request,) = [
        entry for entry in entries if "grant_type refresh_token" in entry["title"]
    ]
    assert refresh_request["step"] is None
    parameters = spa.narrated_parameters(refresh_request)
    assert parameters["grant_type"] == "refresh_token"
    assert parameters["client_id"] == "spa-demo"
    assert "refresh_token" not in parameters
    assert any("the SDK's Web Worker adds it" in line for line in refresh_request["lines"])
    answer = entries[entries.index(refresh_request) + 1]
    assert answer["lines"][0].startswith("200 from the token endpoint: ")
    assert len(spa.numbered(3)) == 1
    assert len(authorize_requests(spa)) == iframes_before
    assert spa.decoded("access-token-payload")["jti"] != first_token["jti"]

    status, _ = spa.call("messages")
    assert status == 200
    # The refresh token never reached the page (the worker keeps it).
    refresh_posts = [
        request
        for request in spa.sent
        if request.url == f"{spa.stack.issuer}oauth/token"
        and "refresh_token" in (request.post_data or "")
    ]
    assert refresh_posts
    assert spa.csp_violations() == []


def test_logout_with_the_sdk_ends_the_session_at_the_issuer(recorded):
    spa = recorded
    spa.log_in_with_redirect()
    assert "auth0.spa-demo.is.authenticated" in spa.cookies()
    spa.page.get_by_test_id("logout").click()
    spa.page.wait_for_url(f"{spa.stack.spa_url}/")
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    expect(spa.error).to_be_hidden()
    (logout,) = [request for request in spa.sent if "/v2/logout" in request.url]
    query = parse_qs(urlsplit(logout.url).query)
    assert query["client_id"] == ["spa-demo"]
    assert query["returnTo"] == [f"{spa.stack.spa_url}/"]
    assert "auth0.spa-demo.is.authenticated" not in spa.cookies()
    notes = [entry["title"] for entry in spa.steps()]
    assert any(title.startswith("isAuthenticated() → false") for title in notes)

    # The issuer's session is gone too: the next login asks for the password again.
    spa.start_login()


def test_without_the_npm_install_the_sdk_mode_says_so_and_the_others_work(spa, stack, page):
    page.route("**/vendor/auth0-spa-js/**", lambda route: route.fulfill(status=404, body="{}"))
    spa.open("sdk")
    spa.settle()
    expect(page.get_by_test_id("sdk-missing")).to_be_visible()
    expect(page.get_by_test_id("sdk-missing")).to_contain_text("npm install")
    expect(spa.error).to_have_attribute("data-code", "sdk_missing")
    # The hand-written PKCE mode is unaffected.
    page.get_by_test_id("mode-code").check()
    spa.start_login()
    login(page, *USERS["alice"])
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")


def test_after_a_reload_get_token_silently_uses_the_iframe_and_web_message(recorded):
    spa = recorded
    spa.log_in_with_redirect()
    spa.page.reload()
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.error).to_be_hidden()
    expect(spa.status).to_contain_text("alice@flowlab.test")

    # The silent request as the SDK's hidden iframe sent it, then the posted response.
    silent = [entry for entry in spa.numbered(1) if "hidden iframe" in " ".join(entry["lines"])]
    assert silent
    narrated = spa.narrated_parameters(silent[-1])
    assert narrated["prompt"] == "none"
    assert narrated["response_mode"] == "web_message"
    assert narrated["code_challenge_method"] == "S256"
    assert "code_challenge" in narrated
    sent = [
        request for request in authorize_requests(spa) if "response_mode=web_message" in request.url
    ]
    assert sent and sent[-1].frame != spa.page.main_frame
    posted = spa.numbered(2)[-1]
    assert any("postMessage" in line for line in posted["lines"])
    assert "code" in spa.narrated_parameters(posted)
    assert spa.narrated_parameters(posted)["state"] == narrated["state"]
    assert spa.numbered(3)[-1]["lines"][0].startswith(f"POST {spa.stack.issuer}oauth/token")

    status, _ = spa.call("messages")
    assert status == 200
    assert spa.csp_violations() == []


def test_login_with_popup(recorded):
    spa = recorded
    spa.open_sdk()
    with spa.page.expect_popup() as opened:
        spa.page.get_by_test_id("login-popup").click()
    popup = opened.value
    popup.wait_for_url(f"{spa.stack.issuer}**")
    expect(popup.locator("input[name=username]")).to_be_visible()
    # The SDK closes the popup as soon as the response is posted, which can be before the
    # login click returns: wait for the close from before the click.
    with popup.expect_event("close"):
        login(popup, *USERS["bob"])
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.status).to_contain_text("bob@flowlab.test")
    # The main page never left.
    assert all(not address.startswith(spa.stack.issuer) for address in spa.addresses)

    request_step = spa.numbered(1)[-1]
    assert any("loginWithPopup()" in line for line in request_step["lines"])
    narrated = spa.narrated_parameters(request_step)
    assert narrated["response_mode"] == "web_message"
    assert "code_challenge" in narrated
    assert "prompt" not in narrated
    posted = spa.numbered(2)[-1]
    assert any("postMessage" in line for line in posted["lines"])
    assert spa.narrated_parameters(spa.numbered(3)[-1])["grant_type"] == "authorization_code"

    status, _ = spa.call("messages")
    assert status == 200
    assert spa.csp_violations() == []


def test_the_sdk_needs_only_the_narrow_trusted_types_policy(spa):
    spa.open_sdk(use_refresh_tokens=True)
    spa.start_login()
    login(spa.page, *USERS["alice"])
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    verdicts = spa.page.evaluate(
        """() => {
            const attempt = (action) => {
                try { action(); return "allowed"; } catch (error) { return error.name; }
            };
            return {
                // The SDK's default worker: a blob: URL given as a string.
                blobWorker: attempt(() => new Worker(URL.createObjectURL(new Blob([""])))),
                // Any other policy, or the SDK's policy name a second time.
                otherPolicy: attempt(() => trustedTypes.createPolicy("another", {})),
                samePolicyAgain: attempt(() => trustedTypes.createPolicy("auth0-spa-js-worker", {})),
                html: attempt(() => { document.body.innerHTML = "<b>x</b>"; }),
            };
        }"""
    )
    assert verdicts == {
        "blobWorker": "TypeError",
        "otherPolicy": "TypeError",
        "samePolicyAgain": "TypeError",
        "html": "TypeError",
    }
