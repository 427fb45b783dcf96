"""Consent: a third-party application (partner-app) asks the user for the scopes it gets."""

from urllib.parse import urlsplit

import pytest

from authserver.grants.base import Auth0GrantMixin
from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
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
    return code_request(
        "partner-app", NATIVE_CALLBACK, pkce, **{"audience": API_AUDIENCE, "scope": SCOPE, **extra}
    )


def consent_page(user_agent, request, credentials=BOB):
    page = user_agent.sign_in(user_agent.authorize(**request), credentials)
    assert page.status_code == 200, page.status_code
    return page


def test_consent_page_lists_the_scopes_the_application_would_get(user_agent, pkce):
    page = consent_page(user_agent, partner_request(pkce))
    assert "Partner App" in page.text
    # Bob may only read messages: write:messages is neither granted nor asked for.
    assert "<code>read:messages</code>" in page.text and "<code>profile</code>" in page.text
    assert "write:messages" not in page.text
    (form,) = forms(page.text)
    decisions = {(b.get("name"), b.get("value"), b.get("type")) for b in form["buttons"]}
    assert decisions == {("decision", "allow", "submit"), ("decision", "deny", "submit")}
    assert form["inputs"]["csrf_token"]["value"]


def test_allow_issues_the_code_and_is_remembered_per_user_and_application(
    user_agent, authserver, pkce
):
    response = user_agent.decide(consent_page(user_agent, partner_request(pkce)), "allow")
    assert response.status_code == 303
    answer = redirect_parameters(user_agent.follow(response))
    tokens = exchange_code(
        authserver, answer["code"], "partner-app", NATIVE_CALLBACK, pkce.verifier
    )
    assert tokens.json()["scope"] == "openid profile read:messages"
    # Asked once: the next authorization for the same scopes goes through without a page.
    again = user_agent.authorize(**partner_request(PKCE.new()))
    assert again.status_code == 302 and "code" in redirect_parameters(again)
    # Fewer scopes are covered by the consent too; more scopes ask again.
    fewer = user_agent.authorize(**partner_request(PKCE.new(), scope="openid read:messages"))
    assert "code" in redirect_parameters(fewer)
    more = user_agent.authorize(**partner_request(PKCE.new(), scope=f"{SCOPE} email"))
    assert more.status_code == 200 and "<code>email</code>" in more.text


def test_deny_answers_access_denied_with_303(user_agent, authserver, pkce):
    request = partner_request(pkce)
    response = user_agent.decide(consent_page(user_agent, request), "deny")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{NATIVE_CALLBACK}?")
    assert redirect_parameters(response) == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request",
        "state": request["state"],
        "iss": authserver.issuer,
    }
    # Denying remembers nothing: the next request asks again.
    assert user_agent.authorize(**partner_request(PKCE.new())).status_code == 200


def test_prompt_none_answers_consent_required_instead_of_asking(user_agent, pkce):
    run_code_flow(user_agent, credentials=BOB)
    request = partner_request(pkce, prompt="none")
    answer = redirect_parameters(user_agent.authorize(**request))
    assert answer["error"] == "consent_required"
    assert answer["state"] == request["state"]


def test_first_party_applications_are_not_asked(user_agent):
    flow = run_code_flow(
        user_agent, credentials=BOB, client_id="native-demo", redirect_uri=NATIVE_CALLBACK
    )
    assert flow.tokens["access_token"]


def test_prompt_consent_asks_a_first_party_user_too(user_agent, pkce):
    run_code_flow(user_agent)
    request = code_request("spa-demo", "http://localhost:3000/callback", pkce, prompt="consent")
    page = user_agent.authorize(**request)
    assert page.status_code == 200 and "decision" in page.text
    assert "code" in redirect_parameters(user_agent.follow(user_agent.decide(page, "allow")))


