"""The security rules of the authorization server: one test per rule, named after it.

Each test fails when its rule is removed from the server.
"""

import base64
import dataclasses
import tomllib
from functools import partial

import pytest
import requests

from authserver.tenant import (
    TenantError,
    client_secret_matches,
    hash_client_secret,
    load_tenant,
    parse_tenant,
    redirect_uri_matches,
)
from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
    M2M_HASH_LINE,
    M2M_SECRET,
    NATIVE_CALLBACK,
    PACKAGED_TENANT,
    PKCE,
    RACES,
    SPA_CALLBACK,
    SPA_ORIGIN,
    UserAgent,
    code_request,
    concurrently,
    exchange_code,
    redirect_parameters,
    run_code_flow,
    tenant_text,
    ui_pages,
)


def signed_in_code(user_agent, request):
    """The code of an authorization response for ``request`` (logging in as Alice if asked)."""
    response = user_agent.authorize(**request)
    if response.status_code == 200:
        response = user_agent.sign_in(response)
    return redirect_parameters(response)["code"]


def assert_error_page(response, error="invalid_request"):
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<code>{error}</code>" in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:3000/callback/",
        "http://localhost:3000/Callback",
        "http://localhost:3000/callback?next=/",
        "http://localhost:3000/callback#",
        "http://localhost:3001/callback",
        "http://LOCALHOST:3000/callback",
        "https://localhost:3000/callback",
        "http://localhost:3000/callback/../callback",
        "http://localhost:3000@evil.example/callback",
        "http://evil.example/callback",
    ],
)
def test_redirect_uri_must_match_a_registered_one_exactly(user_agent, pkce, redirect_uri):
    assert_error_page(user_agent.authorize(**code_request("spa-demo", redirect_uri, pkce)))


@pytest.mark.parametrize(
    "parameters",
    [
        {"client_id": "spa-demo", "redirect_uri": "https://evil.example/callback"},
        {"client_id": "no-such-app", "redirect_uri": SPA_CALLBACK},
        {"client_id": "m2m-demo", "redirect_uri": SPA_CALLBACK},
        {"client_id": "native-demo", "redirect_uri": SPA_CALLBACK},
        {"redirect_uri": SPA_CALLBACK},
    ],
    ids=[
        "unregistered redirect_uri",
        "unknown client",
        "application without callbacks",
        "another's",
        "no client_id",
    ],
)
def test_no_redirect_to_an_unverified_redirect_uri_but_an_error_page(user_agent, pkce, parameters):
    request = code_request("spa-demo", SPA_CALLBACK, pkce) | parameters
    if "client_id" not in parameters:
        del request["client_id"]
    response = user_agent.authorize(**request)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("redirect_uri", "allowed"),
    [
        ("http://127.0.0.1:1/callback", True),
        ("http://127.0.0.1:65535/callback", True),
        ("http://127.0.0.1/callback", True),
        ("http://[::1]:8080/callback", False),
        ("http://localhost:8080/callback", False),
        ("https://127.0.0.1:8080/callback", False),
        ("http://127.0.0.1:8080/callback/", False),
        ("http://127.0.0.1:8080/other", False),
        ("http://127.0.0.1:8080/callback?x=1", False),
        ("http://127.0.0.1:8080@evil.example/callback", False),
        ("http://127.0.0.1:0/callback", False),
        ("http://127.0.0.1:99999/callback", False),
        # Exact string matching: nothing that a URL parser would normalise away is forgiven.
        ("HTTP://127.0.0.1:5555/callback", False),
        ("http://127.0.0.1:5555/callback?", False),
        ("http://127.0.0.1:5555/callback#", False),
        ("http://127.0.0.1:5555/call\nback", False),
        ("http://127.0.0.1:5555/call\tback", False),
        ("http://127.0.0.1:5555/callback\r\n", False),
        (" http://127.0.0.1:5555/callback", False),
        ("http://127.0.0.1:05555/callback", False),
        ("http://127.0.0.1:+5555/callback", False),
        ("http://127.0.0.1:5555/callback/callback", False),
    ],
)
def test_loopback_redirect_uri_of_native_apps_may_vary_in_port_only(
    user_agent, pkce, redirect_uri, allowed
):
    response = user_agent.authorize(**code_request("native-demo", redirect_uri, pkce))
    if allowed:
        assert response.status_code == 200 and "username" in response.text
    else:
        assert_error_page(response)


