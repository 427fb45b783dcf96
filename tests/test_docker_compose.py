"""docker-compose.yml, checked by what runs on a machine without a Docker engine.

`docker-compose config` validates the file; then every service is started as a process with
exactly the command and environment the file gives it, container addresses mapped to
127.0.0.1 and published ports to free ones. The services must work together through the
compose wiring: the browser-facing issuer `http://localhost:<port>/` in tokens, the API
fetching keys from the container-facing JWKS address, the daemon getting tokens from the
container-facing token endpoint and importing the sample feed into the API.
"""

import shutil
import subprocess
import sys

import jwt
import pytest
import requests
import yaml

from tests.support.processes import (
    PROJECT_ROOT,
    Service,
    free_port,
    service_environment,
)

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


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
    assert set(compose_config["services"]) == {"authserver", "api", "spa", "m2m"}


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

    ready_paths = {"authserver": "/.well-known/openid-configuration", "api": "/healthz", "spa": "/"}
    started = []
    try:
        for name in ("authserver", "api", "spa"):
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
    finally:
        for service in reversed(started):
            service.stop()
