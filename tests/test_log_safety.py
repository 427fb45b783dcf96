"""shared.log_safety: a logged value is always one line, and can be read back exactly."""

import codecs

import pytest

from shared.log_safety import escaped, loggable_path


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("alice@flowlab.test", "alice@flowlab.test"),
        ("Zoë 東京", "Zoë 東京"),
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("nul\x00 esc\x1b del\x7f", "nul\\x00 esc\\x1b del\\x7f"),
        ("next line\x85", "next line\\x85"),
        ("line separator\u2028paragraph\u2029", "line separator\\u2028paragraph\\u2029"),
        ("back\\slash", "back\\\\slash"),
        (None, "None"),
        (42, "42"),
    ],
)
def test_escaped_keeps_printable_text_and_escapes_the_rest(value, logged):
    assert escaped(value) == logged


@pytest.mark.parametrize("value", ["a\r\nb\\n", "\x00\x85\u2028\U000e0001 x", "plain"])
def test_escaped_text_reads_back_exactly(value):
    assert (
        codecs.decode(escaped(value).encode("ascii", "backslashreplace"), "unicode_escape") == value
    )


def test_loggable_path_is_one_field_without_spaces_or_controls():
    assert loggable_path("/api/\n200 GET /x") == "/api/%0A200%20GET%20/x"