@pytest.mark.parametrize("toml_escape", ["\\n", "\\t", "\\u0000", "\\u0085", "\\u2028", " "])
def test_registered_redirect_uris_hold_no_white_space_or_control_characters(toml_escape):
    registered = f'allowed_callback_urls = ["http://localhost:3000/call{toml_escape}back"]'
    text = tenant_text(('allowed_callback_urls = ["http://localhost:3000/callback"]', registered))
    with pytest.raises(TenantError, match="white space or control characters"):
        parse_tenant(tomllib.loads(text))


def test_loopback_port_freedom_is_for_native_apps_only(start_authserver, pkce):
    # The SPA registered a localhost URI: exact matching, no port freedom (RFC 8252 is for native
    # apps).
    registered = 'allowed_callback_urls = ["http://127.0.0.1:3000/callback"]'
    server = start_authserver(
        tenant_text(('allowed_callback_urls = ["http://localhost:3000/callback"]', registered))
    )
    response = UserAgent(server).authorize(
        **code_request("spa-demo", "http://127.0.0.1:3001/callback", pkce)
    )
    assert_error_page(response)


@pytest.mark.parametrize(
    ("parameters", "error"),
    [
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"audience": "https://unknown.example"}, "access_denied"),
        ({"prompt": "none"}, "login_required"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
def test_state_is_echoed_on_errors(user_agent, pkce, parameters, error):
    state = "st@te with spaces & symbols=/?#é"
    response = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, pkce, state=state, **parameters)
    )
    assert response.status_code == 302
    answer = redirect_parameters(response)
    assert answer["error"] == error
    assert answer["state"] == state


def test_iss_is_in_every_authorization_response(user_agent, authserver, pkce):
    # RFC 9207: success and error responses, in the response's own encoding (query or fragment).
    success = user_agent.sign_in(
        user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, pkce))
    )
    assert redirect_parameters(success)["iss"] == authserver.issuer
    error = user_agent.authorize(
        **code_request("spa-demo", SPA_CALLBACK, PKCE.new(), audience="https://unknown.example")
    )
    assert redirect_parameters(error)["iss"] == authserver.issuer
    implicit = {
        "response_type": "token",
        "client_id": "spa-demo",
        "redirect_uri": SPA_CALLBACK,
        "state": "s",
    }
    fragment_success = user_agent.authorize(**implicit)
    assert "?" not in fragment_success.headers["Location"]
    assert redirect_parameters(fragment_success)["iss"] == authserver.issuer
    fragment_error = user_agent.authorize(**implicit, audience="https://unknown.example")
    assert "?" not in fragment_error.headers["Location"]
    assert redirect_parameters(fragment_error) == {
        "error": "access_denied",
        "error_description": "Service not found: the audience is not an API of this tenant.",
        "state": "s",
        "iss": authserver.issuer,
    }


def test_authorization_code_is_single_use(user_agent, authserver, pkce):
    code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, pkce))
    assert (
        exchange_code(authserver, code, "spa-demo", SPA_CALLBACK, pkce.verifier).status_code == 200
    )
    second = exchange_code(authserver, code, "spa-demo", SPA_CALLBACK, pkce.verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    # Redemptions at the same instant too: several races, each of 8 redemptions of one code.
    for _ in range(RACES):
        race = PKCE.new()
        code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, race))
        responses = concurrently(
            8, partial(exchange_code, authserver, code, "spa-demo", SPA_CALLBACK, race.verifier)
        )
        granted = [response.json() for response in responses if response.status_code == 200]
        assert len(granted) == 1
        assert {r.json()["error"] for r in responses if r.status_code != 200} == {"invalid_grant"}
        # The other redemptions were reuses of the code: what the winner got is revoked too.
        assert authserver.userinfo(granted[0]["access_token"]).status_code == 401


