"""The admin commands (users add|block|unblock, clients list|secret), the default settings, and
bad settings."""

import re

import pytest

from authserver.config import Settings
from tests.authserver.helpers import (
    ALICE,
    API_AUDIENCE,
    M2M_HASH_LINE,
    PKCE,
    SPA_CALLBACK,
    TEST_TENANT,
    code_request,
    redirect_parameters,
    run_code_flow,
    tenant_text,
    verified_claims,
)


def spa_request(**extra):
    return code_request("spa-demo", SPA_CALLBACK, PKCE.new(), **extra)


def test_users_add_creates_a_user_who_can_log_in(authserver, user_agent, run_cli):
    arguments = [
        "users",
        "add",
        "Carol@Flowlab.test",
        "--name",
        "Carol",
        "--permission",
        "read:stats",
    ]
    result = run_cli(authserver, *arguments, input="carol-password\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("added auth0|") and "carol@flowlab.test" in result.stdout
    carol = ("carol@flowlab.test", "carol-password")
    flow = run_code_flow(
        user_agent,
        credentials=carol,
        audience=API_AUDIENCE,
        scope="openid profile read:stats read:messages",
    )
    _, claims = verified_claims(authserver, flow.tokens["access_token"], API_AUDIENCE)
    assert claims["permissions"] == ["read:stats"]
    assert claims["scope"] == "openid profile read:stats"
    assert claims["sub"] == result.stdout.split()[1]


@pytest.mark.parametrize(
    ("arguments", "password", "message"),
    [
        (["alice@flowlab.test"], "another-password", "exists already"),
        (
            ["dave@flowlab.test", "--permission", "delete:everything"],
            "dave-password",
            "not among the scopes",
        ),
        (["dave@flowlab.test", "--audience", "https://unknown.example"], "dave-password", "no API"),
        (["dave@flowlab.test"], "short", "at least 8 characters"),
        (["not-an-email"], "dave-password", "not an email address"),
    ],
)
def test_users_add_refuses_bad_input_and_changes_nothing(
    authserver, user_agent, run_cli, arguments, password, message
):
    result = run_cli(authserver, "users", "add", *arguments, input=f"{password}\n")
    assert result.returncode == 1
    assert message in result.stderr
    page = user_agent.authorize(**spa_request())
    assert "Wrong email or password." in user_agent.login(page, arguments[0], password).text


def test_users_block_ends_sessions_and_logins_until_unblock(authserver, user_agent, run_cli):
    run_code_flow(user_agent)
    blocked = run_cli(authserver, "users", "block", ALICE[0])
    assert blocked.returncode == 0, blocked.stderr
    assert (
        redirect_parameters(user_agent.authorize(**spa_request(prompt="none")))["error"]
        == "login_required"
    )
    page = user_agent.login(user_agent.authorize(**spa_request()), *ALICE)
    assert page.status_code == 400 and "This account is blocked." in page.text
    assert run_cli(authserver, "users", "unblock", ALICE[0]).returncode == 0
    assert "code" in redirect_parameters(user_agent.sign_in(user_agent.authorize(**spa_request())))


def test_users_block_of_an_unknown_user_fails(authserver, run_cli):
    result = run_cli(authserver, "users", "block", "nobody@flowlab.test")
    assert result.returncode == 1
    assert "no user has the email address nobody@flowlab.test" in result.stderr


def test_clients_list_shows_the_applications_of_the_tenant(authserver, run_cli):
    result = run_cli(authserver, "clients", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["CLIENT", "ID"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"spa-demo", "native-demo", "m2m-demo", "webapp-demo", "partner-app"}
    assert rows["webapp-demo"][1:3] == ["regular_web", "yes"]
    assert rows["partner-app"][1:3] == ["native", "no"]
    assert rows["m2m-demo"][1] == "non_interactive"


def test_clients_secret_makes_a_random_secret_and_the_hash_line_the_server_accepts(
    authserver, start_authserver, run_cli
):
    first, second = (run_cli(authserver, "clients", "secret") for _ in range(2))
    assert first.returncode == 0, first.stderr
    secret = re.fullmatch(r"client secret: ([A-Za-z0-9_-]+)", first.stdout.splitlines()[0]).group(1)
    # 32 random bytes (256 bits) in base64url; a new secret, and a new key, every time.
    assert len(secret) == 43 and secret not in second.stdout
    hash_line = first.stdout.splitlines()[-1]
    assert re.fullmatch(
        r'client_secret_hash = "hmac-sha256\$[A-Za-z0-9_-]{43}\$[0-9a-f]{64}"', hash_line
    )
    assert hash_line.split("$")[1] != second.stdout.splitlines()[-1].split("$")[1]
    rotated = start_authserver(tenant_text((M2M_HASH_LINE, hash_line)))
    assert (
        rotated.client_credentials(audience=API_AUDIENCE, client_secret=secret).status_code == 200
    )
    assert rotated.client_credentials(audience=API_AUDIENCE).json()["error"] == "invalid_client"


def test_clients_secret_needs_no_valid_tenant_file(authserver, run_cli):
    # The command that makes the hash a refused tenant file asks for must work while it is refused.
    authserver.tenant_path.write_text(TEST_TENANT.replace("hmac-sha256$", "scrypt:32768:8:1$"))
    assert "must be an hmac-sha256 hash" in run_cli(authserver, "clients", "list").stderr
    result = run_cli(authserver, "clients", "secret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("client secret: ")


def test_defaults_serve_the_packaged_tenant_on_port_9000_as_localhost(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}) == Settings(
        host="127.0.0.1",
        port=9000,
        issuer="http://localhost:9000/",
        tenant=None,
        database=str(tmp_path.resolve() / ".data" / "authserver.sqlite3"),
        rotation_safety_period=45,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AUTHSERVER_ISSUER", "http://localhost:9000", "must end with '/'"),
        ("AUTHSERVER_ISSUER", "http://auth.example/", "must use https"),
        ("AUTHSERVER_PORT", "port", "AUTHSERVER_PORT must be a port number"),
        ("AUTHSERVER_PORT", "\u00b2", "AUTHSERVER_PORT must be a port number"),
        ("AUTHSERVER_TENANT", "/nonexistent/tenant.toml", "cannot read tenant file"),
        (
            "AUTHSERVER_ROTATION_SAFETY_PERIOD",
            "45s",
            "AUTHSERVER_ROTATION_SAFETY_PERIOD must be a whole number of seconds",
        ),
    ],
)
def test_bad_settings_stop_the_server_with_a_clear_message(
    authserver, run_process, variable, value, message
):
    result = run_process(authserver, "serve", changes={variable: value})
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
