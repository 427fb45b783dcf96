"""shared/oidc_client.py: settings, discovery, the token endpoint, and narration without secrets."""

import io
import logging
from collections.abc import Iterator

import pytest
import requests

from shared.oidc_client import (
    MAX_EXPIRES_IN,
    ClientConfig,
    DiscoveryError,
    Narrator,
    TokenEndpoint,
    TokenEndpointError,
    fetch_provider_metadata,
    redact,
)
from shared.settings import ConfigurationError
from tests.demos.conftest import discovery_document, token_reply
from tests.demos.scripted_server import Reply, ScriptedServer

SECRET = "m2m-demo-local-secret"
REFRESH_TOKEN = "v1.MRrtZ3pLkQvB-9yJ0fN2wXc4uHs7aE1dG5oPqT6iK8m"


def load(environ, **defaults):
    defaults.setdefault("default_client_id", "native-demo")
    return ClientConfig.from_env(environ, **defaults)


def test_no_environment_means_the_local_defaults():
    config = load({})
    assert (
        config.issuer,
        config.audience,
        config.api_url,
        config.client_id,
        config.client_secret,
    ) == (
        "http://localhost:9000/",
        "https://api.flowlab.local",
        "http://localhost:3010",
        "native-demo",
        None,
    )
    assert config.discovery_url == "http://localhost:9000/.well-known/openid-configuration"
    assert config.token_url is None and config.resource_indicator is False


def test_auth0_domain_gives_the_auth0_issuer_and_its_discovery_url():
    config = load(
        {"AUTH0_DOMAIN": "flowlab.eu.auth0.com", "AUTH_CLIENT_ID": "abc", "AUTH_CLIENT_SECRET": "s"}
    )
    assert config.issuer == "https://flowlab.eu.auth0.com/"
    assert config.discovery_url == "https://flowlab.eu.auth0.com/.well-known/openid-configuration"
    assert (config.client_id, config.client_secret) == ("abc", "s")


def test_the_local_demo_secret_is_a_default_for_local_issuers_only():
    assert load({}, default_client_secret=SECRET).client_secret == SECRET
    assert (
        load({"AUTH_ISSUER": "http://127.0.0.1:9000/"}, default_client_secret=SECRET).client_secret
        == SECRET
    )
    assert (
        load({"AUTH0_DOMAIN": "flowlab.eu.auth0.com"}, default_client_secret=SECRET).client_secret
        is None
    )
    assert (
        load(
            {"AUTH_ISSUER": "https://idp.example/", "AUTH_CLIENT_SECRET": "s"},
            default_client_secret=SECRET,
        ).client_secret
        == "s"
    )


def test_overrides_for_docker_compose():
    config = load(
        {
            "AUTH_ISSUER": "http://localhost:9000/",
            "AUTH_DISCOVERY_URL": "http://authserver:9000/.well-known/openid-configuration",
            "AUTH_TOKEN_URL": "http://authserver:9000/oauth/token",
            "API_URL": "http://api:3010/",
            "AUTH_RESOURCE_INDICATOR": "1",
        }
    )
    assert config.issuer == "http://localhost:9000/"
    assert config.discovery_url == "http://authserver:9000/.well-known/openid-configuration"
    assert config.token_url == "http://authserver:9000/oauth/token"
    assert config.api_url == "http://api:3010"
    assert config.resource_indicator is True


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"AUTH_ISSUER": "http://tenant.example/"}, "AUTH_ISSUER must use https"),
        ({"AUTH_ISSUER": "tenant.example"}, "AUTH_ISSUER must be an http"),
        ({"AUTH0_DOMAIN": "https://tenant.auth0.com/"}, "AUTH0_DOMAIN must be a bare host name"),
        ({"AUTH0_DOMAIN": "a.auth0.com", "AUTH_ISSUER": "https://b.auth0.com/"}, "disagree"),
        ({"API_URL": "ftp://api"}, "API_URL must be an http"),
        ({"AUTH_TOKEN_URL": "not a url"}, "AUTH_TOKEN_URL must be an http"),
        ({"AUTH_RESOURCE_INDICATOR": "yes"}, "AUTH_RESOURCE_INDICATOR must be 0 or 1"),
    ],
)
def test_unusable_setting_is_named(environ, setting):
    with pytest.raises(ConfigurationError, match=setting):
        load(environ)


@pytest.fixture
def narration():
    stream = io.StringIO()
    logger = logging.getLogger(f"tests.narration.{id(stream)}")
    logger.addHandler(logging.StreamHandler(stream))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return stream