@pytest.mark.parametrize("csrf_token", [None, "forged-token", "é-not-ascii"])
def test_consent_form_requires_the_csrf_token_of_the_session(user_agent, pkce, csrf_token):
    page = consent_page(user_agent, partner_request(pkce))
    data = {"decision": "allow"} | ({"csrf_token": csrf_token} if csrf_token else {})
    response = user_agent.session.post(page.url, data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert user_agent.authorize(**partner_request(PKCE.new())).status_code == 200


# A third-party application gets nothing without a stored consent of the user for that
# application and API, whatever it asks for: no scope, an empty one, only unknown scopes,
# openid alone; for the API, or for /userinfo (no audience).
SCOPES_WITHOUT_AN_API_SCOPE = [
    pytest.param(None, id="scope-missing"),
    pytest.param("", id="scope-empty"),
    pytest.param("unknown:scope", id="scope-unknown"),
    pytest.param("openid", id="openid-only"),
]


@pytest.mark.parametrize("audience", [API_AUDIENCE, None], ids=["api", "userinfo"])
@pytest.mark.parametrize("scope", SCOPES_WITHOUT_AN_API_SCOPE)
def test_a_third_party_application_without_consent_is_asked_whatever_the_scope(
    user_agent, pkce, scope, audience
):
    page = consent_page(user_agent, partner_request(pkce, scope=scope, audience=audience), ALICE)
    assert urlsplit(page.url).path == "/u/consent" and "decision" in page.text


@pytest.mark.parametrize("scope", SCOPES_WITHOUT_AN_API_SCOPE)
def test_prompt_none_without_consent_answers_consent_required_whatever_the_scope(
    user_agent, pkce, scope
):
    run_code_flow(user_agent)
    request = partner_request(pkce, scope=scope, prompt="none")
    answer = redirect_parameters(user_agent.authorize(**request))
    assert answer["error"] == "consent_required" and "code" not in answer


def partner_tokens(user_agent, authserver, scope: str, check_page=None) -> dict:
    """Alice consents to partner-app's request for ``scope`` (``check_page`` sees the page)."""
    pkce = PKCE.new()
    page = consent_page(user_agent, partner_request(pkce, scope=scope), ALICE)
    if check_page is not None:
        check_page(page)
    answer = redirect_parameters(user_agent.follow(user_agent.decide(page, "allow")))
    tokens = exchange_code(
        authserver, answer["code"], "partner-app", NATIVE_CALLBACK, pkce.verifier
    )
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def test_a_consent_to_openid_alone_gives_a_third_party_token_no_permission(user_agent, authserver):
    tokens = partner_tokens(user_agent, authserver, "openid")
    _, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    # Alice holds read:stats, but she let partner-app know who she is, nothing more.
    assert claims["scope"] == "openid"
    assert claims["permissions"] == []


def shows_exactly_read_messages(page):
    assert "Permissions its access token will carry:\n<code>read:messages</code>." in page.text
    assert "read:stats" not in page.text


def test_a_third_party_token_carries_only_the_consented_permissions(user_agent, authserver):
    tokens = partner_tokens(
        user_agent, authserver, "openid read:messages", check_page=shows_exactly_read_messages
    )
    _, claims = verified_claims(authserver, tokens["access_token"], API_AUDIENCE)
    assert claims["scope"] == "openid read:messages"
    assert claims["permissions"] == ["read:messages"]


def test_a_refreshed_third_party_token_keeps_to_the_consented_permissions(user_agent, authserver):
    tokens = partner_tokens(user_agent, authserver, "openid offline_access read:messages")
    refreshed = authserver.token(
        {
            "grant_type": "refresh_token",
            "client_id": "partner-app",
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert refreshed.status_code == 200, refreshed.text
    _, claims = verified_claims(authserver, refreshed.json()["access_token"], API_AUDIENCE)
    assert claims["permissions"] == ["read:messages"]


def test_the_granted_scope_is_computed_once_per_request(user_agent, authserver, monkeypatch):
    # The consent check, the consent page, the stored code and the token all use the scope the
    # user's token gets: each request computes it once, whichever of them it does.
    computed_for = []
    scope_for = Auth0GrantMixin.scope_for

    def counting(grant, user, scope):
        computed_for.append(grant.request)
        return scope_for(grant, user, scope)

    monkeypatch.setattr(Auth0GrantMixin, "scope_for", counting)
    tokens = partner_tokens(user_agent, authserver, "openid read:messages")
    assert tokens["scope"] == "openid read:messages"
    assert computed_for, "the flow computed the granted scope"
    assert len({id(request) for request in computed_for}) == len(computed_for)
