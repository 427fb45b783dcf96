"""Settings: local defaults, the AUTH0_DOMAIN shortcut, and a one-line error naming any unusable
setting (from ``create_app`` and from ``python -m api``)."""

import pytest

from api import create_app
from api.config import ConfigurationError, Settings
from tests.api.conftest import run_api


def test_no_settings_at_all_means_the_local_authorization_server(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({})

    assert settings.issuer == "http://localhost:9000/"
    assert settings.audience == "https://api.flowlab.local"
    assert settings.jwks_url is None
    assert settings.algorithms == ("RS256",)
    assert settings.cors_origins == ("http://localhost:3000",)
    assert settings.database_path == tmp_path / ".data" / "api.sqlite3"
    assert settings.bind == "127.0.0.1:3010"


def test_the_default_database_folder_is_created_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    create_app({})

    assert (tmp_path / ".data" / "api.sqlite3").is_file()


def test_auth0_domain_is_a_shortcut_for_the_https_issuer():
    assert (
        Settings.from_env({"AUTH0_DOMAIN": "flowlab.eu.auth0.com"}).issuer
        == "https://flowlab.eu.auth0.com/"
    )


def test_auth0_domain_and_the_same_issuer_may_both_be_set():
    settings = Settings.from_env(
        {"AUTH0_DOMAIN": "flowlab.eu.auth0.com", "AUTH_ISSUER": "https://flowlab.eu.auth0.com/"}
    )

    assert settings.issuer == "https://flowlab.eu.auth0.com/"


def test_every_setting_is_read(tmp_path):
    settings = Settings.from_env(
        {
            "AUTH_ISSUER": "https://issuer.example/",
            "AUTH_AUDIENCE": "https://api.example",
            "AUTH_JWKS_URL": "http://authserver:9000/.well-known/jwks.json",
            "AUTH_ALGORITHMS": "RS256, ES256",
            "CORS_ORIGINS": "https://app.example, http://localhost:5173",
            "DATABASE_URL": f"sqlite:///{tmp_path}/data.sqlite3",
            "API_HOST": "0.0.0.0",
            "API_PORT": "8080",
        }
    )

    assert settings.issuer == "https://issuer.example/"
    assert settings.audience == "https://api.example"
    assert settings.jwks_url == "http://authserver:9000/.well-known/jwks.json"
    assert settings.algorithms == ("RS256", "ES256")
    assert settings.cors_origins == ("https://app.example", "http://localhost:5173")
    assert settings.database_path == tmp_path / "data.sqlite3"
    assert settings.bind == "0.0.0.0:8080"


def test_an_ipv6_address_is_bracketed_for_binding():
    assert Settings.from_env({"API_HOST": "::1", "API_PORT": "0"}).bind == "[::1]:0"


def test_the_configured_jwks_url_is_used_instead_of_discovery(app_config, jwks_server, tokens):
    app = create_app({**app_config, "AUTH_JWKS_URL": jwks_server.jwks_url})

    response = app.test_client().get(
        "/api/private", headers={"Authorization": f"Bearer {tokens.user()}"}
    )

    assert response.status_code == 200
    assert jwks_server.count("/.well-known/openid-configuration") == 0
    assert jwks_server.count() == 1


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        pytest.param({"AUTH_ISSUER": "localhost:9000"}, "AUTH_ISSUER", id="issuer-without-scheme"),
        pytest.param({"AUTH_ISSUER": "ftp://issuer.example/"}, "AUTH_ISSUER", id="issuer-ftp"),
        pytest.param(
            {"AUTH_ISSUER": "http://issuer.example/"}, "AUTH_ISSUER", id="issuer-plain-http-remote"
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "https://flowlab.auth0.com"}, "AUTH0_DOMAIN", id="domain-with-scheme"
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "flowlab.auth0.com/"}, "AUTH0_DOMAIN", id="domain-with-slash"
        ),
        pytest.param(
            {"AUTH0_DOMAIN": "a.auth0.com", "AUTH_ISSUER": "https://b.auth0.com/"},
            "AUTH0_DOMAIN",
            id="domain-disagrees",
        ),
        pytest.param({"AUTH_AUDIENCE": 'https://api"x'}, "AUTH_AUDIENCE", id="audience-with-quote"),
        pytest.param({"AUTH_JWKS_URL": "file:///etc/passwd"}, "AUTH_JWKS_URL", id="jwks-file-url"),
        pytest.param({"AUTH_ALGORITHMS": "HS256"}, "AUTH_ALGORITHMS", id="algorithm-hmac"),
        pytest.param({"AUTH_ALGORITHMS": "RS256,none"}, "AUTH_ALGORITHMS", id="algorithm-none"),
        pytest.param({"AUTH_ALGORITHMS": "RS999"}, "AUTH_ALGORITHMS", id="algorithm-unknown"),
        pytest.param({"CORS_ORIGINS": "*"}, "CORS_ORIGINS", id="cors-wildcard"),
        pytest.param(
            {"CORS_ORIGINS": "http://localhost:3000/app"}, "CORS_ORIGINS", id="cors-with-path"
        ),
        pytest.param(
            {"CORS_ORIGINS": "http://localhost:3000,"}, "CORS_ORIGINS", id="cors-empty-entry"
        ),
        pytest.param({"CORS_ORIGINS": "https://.*\\.example"}, "CORS_ORIGINS", id="cors-regex"),
        pytest.param(
            {"DATABASE_URL": "postgresql://db/api"}, "DATABASE_URL", id="database-not-sqlite"
        ),
        pytest.param({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL", id="database-without-path"),
        pytest.param({"API_PORT": "http"}, "API_PORT", id="port-not-a-number"),
        pytest.param({"API_PORT": "70000"}, "API_PORT", id="port-too-large"),
        pytest.param({"API_PORT": "-1"}, "API_PORT", id="port-negative"),
        pytest.param({"API_HOST": "localhost"}, "API_HOST", id="host-name"),
        pytest.param({"API_HOST": "127.0.0.1:80"}, "API_HOST", id="host-with-port"),
    ],
)
def test_an_unusable_setting_stops_create_app_with_one_line_naming_it(tmp_path, settings, named):
    with pytest.raises(ConfigurationError) as raised:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/api.sqlite3", **settings})

    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_an_unusable_database_location_is_a_configuration_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")

    with pytest.raises(ConfigurationError, match=r"^DATABASE_URL"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/file/api.sqlite3"})


def test_python_m_api_exits_with_one_line_naming_the_bad_setting(tmp_path):
    process = run_api(tmp_path, AUTH_ALGORITHMS="HS256")

    output, _ = process.communicate(timeout=30)

    assert process.returncode == 1
    assert output.strip().splitlines() == [
        "api: configuration error: AUTH_ALGORITHMS: algorithm 'HS256' "
        "is never accepted: use an asymmetric algorithm"
    ]