def test_narration_never_prints_a_secret_or_a_full_refresh_token(scripted, narration):
    scripted.script(
        "POST",
        "/oauth/token",
        Reply(
            200,
            {
                "access_token": "opaque-access-token-value",
                "token_type": "Bearer",
                "refresh_token": REFRESH_TOKEN,
            },
        ),
    )
    narrator = Narrator(logging.getLogger(f"tests.narration.{id(narration)}"))
    endpoint = TokenEndpoint(requests.Session(), scripted.base_url + "/oauth/token", narrator)
    endpoint.request(
        {
            "grant_type": "client_credentials",
            "client_id": "m2m-demo",
            "client_secret": SECRET,
            "refresh_token": REFRESH_TOKEN,
        }
    )
    narrator.request("GET", "http://api/x", headers={"Authorization": "Bearer " + REFRESH_TOKEN})
    narrator.info("event", password="alice-password", code_verifier="v" * 60)
    output = narration.getvalue()
    assert scripted.requests_to("POST", "/oauth/token")[0].form["client_secret"] == SECRET
    for secret in (SECRET, REFRESH_TOKEN, "alice-password", "v" * 60, "opaque-access-token-value"):
        assert secret not in output
    assert f"{REFRESH_TOKEN[:6]}…({len(REFRESH_TOKEN)} chars)" in output
    assert "[redacted]" in output


def test_redact_keeps_harmless_fields():
    assert redact(
        {"grant_type": "client_credentials", "client_secret": "s", "code": "abcdefghij"}
    ) == {
        "grant_type": "client_credentials",
        "client_secret": "[redacted]",
        "code": "abcdef…(10 chars)",
    }


def test_decoded_claims_are_shown_for_a_jwt(narration, token_factory):
    narrator = Narrator(logging.getLogger(f"tests.narration.{id(narration)}"))
    narrator.token_claims("ID token", token_factory.id_token(client_id="native-demo", nonce="n-1"))
    output = narration.getvalue()
    assert (
        '"nonce": "n-1"' in output
        and '"aud": "native-demo"' in output
        and '"kid": "rsa-key-1"' in output
    )


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            Reply(401, {"error": "invalid_client", "error_description": "Unauthorized"}),
            "401 invalid_client: Unauthorized",
        ),
        (Reply(200, {"access_token": "x", "token_type": "mac"}), "no Bearer access_token"),
        (Reply(200, ["not", "an", "object"]), "200 unexpected_response"),
        (Reply(502, None), "502 unexpected_response"),
    ],
    ids=["oauth-error", "not-bearer", "not-an-object", "empty-body"],
)
def test_token_endpoint_refusals_are_errors(scripted, narration, reply, error):
    scripted.script("POST", "/oauth/token", reply)
    endpoint = TokenEndpoint(
        requests.Session(),
        scripted.base_url + "/oauth/token",
        Narrator(logging.getLogger("tests.quiet")),
    )
    with pytest.raises(TokenEndpointError, match=error):
        endpoint.request({"grant_type": "client_credentials"})


@pytest.fixture
def elsewhere() -> Iterator[ScriptedServer]:
    """A second server, where a redirect would send the token request: it must hear nothing."""
    server = ScriptedServer().start()
    server.script("POST", "/oauth/token", token_reply("token-of-the-redirect-target"))
    yield server
    server.close()


def redirect_to(server: ScriptedServer, status: int) -> Reply:
    return Reply(status, None, headers={"Location": server.base_url + "/oauth/token"})


@pytest.mark.parametrize("status", [307, 308, 301, 302, 303])
def test_a_token_request_never_follows_a_redirect(scripted, elsewhere, status):
    """A 307 or 308 would re-post the form, client secret included, to the Location's host."""
    scripted.script("POST", "/oauth/token", redirect_to(elsewhere, status))
    endpoint = TokenEndpoint(
        requests.Session(),
        scripted.base_url + "/oauth/token",
        Narrator(logging.getLogger("tests.quiet")),
    )

    with pytest.raises(
        TokenEndpointError,
        match=f"{status} unexpected_response: redirect to "
        f"{elsewhere.base_url}/oauth/token not followed",
    ):
        endpoint.request(
            {"grant_type": "client_credentials", "client_id": "m2m-demo", "client_secret": SECRET}
        )

    assert len(scripted.requests_to("POST", "/oauth/token")) == 1
    assert elsewhere.received == []


def test_the_m2m_daemon_token_request_never_follows_a_redirect(m2m, elsewhere):
    m2m.server.script("POST", "/oauth/token", redirect_to(elsewhere, 307))
    flow = m2m.flow()

    with pytest.raises(TokenEndpointError, match="307 unexpected_response: redirect to"):
        flow.access_token()

    assert m2m.waits == []
    assert elsewhere.received == []


