"""CWE-117: a value from a token, a JWKS or a discovery document never starts a second log line.

Each row puts a line break (CR LF, or a Unicode one that log viewers and ``str.splitlines``
honour) into a ``kid``, an ``iss`` or a discovery document's ``jwks_uri``, and checks that every
record the validator logs is printable, one line, while still naming the value.
"""

from __future__ import annotations

import logging

import pytest

from shared.token_validation import InvalidToken, KeysUnavailable
from tests.support.jwks_server import DISCOVERY_PATH

LOGGER = "shared.token_validation"
FORGED = "INFO forged: user admin logged in"
LINE_BREAKS = [
    pytest.param("\r\n", id="crlf"),
    pytest.param("\n", id="lf"),
    pytest.param("\u2028", id="line-separator"),
    pytest.param("\u2029", id="paragraph-separator"),
    pytest.param("\x85", id="next-line"),
]


def assert_one_line_records(caplog) -> None:
    messages = [record.getMessage() for record in caplog.records if record.name == LOGGER]
    assert any("forged" in message for message in messages), messages
    for message in messages:
        assert message.isprintable(), repr(message)
        assert len(message.splitlines()) == 1, repr(message)


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_a_kid_with_a_line_break_is_logged_on_one_line(
    token_factory, validator, second_rsa_key, caplog, line_break
) -> None:
    token = token_factory(header={"kid": f"rsa-key-9{line_break}{FORGED}"}, key=second_rsa_key)
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(InvalidToken):
        validator.validate(token)
    assert_one_line_records(caplog)


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_an_iss_with_a_line_break_is_logged_on_one_line(
    token_factory, validator, caplog, line_break
) -> None:
    token = token_factory({"iss": f"https://evil.example/{line_break}{FORGED}"})
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(InvalidToken):
        validator.validate(token)
    assert_one_line_records(caplog)


@pytest.mark.parametrize("line_break", LINE_BREAKS)
def test_a_jwks_uri_with_a_line_break_is_logged_on_one_line(
    token_factory, jwks_server, make_validator, caplog, line_break
) -> None:
    """requests quotes a host that is no IDNA name as it came (InvalidURL): the download error
    that the validator logs, and the KeysUnavailable reason built from it, stay one line."""
    jwks_uri = f"http://jwks{line_break}INFO-forged-user-admin-logged-in.invalid/keys"
    jwks_server.serve_json(DISCOVERY_PATH, {"issuer": jwks_server.issuer, "jwks_uri": jwks_uri})
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(KeysUnavailable):
        make_validator(jwks_url=None).validate(token_factory())
    assert_one_line_records(caplog)
