"""The one-shot loopback listener that receives the authorization response (RFC 8252 §7.3).

"Native apps that are able to open a port on the loopback network interface without needing
special permissions (typically, those on desktop operating systems) can use the loopback
interface to receive the OAuth redirect." The listener binds ``127.0.0.1`` (RFC 8252 §8.3: the
IP literal, not ``localhost``, so no resolver or firewall rule can send the code elsewhere) on
port 0, so the operating system picks a free port, and it accepts exactly one ``GET /callback``:
the one whose ``state`` is this login's (:meth:`LoopbackListener.expect`). Any other program on
the machine can reach the port, so a callback with a missing or wrong ``state`` is answered
``400`` and ignored, and the listener goes on waiting for the real one; a second callback after
the real one is answered ``409``.

The browser gets a small page saying what the accepted response holds and telling the user to
return to the terminal: "Signed in" (a code came back, which the command line now exchanges),
"Access denied" (``error=access_denied``, with the server's ``error_description``) or "Login
failed" (any other error). Every value from the query is HTML-escaped. The page is written
before the command line is told the response arrived, so the browser gets its answer even when
the command line then stops at once with an error. The page sets ``Referrer-Policy:
no-referrer`` (the address bar holds the authorization code) and a CSP that allows nothing to
load and only its own inline style (by its hash). A browser that hangs up mid-request is no
error of the login and prints nothing.
"""

import base64
import hashlib
import hmac
import logging
import sys
import threading
from collections.abc import Mapping
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from shared.oidc_client import OIDCClientError

CALLBACK_PATH = "/callback"
# The one style of the closing page: inline, allowed by its hash, no external resource.
PAGE_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}"
    "main{max-width:32rem;margin:12vh auto;padding:1.5rem 2rem;background:#fff;"
    "border-radius:.75rem;border-top:.4rem solid var(--outcome);"
    "box-shadow:0 .25rem 1rem rgba(0,0,0,.08)}"
    "h1{font-size:1.4rem;margin:0 0 .5rem;color:var(--outcome)}"
    ".signed-in{--outcome:#1a7f37}.denied{--outcome:#9a6700}.error{--outcome:#cf222e}"
    "code{background:#eef0f3;padding:0 .25em;border-radius:.25em;overflow-wrap:anywhere}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
NOT_THIS_LOGIN_PAGE = b"This request was not sent by this login, so it was ignored.\n"
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}
PLAIN_TEXT = "text/plain; charset=utf-8"

logger = logging.getLogger(__name__)


class LoginTimeout(OIDCClientError):
    """No authorization response arrived in time."""


class LoopbackListener:
    """Listens on ``http://127.0.0.1:<free port>/callback`` for this login's authorization
    response."""

    def __init__(self) -> None:
        self._state: str | None = None
        self._parameters: dict[str, str] | None = None
        self._claimed = False
        self._received = threading.Event()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="loopback-listener", daemon=True
        )

    @property
    def redirect_uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{CALLBACK_PATH}"

    def __enter__(self) -> "LoopbackListener":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def expect(self, state: str) -> None:
        """Accept only the callback carrying ``state``; until then, every callback is refused."""
        self._state = state

    def wait(self, timeout: float) -> dict[str, str]:
        """The query parameters of the redirect, or :class:`LoginTimeout` after ``timeout`` s."""
        if not self._received.wait(timeout):
            raise LoginTimeout(
                f"login timed out: no response from the browser within {timeout:g} seconds"
            )
        return dict(self._parameters or {})

    def _from_this_login(self, parameters: Mapping[str, str]) -> bool:
        """Whether the callback carries this login's ``state``; a refusal's reason is logged."""
        received = parameters.get("state")
        if received is None:
            logger.warning(
                "Ignored a callback without a state: not this login's redirect; still waiting."
            )
            return False
        # RFC 6749 §10.12: "The client MUST implement CSRF protection for its redirection URI.
        # This is typically accomplished by requiring any request sent to the redirection URI
        # endpoint to include a value that binds the request to the user-agent's authenticated
        # state". RFC 8252 §8.9: native apps should "reject any incoming authorization responses
        # without a state value that matches a pending outgoing authorization request".
        if self._state is None or not hmac.compare_digest(received.encode(), self._state.encode()):
            logger.warning(
                "Ignored a callback whose state is not this login's (possible CSRF); still waiting."
            )
            return False
        return True

    def _claim(self, parameters: dict[str, str]) -> bool:
        """Keep the accepted callback's parameters; a later one is refused (one-shot)."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            self._parameters = parameters
            return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class CallbackHandler(BaseHTTPRequestHandler):
            # A connection that never sends its request (a browser's speculative preconnect)
            # must not hold a thread forever.
            timeout = 10

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != CALLBACK_PATH:
                    self._answer(404, b"Not found\n", PLAIN_TEXT)
                    return
                parameters = callback_parameters(url.query)
                # RFC 8252 §8.3: "Clients should open the network port only when starting the
                # authorization request and close it once the response is returned." A request
                # that is not this login's response leaves the port open for the real one.
                if not listener._from_this_login(parameters):
                    self._answer(400, NOT_THIS_LOGIN_PAGE, PLAIN_TEXT)
                elif not listener._claim(parameters):
                    self._answer(409, b"This login was already completed.\n", PLAIN_TEXT)
                else:
                    try:
                        self._answer(200, closing_page(parameters), PAGE_HEADERS["Content-Type"])
                    finally:
                        # Only now may the command line go on, and perhaps exit: the browser
                        # has its whole page.
                        listener._received.set()

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                for name, value in PAGE_HEADERS.items():
                    self.send_header(name, content_type if name == "Content-Type" else value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                # The request line holds the authorization code: never print it.
                return

        return CallbackHandler


def closing_page(response: Mapping[str, str]) -> bytes:
    """The page the browser shows once the response is accepted: what happened, then "you can
    close this tab"."""
    outcome, title, text = _outcome(response)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} · Flowlab native demo</title><style>{PAGE_STYLE}</style></head>\n"
        f'<body><main class="{outcome}"><h1>{title}</h1><p>{text}</p>'
        "<p>You can close this tab and return to the terminal.</p></main></body></html>\n"
    ).encode()


def _outcome(response: Mapping[str, str]) -> tuple[str, str, str]:
    """The page's class, title and HTML text for the response: signed in, denied or an error."""
    if "error" not in response:
        return (
            "signed-in",
            "Signed in",
            "The authorization server signed you in and sent this login's code back. The "
            "command line now exchanges it for tokens and prints each step.",
        )
    # RFC 6749 §4.1.2.1: access_denied: "The resource owner or authorization server denied the
    # request."
    if response["error"] == "access_denied":
        outcome, title = "denied", "Access denied"
        text = "The login was refused, so the command line gets no tokens."
    else:
        outcome, title = "error", "Login failed"
        text = f"The authorization server answered <code>{escape(response['error'])}</code>."
    if response.get("error_description"):
        text += f" It said: <q>{escape(response['error_description'])}</q>"
    return outcome, title, text


def callback_parameters(query: str) -> dict[str, str]:
    """The parameters of a callback's query, each given once."""
    # RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." A
    # repeated parameter is dropped, so its check fails (a repeated state refuses the callback).
    values = parse_qs(query, keep_blank_values=True)
    return {name: items[0] for name, items in values.items() if len(items) == 1}


class _QuietServer(ThreadingHTTPServer):
    """A server that prints no traceback when a browser hangs up mid-request."""

    def handle_error(self, request: object, client_address: object) -> None:
        # Called from inside the handler's ``except`` block, so the exception is still current.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
