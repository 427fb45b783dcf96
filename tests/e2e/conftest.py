"""End-to-end harness: the real authorization server, API and SPA server as processes.

Every part runs exactly as a learner starts it (`python -m authserver`, `python -m api`,
`python -m spa_demo`), on free ports of 127.0.0.1, with its own SQLite files in a temporary
folder. The authorization server gets a copy of the packaged tenant whose SPA origin
(`http://localhost:3000`) is replaced by the one the SPA server was started on.

Browser tests drive Debian's Chromium through Playwright; no browser is downloaded.
"""

import pytest

from tests.support.browser import BROWSER_WAIT_MS
from tests.support.processes import (
    PROJECT_ROOT,
    Service,
    api_service,
    authserver_service,
    free_port,
    service_environment,
)

AUDIENCE = "https://api.flowlab.local"
PACKAGED_SPA_ORIGIN = "http://localhost:3000"


class Stack:
    """The authorization server, the API and the SPA server of one test session."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.audience = AUDIENCE
        authserver_port, api_port, spa_port = free_port(), free_port(), free_port()
        self.issuer = f"http://localhost:{authserver_port}/"
        self.api_url = f"http://localhost:{api_port}"
        self.spa_url = f"http://localhost:{spa_port}"

        tenant = (PROJECT_ROOT / "authserver" / "tenant.toml").read_text()
        tenant_path = tmp_path / "tenant.toml"
        tenant_path.write_text(tenant.replace(PACKAGED_SPA_ORIGIN, self.spa_url))

        base_env = service_environment()
        self.services = {
            "authserver": authserver_service(tmp_path, authserver_port, self.issuer, tenant_path),
            "api": api_service(
                tmp_path, api_port, self.issuer, self.audience, CORS_ORIGINS=self.spa_url
            ),
            "spa": Service(
                "spa",
                "spa_demo",
                base_env
                | {
                    "SPA_PORT": str(spa_port),
                    "AUTH_ISSUER": self.issuer,
                    "AUTH_AUDIENCE": self.audience,
                    "AUTH_CLIENT_ID": "spa-demo",
                    "API_URL": self.api_url,
                },
                f"{self.spa_url}/",
                tmp_path / "spa.log",
            ),
        }

    def start(self):
        for service in self.services.values():
            service.start()

    def stop(self):
        for service in reversed(list(self.services.values())):
            service.stop()

    def client_env(self, **extra):
        """The environment a demo client runs with against this stack."""
        return (
            service_environment()
            | {"AUTH_ISSUER": self.issuer, "AUTH_AUDIENCE": self.audience, "API_URL": self.api_url}
            | extra
        )

    def stop_api(self):
        self.services["api"].stop()

    def start_api(self):
        self.services["api"].start()

    def logs(self, name):
        return self.services[name].logs()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(BROWSER_WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()
