"""Serving a Flowlab WSGI app with gunicorn's threaded workers, the one way every part does it.

The app is built before gunicorn starts, so a bad setting stops the start with one line instead
of a traceback per worker. gunicorn's runtime control socket is off: it would be shared by every
gunicorn of the same user on the machine.
"""

import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers import gthread


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


class _PrebuiltApplication(BaseApplication):
    def __init__(self, application: Any, settings: dict[str, Any]) -> None:
        self.application = application
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.application


def bind_address(host: str, port: int) -> str:
    """gunicorn's bind string: IPv6 literals in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(
    application: Any, bind: str, *, workers: int = 1, threads: int = 4, **settings: Any
) -> None:
    """Run ``application`` on ``bind`` until SIGTERM/SIGINT; ``settings`` are gunicorn's own."""
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
