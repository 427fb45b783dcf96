"""Steps 1-3 of the m2m daemon against a scripted upstream: token reuse, retries, 401,
Retry-After."""

import pytest

from m2m_demo.backoff import RetriesExhausted, RetryPolicy, StopRequested
from m2m_demo.client_credentials_flow import ApiError, DeliveryRejected
from m2m_demo.feed import Batch
from shared.oidc_client import DiscoveryError, OIDCClientError, TokenEndpointError
from tests.demos.conftest import M2M_SECRET, token_reply
from tests.demos.scripted_server import Reply, ScriptedServer

BATCH = Batch("feed.json", 0, ({"external_id": "a-1", "data": {"n": 1}},))
CREATED = Reply(201, {"batch_id": BATCH.batch_id, "created": 1, "replayed": False})


def imports_posts(m2m):
    return m2m.server.requests_to("POST", "/api/imports")


def token_requests(m2m):
    return m2m.server.requests_to("POST", "/oauth/token")


def test_token_request_is_client_credentials_with_audience(m2m):
    flow = m2m.flow()
    flow.deliver(BATCH)
    assert token_requests(m2m)[0].form == {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
        "audience": "https://api.flowlab.local",
    }
    post = imports_posts(m2m)[0]
    assert post.headers["Idempotency-Key"] == BATCH.idempotency_key
    assert post.json == BATCH.body()


def test_resource_indicator_adds_the_rfc_8707_parameter(m2m):
    m2m.env["AUTH_RESOURCE_INDICATOR"] = "1"
    flow = m2m.flow()
    flow.deliver(BATCH)
    assert token_requests(m2m)[0].form["resource"] == "https://api.flowlab.local"


def test_token_is_reused_until_shortly_before_it_expires(m2m):
    m2m.server.script(
        "POST",
        "/oauth/token",
        token_reply("token-1", expires_in=3600),
        token_reply("token-2", expires_in=3600),
    )
    flow = m2m.flow()
    flow.deliver(BATCH)
    m2m.now += 3600 - 61
    flow.deliver(BATCH)
    assert len(token_requests(m2m)) == 1
    m2m.now += 2
    flow.deliver(BATCH)
    assert len(token_requests(m2m)) == 2
    assert [post.headers["Authorization"] for post in imports_posts(m2m)] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_short_lived_token_is_renewed_a_tenth_of_its_lifetime_early(m2m):
    m2m.server.script(
        "POST",
        "/oauth/token",
        token_reply("token-1", expires_in=100),
        token_reply("token-2", expires_in=100),
    )
    flow = m2m.flow()
    flow.deliver(BATCH)
    m2m.now += 89
    flow.deliver(BATCH)
    m2m.now += 2
    flow.deliver(BATCH)
    assert len(token_requests(m2m)) == 2


def test_discovery_names_the_token_endpoint_once(m2m):
    flow = m2m.flow()
    flow.deliver(BATCH)
    m2m.now += 100000
    flow.deliver(BATCH)
    assert len(m2m.server.requests_to("GET", "/.well-known/openid-configuration")) == 1
    assert len(token_requests(m2m)) == 2


def test_auth_token_url_overrides_discovery(m2m):
    m2m.env["AUTH_TOKEN_URL"] = m2m.server.base_url + "/internal/token"
    m2m.server.script("POST", "/internal/token", token_reply("internal-token"))
    flow = m2m.flow()
    flow.deliver(BATCH)
    assert m2m.server.requests_to("GET", "/.well-known/openid-configuration") == []
    assert imports_posts(m2m)[0].headers["Authorization"] == "Bearer internal-token"


def test_discovery_for_another_issuer_stops_before_any_secret_is_sent(m2m):
    m2m.server.script(
        "GET",
        "/.well-known/openid-configuration",
        Reply(
            200,
            {
                "issuer": "https://attacker.example/",
                "token_endpoint": m2m.server.base_url + "/oauth/token",
            },
        ),
    )
    flow = m2m.flow()
    with pytest.raises(DiscoveryError):
        flow.deliver(BATCH)
    assert token_requests(m2m) == []


@pytest.mark.parametrize(
    "failure",
    [
        Reply(503, {"error": "unavailable"}),
        Reply(500, None),
        Reply(502, None),
        Reply(504, None),
        Reply(429, {"error": "too_many_requests"}),
        Reply(0, drop=True),
    ],
    ids=["503", "500", "502", "504", "429", "connection-dropped"],
)
def test_retryable_failures_are_retried_with_the_same_idempotency_key(m2m, failure):
    m2m.server.script("POST", "/api/imports", failure, failure, CREATED)
    flow = m2m.flow()
    assert flow.deliver(BATCH)["created"] == 1
    keys = {post.headers["Idempotency-Key"] for post in imports_posts(m2m)}
    assert len(imports_posts(m2m)) == 3 and keys == {BATCH.idempotency_key}
    assert 0.25 <= m2m.waits[0] <= 0.5 and 0.5 <= m2m.waits[1] <= 1.0


