"""`python -m native_demo` as a real process against a scripted token endpoint and API: what it
sends at the code exchange, how it refuses an ID token that does not validate, at login or from a
refresh, and how `call` refreshes a kept session once on 401.

The real authorization server always issues valid ID tokens, so the end-to-end tests cannot show
the refusal; here the issuer's discovery document and JWKS come from the support JWKS server and
the token endpoint answers whatever ID tokens the test mints.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from native_demo.pkce import code_challenge_s256
from native_demo.session import Session, SessionFile
from tests.demos.scripted_server import Reply
from tests.e2e.demo_process import DemoProcess
from tests.support.fixtures import DEFAULT_USER_SUB
from tests.support.processes import service_environment

AUTHORIZE_URL = r"^(http://\S+\?\S*code_challenge=\S+)$"
ANOTHER_USER = "auth0|another-user-entirely"


@pytest.fixture
def provider(jwks_server, scripted):
    """The issuer (discovery + JWKS on the JWKS server), its token endpoint and the API scripted."""
    jwks_server.serve_json(
        "/.well-known/openid-configuration",
        {
            "issuer": jwks_server.issuer,
            "authorization_endpoint": jwks_server.issuer + "authorize",
            "token_endpoint": scripted.base_url + "/oauth/token",
            "jwks_uri": jwks_server.jwks_url,
            "authorization_response_iss_parameter_supported": True,
        },
    )
    for path in ("/api/me", "/api/messages"):
        scripted.script("GET", path, Reply(200, {"path": path}))
    return scripted


def token_answer(id_token, access_token="opaque-access", refresh_token=None):
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 600,
        "id_token": id_token,
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    return Reply(200, body)


def client_env(provider, issuer):
    return service_environment(AUTH_ISSUER=issuer, API_URL=provider.base_url)


def log_in(provider, tmp_path, issuer, token_replies, *arguments, forged_callbacks=()):
    """Start the CLI, script the token endpoint with ``token_replies(query)``, send each of
    ``forged_callbacks`` to the redirect URI (each must be refused), then play the redirect."""
    cli = DemoProcess(
        "native_demo",
        "login",
        "--no-browser",
        "--timeout",
        "20",
        *arguments,
        env=client_env(provider, issuer),
        cwd=tmp_path,
    )
    try:
        url = cli.wait_for_line(AUTHORIZE_URL).group(1)
        query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
        provider.script("POST", "/oauth/token", *token_replies(query))
        for forged in forged_callbacks:
            answer = requests.get(query["redirect_uri"], params=forged, timeout=5)
            assert answer.status_code == 400, answer.text
        requests.get(
            query["redirect_uri"],
            params={"code": "the-code", "state": query["state"], "iss": issuer},
            timeout=5,
        )
        status = cli.finish()
    finally:
        cli.kill()
    return status, cli, query


def answering(mint_id_token):
    """Token replies for a login whose code exchange answers ``mint_id_token(query)``."""
    return lambda query: [token_answer(mint_id_token(query))]


def test_a_valid_id_token_completes_the_login(provider, tmp_path, token_factory, issuer):
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        answering(
            lambda query: token_factory.id_token(client_id="native-demo", nonce=query["nonce"])
        ),
    )
    assert status == 0, cli.output
    assert [
        request.path
        for request in provider.requests_to("GET", "/api/me")
        + provider.requests_to("GET", "/api/messages")
    ] == ["/api/me", "/api/messages"]


@pytest.mark.parametrize(
    "forged",
    [
        [{"state": "attacker", "code": "evil", "iss": "{issuer}"}],
        [{"code": "evil", "iss": "{issuer}"}],
        [
            {"state": "attacker", "error": "access_denied", "iss": "{issuer}"},
            {"state": "attacker", "code": "evil"},
        ],
    ],
    ids=["wrong-state", "no-state", "error-then-code-with-wrong-state"],
)
def test_a_forged_callback_does_not_end_the_login_which_completes_with_the_real_code(
    provider, tmp_path, token_factory, issuer, forged
):
    """RFC 8252 §8.3 / RFC 6749 §10.12: a callback to the loopback port that does not carry this
    login's state is refused with 400; the listener goes on waiting for the real redirect."""
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        answering(
            lambda query: token_factory.id_token(client_id="native-demo", nonce=query["nonce"])
        ),
        forged_callbacks=[
            {name: value.format(issuer=issuer) for name, value in callback.items()}
            for callback in forged
        ],
    )

    assert status == 0, cli.output
    (exchange,) = provider.requests_to("POST", "/oauth/token")
    assert exchange.form["code"] == "the-code"
    assert "Ignored a callback" in cli.stdout
    assert "evil" not in cli.output


