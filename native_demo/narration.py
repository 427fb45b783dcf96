"""How the native demo narrates a login in a terminal: each thing once, or the steps only.

A login sees the same things more than once: the refresh returns tokens whose claims are mostly
those of the login's tokens, and the API answers the refreshed token as it answered the first.
:class:`TerminalNarrator` prints a token's claims, and an answer's body, in full the first time;
the next time it names only what changed ("as before, except iat, exp, jti"). Details are shown
as one JSON object with one field a line (a nested value on its line), not a deep indented tree.

With ``quiet=True`` only the article's steps are printed, and what the user must see whatever the
level of detail: the URL to open and the warnings (a refusal's ``WWW-Authenticate`` challenge and
its hint among them). Everything printed is escaped as ``shared.oidc_client`` escapes it
(CWE-117): text that came from outside cannot start a line of its own.
"""

import json
import logging
from collections.abc import Callable, Mapping

import requests

from shared.log_safety import escaped
from shared.oidc_client import Narrator, decode_for_display, json_object, redact

INDENT = "      "


class TerminalNarrator(Narrator):
    """A :class:`Narrator` for a person at a terminal: each thing once; ``quiet``: the steps."""

    def __init__(self, logger: logging.Logger, *, quiet: bool = False):
        super().__init__(logger)
        self.quiet = quiet
        self._shown: dict[str, dict] = {}

    def info(self, message: str, /, **details: object) -> None:
        if not self.quiet:
            super().info(message, **details)

    def request(
        self,
        method: str,
        url: str,
        *,
        fields: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not self.quiet:
            super().request(method, url, fields=fields, headers=headers)

    def response(self, response: requests.Response, *, only: tuple[str, ...] = ()) -> None:
        """The status and the JSON body; a body seen before at this URL is shown as a change."""
        if self.quiet:
            return
        body = json_object(response)
        if body is None or only:
            super().response(response, only=only)
            return
        status = f"<- {response.status_code} {response.reason}"
        self._once(f"{response.request.method} {response.url}", status, body, redact)

    def token_claims(self, title: str, token: str) -> None:
        """A token's claims in full the first time, then only those that changed."""
        if self.quiet:
            return
        decoded = decode_for_display(token)
        if decoded is None:
            super().token_claims(title, token)
            return
        header = json.dumps(decoded["header"], ensure_ascii=False)
        self._once(title, f"{title} (decoded for display; header {header})", decoded["claims"])

    def _once(
        self,
        key: str,
        message: str,
        fields: dict,
        shown: Callable[[dict], dict] = dict,
    ) -> None:
        """``fields`` in full (as ``shown`` makes them safe to print), or, when ``key`` was shown
        before, only those that differ from then (compared before ``shown``: two tokens with the
        same shortened form still differ)."""
        before = self._shown.get(key)
        self._shown[key] = fields
        if before is None:
            self.logger.info("%s", self._with_details(message, shown(fields)))
            return
        changed = {name: value for name, value in fields.items() if before.get(name) != value}
        gone = [name for name in before if name not in fields]
        if not changed and not gone:
            self.logger.info("%s", escaped(f"{message}: the same as before"))
            return
        names = ", ".join([*changed, *(f"{name} (gone)" for name in gone)])
        summary = f"{message}: as before, except {names}"
        self.logger.info("%s", self._with_details(summary, shown(changed)))

    def _with_details(self, message: str, details: Mapping[str, object]) -> str:
        """The message, then ``details`` as a JSON object, one field a line: a request's only
        ``headers`` or ``body``, or a response's ``body``, is unwrapped into its fields."""
        fields = details
        if len(details) == 1:
            ((name, value),) = details.items()
            if name in ("headers", "body") and isinstance(value, dict):
                fields = value
        if not fields:
            return escaped(message)
        lines = [
            f"{INDENT}  {_json(name)}: {_json(value)}{',' if number < len(fields) else ''}"
            for number, (name, value) in enumerate(fields.items(), start=1)
        ]
        return "\n".join([escaped(message), INDENT + "{", *lines, INDENT + "}"])


def _json(value: object) -> str:
    """``value`` as one line of JSON, every unprintable character (U+2028 ...) ``\\u``-escaped."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return "".join(
        character if character.isprintable() else json.dumps(character)[1:-1] for character in text
    )
