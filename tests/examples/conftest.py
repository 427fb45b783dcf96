"""Fixtures of the tests of ``examples/``: the copied package, served by a real server.

``authserver``
    ``python -m authserver`` (:class:`tests.authserver.helpers.ServerProcess`: the packaged tenant,
    its own database under a temporary folder) on a free port; one for the whole folder.
``machine_token(scope=None)``
    A real access token for the Flowlab API from ``authserver``, by client credentials as
    ``m2m-demo`` (``import:data read:imports read:messages``, or only ``scope``).
``user_token``
    A real access token of a user (Alice, by code + PKCE as ``spa-demo``) for the Flowlab API with
    the scopes ``import:data read:messages``: with RBAC off, as by Auth0's default, a user is
    granted any scope the client asks for, a machine client's included.
``copy_package(directory, *files)``
    The package ``yourservice`` in ``directory``: an empty ``__init__.py`` and a copy of each
    file, exactly as a README here tells a learner to copy them.
``CopiedService``
    A server started by ``isolated_python.py`` (the project off ``sys.path``) in the folder of a
    copied package, with only the settings the test gives.
``serve_copy(name, directory, command, **settings)``
    Starts a ``CopiedService`` on a free port; every one is stopped at the end of the module.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.authserver.helpers import API_AUDIENCE, ServerProcess, UserAgent, run_code_flow
from tests.support.processes import FLOWLAB_SETTING_PREFIXES, PROJECT_ROOT, Service, free_port

PACKAGE = "yourservice"
VALIDATOR = PROJECT_ROOT / "shared" / "token_validation.py"
EXAMPLES = PROJECT_ROOT / "examples"
ISOLATED_PYTHON = Path(__file__).with_name("isolated_python.py")
# What each examples/<framework>/README.md says to copy beside the validator, and the server.
FRAMEWORKS = {
    "flask": (
        [PROJECT_ROOT / "shared" / "flask_auth.py", EXAMPLES / "flask" / "app.py"],
        ["gunicorn", "--bind", "127.0.0.1:{port}", "yourservice.app:app"],
    ),
    "fastapi": (
        [EXAMPLES / "fastapi" / "fastapi_auth.py", EXAMPLES / "fastapi" / "app.py"],
        ["uvicorn", "--host", "127.0.0.1", "--port", "{port}", "yourservice.app:app"],
    ),
    "django": (
        [
            EXAMPLES / "django" / name
            for name in ("django_auth.py", "settings.py", "urls.py", "views.py", "wsgi.py")
        ],
        ["gunicorn", "--bind", "127.0.0.1:{port}", "yourservice.wsgi"],
    ),
}


@pytest.fixture(scope="package")
def authserver(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("authserver"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def machine_token(authserver):
    def token(scope=None):
        response = authserver.client_credentials(audience=API_AUDIENCE, scope=scope)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    return token


@pytest.fixture(scope="package")
def user_token(authserver):
    flow = run_code_flow(
        UserAgent(authserver), audience=API_AUDIENCE, scope="openid import:data read:messages"
    )
    return flow.tokens["access_token"]


def copy_package(directory: Path, *files: Path) -> Path:
    package = directory / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for file in files:
        shutil.copy(file, package / file.name)
    return package


def isolated_environment(**settings: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH or any Flowlab setting, plus ``settings``."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(FLOWLAB_SETTING_PREFIXES)
    }
    return environment | {"PYTHONUNBUFFERED": "1"} | settings


class CopiedService(Service):
    """``python isolated_python.py <command>`` in ``directory``; ready once ``/api/public`` is."""

    def __init__(self, name: str, directory: Path, command: list[str], port: int, **settings):
        super().__init__(
            name,
            command[0],
            isolated_environment(**settings),
            f"http://127.0.0.1:{port}/api/public",
            directory / f"{name}.log",
        )
        self.command = command
        self.base_url = f"http://127.0.0.1:{port}"

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ISOLATED_PYTHON), *self.command],
                cwd=self.log_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_until_ready()


@pytest.fixture(scope="module")
def serve_copy():
    """``serve_copy(name, directory, command, **settings)``: a started :class:`CopiedService` on a
    free port (``{port}`` in ``command`` is replaced by it), stopped after the test module."""
    services = []

    def serve(name, directory, command, **settings):
        port = free_port()
        command = [part.replace("{port}", str(port)) for part in command]
        service = CopiedService(name, directory, command, port, **settings)
        services.append(service)
        service.start()
        return service

    yield serve
    for service in services:
        service.stop()
