"""CWE-117: no value a client sends can write a log line of its own (shared.log_safety)."""

import logging

import pytest

from tests.authserver.helpers import ALICE, SPA_CALLBACK, UserAgent, code_request

FORGED = "\r\n2026-12-01 INFO authserver: login of auth0|admin from 10.0.0.1"


def assert_one_line_each(records, escaped_fragment: str):
    messages = [record.getMessage() for record in records if record.name.startswith("authserver")]
    assert messages, "nothing was logged"
    assert not [message for message in messages if "\n" in message or "\r" in message]
    assert any(escaped_fragment in message for message in messages), messages


@pytest.fixture
def authserver_log(caplog):
    caplog.set_level(logging.INFO, logger="authserver")
    return caplog


def test_a_request_path_cannot_forge_a_log_line(authserver, authserver_log):
    UserAgent(authserver).session.get(
        authserver.url("/u/nothing%0D%0A2026-12-01%20INFO%20forged"), timeout=10
    )
    assert_one_line_each(authserver_log.records, "/u/nothing%0D%0A2026-12-01%20INFO%20forged")


def test_a_typed_email_address_cannot_forge_a_log_line(authserver, pkce, authserver_log):
    user_agent = UserAgent(authserver)
    page = user_agent.authorize(**code_request("spa-demo", SPA_CALLBACK, pkce))
    user_agent.login(page, ALICE[0] + FORGED, "wrong-password")
    assert_one_line_each(
        authserver_log.records, "alice@flowlab.test\\r\\n2026-12-01 info authserver"
    )


@pytest.mark.parametrize("parameter", ["audience", "redirect_uri"])
def test_authorization_parameters_cannot_forge_a_log_line(
    authserver, pkce, authserver_log, parameter
):
    request = code_request("spa-demo", SPA_CALLBACK, pkce) | {
        parameter: "https://x.example/" + FORGED
    }
    UserAgent(authserver).authorize(**request)
    assert_one_line_each(authserver_log.records, "https://x.example/\\r\\n2026-12-01 INFO")