def test_the_code_exchange_proves_pkce_with_the_verifier_of_the_challenge(
    provider, tmp_path, token_factory, issuer
):
    _, _, query = log_in(
        provider,
        tmp_path,
        issuer,
        answering(
            lambda query: token_factory.id_token(client_id="native-demo", nonce=query["nonce"])
        ),
    )
    (exchange,) = provider.requests_to("POST", "/oauth/token")
    form = exchange.form
    assert (form["grant_type"], form["code"], form["client_id"]) == (
        "authorization_code",
        "the-code",
        "native-demo",
    )
    assert form["redirect_uri"] == query["redirect_uri"]
    assert code_challenge_s256(form["code_verifier"]) == query["code_challenge"]
    assert "client_secret" not in form


@pytest.mark.parametrize(
    "mint",
    [
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce="another-login's-nonce"
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="partner-app", nonce=query["nonce"]
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo",
            nonce=query["nonce"],
            claims={"iss": "https://attacker.example/"},
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce=query["nonce"], claims={"exp": 1000}
        ),
        lambda factory, keys, query: factory.id_token(
            client_id="native-demo", nonce=query["nonce"], key=keys.with_kid("rsa-key-1")
        ),
    ],
    ids=["wrong-nonce", "other-audience", "other-issuer", "expired", "forged-signature"],
)
def test_an_id_token_that_does_not_validate_ends_the_login_before_the_api_is_called(
    provider, tmp_path, token_factory, issuer, second_rsa_key, mint
):
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        answering(lambda query: mint(token_factory, second_rsa_key, query)),
    )
    assert status == 1
    assert cli.stderr.splitlines()[-1].startswith("error: ID token rejected: ")
    assert provider.requests_to("GET", "/api/me") == []


# -- the refreshed ID token (OpenID Connect Core 1.0 §12.2) -----------------------------------


def login_id_token_claims(issuer):
    """The claims of the ID token validated at login, as the kept session holds them."""
    return {
        "iss": issuer,
        "sub": DEFAULT_USER_SUB,
        "aud": "native-demo",
        "iat": 1700000000,
        "exp": 1700036000,
        "nonce": "n-1",
    }


def refreshed_id_token(factory, key=None, **claims):
    """An ID token as a refresh returns it: no nonce (§12.2), the login's user unless ``claims``
    say otherwise."""
    return factory.id_token(
        client_id="native-demo", nonce="", claims=claims, key=key, drop_claims=("nonce",)
    )


def keep_session(path, issuer):
    """A session kept by an earlier `login --keep`."""
    SessionFile(path).save(
        Session(
            issuer,
            "native-demo",
            "opaque-access",
            "rt-kept",
            None,
            "openid",
            login_id_token_claims(issuer),
        )
    )


def run_kept(provider, tmp_path, issuer, *arguments):
    """Run a command (`call`, `refresh`) with the session in ``tmp_path``: status and process."""
    cli = DemoProcess(
        "native_demo",
        *arguments,
        "--session",
        str(tmp_path / "session.json"),
        env=client_env(provider, issuer),
        cwd=tmp_path,
    )
    try:
        return cli.finish(), cli
    finally:
        cli.kill()


REFRESHED_ID_TOKENS = {
    # name: (the refresh's ID token, the reason printed)
    "another user": (
        lambda factory, other_key: refreshed_id_token(factory, sub=ANOTHER_USER),
        f"refreshed ID token sub '{ANOTHER_USER}' differs from the original's",
    ),
    "forged signature": (
        lambda factory, other_key: refreshed_id_token(factory, key=other_key.with_kid("rsa-key-1")),
        "signature does not verify with key 'rsa-key-1'",
    ),
}


def login_then_refresh(factory, mint_refreshed):
    """Token replies: the code exchange (with a refresh token), then the refresh answering the ID
    token ``mint_refreshed()`` makes, after the login's (a refreshed ID token is never older)."""

    def replies(query):
        login = token_answer(
            factory.id_token(client_id="native-demo", nonce=query["nonce"]),
            refresh_token="rt-login",
        )
        refresh = token_answer(
            mint_refreshed(), access_token="opaque-access-2", refresh_token="rt-rotated"
        )
        return [login, refresh]

    return replies


def refused(reason):
    return f"error: refreshed ID token rejected: {reason}; its tokens were discarded, log in again"