@pytest.mark.parametrize(
    "replay",
    [
        {},
        {"code_verifier": None},
        {"code_verifier": PKCE.new().verifier},
        {"redirect_uri": "http://127.0.0.1:1/callback"},
    ],
    ids=[
        "the same request",
        "without the verifier",
        "with another verifier",
        "with another redirect_uri",
    ],
)
def test_authorization_code_reuse_revokes_the_tokens_issued_from_it(
    user_agent, authserver, pkce, replay
):
    request = code_request(
        "native-demo", NATIVE_CALLBACK, pkce, scope="openid offline_access", audience=API_AUDIENCE
    )
    code = signed_in_code(user_agent, request)
    tokens = exchange_code(authserver, code, "native-demo", NATIVE_CALLBACK, pkce.verifier).json()
    assert authserver.userinfo(tokens["access_token"]).status_code == 200
    # Whoever replays the code (perhaps without the verifier: an attacker who intercepted it), the
    # tokens of the legitimate exchange are revoked; the replay gets nothing.
    data = {
        "grant_type": "authorization_code",
        "client_id": "native-demo",
        "code": code,
        "redirect_uri": NATIVE_CALLBACK,
        "code_verifier": pkce.verifier,
    }
    data.update(replay)
    replayed = authserver.token({key: value for key, value in data.items() if value is not None})
    assert replayed.status_code == 400 and "access_token" not in replayed.json()
    assert authserver.userinfo(tokens["access_token"]).status_code == 401
    refresh = authserver.token(
        {
            "grant_type": "refresh_token",
            "client_id": "native-demo",
            "refresh_token": tokens["refresh_token"],
        }
    )
    assert refresh.json()["error"] == "invalid_grant"


def test_authorization_code_expires_after_its_lifetime(start_authserver, clock, pkce):
    lifetime = load_tenant().authorization_code_lifetime
    assert lifetime == 60
    server = start_authserver(clock=clock)
    user_agent = UserAgent(server)
    # A second before its lifetime ends, a code is still good...
    code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, pkce))
    clock.advance(lifetime - 1)
    assert exchange_code(server, code, "spa-demo", SPA_CALLBACK, pkce.verifier).status_code == 200
    # ...and once its lifetime has passed, it is not.
    later = PKCE.new()
    code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, later))
    clock.advance(lifetime)
    response = exchange_code(server, code, "spa-demo", SPA_CALLBACK, later.verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", ["http://localhost:3000/other", None])
def test_redirect_uri_at_the_token_endpoint_must_match_the_authorization_request(
    user_agent, authserver, pkce, redirect_uri
):
    code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, pkce))
    data = {
        "grant_type": "authorization_code",
        "client_id": "spa-demo",
        "code": code,
        "code_verifier": pkce.verifier,
    }
    if redirect_uri:
        data["redirect_uri"] = redirect_uri
    response = authserver.token(data)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("client_id", "redirect_uri"), [("spa-demo", SPA_CALLBACK), ("native-demo", NATIVE_CALLBACK)]
)
def test_pkce_is_required_for_public_clients(user_agent, pkce, client_id, redirect_uri):
    request = code_request(
        client_id, redirect_uri, pkce, code_challenge=None, code_challenge_method=None
    )
    answer = redirect_parameters(user_agent.authorize(**request))
    assert answer["error"] == "invalid_request"
    assert "code" not in answer


