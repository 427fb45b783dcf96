"""The one-shot loopback listener that receives the authorization response (RFC 8252 §7.3).

"Native apps that are able to open a port on the loopback network interface without needing
special permissions (typically, those on desktop operating systems) can use the loopback
interface to receive the OAuth redirect." The listener binds ``127.0.0.1`` (RFC 8252 §8.3: the
IP literal, not ``localhost``, so no resolver or firewall rule can send the code elsewhere) on
port 0, so the operating system picks a free port, and it serves exactly one ``GET /callback``.

The browser gets a small static page telling the user to return to the terminal, whatever the
response holds (a code or an error such as ``access_denied``). The page is written before the
command line is told the response arrived, so the browser gets its answer even when the command
line then stops at once with an error. The page sets ``Referrer-Policy: no-referrer`` (the
address bar holds the authorization code) and a CSP that allows nothing to load.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from shared.oidc_client import OIDCClientError

CALLBACK_PATH = "/callback"
CLOSE_TAB_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flowlab native demo</title></head>
<body><h1>Flowlab native demo</h1>
<p>The login response reached the command line. You can close this tab and return to the terminal.</p>
</body></html>
"""
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


class LoginTimeout(OIDCClientError):
    """No authorization response arrived in time."""


class LoopbackListener:
    """Listens on ``http://127.0.0.1:<free port>/callback`` for one authorization response."""

    def __init__(self) -> None:
        self._parameters: dict[str, str] | None = None
        self._claimed = False
        self._received = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
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

    def wait(self, timeout: float) -> dict[str, str]:
        """The query parameters of the redirect, or :class:`LoginTimeout` after ``timeout`` seconds."""
        if not self._received.wait(timeout):
            raise LoginTimeout(f"login timed out: no response from the browser within {timeout:g} seconds")
        return dict(self._parameters or {})

    def _claim(self, query: str) -> bool:
        """Keep the first callback's parameters; a later one is refused (one-shot)."""
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            # RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than
            # once." A repeated parameter is dropped, so its check fails below.
            values = parse_qs(query, keep_blank_values=True)
            self._parameters = {name: items[0] for name, items in values.items() if len(items) == 1}
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
                    self._answer(404, b"Not found\n", "text/plain; charset=utf-8")
                elif not listener._claim(url.query):
                    self._answer(409, b"This login was already completed.\n", "text/plain; charset=utf-8")
                else:
                    try:
                        self._answer(200, CLOSE_TAB_PAGE, PAGE_HEADERS["Content-Type"])
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
