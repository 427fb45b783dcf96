"""The SPA as a newcomer first sees it, in Chromium against the real stack: the live sequence
diagram beside the steps panel in all three modes, a calm first view, a narrated logout,
refusals that look like refusals, token times as dates with each claim explained, the note on
/api/me's empty profile, a page that fits a phone, and no request that fails on the way.
"""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import USERS, login
from tests.e2e.test_spa_flows import ARTICLE_STEPS, forge_state
from tests.e2e.test_spa_sdk import SDK_FILE, SdkSpa

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def spa(page, stack):
    return SdkSpa(page, stack)


def log_in(spa, mode, user="alice"):
    if mode == "sdk":
        if not SDK_FILE.exists():
            pytest.fail(f"auth0-spa-js not found at {SDK_FILE}: run `make test` (it runs npm ci)")
        spa.log_in_with_redirect(user)
    else:
        spa.log_in(mode, user)


def arrows(spa):
    """The sequence diagram's arrows, in order: (from, to, kind, label)."""
    return [
        tuple(arrow)
        for arrow in spa.page.locator(
            "[data-testid=sequence-diagram] [data-testid=arrow]"
        ).evaluate_all(
            "(items) => items.map((item) => [item.dataset.from, item.dataset.to, item.dataset.kind, item.dataset.label])"
        )
    ]


def hover_texts(spa):
    """What each arrow says on hover (its SVG <title>)."""
    return spa.page.locator(
        "[data-testid=sequence-diagram] [data-testid=arrow] > title"
    ).all_text_contents()


def expect_arrows(spa, count):
    expect(spa.page.get_by_test_id("sequence-diagram")).to_have_attribute("data-arrows", str(count))


def as_date(seconds):
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# The diagram of a login then one API call: the article's numbered steps, then the API's answer.
LOGIN_AND_CALL = {
    "code": [
        ("browser", "issuer", "request", "1 · GET /authorize"),
        ("issuer", "browser", "response", "2 · code in the ?query"),
        ("browser", "issuer", "request", "3 · POST /oauth/token"),
        ("issuer", "browser", "response", "4 · tokens"),
        ("browser", "api", "request", "5 · GET /api/messages"),
        ("api", "browser", "response", "200 OK"),
    ],
    "implicit": [
        ("browser", "issuer", "request", "1 · GET /authorize"),
        ("issuer", "issuer", "request", "2 · the user signs in"),
        ("issuer", "browser", "response", "3 · tokens in the #fragment"),
        ("browser", "api", "request", "4 · GET /api/messages"),
        ("api", "browser", "response", "200 OK"),
    ],
    "sdk": [
        ("browser", "issuer", "request", "1 · GET /authorize"),
        ("issuer", "browser", "response", "2 · code in the ?query"),
        ("browser", "issuer", "request", "3 · POST /oauth/token"),
        ("issuer", "browser", "response", "4 · 200 tokens"),
        ("browser", "api", "request", "5 · GET /api/messages"),
        ("api", "browser", "response", "200 OK"),
    ],
}


@pytest.mark.parametrize("mode", LOGIN_AND_CALL)
def test_the_sequence_diagram_draws_each_request_as_it_happens(spa, mode):
    log_in(spa, mode)
    login_arrows = len(LOGIN_AND_CALL[mode]) - 2
    expect_arrows(spa, login_arrows)
    assert arrows(spa) == LOGIN_AND_CALL[mode][:login_arrows]

    # The API call adds its request and its answer, and nothing starts again.
    assert spa.call("messages")[0] == 200
    expect_arrows(spa, login_arrows + 2)
    assert arrows(spa) == LOGIN_AND_CALL[mode]
    # Hovering a numbered arrow shows the article's sentence for the step.
    article = ARTICLE_STEPS["implicit" if mode == "implicit" else "code"]
    for text, (_, _, _, label) in zip(hover_texts(spa), arrows(spa), strict=True):
        number = re.match(r"(\d+) · ", label)
        if number:
            assert article[int(number.group(1)) - 1] in text
    # The diagram sits beside the steps panel, in the same column, and the page's CSP held.
    assert (
        spa.page.locator(".column:has([data-testid=sequence-diagram]) [data-testid=steps]").count()
        == 1
    )
    assert spa.csp_violations() == []


def test_a_new_flow_clears_the_diagram(spa):
    log_in(spa, "code")
    assert spa.call("messages")[0] == 200
    expect_arrows(spa, 6)

    spa.page.get_by_test_id("renew").click()
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    # A silent re-authentication is a new flow: its own request, then the rest of its steps.
    drawn = arrows(spa)
    assert drawn[0] == ("browser", "issuer", "request", "1 · GET /authorize prompt=none")
    assert [label for *_, label in drawn] == [
        "1 · GET /authorize prompt=none",
        "2 · code in the ?query",
        "3 · POST /oauth/token",
        "4 · tokens",
    ]


