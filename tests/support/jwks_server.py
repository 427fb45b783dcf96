"""A real HTTP server on 127.0.0.1:<ephemeral> that publishes a JWKS and misbehaves on demand.

It serves ``/.well-known/jwks.json`` (behaviour switchable by the test), the issuer's discovery
document ``/.well-known/openid-configuration``, and any JSON document a test adds; it counts the
requests made to every path.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.keys import SigningKey

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"

OVERSIZED_BODY_BYTES = 2 * 1024 * 1024


class JWKSServer:
    """Start with ``JWKSServer().start()``, stop with ``close()`` (the fixtures do both)."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.cache_control: str | None = None
        self.behaviour = "keys"
        self.trickle_interval = 0.05
        self.slow_seconds = 5.0
        self.documents: dict[str, Any] = {}
        self.redirects: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        self.paths: list[str] = []
        self.release = threading.Event()
        self._answering = threading.Event()
        self._answering.set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.jwks_server = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="jwks-server",
            daemon=True,
        )

    # -- addresses -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def issuer(self) -> str:
        """An Auth0-style issuer (trailing slash) whose discovery document this server serves."""
        return self.base_url + "/"

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    # -- what to serve ---------------------------------------------------------------------------

    def publish(self, *keys: SigningKey) -> None:
        """Serve exactly these keys' public JWKs, and behave normally again."""
        self.keys = list(keys)
        self.behaviour = "keys"

    def misbehave(self, behaviour: str) -> None:
        """Switch the JWKS path to one of: ``"keys"`` (normal), ``"500"`` (HTTP 500),
        ``"garbage"`` (200 with HTML), ``"oversized"`` (200 with a 2 MiB JSON body and its
        Content-Length), ``"oversized-undeclared"`` (the same without Content-Length),
        ``"hang"`` (never answer until the server closes), ``"trickle"`` (headers, then one byte
        of the body every ``trickle_interval`` seconds, 0.05 by default), ``"slow"`` (the keys,
        after ``slow_seconds``, 5 by default), ``"no-keys"`` (200 with ``{"keys": []}``)."""
        self.behaviour = behaviour

    def hold(self) -> None:
        """Keep every JWKS request waiting, counted but unanswered, until ``answer_held()``
        (a slow endpoint whose slowness the test ends, not a clock)."""
        self._answering.clear()

    def answer_held(self) -> None:
        """Answer the held JWKS requests (with the behaviour and keys set now), and answer
        new ones at once again."""
        self._answering.set()

    def serve_json(self, path: str, document: Any) -> None:
        """Serve ``document`` as JSON at ``path`` (replaces the discovery document if that path)."""
        self.documents[path] = document

    def serve_redirect(self, path: str, location: str) -> None:
        """Answer ``path`` with a 302 to ``location``."""
        self.redirects[path] = location

    def jwks_document(self) -> dict[str, Any]:
        return {"keys": [key.jwk for key in self.keys]}

    # -- what was asked --------------------------------------------------------------------------

    def count(self, path: str = JWKS_PATH) -> int:
        """How many requests reached ``path`` so far."""
        with self._lock:
            return self.hits[path]

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.hits.values())

    def _record(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1
            self.paths.append(path)

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> JWKSServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.release.set()
        self._answering.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the counters instead."""

    def do_GET(self) -> None:
        state: JWKSServer = self.server.jwks_server  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        state._record(path)
        if path in state.redirects:
            self.send_response(302)
            self.send_header("Location", state.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path in state.documents:
            self._send_json(state.documents[path])
        elif path == JWKS_PATH:
            self._serve_jwks(state)
        elif path == DISCOVERY_PATH:
            self._send_json({"issuer": state.issuer, "jwks_uri": state.jwks_url})
        else:
            self._send(404, b'{"error":"not_found"}')

    def _serve_jwks(self, state: JWKSServer) -> None:
        state._answering.wait()
        if state.release.is_set():
            return
        behaviour = state.behaviour
        if behaviour == "keys":
            self._send_json(state.jwks_document(), cache_control=state.cache_control)
        elif behaviour == "500":
            self._send(500, b'{"error":"server_error"}')
        elif behaviour == "garbage":
            self._send(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        elif behaviour == "no-keys":
            self._send_json({"keys": []})
        elif behaviour in ("oversized", "oversized-undeclared"):
            padding = "x" * OVERSIZED_BODY_BYTES
            body = json.dumps(
                {"keys": [key.jwk for key in state.keys], "padding": padding}
            ).encode()
            self._send(200, body, declare_length=behaviour == "oversized")
        elif behaviour == "hang":
            state.release.wait()
        elif behaviour == "slow":
            if not state.release.wait(state.slow_seconds):
                self._send_json(state.jwks_document(), cache_control=state.cache_control)
        elif behaviour == "trickle":
            body = json.dumps(state.jwks_document()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for byte in body:
                    if state.release.wait(state.trickle_interval):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
        else:
            raise ValueError(f"unknown behaviour {behaviour!r}")

    def _send_json(self, document: Any, cache_control: str | None = None) -> None:
        self._send(200, json.dumps(document).encode(), cache_control=cache_control)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        *,
        cache_control: str | None = None,
        declare_length: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if declare_length:
            self.send_header("Content-Length", str(len(body)))
        if cache_control is not None:
            self.send_header("Cache-Control", cache_control)
        self.end_headers()
        # A client that stops reading at its size limit closes the connection under us.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)
