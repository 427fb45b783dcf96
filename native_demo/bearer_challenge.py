"""Why the API refused a call: its ``WWW-Authenticate`` challenge (RFC 6750 §3), read, and the fix.

RFC 6750 §3: "If the protected resource request does not include authentication credentials or
does not contain an access token that enables access to the protected resource, the resource
server MUST include the HTTP "WWW-Authenticate" response header field". Its ``error`` says why:
``invalid_token`` (expired, revoked, malformed: log in again) or ``insufficient_scope`` ("The
request requires higher privileges than provided by the access token"), whose ``scope`` names
what the call needs: log in again asking for it, ``login --scope write:messages``.
"""

import re
import shlex

# RFC 6750 §3: auth-params are name=value pairs, the value a token or a quoted-string
# (RFC 9110 §5.6.4: a backslash quotes the next character).
# A name starts where no name character precedes it, so a long word is scanned once, not once
# from each of its characters.
AUTH_PARAMETER = re.compile(r'(?<![\w-])([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')
# A challenge is a few hundred bytes; a longer one is not read (a hostile server's megabyte of
# headers must not hold the CLI).
MAX_CHALLENGE_LENGTH = 8192
QUOTED_PAIR = re.compile(r"\\(.)")
# As every README shows it: run from the project folder with the interpreter `make` set up.
LOGIN_COMMAND = ".venv/bin/python -m native_demo login"


def challenge_parameters(challenge: str) -> dict[str, str]:
    """The auth-params of a ``Bearer`` challenge (``error``, ``scope``, ...); other schemes: {}."""
    scheme, _, parameters = challenge.strip().partition(" ")
    if scheme.lower() != "bearer" or len(parameters) > MAX_CHALLENGE_LENGTH:
        return {}
    found: dict[str, str] = {}
    for name, quoted, token in AUTH_PARAMETER.findall(parameters):
        found.setdefault(name.lower(), QUOTED_PAIR.sub(r"\1", quoted) if quoted else token)
    return found


def hint(status: int, challenge: str) -> str:
    """What to do about a ``401`` or ``403`` with this challenge, in one sentence."""
    parameters = challenge_parameters(challenge)
    error = parameters.get("error")
    description = parameters.get("error_description", "")
    if error == "insufficient_scope" and parameters.get("scope"):
        scope = parameters["scope"]
        return (
            f"the access token lacks the scope {scope}: log in again asking for it, "
            f"`{LOGIN_COMMAND} --scope {shlex.quote(scope)}` (add --keep for `call`); the "
            "authorization server grants it only to a user who may have it"
        )
    if error == "insufficient_scope":
        return f"no scope fixes this refusal: {description or 'the API refused the token'}"
    if error == "invalid_token":
        return (
            f"the API refused the access token ({description or 'invalid_token'}): "
            f"log in again, `{LOGIN_COMMAND}`"
        )
    if status == 401:
        return f"the API wants a Bearer access token: log in first, `{LOGIN_COMMAND}`"
    return "the API refused the call without naming a scope; see the answer above"