@pytest.mark.parametrize("mode", ["code", "implicit"])
def test_the_first_view_is_a_neutral_check_for_a_session_not_an_error(spa, mode):
    spa.open(mode)
    spa.page.reload()
    spa.settle()

    steps = spa.page.get_by_test_id("steps")
    expect(steps).to_contain_text("checking for an existing session: none")
    expect(spa.page.locator("[data-testid=step][data-outcome=failed]")).to_have_count(0)
    expect(steps).not_to_contain_text("✗")
    expect(steps).not_to_contain_text("recognised its session cookie")
    expect(spa.error).to_be_hidden()
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    # In the diagram: the silent request and its calm, grey answer.
    assert arrows(spa) == [
        ("browser", "issuer", "request", "GET /authorize prompt=none"),
        ("issuer", "browser", "neutral", "error=login_required: no session"),
    ]


def test_the_sdk_modes_first_view_is_calm_too(spa):
    spa.open_sdk()
    spa.page.reload()
    spa.settle()
    expect(spa.page.get_by_test_id("steps")).to_contain_text(
        "checking for an existing session: none"
    )
    expect(spa.page.locator("[data-testid=step][data-outcome=failed]")).to_have_count(0)
    expect(spa.error).to_be_hidden()


@pytest.mark.parametrize("mode", ["code", "implicit"])
def test_the_issuer_recognised_its_session_cookie_only_when_it_did(spa, mode):
    log_in(spa, mode)
    # The interactive login says so; no session cookie was used.
    expect(spa.page.get_by_test_id("steps")).not_to_contain_text("recognised its session cookie")

    spa.page.reload()
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    expect(spa.page.get_by_test_id("steps")).to_contain_text(
        "prompt=none: the issuer recognised its session cookie"
    )
    expect(spa.page.get_by_test_id("steps")).not_to_contain_text(
        "checking for an existing session: none"
    )


@pytest.mark.parametrize(
    ("mode", "endpoint", "redirect_parameter"),
    [
        ("code", "/oidc/logout", "post_logout_redirect_uri"),
        ("implicit", "/oidc/logout", "post_logout_redirect_uri"),
        ("sdk", "/v2/logout", "returnTo"),
    ],
)
def test_logout_is_narrated_with_its_return_address_then_signed_out(
    spa, mode, endpoint, redirect_parameter
):
    log_in(spa, mode)
    spa.page.get_by_test_id("logout").click()
    spa.page.wait_for_url(f"{spa.stack.spa_url}/")
    spa.settle()

    logout_step = spa.page.locator("[data-testid=step]", has_text="Log out: tokens dropped")
    expect(logout_step).to_contain_text(f"GET {spa.stack.issuer.rstrip('/')}{endpoint}")
    expect(logout_step).to_contain_text(f"{redirect_parameter} = {spa.stack.spa_url}/")
    expect(
        spa.page.locator("[data-testid=step]", has_text="Back from the issuer's logout endpoint")
    ).to_contain_text(f"at returnTo ({spa.stack.spa_url}/)")
    expect(spa.page.locator("[data-testid=step]", has_text="Signed out: no token")).to_be_visible()
    expect(spa.status).to_have_attribute("data-state", "signed-out")
    expect(spa.status).to_have_text(
        "Signed out: the app dropped its tokens and the issuer ended its session. Log in to start again."
    )
    expect(spa.error).to_be_hidden()
    assert arrows(spa)[:2] == [
        ("browser", "issuer", "request", f"GET {endpoint}"),
        ("issuer", "browser", "response", "redirect to returnTo"),
    ]


def refused_step(spa):
    return spa.page.locator("[data-testid=step]").last


def test_a_403_is_shown_as_a_refusal_with_its_challenge(spa):
    log_in(spa, "code", "bob")
    assert spa.call("post-message")[0] == 403

    step = refused_step(spa)
    expect(step).to_have_attribute("data-outcome", "refused")
    expect(step).to_contain_text('WWW-Authenticate: Bearer realm="https://api.flowlab.local"')
    expect(step).to_contain_text('error="insufficient_scope"')
    expect(step).to_contain_text("✗ Refused by the API, insufficient_scope")
    # Not the green border of a success: the refusal's own colour, and a red answer arrow.
    success = spa.page.locator("[data-testid=step][data-outcome=done]").first
    assert step.evaluate("(item) => getComputedStyle(item).borderLeftColor") != success.evaluate(
        "(item) => getComputedStyle(item).borderLeftColor"
    )
    expect(spa.page.get_by_test_id("api-www-authenticate")).to_contain_text("insufficient_scope")
    assert arrows(spa)[-1] == ("api", "browser", "error", "403 insufficient_scope")


def test_a_401_without_a_token_is_shown_as_a_refusal_with_its_challenge(spa):
    spa.open("code")
    assert spa.call("messages")[0] == 401

    step = refused_step(spa)
    expect(step).to_have_attribute("data-outcome", "refused")
    expect(step).to_contain_text('WWW-Authenticate: Bearer realm="https://api.flowlab.local"')
    expect(spa.page.get_by_test_id("api-www-authenticate")).to_be_visible()
    expect(step).to_contain_text("✗ Refused by the API, unauthorized: An access token is required")
    assert arrows(spa)[-2:] == [
        ("browser", "api", "request", "GET /api/messages"),
        ("api", "browser", "error", "401 unauthorized"),
    ]