@pytest.mark.parametrize("method", ["plain", None, "s256", "S512"])
def test_pkce_accepts_the_s256_method_only(user_agent, pkce, method):
    request = code_request("spa-demo", SPA_CALLBACK, pkce, code_challenge_method=method)
    if method == "plain":
        request["code_challenge"] = pkce.verifier
    answer = redirect_parameters(user_agent.authorize(**request))
    assert answer["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("verifier", "error"),
    [(None, "invalid_request"), ("wrong-verifier-" + "x" * 40, "invalid_grant")],
)
def test_pkce_code_verifier_must_match_the_challenge(user_agent, authserver, pkce, verifier, error):
    code = signed_in_code(user_agent, code_request("spa-demo", SPA_CALLBACK, pkce))
    data = {
        "grant_type": "authorization_code",
        "client_id": "spa-demo",
        "code": code,
        "redirect_uri": SPA_CALLBACK,
    }
    if verifier:
        data["code_verifier"] = verifier
    response = authserver.token(data)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_password_grant_is_unsupported(authserver):
    response = authserver.token(
        {
            "grant_type": "password",
            "client_id": "spa-demo",
            "username": ALICE[0],
            "password": ALICE[1],
        }
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert "access_token" not in response.json()


def test_client_secrets_are_stored_hashed(start_authserver):
    assert M2M_SECRET not in PACKAGED_TENANT
    stored = load_tenant().applications["m2m-demo"].client_secret_hash
    assert stored.startswith("hmac-sha256$") and client_secret_matches(stored, M2M_SECRET)
    packaged = start_authserver(PACKAGED_TENANT)
    assert packaged.client_credentials(audience=API_AUDIENCE).status_code == 200
    assert (
        packaged.client_credentials(audience=API_AUDIENCE, client_secret=stored).json()["error"]
        == "invalid_client"
    )
    # The stored hash is all the server knows: hash another secret there and only that one works.
    hash_line = M2M_HASH_LINE
    new_secret = "m2m-demo-rotated-secret"
    new_hash_line = f'client_secret_hash = "{hash_client_secret(new_secret)}"'
    rotated = start_authserver(tenant_text((hash_line, new_hash_line)))
    assert (
        rotated.client_credentials(audience=API_AUDIENCE, client_secret=new_secret).status_code
        == 200
    )
    assert rotated.client_credentials(audience=API_AUDIENCE).json()["error"] == "invalid_client"


WRONG_SECRETS = {
    "same length, last character off": M2M_SECRET[:-1] + "X",
    "same length, first character off": "X" + M2M_SECRET[1:],
    "shorter": M2M_SECRET[:5],
    "longer": M2M_SECRET * 5,
}


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_client_secrets_are_compared_in_constant_time(authserver, method):
    # The tenant holds an HMAC-SHA256 digest, never the secret; what is compared
    # (hmac.compare_digest) is the digest of the presented secret with it, digests of one length
    # whatever was sent. So no answer depends on how long or how close a wrong secret is.
    application = load_tenant(authserver.tenant_path).applications["m2m-demo"]
    assert application.client_secret_hash.startswith("hmac-sha256$")
    assert M2M_SECRET not in repr(dataclasses.asdict(application))
    answers = set()
    for secret in WRONG_SECRETS.values():
        if method == "client_secret_post":
            response = authserver.client_credentials(audience=API_AUDIENCE, client_secret=secret)
        else:
            form = {"grant_type": "client_credentials", "audience": API_AUDIENCE}
            response = authserver.token(form, auth=("m2m-demo", secret))
        answers.add((response.status_code, response.text, response.headers.get("WWW-Authenticate")))
    (answer,) = answers
    assert answer[0] == 401 and '"invalid_client"' in answer[1]


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_secret": M2M_SECRET[:-1] + "X"},
        {"client_secret": M2M_SECRET + "X"},
        {"client_secret": ""},
        {"client_secret": None},
        {"client_secret": None, "auth": ("m2m-demo", "wrong-secret")},
    ],
    ids=["one character off", "longer", "empty", "none", "basic, wrong"],
)
def test_confidential_clients_must_authenticate_with_their_secret(authserver, credentials):
    auth = credentials.pop("auth", None)
    data = {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "audience": API_AUDIENCE,
        **credentials,
    }
    response = authserver.token({k: v for k, v in data.items() if v is not None}, auth=auth)
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


def test_token_responses_are_not_cached(authserver):
    success = authserver.client_credentials(audience=API_AUDIENCE)
    failure = authserver.client_credentials(audience=API_AUDIENCE, client_secret="wrong")
    assert (success.status_code, failure.status_code) == (200, 401)
    for response in (success, failure):
        assert response.headers["Cache-Control"] == "no-store"


def test_pages_with_ui_cannot_be_framed(user_agent):
    pages = ui_pages(user_agent)
    assert "username" in pages["login"].text and "decision" in pages["consent"].text
    for name, page in pages.items():
        assert page.headers["X-Frame-Options"] == "DENY", name
        policy = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, name
        assert "default-src 'none'" in policy and "script-src" not in policy, name


