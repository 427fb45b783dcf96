"""A gate between the m2m daemon and the real API that holds each `POST /api/imports` in flight.

The daemon's promises are about what happens while a batch is on its way: a signal must let it
finish, a crash must neither lose nor duplicate it. The gate makes "on its way" last as long as
the test needs, at one of two points:

- ``api_first=True``: the API has imported the batch, and its answer waits at the gate until
  ``release`` is set (a crash meanwhile is a lost answer);
- ``api_first=False``: the request waits at the gate before the API sees it, and is dropped when
  ``release`` is set (a crash meanwhile is a request that never arrived).

``arrived`` is set once a request waits at the gate. Everything else is forwarded unchanged.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
HOLD_TIMEOUT = 60.0


class ImportsGate:
    def __init__(self, api_url, *, api_first):
        self.api_url = api_url
        self.api_first = api_first
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.gate = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def forward(self, path, headers, body):
        return requests.post(self.api_url + path, data=body, headers=headers, timeout=30)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        """Quiet: the test reads the daemon's log and the API's listing instead."""

    def do_POST(self):
        gate = self.server.gate
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: self.headers[name] for name in FORWARDED_HEADERS if name in self.headers}
        answer = gate.forward(self.path, headers, body) if gate.api_first else None
        gate.arrived.set()
        gate.release.wait(HOLD_TIMEOUT)
        if answer is None:
            self.close_connection = True
            return
        try:
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)
        except OSError:
            # The daemon is gone: its answer is lost, which is what the test is about.
            self.close_connection = True