def test_text_from_outside_cannot_forge_a_narration_line(scripted, narration):
    """CWE-117: a line break (CR LF, U+2028, U+0085) in a server's error, a URL, an authorization
    response or an opaque token stays inside its event (the daemon's one-line formats:
    tests/demos/test_m2m_log_format.py)."""
    forged = "INFO forged: admin logged in"
    scripted.script(
        "POST",
        "/oauth/token",
        Reply(
            400,
            {
                "error": f"invalid_grant\r\n{forged}",
                "error_description": f"no\u2028{forged}\x85{forged}",
            },
        ),
    )
    narrator = Narrator(logging.getLogger(f"tests.narration.{id(narration)}"))
    endpoint = TokenEndpoint(requests.Session(), scripted.base_url + "/oauth/token", narrator)

    with pytest.raises(TokenEndpointError) as raised:
        endpoint.request({"grant_type": "authorization_code"})
    narrator.request("GET", f"https://idp.example/authorize\u2028{forged}")
    narrator.info(f"Authorization response:\r\n{forged}", state=f"s\u2029{forged}")
    narrator.token_claims("access token", "\u2028\r\nopaque-access-token")

    output = narration.getvalue()
    assert output.count("forged") == 6
    assert str(raised.value).isprintable()
    lines = output.split("\n")[:-1]
    assert all(line.isprintable() for line in lines), [
        line for line in lines if not line.isprintable()
    ]
    assert output.splitlines() == lines


def test_discovery_gives_the_endpoints(scripted, narration):
    document = dict(
        discovery_document(scripted), authorization_response_iss_parameter_supported=True
    )
    scripted.script("GET", "/.well-known/openid-configuration", Reply(200, document))
    metadata = fetch_provider_metadata(
        requests.Session(),
        load({"AUTH_ISSUER": scripted.issuer}),
        Narrator(logging.getLogger("tests.quiet")),
    )
    assert metadata.token_endpoint == scripted.base_url + "/oauth/token"
    assert metadata.authorization_endpoint == scripted.base_url + "/authorize"
    assert metadata.authorization_response_iss_parameter_supported is True


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(
                200,
                {
                    "issuer": "https://attacker.example/",
                    "token_endpoint": "https://attacker.example/token",
                },
            ),
            "names issuer 'https://attacker.example/'",
        ),
        (Reply(200, {"token_endpoint": "x"}), "names issuer None"),
        (Reply(500, {"error": "server_error"}), "answered 500"),
        (Reply(200, "a string"), "not a JSON object"),
    ],
    ids=["other-issuer", "no-issuer", "server-error", "not-an-object"],
)
def test_discovery_refuses_a_document_for_another_issuer_or_none(scripted, reply, message):
    scripted.script("GET", "/.well-known/openid-configuration", reply)
    with pytest.raises(DiscoveryError, match=message):
        fetch_provider_metadata(
            requests.Session(),
            load({"AUTH_ISSUER": scripted.issuer}),
            Narrator(logging.getLogger("tests.quiet")),
        )


def test_discovery_without_token_endpoint_is_refused(scripted):
    scripted.script(
        "GET", "/.well-known/openid-configuration", Reply(200, {"issuer": scripted.issuer})
    )
    with pytest.raises(DiscoveryError, match="no token_endpoint"):
        fetch_provider_metadata(
            requests.Session(),
            load({"AUTH_ISSUER": scripted.issuer}),
            Narrator(logging.getLogger("tests.quiet")),
        )


@pytest.mark.parametrize("expires_in", [0, -5, 10**12, 2**64, 3600.5, True, "3600", None])
def test_an_expires_in_that_is_no_sane_lifetime_is_treated_as_unknown(scripted, expires_in):
    scripted.script("POST", "/oauth/token", token_reply("access-token", expires_in=expires_in))
    endpoint = TokenEndpoint(
        requests.Session(),
        scripted.base_url + "/oauth/token",
        Narrator(logging.getLogger("tests.quiet")),
    )

    tokens = endpoint.request({"grant_type": "client_credentials"})

    assert tokens.expires_in is None


def test_a_lifetime_of_ten_years_is_believed(scripted):
    scripted.script("POST", "/oauth/token", token_reply("access-token", expires_in=MAX_EXPIRES_IN))
    endpoint = TokenEndpoint(
        requests.Session(),
        scripted.base_url + "/oauth/token",
        Narrator(logging.getLogger("tests.quiet")),
    )

    assert endpoint.request({"grant_type": "client_credentials"}).expires_in == MAX_EXPIRES_IN
