"""Consent: a third-party application (partner-app) asks the user for the scopes it gets."""

from urllib.parse import urlsplit

import pytest

from tests.authserver.helpers import (
    ALICE,
    API,
    BOB,
    NATIVE_CALLBACK,
    PKCE,
    code_request,
    exchange_code,
    forms,
    redirect_parameters,
    run_code_flow,
    verified_claims,
)

SCOPE = "openid profile read:messages write:messages"


def partner_request(pkce, **extra):
    return code_request("partner-app", NATIVE_CALLBACK, pkce, **{"audience": API, "scope": SCOPE, **extra})


def consent_page(browser, request, credentials=BOB):
    page = browser.sign_in(browser.authorize(**request), credentials)
    assert page.status_code == 200, page.status_code
    return page


def test_consent_page_lists_the_scopes_the_application_would_get(browser, pkce):
    page = consent_page(browser, partner_request(pkce))
    assert "Partner App" in page.text
    # Bob may only read messages: write:messages is neither granted nor asked for.
    assert "<code>read:messages</code>" in page.text and "<code>profile</code>" in page.text
    assert "write:messages" not in page.text
    (form,) = forms(page.text)
    decisions = {(b.get("name"), b.get("value"), b.get("type")) for b in form["buttons"]}
    assert decisions == {("decision", "allow", "submit"), ("decision", "deny", "submit")}
    assert form["inputs"]["csrf_token"]["value"]


def test_allow_issues_the_code_and_is_remembered_per_user_and_application(browser, authserver, pkce):
    response = browser.decide(consent_page(browser, partner_request(pkce)), "allow")
    assert response.status_code == 303
    answer = redirect_parameters(browser.follow(response))
    tokens = exchange_code(authserver, answer["code"], "partner-app", NATIVE_CALLBACK, pkce.verifier)
    assert tokens.json()["scope"] == "openid profile read:messages"
    # Asked once: the next authorization for the same scopes goes through without a page.
    again = browser.authorize(**partner_request(PKCE.new()))
    assert again.status_code == 302 and "code" in redirect_parameters(again)
    # Fewer scopes are covered by the consent too; more scopes ask again.
    fewer = browser.authorize(**partner_request(PKCE.new(), scope="openid read:messages"))
    assert "code" in redirect_parameters(fewer)
    more = browser.authorize(**partner_request(PKCE.new(), scope=f"{SCOPE} email"))
    assert more.status_code == 200 and "<code>email</code>" in more.text


def test_deny_answers_access_denied_with_303(browser, authserver, pkce):
    request = partner_request(pkce)
    response = browser.decide(consent_page(browser, request), "deny")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{NATIVE_CALLBACK}?")
    assert redirect_parameters(response) == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request",
        "state": request["state"],
        "iss": authserver.issuer,
    }
    # Denying remembers nothing: the next request asks again.
    assert browser.authorize(**partner_request(PKCE.new())).status_code == 200


def test_prompt_none_answers_consent_required_instead_of_asking(browser, pkce):
    run_code_flow(browser, credentials=BOB)
    request = partner_request(pkce, prompt="none")
    answer = redirect_parameters(browser.authorize(**request))
    assert answer["error"] == "consent_required"
    assert answer["state"] == request["state"]


def test_first_party_applications_are_not_asked(browser):
    flow = run_code_flow(browser, credentials=BOB, client_id="native-demo", redirect_uri=NATIVE_CALLBACK)
    assert flow.tokens["access_token"]


def test_prompt_consent_asks_a_first_party_user_too(browser, pkce):
    run_code_flow(browser)
    request = code_request("spa-demo", "http://localhost:3000/callback", pkce, prompt="consent")
    page = browser.authorize(**request)
    assert page.status_code == 200 and "decision" in page.text
    assert "code" in redirect_parameters(browser.follow(browser.decide(page, "allow")))


@pytest.mark.parametrize("csrf_token", [None, "forged-token"])
def test_consent_form_requires_the_csrf_token_of_the_session(browser, pkce, csrf_token):
    page = consent_page(browser, partner_request(pkce))
    data = {"decision": "allow"} | ({"csrf_token": csrf_token} if csrf_token else {})
    response = browser.session.post(page.url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert browser.authorize(**partner_request(PKCE.new())).status_code == 200


# A third-party application gets nothing without a stored consent of the user for that
# application and API, whatever it asks for: no scope, an empty one, only unknown scopes,
# openid alone; for the API, or for /userinfo (no audience).
SCOPES_WITHOUT_AN_API_SCOPE = [
    pytest.param(None, id="scope-missing"),
    pytest.param("", id="scope-empty"),
    pytest.param("unknown:scope", id="scope-unknown"),
    pytest.param("openid", id="openid-only"),
]


@pytest.mark.parametrize("audience", [API, None], ids=["api", "userinfo"])
@pytest.mark.parametrize("scope", SCOPES_WITHOUT_AN_API_SCOPE)
def test_a_third_party_application_without_consent_is_asked_whatever_the_scope(browser, pkce, scope, audience):
    page = consent_page(browser, partner_request(pkce, scope=scope, audience=audience), ALICE)
    assert urlsplit(page.url).path == "/u/consent" and "decision" in page.text


@pytest.mark.parametrize("scope", SCOPES_WITHOUT_AN_API_SCOPE)
def test_prompt_none_without_consent_answers_consent_required_whatever_the_scope(browser, pkce, scope):
    run_code_flow(browser)
    request = partner_request(pkce, scope=scope, prompt="none")
    answer = redirect_parameters(browser.authorize(**request))
    assert answer["error"] == "consent_required" and "code" not in answer


def partner_tokens(browser, authserver, scope: str, check_page=None) -> dict:
    """Alice consents to partner-app's request for ``scope`` (``check_page`` sees the page first)."""
    pkce = PKCE.new()
    page = consent_page(browser, partner_request(pkce, scope=scope), ALICE)
    if check_page is not None:
        check_page(page)
    answer = redirect_parameters(browser.follow(browser.decide(page, "allow")))
    tokens = exchange_code(authserver, answer["code"], "partner-app", NATIVE_CALLBACK, pkce.verifier)
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_a_consent_to_openid_alone_gives_a_third_party_token_no_permission(browser, authserver):
    tokens = partner_tokens(browser, authserver, "openid")
    _, claims = verified_claims(authserver, tokens["access_token"], API)
    # Alice holds read:stats, but she let partner-app know who she is, nothing more.
    assert claims["scope"] == "openid"
    assert claims["permissions"] == []


def shows_exactly_read_messages(page):
    assert "Permissions its access token will carry:\n<code>read:messages</code>." in page.text
    assert "read:stats" not in page.text


def test_a_third_party_token_carries_only_the_consented_permissions(browser, authserver):
    tokens = partner_tokens(browser, authserver, "openid read:messages", check_page=shows_exactly_read_messages)
    _, claims = verified_claims(authserver, tokens["access_token"], API)
    assert claims["scope"] == "openid read:messages"
    assert claims["permissions"] == ["read:messages"]


def test_a_refreshed_third_party_token_keeps_to_the_consented_permissions(browser, authserver):
    tokens = partner_tokens(browser, authserver, "openid offline_access read:messages")
    refreshed = authserver.token(
        {"grant_type": "refresh_token", "client_id": "partner-app", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    _, claims = verified_claims(authserver, refreshed.json()["access_token"], API)
    assert claims["permissions"] == ["read:messages"]
