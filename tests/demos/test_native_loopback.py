"""The native demo's one-shot loopback listener (RFC 8252 §7.3), over real HTTP."""

import base64
import hashlib
import html
import re
import socket
import struct
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
    listener.expect("s")
    print(listener.redirect_uri, flush=True)
    listener.wait(60)
    os._exit(1)
"""


STATE = "this-login's-state"


@pytest.fixture
def listener():
    with LoopbackListener() as running:
        running.expect(STATE)
        yield running


def port_of(listener):
    return int(listener.redirect_uri.rsplit(":", 1)[1].removesuffix("/callback"))


def test_redirect_uri_is_the_ipv4_loopback_literal_with_an_ephemeral_port(listener):
    prefix, _, port = listener.redirect_uri.removesuffix("/callback").rpartition(":")
    assert prefix == "http://127.0.0.1"
    assert 1024 <= int(port) <= 65535


def test_callback_parameters_are_returned_and_the_browser_is_told_to_close_the_tab(listener):
    answer = requests.get(
        listener.redirect_uri,
        params={"code": "c0de", "state": STATE, "iss": "http://localhost:9000/"},
        timeout=5,
    )
    assert listener.wait(1) == {"code": "c0de", "state": STATE, "iss": "http://localhost:9000/"}
    assert answer.status_code == 200
    assert "You can close this tab" in answer.text
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_closing_page_loads_nothing_and_allows_only_its_own_inline_style(listener):
    answer = requests.get(listener.redirect_uri, params={"code": "c", "state": STATE}, timeout=5)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answer.headers["Content-Security-Policy"].split(";")
    )
    (style,) = re.findall(r"<style>(.*?)</style>", answer.text)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy == {
        "default-src": "'none'",
        "style-src": f"'sha256-{digest}'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    assert "style=" not in answer.text and not re.search(r"<(script|link|img)\b", answer.text)


@pytest.mark.parametrize(
    ("response", "outcome", "says"),
    [
        ({"code": "c"}, "Signed in", "exchanges it for tokens"),
        (
            {"error": "access_denied", "error_description": "The user said no."},
            "Access denied",
            "The user said no.",
        ),
        (
            {"error": "server_error", "error_description": "Try later."},
            "Login failed",
            "<code>server_error</code>",
        ),
    ],
    ids=["signed-in", "denied", "error"],
)
def test_the_closing_page_says_what_happened(listener, response, outcome, says):
    answer = requests.get(listener.redirect_uri, params={**response, "state": STATE}, timeout=5)
    assert answer.status_code == 200
    assert f"<h1>{outcome}</h1>" in answer.text and f"<title>{outcome} " in answer.text
    assert says in answer.text
    assert "You can close this tab and return to the terminal." in answer.text


def test_the_closing_page_escapes_the_error_description(listener):
    injected = '<script>alert(1)</script><img src=x onerror="steal()">'
    answer = requests.get(
        listener.redirect_uri,
        params={"error": "access_denied", "error_description": injected, "state": STATE},
        timeout=5,
    )
    assert "<script>" not in answer.text and "<img" not in answer.text
    assert html.escape(injected) in answer.text


def test_other_paths_are_not_found_and_the_listener_keeps_waiting(listener):
    base = listener.redirect_uri.removesuffix("/callback")
    assert requests.get(base + "/favicon.ico", timeout=5).status_code == 404
    assert requests.get(base + "/callbackx?code=1&state=2", timeout=5).status_code == 404
    with pytest.raises(LoginTimeout):
        listener.wait(0.1)


def test_only_the_first_callback_counts(listener):
    requests.get(listener.redirect_uri, params={"code": "first", "state": STATE}, timeout=5)
    second = requests.get(
        listener.redirect_uri, params={"code": "second", "state": STATE}, timeout=5
    )
    assert second.status_code == 409
    assert listener.wait(1)["code"] == "first"


def test_a_repeated_parameter_is_dropped(listener):
    requests.get(
        listener.redirect_uri, params=[("code", "a"), ("code", "b"), ("state", STATE)], timeout=5
    )
    assert listener.wait(1) == {"state": STATE}


def assert_refused_as_not_this_login(answer):
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.text == "This request was not sent by this login, so it was ignored.\n"


@pytest.mark.parametrize(
    "forged",
    [
        {"code": "evil", "state": "attacker"},
        {"code": "evil"},
        {"code": "evil", "state": ""},
        {"code": "evil", "state": STATE + "x"},
        [("code", "evil"), ("state", STATE), ("state", "attacker")],
        {"error": "access_denied", "state": "attacker"},
        {"error": "access_denied"},
    ],
    ids=[
        "wrong-state",
        "no-state",
        "empty-state",
        "longer-state",
        "repeated-state",
        "error-wrong-state",
        "error-no-state",
    ],
)
def test_a_callback_not_of_this_login_is_refused_and_the_real_one_still_completes_it(
    listener, forged
):
    forged_answer = requests.get(listener.redirect_uri, params=forged, timeout=5)

    assert_refused_as_not_this_login(forged_answer)
    with pytest.raises(LoginTimeout):
        listener.wait(0.2)
    real = requests.get(listener.redirect_uri, params={"code": "real", "state": STATE}, timeout=5)
    assert real.status_code == 200
    assert listener.wait(1) == {"code": "real", "state": STATE}


def test_a_refused_callback_is_logged_without_its_values(listener, caplog):
    requests.get(
        listener.redirect_uri, params={"code": "evil-code", "state": "attacker-state"}, timeout=5
    )

    assert "state is not this login's" in caplog.text
    assert "evil-code" not in caplog.text and "attacker-state" not in caplog.text


def test_every_callback_is_refused_until_the_state_is_known():
    with LoopbackListener() as listener:
        for state in ("", "anything"):
            assert_refused_as_not_this_login(
                requests.get(listener.redirect_uri, params={"code": "c", "state": state}, timeout=5)
            )
        with pytest.raises(LoginTimeout):
            listener.wait(0.1)


def test_a_browser_that_hangs_up_mid_request_prints_no_traceback(listener, capfd):
    with socket.create_connection(("127.0.0.1", port_of(listener))) as hanging_up:
        hanging_up.sendall(b"GET /callback?state=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # The request line is read; the headers never end. Close with a reset (SO_LINGER 0),
        # as a browser tab closed mid-request does.
        time.sleep(0.2)
        hanging_up.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # The handler's error would be printed by now; the listener still answers the real callback.
    time.sleep(0.3)
    assert (
        requests.get(
            listener.redirect_uri, params={"code": "c", "state": STATE}, timeout=5
        ).status_code
        == 200
    )
    assert listener.wait(1)["code"] == "c"
    assert capfd.readouterr().err == ""


def test_wait_times_out_with_a_clear_message(listener):
    started = time.monotonic()
    with pytest.raises(
        LoginTimeout, match=r"login timed out: no response from the browser within 0.2 seconds"
    ):
        listener.wait(0.2)
    assert time.monotonic() - started < 10


def test_a_silent_connection_does_not_block_the_callback(listener):
    with socket.create_connection(("127.0.0.1", port_of(listener))):
        answer = requests.get(
            listener.redirect_uri, params={"code": "c", "state": STATE}, timeout=5
        )
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
