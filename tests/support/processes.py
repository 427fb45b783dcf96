"""Flowlab's parts as real processes: free ports, a clean environment, `python -m <part>`.

Used by the end-to-end harness (tests/e2e), the docker-compose test and the process tests of
the servers. A part is started exactly as a learner starts it, with only the settings a test
gives it: every Flowlab setting inherited from the caller's environment is dropped.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import requests

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
FLOWLAB_SETTING_PREFIXES = ("AUTH_", "AUTH0_", "AUTHSERVER_", "API_", "SPA_", "CORS_", "DATABASE_")
STARTUP_TIMEOUT = 30.0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    """One `python -m <module>` process, its log file and the URL that says it is ready."""

    def __init__(self, name, module, env, ready_url, log_path):
        self.name = name
        self.module = module
        self.env = env
        self.ready_url = ready_url
        self.log_path = log_path
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=self.log_path.parent,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group, as a terminal gives it: `interrupt` is Ctrl-C.
            start_new_session=True,
        )
        log.close()
        self._wait_until_ready()

    def _wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready at {self.ready_url} in {STARTUP_TIMEOUT:.0f}s:\n{self.logs()}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def interrupt(self):
        """Ctrl-C: SIGINT to the whole process group, the master and its workers alike."""
        os.killpg(self.process.pid, signal.SIGINT)

    def logs(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""



def service_environment(**settings):
    """This process's environment without any Flowlab setting, able to import the project, plus
    ``settings``."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(FLOWLAB_SETTING_PREFIXES)
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), environment.get("PYTHONPATH")]))
    environment["PYTHONUNBUFFERED"] = "1"
    return environment | settings