def test_prompt_none_responses_may_be_framed_by_the_allowed_web_origins_only(
    user_agent, authserver
):
    run_code_flow(user_agent)
    spa = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new(), prompt="none"))
    assert "code" in redirect_parameters(spa)
    assert (
        spa.headers["Content-Security-Policy"]
        == f"default-src 'none'; frame-ancestors {SPA_ORIGIN}"
    )
    assert "X-Frame-Options" not in spa.headers
    # The native app has no web origins: nobody may frame its responses.
    native = user_agent.authorize(
        **code_request("native-demo", NATIVE_CALLBACK, PKCE.new(), prompt="none")
    )
    assert "code" in redirect_parameters(native)
    assert native.headers["X-Frame-Options"] == "DENY"
    # Without prompt=none the same redirect is not framable at all.
    plain = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, PKCE.new()))
    assert "frame-ancestors 'none'" in plain.headers["Content-Security-Policy"]
    # A prompt=none request that shows a page after all (the error page) is not framable either.
    shown = user_agent.authorize(
        **code_request("spa-demo", "https://evil.example/", PKCE.new(), prompt="none")
    )
    assert shown.status_code == 400 and shown.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("GET", "/userinfo"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/jwks.json"),
    ],
)
def test_cors_answers_allowed_web_origins_on_api_endpoints_only(authserver, method, path):
    def preflight(origin, url_path):
        headers = {"Origin": origin, "Access-Control-Request-Method": method}
        return requests.options(authserver.url(url_path), headers=headers, timeout=10)

    def actual(origin, url_path, request_method=method):
        return requests.request(
            request_method,
            authserver.url(url_path),
            headers={"Origin": origin},
            allow_redirects=False,
            timeout=10,
        )

    for answer in (preflight(SPA_ORIGIN, path), actual(SPA_ORIGIN, path)):
        assert answer.headers["Access-Control-Allow-Origin"] == SPA_ORIGIN
        # Cross-origin callers never get this server's cookies (the SSO session) along.
        assert "Access-Control-Allow-Credentials" not in answer.headers
    for origin in ("https://evil.example", "http://localhost:3001", "null"):
        assert "Access-Control-Allow-Origin" not in preflight(origin, path).headers
        assert "Access-Control-Allow-Origin" not in actual(origin, path).headers
    for page in ("/authorize", "/u/login", "/u/consent", "/v2/logout", "/oidc/logout"):
        assert "Access-Control-Allow-Origin" not in preflight(SPA_ORIGIN, page).headers
        assert "Access-Control-Allow-Origin" not in actual(SPA_ORIGIN, page, "GET").headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/oauth/token"),
        ("POST", "/oauth/revoke"),
        ("GET", "/userinfo"),
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/.well-known/jwks.json"),
    ],
)
def test_answers_whose_cors_headers_depend_on_the_origin_vary_on_it(authserver, method, path):
    # With the origin allowed, with another, and without any: a cache must key every one on Origin.
    for headers in ({"Origin": SPA_ORIGIN}, {"Origin": "https://evil.example"}, {}):
        answer = requests.request(
            method, authserver.url(path), headers=headers, allow_redirects=False, timeout=10
        )
        assert "Origin" in [value.strip() for value in answer.headers.get("Vary", "").split(",")], (
            headers
        )


IMPLICIT = {"client_id": "spa-demo", "response_type": "token", "redirect_uri": SPA_CALLBACK}
CODE = {"client_id": "spa-demo", "response_type": "code", "redirect_uri": SPA_CALLBACK}


def test_tokens_are_never_put_in_the_query(user_agent, pkce):
    response = user_agent.authorize(**IMPLICIT, response_mode="query", state="s")
    assert response.headers["Location"].startswith(f"{SPA_CALLBACK}#")
    assert redirect_parameters(response)["error"] == "invalid_request"


