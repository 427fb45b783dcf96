"""Mistakes the copied examples refuse when they start, not at a request: a service started
without the issuer or the audience it trusts, and (Django) a protected ``async def`` view."""

import subprocess
import sys

import pytest

from tests.authserver.helpers import API_AUDIENCE
from tests.examples.conftest import (
    FRAMEWORKS,
    ISOLATED_PYTHON,
    VALIDATOR,
    copy_package,
    isolated_environment,
)
from tests.support.processes import free_port

# A server whose application fails to import exits at once (gunicorn: "Worker failed to boot");
# generous, for a loaded machine.
START_UP_TIMEOUT = 120
SETTINGS = {"AUTH_ISSUER": "http://127.0.0.1:9/", "AUTH_AUDIENCE": API_AUDIENCE}


def run_copy(directory, command, **settings):
    """``python isolated_python.py <command>`` in ``directory`` until it exits."""
    port = str(free_port())
    return subprocess.run(
        [sys.executable, str(ISOLATED_PYTHON), *(part.replace("{port}", port) for part in command)],
        cwd=directory,
        env=isolated_environment(**settings),
        capture_output=True,
        text=True,
        timeout=START_UP_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("missing", sorted(SETTINGS))
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_a_service_without_its_issuer_or_audience_does_not_start(framework, missing, tmp_path):
    # Without AUTH_ISSUER, a default of http://localhost:9000/ would trust whatever listens on
    # port 9000 of the machine the service runs on.
    files, command = FRAMEWORKS[framework]
    copy_package(tmp_path, VALIDATOR, *files)
    settings = {name: value for name, value in SETTINGS.items() if name != missing}

    finished = run_copy(tmp_path, command, **settings)

    assert finished.returncode != 0
    assert f"{missing} is not set" in finished.stdout + finished.stderr


ASYNC_VIEW = """
from .django_auth import BearerAuth
from .token_validation import TokenValidator

auth = BearerAuth(TokenValidator("http://127.0.0.1:9/", "https://api.example"), realm="api")


@auth.require(scopes=["read:messages"])
async def list_messages(request):
    return None
"""


def test_the_django_decorator_refuses_an_async_view_when_it_decorates_it(tmp_path):
    files, _ = FRAMEWORKS["django"]
    package = copy_package(tmp_path, VALIDATOR, *files)
    (package / "async_views.py").write_text(ASYNC_VIEW)

    finished = run_copy(tmp_path, ["yourservice.async_views"])

    assert finished.returncode != 0
    assert "TypeError: " in finished.stderr
    assert "list_messages is a coroutine function" in finished.stderr
