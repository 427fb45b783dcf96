"""docker-compose.yml, checked by what runs on a machine without a Docker engine.

`docker-compose config` validates the file; then every service is started as a process with
exactly the command and environment the file gives it, container addresses mapped to
127.0.0.1 and published ports to free ones. The services must work together through the
compose wiring: the browser-facing issuer `http://localhost:<port>/` in tokens, the API
fetching keys from the container-facing JWKS address, the daemon getting tokens from the
container-facing token endpoint and importing the sample feed into the API. Each healthcheck
command is run as the container would run it: it passes and leaves no line in the request log.
The file builds one image once, and the native CLI run on the host with its defaults reaches
the published ports, as the README says.
"""

import re
import shutil
import subprocess
import sys

import jwt
import pytest
import requests
import yaml

from shared.settings import LOCAL_API_URL, LOCAL_ISSUER
from tests.authserver.helpers import ALICE, Endpoints, UserAgent
from tests.e2e.demo_process import DemoProcess
from tests.support.processes import (
    PROJECT_ROOT,
    Service,
    free_port,
    service_environment,
)

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
README = PROJECT_ROOT / "README.md"
HEALTH_PATHS = {"authserver": "/.well-known/openid-configuration", "api": "/healthz"}


def published_port(entry):
    """(host_ip, target) of a `ports` entry, as docker-compose v1 ("127.0.0.1:3010:3010/tcp")
    or v2 ({"host_ip": ..., "target": ...}) prints it."""
    if isinstance(entry, dict):
        return entry.get("host_ip"), int(entry["target"])
    host_ip, _, target = entry.split("/")[0].rpartition(":")
    return host_ip.rpartition(":")[0] or None, int(target)


