"""Settings: local defaults, the AUTH0_DOMAIN shortcut, and a one-line error naming any unusable
setting (from ``create_app`` and from ``python -m api``)."""

import pytest

from api import create_app
from api.config import ConfigurationError, Settings
from shared.flask_auth import EXTENSION_NAME
from shared.token_validation import (
    DEFAULT_HTTP_TIMEOUT,
    DEFAULT_JWKS_COOLDOWN,
    DEFAULT_JWKS_MAX_AGE,
    DEFAULT_JWKS_STALE_IF_ERROR,
)
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
    assert (
        settings.jwks_max_age,
        settings.jwks_cooldown,
        settings.jwks_stale_if_error,
        settings.http_timeout,
    ) == (
        DEFAULT_JWKS_MAX_AGE,
        DEFAULT_JWKS_COOLDOWN,
        DEFAULT_JWKS_STALE_IF_ERROR,
        DEFAULT_HTTP_TIMEOUT,
    )


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
            "AUTH_JWKS_MAX_AGE": "120",
            "AUTH_JWKS_COOLDOWN": "2.5",
            "AUTH_JWKS_STALE_IF_ERROR": " 600 ",
            "AUTH_HTTP_TIMEOUT": "0.5",
        }
    )

    assert settings.issuer == "https://issuer.example/"
    assert settings.audience == "https://api.example"
    assert settings.jwks_url == "http://authserver:9000/.well-known/jwks.json"
    assert settings.algorithms == ("RS256", "ES256")
    assert settings.cors_origins == ("https://app.example", "http://localhost:5173")
    assert settings.database_path == tmp_path / "data.sqlite3"
    assert settings.bind == "0.0.0.0:8080"
    assert settings.jwks_max_age == 120
    assert settings.jwks_cooldown == 2.5
    assert settings.jwks_stale_if_error == 600
    assert settings.http_timeout == 0.5


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
        pytest.param({"AUTH_JWKS_MAX_AGE": "0"}, "AUTH_JWKS_MAX_AGE", id="max-age-zero"),
        pytest.param({"AUTH_JWKS_MAX_AGE": "10m"}, "AUTH_JWKS_MAX_AGE", id="max-age-unit"),
        pytest.param({"AUTH_JWKS_COOLDOWN": "-1"}, "AUTH_JWKS_COOLDOWN", id="cooldown-negative"),
        pytest.param({"AUTH_JWKS_COOLDOWN": "nan"}, "AUTH_JWKS_COOLDOWN", id="cooldown-nan"),
        pytest.param(
            {"AUTH_JWKS_STALE_IF_ERROR": "inf"}, "AUTH_JWKS_STALE_IF_ERROR", id="stale-infinite"
        ),
        pytest.param({"AUTH_HTTP_TIMEOUT": "0"}, "AUTH_HTTP_TIMEOUT", id="timeout-zero"),
        pytest.param({"AUTH_HTTP_TIMEOUT": "fast"}, "AUTH_HTTP_TIMEOUT", id="timeout-word"),
        # Values that would weaken the cache rather than tune it.
        pytest.param({"AUTH_JWKS_COOLDOWN": "0.01"}, "AUTH_JWKS_COOLDOWN", id="cooldown-tiny"),
        pytest.param({"AUTH_JWKS_COOLDOWN": "301"}, "AUTH_JWKS_COOLDOWN", id="cooldown-huge"),
        pytest.param({"AUTH_JWKS_MAX_AGE": "1e9"}, "AUTH_JWKS_MAX_AGE", id="max-age-huge"),
        pytest.param(
            {"AUTH_JWKS_STALE_IF_ERROR": "604800"}, "AUTH_JWKS_STALE_IF_ERROR", id="stale-a-week"
        ),
        pytest.param({"AUTH_HTTP_TIMEOUT": "1e10"}, "AUTH_HTTP_TIMEOUT", id="timeout-huge"),
    ],
)
def test_an_unusable_setting_stops_create_app_with_one_line_naming_it(tmp_path, settings, named):
    with pytest.raises(ConfigurationError) as raised:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/api.sqlite3", **settings})

    message = str(raised.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_the_jwks_cache_settings_reach_the_validator(app_config, jwks_server, tokens):
    app = create_app(
        {
            **app_config,
            "AUTH_JWKS_MAX_AGE": "120",
            "AUTH_JWKS_COOLDOWN": "7",
            "AUTH_JWKS_STALE_IF_ERROR": "600",
            "AUTH_HTTP_TIMEOUT": "2",
        }
    )
    jwks = app.extensions[EXTENSION_NAME].validator.jwks
    jwks_server.misbehave("500")

    response = app.test_client().get(
        "/api/private", headers={"Authorization": f"Bearer {tokens.user()}"}
    )

    assert (jwks.max_age, jwks.cooldown, jwks.stale_if_error, jwks.timeout) == (120, 7, 600, 2)
    # The 503's Retry-After is the cooldown the validator was given (shared/flask_auth.py).
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"


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


def test_python_m_api_names_an_unusable_jwks_cache_setting(tmp_path):
    process = run_api(tmp_path, AUTH_JWKS_COOLDOWN="0")

    output, _ = process.communicate(timeout=30)

    assert process.returncode == 1
    assert output.strip().splitlines() == [
        "api: configuration error: AUTH_JWKS_COOLDOWN must be a number of seconds, "
        "at least 1 and at most 300, such as 30"
    ]
