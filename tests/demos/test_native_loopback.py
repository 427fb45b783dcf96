"""The native demo's one-shot loopback listener (RFC 8252 §7.3), over real HTTP."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from native_demo.loopback import LoginTimeout, LoopbackListener

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The command line's worst case: it stops the moment the response arrives (an error such as
# access_denied ends the login at once), without a chance to finish anything else.
EXIT_AS_SOON_AS_THE_RESPONSE_ARRIVES = """
import os
from native_demo.loopback import LoopbackListener
with LoopbackListener() as listener:
    print(listener.redirect_uri, flush=True)
    listener.wait(60)
    os._exit(1)
"""


@pytest.fixture
def listener():
    with LoopbackListener() as running:
        yield running


def test_redirect_uri_is_the_ipv4_loopback_literal_with_an_ephemeral_port(listener):
    prefix, _, port = listener.redirect_uri.removesuffix("/callback").rpartition(":")
    assert prefix == "http://127.0.0.1"
    assert 1024 <= int(port) <= 65535


def test_callback_parameters_are_returned_and_the_browser_is_told_to_close_the_tab(listener):
    answer = requests.get(
        listener.redirect_uri,
        params={"code": "c0de", "state": "s1", "iss": "http://localhost:9000/"},
        timeout=5,
    )
    assert listener.wait(1) == {"code": "c0de", "state": "s1", "iss": "http://localhost:9000/"}
    assert answer.status_code == 200
    assert "You can close this tab" in answer.text
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_other_paths_are_not_found_and_the_listener_keeps_waiting(listener):
    base = listener.redirect_uri.removesuffix("/callback")
    assert requests.get(base + "/favicon.ico", timeout=5).status_code == 404
    assert requests.get(base + "/callbackx?code=1&state=2", timeout=5).status_code == 404
    with pytest.raises(LoginTimeout):
        listener.wait(0.1)


def test_only_the_first_callback_counts(listener):
    requests.get(listener.redirect_uri, params={"code": "first", "state": "s"}, timeout=5)
    second = requests.get(listener.redirect_uri, params={"code": "second", "state": "s"}, timeout=5)
    assert second.status_code == 409
    assert listener.wait(1)["code"] == "first"


def test_a_repeated_parameter_is_dropped(listener):
    requests.get(listener.redirect_uri + "?code=a&state=s&state=t", timeout=5)
    assert listener.wait(1) == {"code": "a"}


def test_wait_times_out_with_a_clear_message(listener):
    started = time.monotonic()
    with pytest.raises(
        LoginTimeout, match=r"login timed out: no response from the browser within 0.2 seconds"
    ):
        listener.wait(0.2)
    assert time.monotonic() - started < 10


def test_a_silent_connection_does_not_block_the_callback(listener):
    port = int(listener.redirect_uri.rsplit(":", 1)[1].removesuffix("/callback"))
    with socket.create_connection(("127.0.0.1", port)):
        answer = requests.get(listener.redirect_uri, params={"code": "c", "state": "s"}, timeout=5)
        assert answer.status_code == 200


def test_the_port_is_closed_after_the_login():
    with LoopbackListener() as listener:
        redirect_uri = listener.redirect_uri
    with pytest.raises(requests.ConnectionError):
        requests.get(redirect_uri, timeout=2)


def test_the_browser_gets_the_whole_page_even_when_the_command_line_exits_at_once():
    process = subprocess.Popen(
        [sys.executable, "-c", EXIT_AS_SOON_AS_THE_RESPONSE_ARRIVES],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        redirect_uri = process.stdout.readline().strip()
        answer = requests.get(
            redirect_uri, params={"error": "access_denied", "state": "s"}, timeout=30
        )
        assert process.wait(timeout=30) == 1
    finally:
        process.kill()
        process.communicate()
    assert answer.status_code == 200
    assert "You can close this tab" in answer.text
