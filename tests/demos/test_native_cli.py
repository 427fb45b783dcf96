"""The native demo's command line: what it refuses before any network traffic."""

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from native_demo.cli import api_path
from native_demo.native_app import NativeApp
from native_demo.session import Session
from shared.oidc_client import ClientConfig, Narrator
from tests.demos.scripted_server import Reply, ScriptedServer
from tests.support.processes import service_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/api/me", "/api/messages?limit=5"])
def test_api_paths_are_accepted(path):
    assert api_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "https://attacker.example/api/me",
        "//attacker.example/api/me",
        "api/me",
        "/api/me\nHost: x",
        "/api/ me",
    ],
    ids=["absolute-url", "scheme-relative", "relative", "control-character", "space"],
)
def test_anything_but_a_path_on_the_api_is_refused_so_the_token_goes_nowhere_else(path):
    with pytest.raises(argparse.ArgumentTypeError):
        api_path(path)


def run(*arguments, **environ):
    env = service_environment(**environ)
    return subprocess.run(
        [sys.executable, "-m", "native_demo", *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_call_without_a_kept_session_says_how_to_make_one(tmp_path):
    result = run("call", "/api/me", "--session", str(tmp_path / "none.json"))
    assert result.returncode == 1
    assert (
        result.stderr == f"error: no saved session at {tmp_path / 'none.json'}; "
        f"run `.venv/bin/python -m native_demo login --keep` first\n"
    )


def test_an_unusable_setting_is_one_line_and_status_1():
    result = run("login", "--no-browser", AUTH_ISSUER="http://tenant.example/")
    assert result.returncode == 1
    assert result.stderr == "error: AUTH_ISSUER must use https (plain http only for localhost)\n"


def test_an_unreachable_issuer_is_one_line_and_status_1():
    result = run("login", "--no-browser", AUTH_ISSUER="http://127.0.0.1:9/")
    assert result.returncode == 1
    assert (
        result.stderr == "error: discovery document unreachable at "
        "http://127.0.0.1:9/.well-known/openid-configuration (ConnectionError)\n"
    )


def test_help_explains_each_command():
    result = run("--help")
    assert result.returncode == 0
    for command in ("login", "call", "refresh"):
        assert command in result.stdout


@pytest.mark.parametrize("status", [307, 308])
def test_an_api_call_never_follows_a_redirect(status):
    """A 307 or 308 would re-send the request, access token and body included, to the Location's
    host."""
    api, elsewhere = ScriptedServer().start(), ScriptedServer().start()
    try:
        elsewhere.script("POST", "/api/messages", Reply(201, {"id": 1}))
        redirect = Reply(status, None, headers={"Location": elsewhere.base_url + "/api/messages"})
        api.script("POST", "/api/messages", redirect)
        config = ClientConfig.from_env({"API_URL": api.base_url}, default_client_id="native-demo")
        app = NativeApp(config, requests.Session(), Narrator(logging.getLogger("tests.quiet")))
        session = Session(config.issuer, "native-demo", "access-token", None, None, None, {})

        response = app.call(session, "POST", "/api/messages", {"text": "hi"})

        assert response.status_code == status
        assert elsewhere.received == []
    finally:
        api.close()
        elsewhere.close()
