"""Flowlab's parts as real processes: free ports, a clean environment, `python -m <part>`.

Used by the end-to-end harness (tests/e2e), the docker-compose test and the process tests of
the servers. A part is started exactly as a learner starts it, with only the settings a test
gives it: every Flowlab setting inherited from the caller's environment is dropped.
"""

import os
import pathlib
import random
import re
import signal
import socket
import subprocess
import sys
import time

import requests

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
FLOWLAB_SETTING_PREFIXES = (
    "AUTH_",
    "AUTH0_",
    "AUTHSERVER_",
    "API_",
    "SPA_",
    "WEBAPP_",
    "CORS_",
    "DATABASE_",
)
STARTUP_TIMEOUT = 30.0
# gunicorn's own line once it is bound: the port a part started with port 0 got.
LISTENING_AT = re.compile(r"Listening at: (http://[^ ]+:(\d+)) ")
_handed_out: set[int] = set()


def _ephemeral_ports() -> range:
    try:
        low, high = map(
            int, pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        )
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port():
    """A port nothing listens on, for a part whose address must be known before it starts.

    It is chosen outside the kernel's ephemeral range, so no outgoing connection or port-0 bind
    takes it between this call and the part's own bind, and never twice in one test run. A part
    whose address need not be known beforehand binds port 0 instead (``Service(port_variable=)``).
    """
    ephemeral = _ephemeral_ports()
    while True:
        port = (
            random.randint(10000, ephemeral.start - 1)
            if ephemeral.start > 10001
            else random.randint(1024, 65535)
        )
        if port in _handed_out or port in ephemeral:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


class Service:
    """One `python -m <module>` process, its log file and the URL that says it is ready."""

    def __init__(self, name, module, env, ready_url, log_path, *, port_variable=None):
        """``ready_url`` answers 200 once the part is ready. With ``port_variable`` the part binds
        port 0 (that setting), and ``ready_url`` is a path on the address it then logs."""
        self.name = name
        self.module = module
        self.env = env if port_variable is None else env | {port_variable: "0"}
        self.ready_url = ready_url if port_variable is None else None
        self._ready_path = ready_url if port_variable is not None else None
        self.log_path = log_path
        self.process = None
        #: Where it listens, once ready (for a part on port 0: read from gunicorn's log line).
        self.base_url = None

    def start(self):
        with open(self.log_path, "ab") as log:
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
        self._wait_until_ready()

    def _wait_until_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.logs()}"
                )
            if self.ready_url is None:
                self._find_the_address()
            try:
                if (
                    self.ready_url is not None
                    and requests.get(self.ready_url, timeout=1).status_code == 200
                    and self.is_ready()
                ):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} was not ready at {self.ready_url} in {STARTUP_TIMEOUT:.0f}s:\n{self.logs()}"
        )

    def _find_the_address(self):
        match = LISTENING_AT.search(self.logs())
        if match is not None:
            self.base_url = match.group(1)
            self.ready_url = self.base_url + self._ready_path

    def is_ready(self):
        """Beyond answering its ready URL (a subclass may wait for more, e.g. every worker)."""
        return True

    def wait_for_log(self, condition, timeout=10.0, what="the expected line"):
        """Poll the log until ``condition(log text)`` is true; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition(self.logs()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not log {what} within {timeout:g}s:\n{self.logs()}"
                )
            time.sleep(0.05)

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


def start_part(module, cwd, **settings):
    """``python -m <module>`` in ``cwd`` with only ``settings``, for a test that reads its whole
    output (a start that must fail, say); output and errors on ``stdout``, as text."""
    return subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=cwd,
        env=service_environment(**settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def service_environment(**settings):
    """This process's environment without any Flowlab setting, able to import the project, plus
    ``settings``."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(FLOWLAB_SETTING_PREFIXES)
    }
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_ROOT), environment.get("PYTHONPATH")])
    )
    environment["PYTHONUNBUFFERED"] = "1"
    return environment | settings


def authserver_service(
    folder: pathlib.Path, port: int, issuer: str, tenant: pathlib.Path
) -> Service:
    """``python -m authserver`` on ``port`` as ``issuer`` with the tenant file ``tenant``, its
    database and log in ``folder``."""
    return Service(
        "authserver",
        "authserver",
        service_environment(
            AUTHSERVER_PORT=str(port),
            AUTHSERVER_ISSUER=issuer,
            AUTHSERVER_TENANT=str(tenant),
            AUTHSERVER_DB=str(folder / "authserver.sqlite3"),
        ),
        f"{issuer}.well-known/openid-configuration",
        folder / "authserver.log",
    )


def api_service(
    folder: pathlib.Path, port: int, issuer: str, audience: str, **settings: str
) -> Service:
    """``python -m api`` on ``port`` trusting ``issuer`` for ``audience``, its database and log in
    ``folder``, with any other ``settings`` (``CORS_ORIGINS``, say)."""
    return Service(
        "api",
        "api",
        service_environment(
            API_PORT=str(port),
            AUTH_ISSUER=issuer,
            AUTH_AUDIENCE=audience,
            DATABASE_URL=f"sqlite:///{folder / 'api.sqlite3'}",
            **settings,
        ),
        f"http://localhost:{port}/healthz",
        folder / "api.log",
    )
