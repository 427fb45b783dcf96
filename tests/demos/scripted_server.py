"""A real HTTP server on 127.0.0.1:<ephemeral> that answers from a script and records requests.

The demos' retry rules are about upstream behaviour the real API and authorization server do not
show on demand: a ``429`` with ``Retry-After``, a ``503``, a dropped connection, a ``401`` for a
token that was valid a second ago. This server plays such answers in order, over real HTTP, so
the demo code under test runs unchanged.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], deque[Reply]] = {}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.scripted = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="scripted-server", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base_url + "/"

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Answer ``method path`` with ``replies`` in order; the last one repeats."""
        with self._lock:
            self._scripts[(method, path)] = deque(replies)

    def requests_to(self, method: str, path: str) -> list[Received]:
        with self._lock:
            return [
                request
                for request in self.received
                if (request.method, request.path) == (method, path)
            ]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next_reply(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            replies = self._scripts.get((request.method, request.path))
            if not replies:
                return Reply(404, {"error": "not_found"})
            return replies.popleft() if len(replies) > 1 else replies[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``received`` instead."""

    def do_GET(self) -> None:
        self._play()

    def do_POST(self) -> None:
        self._play()

    def _play(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Received(
            self.command, self.path.split("?", 1)[0], dict(self.headers), self.rfile.read(length)
        )
        reply = self.server.scripted._next_reply(request)  # type: ignore[attr-defined]
        if reply.drop:
            self.close_connection = True
            return
        body = json.dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
