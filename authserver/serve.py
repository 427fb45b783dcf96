"""Serving the application with gunicorn's threaded workers (``gthread``).

One worker process with several threads: the state is in SQLite, so more workers would work too,
but a development server on a laptop needs no more. Every request is logged (one line, stderr).
"""

from gunicorn.app.base import BaseApplication

THREADS = 8


class _GunicornApplication(BaseApplication):
    def __init__(self, application, options: dict):
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(application, host: str, port: int) -> None:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options = {
        "bind": bind,
        "worker_class": "gthread",
        "workers": 1,
        "threads": THREADS,
        "errorlog": "-",
        "loglevel": "info",
        "graceful_timeout": 5,
        # No runtime control socket (it lives in the home directory, one per machine).
        "control_socket_disable": True,
    }
    _GunicornApplication(application, options).run()