@pytest.fixture(scope="module")
def compose_config():
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.fail("docker-compose is not installed: `make test` installs Debian's docker-compose")
    result = subprocess.run(
        [docker_compose, "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_defines_every_part(compose_config):
    assert set(compose_config["services"]) == {"authserver", "api", "spa", "webapp", "m2m"}


def test_one_image_is_built_once_and_run_by_every_service(compose_config):
    services = compose_config["services"]
    (builder,) = [name for name, service in services.items() if "build" in service]
    assert {service["image"] for service in services.values()} == {services[builder]["image"]}
    # docker-compose v1 makes the images in dependency order: the builder must come first.
    assert "depends_on" not in services[builder]


def test_the_native_cli_on_the_host_reaches_the_containers_with_its_defaults(compose_config):
    services = compose_config["services"]
    assert services["spa"]["environment"]["AUTH_ISSUER"] == LOCAL_ISSUER
    assert services["spa"]["environment"]["API_URL"] == LOCAL_API_URL
    published = {
        name: published_port(service["ports"][0])
        for name, service in services.items()
        if service.get("ports")
    }
    assert published["authserver"] == ("127.0.0.1", 9000) and LOCAL_ISSUER.endswith(":9000/")
    assert published["api"] == ("127.0.0.1", 3010) and LOCAL_API_URL.endswith(":3010")


def test_the_readme_uses_docker_compose_v2():
    section = README.read_text(encoding="utf-8").split("## Docker Compose\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    commands = [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        for line in block.splitlines()
    ]
    assert commands[0].startswith("docker compose up --build")
    assert not [command for command in commands if command.startswith("docker-compose")]


def test_published_ports_listen_on_loopback_only(compose_config):
    for name, service in compose_config["services"].items():
        for entry in service.get("ports", []):
            host_ip, _ = published_port(entry)
            assert host_ip == "127.0.0.1", f"{name} publishes {entry} beyond this machine"


def test_every_service_runs_with_its_compose_command_and_environment(compose_config, tmp_path):
    services = compose_config["services"]
    container_ports = {
        name: published_port(service["ports"][0])[1]
        for name, service in services.items()
        if service.get("ports")
    }
    local_ports = {name: free_port() for name in container_ports}

    def localize(value):
        """Container addresses → 127.0.0.1, published ports → this test's free ports."""
        value = str(value)
        for name, container_port in container_ports.items():
            value = value.replace(f"//{name}:{container_port}", f"//127.0.0.1:{local_ports[name]}")
            value = value.replace(
                f"//127.0.0.1:{container_port}/", f"//127.0.0.1:{local_ports[name]}/"
            )
            value = value.replace(f"localhost:{container_port}", f"localhost:{local_ports[name]}")
        value = value.replace("/app/.data", str(tmp_path))
        return "127.0.0.1" if value == "0.0.0.0" else value

    def environment(name):
        env = service_environment(
            **{key: localize(value) for key, value in services[name]["environment"].items()}
        )
        port_variable = next((key for key in env if key.endswith("_PORT")), None)
        if port_variable:
            env[port_variable] = str(local_ports[name])
        return env

    ready_paths = {
        "authserver": "/.well-known/openid-configuration",
        "api": "/healthz",
        "spa": "/",
        "webapp": "/",
    }
    started = []
    try:
        for name in ("authserver", "api", "spa", "webapp"):
            command = services[name]["command"]
            assert command[:2] == ["python", "-m"]
            service = Service(
                name,
                command[2],
                environment(name),
                f"http://127.0.0.1:{local_ports[name]}{ready_paths[name]}",
                tmp_path / f"{name}.log",
            )
            service.start()
            started.append(service)
            if name in HEALTH_PATHS:
                assert_healthcheck_passes_unlogged(service, services[name], localize)

        m2m_command = services["m2m"]["command"]
        assert m2m_command[:3] == ["python", "-m", "m2m_demo"]
        daemon = subprocess.run(
            [sys.executable, "-m", "m2m_demo", "--once"],
            env=environment("m2m"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert daemon.returncode == 0, daemon.stdout + daemon.stderr

        m2m_env = environment("m2m")
        token = requests.post(
            m2m_env["AUTH_TOKEN_URL"],
            data={
                "grant_type": "client_credentials",
                "client_id": m2m_env["AUTH_CLIENT_ID"],
                "client_secret": m2m_env["AUTH_CLIENT_SECRET"],
                "audience": m2m_env["AUTH_AUDIENCE"],
            },
            timeout=10,
        ).json()["access_token"]
        imports = requests.get(
            f"{m2m_env['API_URL']}/api/imports",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert imports.status_code == 200, imports.text
        assert imports.json()["records"] > 0
        assert (
            jwt.decode(token, options={"verify_signature": False})["iss"] == m2m_env["AUTH_ISSUER"]
        )
        assert m2m_env["AUTH_ISSUER"].startswith("http://localhost:")
        assert environment("api")["AUTH_JWKS_URL"].startswith("http://127.0.0.1:")
        assert_the_web_app_sends_the_browser_to_the_browser_facing_issuer(
            environment("webapp"), m2m_env["AUTH_ISSUER"]
        )

        assert_the_native_cli_logs_in_from_the_host(
            service_environment(
                AUTH_ISSUER=localize(LOCAL_ISSUER), API_URL=localize(LOCAL_API_URL)
            ),
            tmp_path,
        )
    finally:
        for service in reversed(started):
            service.stop()


def assert_the_web_app_sends_the_browser_to_the_browser_facing_issuer(env, issuer):
    """The web app read discovery at the container-facing address, yet its login sends the
    browser to the issuer's own /authorize."""
    login = requests.get(f"{env['WEBAPP_BASE_URL']}/login", allow_redirects=False, timeout=10)
    assert login.status_code == 302, login.text
    assert login.headers["Location"].startswith(f"{issuer}authorize?")
    assert env["AUTH_TOKEN_URL"].startswith("http://127.0.0.1:")


def assert_healthcheck_passes_unlogged(service, compose_service, localize):
    """Run the service's healthcheck as Docker would; then a plain GET of the same path, which
    the log must show, so that the missing healthcheck line is not a log written late."""
    check = compose_service["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    path = HEALTH_PATHS[service.name]

    def lines_for_path():
        return sum(f'{path}"' in line or f"{path} " in line for line in service.logs().splitlines())

    before = lines_for_path()
    result = subprocess.run(
        [sys.executable, "-c", localize(check[3])], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert requests.get(service.ready_url, timeout=10).status_code == 200
    service.wait_for_log(lambda _: lines_for_path() > before, what=f"GET {path}")
    assert lines_for_path() == before + 1, service.logs()


class Issuer(Endpoints):
    """The endpoints of the authorization server at ``issuer``."""

    def __init__(self, issuer):
        self.issuer = issuer


def assert_the_native_cli_logs_in_from_the_host(env, tmp_path):
    """`python -m native_demo login` as the README runs it on the host (its defaults, here mapped
    to the test's ports), alice logging in over HTTP where a browser would."""
    cli = DemoProcess(
        "native_demo", "login", "--no-browser", "--timeout", "60", env=env, cwd=tmp_path
    )
    try:
        url = cli.wait_for_line(r"^(http://\S+/authorize\?\S+)$", timeout=60).group(1)
        browser = UserAgent(Issuer(env["AUTH_ISSUER"]))
        login_page = browser.follow(browser.session.get(url, allow_redirects=False, timeout=10))
        redirect = browser.follow(browser.login(login_page, *ALICE))
        assert redirect.headers["Location"].startswith("http://127.0.0.1:"), redirect.text
        assert requests.get(redirect.headers["Location"], timeout=10).status_code == 200
        assert cli.finish() == 0, cli.output
    finally:
        cli.kill()
