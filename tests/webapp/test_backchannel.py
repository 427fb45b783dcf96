"""The logout token's checks (OpenID Connect Back-Channel Logout 1.0, 2.6), one by one: real
RS256 tokens, the issuer's keys from a real JWKS server, the web app on a FakeClock."""

import pytest

from shared.token_validation import MAX_TOKEN_BYTES
from tests.authserver.helpers import FakeClock, writes_failing
from tests.support.keys import SigningKey
from webapp_demo import create_app
from webapp_demo.backchannel import LOGOUT_EVENT
from webapp_demo.sessions import id_hash

CLIENT_ID = "webapp-demo"
SUB = "auth0|985069d6114091e736f16d6d"
SID = "a" * 64


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def app(issuer, jwks_server, tmp_path, clock):
    return create_app(
        {
            "AUTH_ISSUER": issuer,
            "AUTH_JWKS_URL": jwks_server.jwks_url,
            "WEBAPP_DB": str(tmp_path / "webapp.sqlite3"),
        },
        clock=clock,
    )


@pytest.fixture
def signed_in(app, clock):
    """Two sessions of the user: one in the SSO session SID, one in another."""
    store = app.session_interface.store
    for session_id, sid in (("session-in-sid", SID), ("other-session", "b" * 64)):
        store.create(id_hash(session_id), int(clock()))
        store.save(id_hash(session_id), {"user": {"sub": SUB, "sid": sid}}, int(clock()))
    return store


def logout_token(token_factory, clock, *, claims=None, header=None, drop=(), key=None):
    now = int(clock())
    payload = {
        "iss": token_factory.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": "jti-1",
        "sub": SUB,
        "sid": SID,
        "events": {LOGOUT_EVENT: {}},
    } | (claims or {})
    for name in drop:
        payload.pop(name)
    full_header = {"alg": "RS256", "typ": "logout+jwt", "kid": token_factory.key.kid} | (
        header or {}
    )
    return token_factory.raw(full_header, payload, key=key)


def post(app, token):
    return app.test_client().post("/backchannel-logout", data={"logout_token": token})


def remaining(store):
    with store.connection() as db:
        return db.execute("SELECT count(*) FROM sessions").fetchone()[0]


def test_a_valid_logout_token_ends_the_sessions_of_its_sid(app, signed_in, token_factory, clock):
    answer = post(app, logout_token(token_factory, clock))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert remaining(signed_in) == 1  # the session of another sid stays


def test_a_logout_token_with_only_sub_ends_all_of_that_users_sessions(
    app, signed_in, token_factory, clock
):
    assert post(app, logout_token(token_factory, clock, drop=("sid",))).status_code == 200
    assert remaining(signed_in) == 0


def test_a_replayed_logout_token_is_refused(app, signed_in, token_factory, clock):
    token = logout_token(token_factory, clock)
    assert post(app, token).status_code == 200
    replayed = post(app, token)
    assert replayed.status_code == 400
    assert replayed.json["error"] == "invalid_request"


def test_a_logout_token_whose_sessions_cannot_be_ended_is_not_used_up(
    app, signed_in, token_factory, clock
):
    # The token is recorded as used in the transaction that ends its sessions: a fault ending
    # them leaves both as they were, and the same token, sent again, ends them.
    token = logout_token(token_factory, clock)
    with writes_failing(signed_in.path, "sessions", "DELETE"):
        assert post(app, token).status_code == 500
    assert remaining(signed_in) == 2
    assert post(app, token).status_code == 200
    assert remaining(signed_in) == 1


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("iss", "https://evil.example/"),
        ("aud", "spa-demo"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("events", {}),
        ("events", {LOGOUT_EVENT: "yes"}),
        ("events", {"http://schemas.openid.net/event/other": {}}),
        ("jti", 42),
        ("exp", "never"),
    ],
)
def test_a_logout_token_failing_a_claim_check_is_refused(
    app, signed_in, token_factory, clock, change, value
):
    answer = post(app, logout_token(token_factory, clock, claims={change: value}))
    assert answer.status_code == 400
    assert answer.json == {
        "error": "invalid_request",
        "error_description": "The logout token is not valid.",
    }
    assert remaining(signed_in) == 2


@pytest.mark.parametrize("missing", ["iss", "aud", "iat", "exp", "jti", "events"])
def test_a_logout_token_without_a_required_claim_is_refused(
    app, signed_in, token_factory, clock, missing
):
    assert post(app, logout_token(token_factory, clock, drop=(missing,))).status_code == 400
    assert remaining(signed_in) == 2


def test_a_logout_token_without_sub_and_sid_is_refused(app, signed_in, token_factory, clock):
    answer = post(app, logout_token(token_factory, clock, drop=("sub", "sid")))
    assert answer.status_code == 400


def test_an_expired_or_future_logout_token_is_refused(app, signed_in, token_factory, clock):
    token = logout_token(token_factory, clock)
    clock.advance(120 + 31)
    assert post(app, token).status_code == 400
    future = logout_token(token_factory, clock, claims={"iat": int(clock()) + 600})
    assert post(app, future).status_code == 400
    assert remaining(signed_in) == 2