def _basic(raw: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


HOSTILE_REQUESTS = [
    ("GET", "/authorize", {"params": {**CODE, "response_type": 'code"\\'}}),
    ("GET", "/authorize", {"params": {**CODE, "redirect_uri": 'http://x/"\\é'}}),
    ("GET", "/authorize", {"params": {"client_id": "spa-demo\x00", "response_type": "code"}}),
    ("GET", "/authorize", {"params": [*CODE.items(), ("client_id", "native-demo")]}),
    (
        "GET",
        "/authorize",
        {"params": {**IMPLICIT, "scope": 'é\\"', "state": "x" * 5000, "audience": 'é"'}},
    ),
    ("GET", "/authorize", {"params": {"client_id": "é", "response_type": "é", "prompt": "é"}}),
    ("POST", "/oauth/token", {"data": {"grant_type": 'é"\\'}}),
    (
        "POST",
        "/oauth/token",
        {"data": {"grant_type": "authorization_code", "client_id": "spa-demo", "code": "é"}},
    ),
    (
        "POST",
        "/oauth/token",
        {"data": {"grant_type": "refresh_token", "client_id": "é", "refresh_token": "x"}},
    ),
    (
        "POST",
        "/oauth/token",
        {"data": {"grant_type": "client_credentials"}, "headers": _basic(b"\xff\xfe:\xff")},
    ),
    (
        "POST",
        "/oauth/token",
        {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic !!!"}},
    ),
    ("POST", "/oauth/token", {"json": ["grant_type", "client_credentials"]}),
    ("POST", "/oauth/token", {"json": {"grant_type": "client_credentials", "client_id": 7}}),
    (
        "POST",
        "/oauth/token",
        {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
    ),
    ("POST", "/oauth/token", {"data": {"grant_type": "x" * 100_000}}),
    ("POST", "/oauth/revoke", {"data": {"client_id": "native-demo"}}),
    ("POST", "/oauth/revoke", {"data": {"client_id": "é", "token": "é"}}),
    ("GET", "/userinfo", {"headers": {"Authorization": "Bearer a.b.c"}}),
    ("GET", "/userinfo", {"headers": {"Authorization": "Bearer " + "é"}}),
    ("GET", "/userinfo", {"headers": {"Authorization": "Bearer"}}),
    ("POST", "/u/login", {"data": {"username": "é", "password": "x"}}),
    ("GET", "/u/consent", {"params": {"client_id": "partner-app"}}),
    ("POST", "/u/consent", {"data": {"decision": "allow"}}),
    ("GET", "/v2/logout", {"params": {"returnTo": "é\x00"}}),
    (
        "GET",
        "/oidc/logout",
        {"params": {"id_token_hint": "é\x00", "post_logout_redirect_uri": "é\x00"}},
    ),
    (
        "GET",
        "/oidc/logout",
        {"params": {"id_token_hint": "a.b.c", "client_id": "é", "state": "x" * 5000}},
    ),
    ("POST", "/oidc/logout", {"json": {"id_token_hint": 7}}),
    ("POST", "/oidc/logout", {"data": {"csrf_token": "é", "client_id": "spa-demo"}}),
    ("DELETE", "/oauth/token", {}),
    ("GET", "/no/such/page", {}),
]


@pytest.mark.parametrize(("method", "path", "options"), HOSTILE_REQUESTS)
def test_hostile_input_gets_a_clear_error_never_a_server_error(authserver, method, path, options):
    response = requests.request(
        method, authserver.url(path), allow_redirects=False, timeout=10, **options
    )
    assert response.status_code < 500
    assert "Traceback" not in response.text
    if path.startswith(("/oauth/", "/userinfo")):
        assert response.headers["Content-Type"] == "application/json"
        assert response.status_code >= 400 and response.json()["error"]
    else:
        assert response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("registered", "requested", "allowed"),
    [
        ("http://[::1]/callback", "http://[::1]:5000/callback", True),
        ("http://[::1]:8000/callback", "http://[::1]:5000/callback", True),
        ("http://[::1]/callback", "http://127.0.0.1:5000/callback", False),
        ("http://127.0.0.1/callback", "http://[::1]:5000/callback", False),
        ("http://[::1]/callback", "http://[::1]:5000/callback/x", False),
        ("http://localhost/callback", "http://localhost:5000/callback", False),
        ("https://app.example/callback", "https://app.example:8443/callback", False),
    ],
)
def test_any_loopback_port_means_the_same_loopback_ip_literal(registered, requested, allowed):
    # RFC 8252 §7.3 applies to loopback IP literals; "localhost" (§8.3) and other hosts match
    # exactly.
    assert redirect_uri_matches(registered, requested, any_loopback_port=True) is allowed
    assert redirect_uri_matches(registered, requested, any_loopback_port=False) is False