def test_a_refused_authorization_response_is_a_red_arrow(spa):
    spa.open("code")
    spa.start_login()
    forge_state(spa, [])
    login(spa.page, *USERS["alice"])
    spa.settle()
    expect(spa.error).to_have_attribute("data-code", "state_mismatch")
    assert arrows(spa)[-1] == ("browser", "browser", "error", "✗ state_mismatch")


@pytest.mark.parametrize("mode", ["code", "implicit"])
def test_token_times_are_dates_and_each_claim_is_explained(spa, mode):
    log_in(spa, mode)
    id_claims = spa.decoded("id-token-payload")
    access_claims = spa.decoded("access-token-payload")

    for name in ("iat", "exp", "auth_time"):
        shown = spa.page.get_by_test_id("id-token-payload").get_by_test_id(f"claim-{name}")
        expect(shown.locator(".claim-value")).to_have_text(str(id_claims[name]))
        expect(shown.locator(".claim-date")).to_have_text(as_date(id_claims[name]))
    access_panel = spa.page.get_by_test_id("access-token-payload")
    expect(access_panel.get_by_test_id("claim-exp").locator(".claim-date")).to_have_text(
        as_date(access_claims["exp"])
    )
    expiry = spa.page.get_by_test_id("access-token-expiry")
    expires_at = int(expiry.get_attribute("data-expires-at"))
    expect(expiry).to_contain_text(f"Expires at {as_date(expires_at // 1000)}")

    def meaning(panel, name):
        return panel.get_by_test_id(f"claim-{name}").locator(".claim-meaning")

    id_panel = spa.page.get_by_test_id("id-token-payload")
    expect(meaning(access_panel, "azp")).to_contain_text("the application the token was issued to")
    expect(meaning(id_panel, "aud")).to_contain_text("never send it to an API")
    expect(meaning(id_panel, "nonce")).to_contain_text("proves the ID token answers that request")
    expect(meaning(id_panel, "auth_time")).to_contain_text("last typed their password")
    expect(meaning(access_panel, "aud")).to_contain_text("the second, /userinfo")
    expect(meaning(access_panel, "permissions")).to_contain_text(
        "scope is what this application may do"
    )
    expect(meaning(access_panel, "scope")).to_contain_text("the API checks")
    if "at_hash" in id_claims:
        expect(meaning(id_panel, "at_hash")).to_contain_text(
            "binds the ID token to the access token"
        )
    assert mode == "code" or "at_hash" in id_claims
    # On hover too: the claim's name carries the same line.
    assert (
        access_panel.locator("dt", has_text="azp")
        .get_attribute("title")
        .startswith("Authorized party")
    )


def test_api_me_explains_why_name_and_email_are_null(spa):
    log_in(spa, "code")
    status, body = spa.call("me")
    assert status == 200
    assert body["name"] is None and body["email"] is None
    note = spa.page.get_by_test_id("api-profile-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Auth0 access tokens carry no profile claims")
    expect(note).to_contain_text("ID token")
    expect(note).to_contain_text("/userinfo")
    # Another endpoint's answer does not carry the note.
    assert spa.call("messages")[0] == 200
    expect(note).to_be_hidden()


def scroll_width(spa):
    return spa.page.evaluate("() => document.documentElement.scrollWidth")


def test_the_page_fits_a_390_pixel_screen(spa):
    spa.page.set_viewport_size(PHONE)
    spa.open("implicit")
    assert scroll_width(spa) <= PHONE["width"]

    spa.start_login()
    login(spa.page, *USERS["bob"])
    spa.settle()
    expect(spa.status).to_have_attribute("data-state", "signed-in")
    assert spa.call("post-message")[0] == 403
    assert spa.call("me")[0] == 200
    spa.page.locator(".payload summary").first.click()
    assert scroll_width(spa) <= PHONE["width"]
    # The diagram scrolls inside its own frame instead of widening the page.
    frame = spa.page.locator(".diagram-frame")
    assert frame.evaluate("(node) => node.getBoundingClientRect().right") <= PHONE["width"]


def test_no_request_fails_during_a_flow_and_both_servers_have_a_favicon(spa, stack):
    failed = []
    spa.page.context.on(
        "response",
        lambda response: response.status >= 400 and failed.append((response.status, response.url)),
    )
    log_in(spa, "code")
    assert spa.call("messages")[0] == 200
    spa.page.get_by_test_id("logout").click()
    spa.page.wait_for_url(f"{stack.spa_url}/")
    spa.settle()

    assert failed == []
    # Chromium's line for a resource answered 4xx or 5xx ("Failed to load resource: the server
    # responded with a status of 404"); a bare "404" would also match a port in a logged URL.
    assert [text for text in spa.console_errors if "Failed to load" in text] == []
    for origin in (stack.spa_url, stack.issuer.rstrip("/")):
        answer = spa.page.request.get(f"{origin}/static/favicon.svg")
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
    spa.page.goto(f"{stack.spa_url}/")
    assert spa.page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    spa.start_login()
    assert spa.page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