@pytest.mark.parametrize(
    "header", [{"typ": "JWT"}, {"typ": None}, {"alg": "HS256"}, {"kid": "unknown-kid"}]
)
def test_a_logout_token_with_a_wrong_header_is_refused(
    app, signed_in, token_factory, clock, header
):
    assert post(app, logout_token(token_factory, clock, header=header)).status_code == 400
    assert remaining(signed_in) == 2


def test_a_logout_token_signed_by_another_key_is_refused(
    app, signed_in, token_factory, clock, second_rsa_key
):
    token = logout_token(token_factory, clock)
    header, payload, _ = token.split(".")
    other_key = type(token_factory)(token_factory.issuer, CLIENT_ID, second_rsa_key)
    forged = logout_token(other_key, clock, header={"kid": token_factory.key.kid})
    assert post(app, forged).status_code == 400
    assert post(app, f"{header}.{payload}.").status_code == 400
    assert remaining(signed_in) == 2


@pytest.mark.parametrize("body", [{}, {"logout_token": ""}, {"logout_token": "not a jwt"}])
def test_a_missing_or_malformed_logout_token_is_refused(app, signed_in, body):
    answer = app.test_client().post("/backchannel-logout", data=body)
    assert answer.status_code == 400
    assert remaining(signed_in) == 2


@pytest.mark.parametrize("typ", ["logout+jwt", "application/logout+jwt", "Logout+JWT"])
def test_both_forms_of_the_logout_token_type_are_accepted(
    app, signed_in, token_factory, clock, typ
):
    answer = post(app, logout_token(token_factory, clock, header={"typ": typ}))
    assert answer.status_code == 200
    assert remaining(signed_in) == 1


@pytest.mark.parametrize("typ", ["application/jwt", "at+jwt", "text/logout+jwt", 1])
def test_another_media_type_is_refused(app, signed_in, token_factory, clock, typ):
    assert post(app, logout_token(token_factory, clock, header={"typ": typ})).status_code == 400
    assert remaining(signed_in) == 2


def test_a_logout_token_over_the_validators_size_limit_is_refused(
    app, signed_in, token_factory, clock
):
    token = logout_token(token_factory, clock, claims={"padding": "x" * MAX_TOKEN_BYTES})
    assert len(token) > MAX_TOKEN_BYTES
    assert post(app, token).status_code == 400
    assert remaining(signed_in) == 2


def test_a_logout_token_just_within_the_size_limit_is_accepted(
    app, signed_in, token_factory, clock
):
    short = logout_token(token_factory, clock)
    padding = (MAX_TOKEN_BYTES - len(short)) * 3 // 4 - len(',"padding":""')
    token = logout_token(token_factory, clock, claims={"padding": "x" * padding})
    assert MAX_TOKEN_BYTES - 8 < len(token) <= MAX_TOKEN_BYTES
    assert post(app, token).status_code == 200


def test_a_key_published_for_another_algorithm_verifies_no_logout_token(
    app, signed_in, token_factory, clock, jwks_server, rsa_key, ec_key
):
    # The issuer's own RSA key material, published for PS256 only (RFC 8725 3.1: one key, one
    # algorithm): an RS256 signature with it is no signature of this issuer's.
    pss_only = SigningKey("rsa-pss-only", "PS256", rsa_key.private_key)
    jwks_server.publish(rsa_key, ec_key, pss_only)
    signer = SigningKey("rsa-pss-only", "RS256", rsa_key.private_key)
    token = logout_token(token_factory, clock, header={"kid": "rsa-pss-only"}, key=signer)
    assert post(app, token).status_code == 400
    # An RS256 header naming the EC key: no RSA key at all.
    token = logout_token(token_factory, clock, header={"kid": ec_key.kid})
    assert post(app, token).status_code == 400
    assert remaining(signed_in) == 2


@pytest.mark.parametrize(
    "claims",
    [
        {"sid": 123},
        {"sid": ["a" * 64]},
        {"sid": {"$ne": ""}},
        {"sid": None},
        {"sid": ""},
        {"sub": 42},
        {"sub": ""},
        {"sub": None},
        {"jti": ""},
        {"jti": ["jti-1"]},
    ],
    ids=repr,
)
def test_sid_sub_and_jti_must_be_non_empty_strings(app, signed_in, token_factory, clock, claims):
    answer = post(app, logout_token(token_factory, clock, claims=claims))
    assert answer.status_code == 400
    assert answer.json["error"] == "invalid_request"
    assert remaining(signed_in) == 2


def test_a_logout_token_without_sub_and_an_empty_sid_is_refused(
    app, signed_in, token_factory, clock
):
    token = logout_token(token_factory, clock, claims={"sid": ""}, drop=("sub",))
    assert post(app, token).status_code == 400
    assert remaining(signed_in) == 2
