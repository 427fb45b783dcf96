"""The Backend-for-Frontend: the API through the web app's server, with the session's access
token, its refresh, and the refusals that keep a cross-site page from using the cookie."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from shared.web import STORAGE_RETRY_AFTER_SECONDS
from tests.authserver.helpers import writes_failing
from webapp_demo.sessions import COOKIE_NAME, id_hash


def tokens_of(visitor):
    return visitor.webapp.store.tokens(id_hash(visitor.http.cookies[COOKIE_NAME]))


def test_alice_reads_and_posts_messages_through_the_bff(visitor):
    visitor.login("alice")
    posted = visitor.bff("POST", "messages", json={"text": "hello through the BFF"})
    assert posted.status_code == 201, posted.text
    listed = visitor.bff("GET", "messages")
    assert listed.status_code == 200
    assert listed.json()["messages"][0]["text"] == "hello through the BFF"
    assert listed.headers["Cache-Control"] == "no-store"
    assert visitor.session()["events"][-1]["name"] == "api_call"


def test_bob_gets_the_apis_own_403_with_its_challenge(visitor):
    visitor.login("bob")
    refused = visitor.bff("POST", "messages", json={"text": "not allowed"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


def test_the_admin_hint_follows_the_id_tokens_permissions_claim(visitor):
    visitor.login("bob")
    page = visitor.get("/")
    assert 'data-testid="admin-panel"' not in page.text
    assert visitor.session()["user"]["admin"] is False
    forced = visitor.bff("GET", "admin/stats")
    assert forced.status_code == 403  # the API decides, whatever the page shows


def test_alice_has_the_admin_panel_and_the_api_agrees(visitor):
    visitor.login("alice")
    assert 'data-testid="admin-panel"' in visitor.get("/").text
    assert visitor.session()["user"]["permissions"] is not None
    assert visitor.bff("GET", "admin/stats").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Flowlab-CSRF": ""},
        {"X-Flowlab-CSRF": "0"},
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
    ids=["no-header", "wrong-header", "other-origin", "cross-site", "same-site"],
)
def test_a_bff_call_without_the_header_or_from_elsewhere_is_refused(visitor, headers):
    visitor.login("alice")
    before = len(visitor.session()["events"])
    refused = visitor.bff("POST", "messages", json={"text": "forged"}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert len(visitor.session()["events"]) == before  # nothing reached the API


def test_a_bff_call_without_a_session_is_401(visitor):
    assert visitor.bff("GET", "messages").status_code == 401


def expire_soon(visitor, seconds_left, **changes):
    """The session's access token as if it had ``seconds_left`` of its lifetime (the API's are
    24 hours; the authorization server and the API keep their real clocks)."""
    key = id_hash(visitor.http.cookies[COOKIE_NAME])
    tokens = tokens_of(visitor)
    visitor.webapp.store.save_tokens(
        key, tokens | {"expires_at": visitor.webapp.clock() + seconds_left, **changes}
    )
    return tokens


def test_the_bff_refreshes_an_expiring_access_token_with_rotation(visitor):
    visitor.login("alice")
    assert visitor.bff("GET", "messages").status_code == 200
    first = expire_soon(visitor, 61)
    assert visitor.bff("GET", "messages").status_code == 200
    assert tokens_of(visitor)["access_token"] == first["access_token"]  # not yet
    visitor.webapp.clock.advance(2)  # within a minute of its expiry: refreshed first
    assert visitor.bff("GET", "messages").status_code == 200
    second = tokens_of(visitor)
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]  # rotated
    assert second["expires_at"] > visitor.webapp.clock() + 3600
    steps = [event["name"] for event in visitor.session()["events"]]
    assert steps[-2:] == ["refresh", "api_call"]


def test_a_refused_refresh_ends_the_session(visitor):
    visitor.login("alice")
    expire_soon(visitor, 0, refresh_token="not-a-refresh-token")
    assert visitor.bff("GET", "messages").status_code == 401
    assert visitor.session()["signedIn"] is False


def test_a_refresh_the_store_cannot_take_is_a_503_before_the_refresh_token_is_spent(
    visitor, store_locked
):
    visitor.login("alice")
    before = expire_soon(visitor, 0)
    with store_locked():
        answer = visitor.bff("GET", "messages")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert tokens_of(visitor)["refresh_token"] == before["refresh_token"]
    # The refresh token was not sent: the same call, sent again, refreshes and goes through.
    assert visitor.bff("GET", "messages").status_code == 200
    assert tokens_of(visitor)["refresh_token"] != before["refresh_token"]
    assert visitor.session()["signedIn"] is True


def test_a_refresh_whose_new_tokens_cannot_be_stored_ends_the_session(locked_after):
    # Rotated at the authorization server, then the store refuses the new tokens: no 503
    # inviting a retry with the spent refresh token (reuse detection would revoke the grant).
    visitor, proxy = locked_after(
        "AUTH_TOKEN_URL", "oauth/token", lambda form: form.get("grant_type") == "refresh_token"
    )
    visitor.login("alice")
    expire_soon(visitor, 0)
    answer = visitor.bff("GET", "messages")
    proxy.release()
    assert [status for form, status in proxy.forwarded if "refresh_token" in form] == [200]
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "not_signed_in"
    assert COOKIE_NAME not in visitor.http.cookies
    assert visitor.session()["signedIn"] is False


def test_that_session_is_deleted_when_the_store_takes_the_delete(visitor):
    # The new tokens refused (a trigger), the session's row still deleted: a copy of the cookie,
    # from a request of the page already under way, opens nothing either.
    visitor.login("alice")
    expire_soon(visitor, 0)
    copy = requests.Session()
    copy.cookies.set(COOKIE_NAME, visitor.http.cookies[COOKIE_NAME])
    with writes_failing(Path(visitor.webapp.store.path), "tokens"):
        assert visitor.bff("GET", "messages").status_code == 401
    assert copy.get(f"{visitor.webapp.url}/session", timeout=10).json()["signedIn"] is False


def test_a_call_forwarded_to_the_api_is_answered_even_if_its_narration_cannot_be_stored(
    visitor, store_locked
):
    visitor.login("alice")
    text = "posted while the web app's store refuses writes"
    with store_locked():
        posted = visitor.bff("POST", "messages", json={"text": text})
    # The API has the message: its answer is passed on, not a 503 that would post it again.
    assert posted.status_code == 201, posted.text
    listed = visitor.bff("GET", "messages").json()["messages"]
    assert [message["text"] for message in listed].count(text) == 1


def test_calls_arriving_together_refresh_once(visitor):
    visitor.login("alice")
    expire_soon(visitor, 10)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: visitor.bff("GET", "messages").status_code, range(4)))
    assert statuses == [200] * 4  # a second use of the rotated refresh token would have failed
    steps = [event["name"] for event in visitor.session()["events"]]
    assert steps.count("refresh") == 1
