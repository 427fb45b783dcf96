"""One way to put a value that came from outside into a log line: :func:`escaped`, and for a
request path :func:`loggable_path`.

CWE-117 (Improper Output Neutralization for Logs): "The product does not neutralize or
incorrectly neutralizes output that is written to logs", so a CR or LF in a request path, a
typed email address or a ``client_id`` would start a forged log line. Every attacker-controlled
value a Flowlab part logs goes through :func:`escaped`: characters that are not printable (C0
and C1 controls, line and paragraph separators, ...) and the backslash become Python-style
escapes, so one record is always one line and the original value can be read back exactly.
A request path is logged percent-encoded instead, as it travelled, so that it stays one field
without spaces in a request log line.
"""

from urllib.parse import quote

LOGGABLE_PATH_CHARACTERS = "/:@!$&'()*+,;=-._~"

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_character(character: str) -> str:
    if character in _ESCAPES:
        return _ESCAPES[character]
    if character.isprintable():
        return character
    code = ord(character)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def escaped(value: object) -> str:
    """``value`` as text that cannot break a log line (see the module docstring)."""
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape_character(character) for character in text)


def loggable_path(path: str) -> str:
    """A (percent-decoded) request path, percent-encoded again: no space, no control character."""
    return quote(path, safe=LOGGABLE_PATH_CHARACTERS)