def test_a_refreshed_id_token_of_the_same_user_is_accepted(
    provider, tmp_path, token_factory, issuer
):
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        login_then_refresh(token_factory, lambda: refreshed_id_token(token_factory)),
    )
    assert status == 0, cli.output
    assert "Refreshed ID token valid" in cli.stdout
    rotated = cli.stdout.index("Refresh token rotated")
    revocation = cli.stdout.index(
        "Revocation does not reach the API: an access token is a self-contained JWT that the API "
        "validates "
        "on its own"
    )
    assert rotated < revocation
    assert "short access-token lifetimes and refresh-token rotation" in cli.stdout[revocation:]
    assert '"previous_access_token_valid_until": "20' in cli.stdout[revocation:]
    assert [
        request.headers["Authorization"] for request in provider.requests_to("GET", "/api/me")
    ] == [
        "Bearer opaque-access",
        "Bearer opaque-access-2",
    ]


@pytest.mark.parametrize("case", REFRESHED_ID_TOKENS.values(), ids=REFRESHED_ID_TOKENS.keys())
def test_login_refuses_a_refreshed_id_token_that_does_not_match_the_login(
    provider, tmp_path, token_factory, issuer, second_rsa_key, case
):
    mint, reason = case
    session_path = tmp_path / "session.json"
    status, cli, _ = log_in(
        provider,
        tmp_path,
        issuer,
        login_then_refresh(token_factory, lambda: mint(token_factory, second_rsa_key)),
        "--keep",
        "--session",
        str(session_path),
    )
    assert status == 1
    assert cli.stderr.splitlines()[-1] == refused(reason)
    # The refreshed access token was never used, and no session was kept.
    assert len(provider.requests_to("GET", "/api/me")) == 1
    assert not session_path.exists()


@pytest.mark.parametrize("case", REFRESHED_ID_TOKENS.values(), ids=REFRESHED_ID_TOKENS.keys())
def test_refresh_refuses_an_id_token_that_does_not_match_the_kept_login(
    provider, tmp_path, token_factory, issuer, second_rsa_key, case
):
    mint, reason = case
    session_path = tmp_path / "session.json"
    keep_session(session_path, issuer)
    kept = session_path.read_text()
    provider.script(
        "POST",
        "/oauth/token",
        token_answer(mint(token_factory, second_rsa_key), refresh_token="rt-rotated"),
    )
    status, cli = run_kept(provider, tmp_path, issuer, "refresh")
    assert status == 1
    assert cli.stderr == refused(reason) + "\n"
    assert provider.requests_to("POST", "/oauth/token")[0].form["refresh_token"] == "rt-kept"
    assert session_path.read_text() == kept


# -- call with the kept session ---------------------------------------------------------------


def test_call_refreshes_once_on_401_and_retries(provider, tmp_path, token_factory, issuer):
    keep_session(tmp_path / "session.json", issuer)
    provider.script(
        "GET", "/api/messages", Reply(401, {"error": "invalid_token"}), Reply(200, {"messages": []})
    )
    provider.script(
        "POST",
        "/oauth/token",
        token_answer(
            refreshed_id_token(token_factory),
            access_token="opaque-access-2",
            refresh_token="rt-rotated",
        ),
    )
    status, cli = run_kept(provider, tmp_path, issuer, "call", "/api/messages")
    assert status == 0, cli.output
    assert [
        request.headers["Authorization"] for request in provider.requests_to("GET", "/api/messages")
    ] == [
        "Bearer opaque-access",
        "Bearer opaque-access-2",
    ]
    kept = SessionFile(tmp_path / "session.json").load(issuer, "native-demo")
    assert (kept.access_token, kept.refresh_token) == ("opaque-access-2", "rt-rotated")


def test_call_refused_again_after_the_refresh_ends_with_status_1(
    provider, tmp_path, token_factory, issuer
):
    keep_session(tmp_path / "session.json", issuer)
    provider.script("GET", "/api/messages", Reply(401, {"error": "invalid_token"}))
    provider.script(
        "POST",
        "/oauth/token",
        token_answer(
            refreshed_id_token(token_factory),
            access_token="opaque-access-2",
            refresh_token="rt-rotated",
        ),
    )
    status, cli = run_kept(provider, tmp_path, issuer, "call", "/api/messages")
    assert status == 1
    assert cli.stderr == "error: the API answered 401 to GET /api/messages\n"
    assert len(provider.requests_to("POST", "/oauth/token")) == 1
    assert len(provider.requests_to("GET", "/api/messages")) == 2
