"""Serving a Flowlab WSGI app with gunicorn's threaded workers, the one way every part does it.

The app is built before gunicorn starts, so a bad setting stops the start with one line instead
of a traceback per worker. gunicorn's runtime control socket is off: it would be shared by every
gunicorn of the same user on the machine.

gunicorn reads a request's body only when the app reads ``wsgi.input``, and a body whose framing
is broken (a chunk size that is not hexadecimal, a chunk without its CRLF, a connection closed
before the body's end) raises gunicorn's own exceptions out of that read, deep in Flask's form or
JSON parsing: an unexpected error, a 500. Every app served here reads a body through
:class:`FramedBody`, which turns them into a 400 (:class:`MalformedBody`), answered in the app's
own error form; the precise reason goes to the log, escaped.

gunicorn also refuses some requests before any app sees them (a malformed request line or
header, a request line or header over its limits) with an HTML page of its own, through
``gunicorn.util.write_error``, its only hook for them. A part that passes ``refusal`` to
:func:`serve` answers those in its own form instead: ``refusal(status)`` gives the headers and
body, generic, never echoing the request (gunicorn still logs the precise reason).
"""

import logging
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData, ParseException
from gunicorn.workers import gthread
from werkzeug.exceptions import BadRequest

from shared.log_safety import escaped

log = logging.getLogger(__name__)


class MalformedBody(BadRequest):
    """The request's body does not follow its framing (RFC 9112 §6 and §7.1): the client's error.

    RFC 9112 §7.1: "chunk-size = 1*HEXDIG"; RFC 9110 §15.5.1: "The 400 (Bad Request) status
    code indicates that the server cannot or will not process the request due to something that
    is perceived to be a client error (e.g., malformed request syntax, invalid request message
    framing, or deceptive request routing)."
    """

    description = "The request body is malformed."


class FramedBody:
    """gunicorn's ``wsgi.input``, whose framing errors are :class:`MalformedBody` (400)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except (ParseException, NoMoreData) as error:
            log.info("request body refused: %s", escaped(f"{type(error).__name__}: {error}"))
            raise MalformedBody() from None

    def read(self, size: int | None = None) -> bytes:
        return self._read(self._body.read, size)

    def readline(self, size: int | None = None) -> bytes:
        return self._read(self._body.readline, size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        return self._read(self._body.readlines, hint)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


def framed_bodies(application: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """``application`` reading every request body through :class:`FramedBody`."""

    def application_with_framed_bodies(environ: dict[str, Any], start_response: Any):
        # Only a request that announces a body has one to read (RFC 9112 §6.1, §6.2).
        if "HTTP_TRANSFER_ENCODING" in environ or environ.get("CONTENT_LENGTH"):
            environ["wsgi.input"] = FramedBody(environ["wsgi.input"])
        return application(environ, start_response)

    return application_with_framed_bodies


class QuickQuitThreadWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker, whose quick shutdown (SIGINT, SIGQUIT) ends the process at once.

    Ctrl-C in a terminal reaches the whole process group, the worker included, and gunicorn's own
    quick shutdown could hang until the arbiter's SIGKILL ("Perhaps out of memory?") in two ways:
    it stops the thread pool from the signal handler, which deadlocks when the signal lands while
    the main thread hands a connection to that pool (``ThreadPoolExecutor.submit`` holds the lock
    ``shutdown`` takes); and Python joins every ``concurrent.futures`` thread at exit, so a request
    thread waiting on a client (a browser's idle pre-connection, for up to 5 s; a half-sent
    request, for ever) kept the worker alive. Ending the process here loses nothing: log records
    are written as they happen, and SQLite rolls back a transaction a request thread left open.
    SIGTERM keeps gunicorn's graceful shutdown.
    """

    def handle_quit(self, sig, frame) -> None:
        os._exit(0)


def _quit_at_once(signum: int, frame: Any) -> None:
    os._exit(0)


def _quit_at_once_until_booted() -> None:
    """In a process just forked (a worker): SIGINT, SIGQUIT and SIGTERM end it at once, until the
    worker sets its own handlers. Until then it has the master's, which only queue a signal for
    the master: the worker would go on booting, and the master's shutdown would wait its graceful
    timeout for it, then SIGKILL it (Ctrl-C right after a start took 10 s)."""
    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(signum, _quit_at_once)


class _PrebuiltApplication(BaseApplication):
    def __init__(self, application: Any, settings: dict[str, Any]) -> None:
        self.application = application
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return framed_bodies(self.application)


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind string: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: A part's answer to a request gunicorn refuses: ``refusal(status)`` is its headers and body.
Refusal = Callable[[int], tuple[dict[str, str], bytes]]


def refusal_writer(refusal: Refusal) -> Callable[[Any, int, str, str], None]:
    """``gunicorn.util.write_error`` answering with ``refusal``'s headers and body (``mesg``,
    which may quote the request, is only logged by gunicorn)."""

    def write_refusal(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        headers, body = refusal(status_int)
        fields = {**headers, "Connection": "close", "Content-Length": str(len(body))}
        head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in fields.items()
        )
        util.write_nonblock(sock, (head + "\r\n").encode("latin-1") + body)

    return write_refusal


def serve(
    application: Any,
    bind: str,
    *,
    workers: int = 1,
    threads: int = 4,
    refusal: Refusal | None = None,
    **settings: Any,
) -> None:
    """Run ``application`` on ``bind`` until SIGTERM/SIGINT; ``refusal`` answers the requests
    gunicorn refuses (its own HTML page without); ``settings`` are gunicorn's own."""
    if refusal is not None:
        # Set before gunicorn starts: every worker process is forked from this one.
        util.write_error = refusal_writer(refusal)
    os.register_at_fork(after_in_child=_quit_at_once_until_booted)
    _PrebuiltApplication(
        application,
        {
            "bind": bind,
            "worker_class": QuickQuitThreadWorker,
            "workers": workers,
            "threads": threads,
            "graceful_timeout": 10,
            "control_socket_disable": True,
            **settings,
        },
    ).run()
