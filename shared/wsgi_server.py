"""Serving a Flowlab WSGI app with gunicorn's threaded workers, the one way every part does it.

The app is built before gunicorn starts, so a bad setting stops the start with one line instead
of a traceback per worker. gunicorn's runtime control socket is off: it would be shared by every
gunicorn of the same user on the machine.
"""

from typing import Any

from gunicorn.app.base import BaseApplication


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


def serve(application: Any, bind: str, *, workers: int = 1, threads: int = 4, **settings: Any) -> None:
    """Run ``application`` on ``bind`` until SIGTERM/SIGINT; ``settings`` are gunicorn's own."""
    _PrebuiltApplication(
        application,
        {
            "bind": bind,
            "worker_class": "gthread",
            "workers": workers,
            "threads": threads,
            "graceful_timeout": 10,
            "control_socket_disable": True,
            **settings,
        },
    ).run()