def test_retry_after_is_honoured(m2m):
    m2m.server.script("POST", "/api/imports", Reply(429, None, {"Retry-After": "7"}), CREATED)
    flow = m2m.flow()
    flow.deliver(BATCH)
    assert m2m.waits == [7.0]


def test_retry_after_beyond_the_backoff_maximum_ends_the_cycle_without_waiting(m2m):
    m2m.server.script("POST", "/api/imports", Reply(503, None, {"Retry-After": "3600"}), CREATED)
    flow = m2m.flow()
    with pytest.raises(RetriesExhausted, match="retry after 3600 s"):
        flow.deliver(BATCH)
    assert m2m.waits == [] and len(imports_posts(m2m)) == 1


def test_attempts_are_bounded(m2m):
    m2m.server.script("POST", "/api/imports", Reply(503, None))
    flow = m2m.flow(RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8.0))
    with pytest.raises(RetriesExhausted, match="HTTP 503 after 3 attempts"):
        flow.deliver(BATCH)
    assert len(imports_posts(m2m)) == 3 and len(m2m.waits) == 2


def test_token_endpoint_overload_is_retried_too(m2m, machine_token):
    m2m.server.script(
        "POST", "/oauth/token", Reply(429, None, {"Retry-After": "2"}), token_reply(machine_token)
    )
    flow = m2m.flow()
    flow.deliver(BATCH)
    assert m2m.waits == [2.0] and len(token_requests(m2m)) == 2


def test_a_stop_signal_during_backoff_ends_the_retries(m2m):
    m2m.server.script("POST", "/api/imports", Reply(503, None))
    m2m.stop_waiting = True
    flow = m2m.flow()
    with pytest.raises(StopRequested):
        flow.deliver(BATCH)
    assert len(imports_posts(m2m)) == 1


def test_on_401_one_fresh_token_then_retry(m2m):
    m2m.server.script(
        "POST", "/oauth/token", token_reply("revoked-token"), token_reply("fresh-token")
    )
    m2m.server.script(
        "POST",
        "/api/imports",
        Reply(
            401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ),
        CREATED,
    )
    flow = m2m.flow()
    assert flow.deliver(BATCH)["created"] == 1
    assert [post.headers["Authorization"] for post in imports_posts(m2m)] == [
        "Bearer revoked-token",
        "Bearer fresh-token",
    ]
    assert len({post.headers["Idempotency-Key"] for post in imports_posts(m2m)}) == 1


def test_a_second_401_is_not_retried_again(m2m):
    m2m.server.script(
        "POST",
        "/api/imports",
        Reply(401, {"error": "invalid_token", "error_description": "bad audience"}),
    )
    flow = m2m.flow()
    with pytest.raises(DeliveryRejected, match="401 invalid_token: bad audience"):
        flow.deliver(BATCH)
    assert len(token_requests(m2m)) == 2 and len(imports_posts(m2m)) == 2


@pytest.mark.parametrize("status", [400, 403, 413, 422])
def test_other_client_errors_are_not_retried(m2m, status):
    m2m.server.script(
        "POST", "/api/imports", Reply(status, {"error": "nope", "error_description": "refused"})
    )
    flow = m2m.flow()
    with pytest.raises(DeliveryRejected, match=f"{status} nope: refused"):
        flow.deliver(BATCH)
    assert len(imports_posts(m2m)) == 1 and m2m.waits == []


def test_a_success_status_without_a_json_object_is_not_counted_as_delivered(m2m):
    m2m.server.script("POST", "/api/imports", Reply(201, ["not", "an", "object"]))
    flow = m2m.flow()
    with pytest.raises(ApiError, match="API answered 201 without a JSON object") as raised:
        flow.deliver(BATCH)
    # An API's answer is no failure of the OAuth client.
    assert not isinstance(raised.value, OIDCClientError)


def test_a_rejected_delivery_is_an_api_error_not_an_oauth_client_error():
    assert issubclass(DeliveryRejected, ApiError)
    assert not issubclass(DeliveryRejected, OIDCClientError)


def test_a_refused_client_secret_is_not_retried(m2m):
    m2m.server.script(
        "POST",
        "/oauth/token",
        Reply(401, {"error": "invalid_client", "error_description": "Unauthorized"}),
    )
    flow = m2m.flow()
    with pytest.raises(TokenEndpointError, match="401 invalid_client"):
        flow.deliver(BATCH)
    assert len(token_requests(m2m)) == 1 and imports_posts(m2m) == []


@pytest.mark.parametrize("status", [307, 308])
def test_a_delivery_never_follows_a_redirect(m2m, status):
    """A 307 or 308 would re-post the batch, access token included, to the Location's host."""
    elsewhere = ScriptedServer().start()
    try:
        elsewhere.script("POST", "/api/imports", Reply(201, {"created": 2, "replayed": False}))
        redirect = Reply(status, None, headers={"Location": elsewhere.base_url + "/api/imports"})
        m2m.server.script("POST", "/api/imports", redirect)
        flow = m2m.flow()

        with pytest.raises(DeliveryRejected, match=f"API answered {status}"):
            flow.deliver(BATCH)

        assert elsewhere.received == []
    finally:
        elsewhere.close()
