"""``python -m api`` started, killed and started again on one database, for the fault tests.

Each start is a new :class:`APIRun` with a log file of its own (``api-<n>.log``), so its address
and readiness are read from its own lines. :meth:`APIRun.kill` is SIGKILL to the process group:
the gunicorn master and every worker die at once, mid-request, as in a crash or an OOM kill.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from api.__main__ import WORKERS
from tests.support.processes import Service, service_environment

# prctl(2) PR_CAPBSET_DROP and the capabilities that let root write a file whose mode forbids it
# (capabilities(7)): CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER.
PR_CAPBSET_DROP = 24
FILE_PERMISSION_OVERRIDES = (1, 2, 3)


def obey_file_permissions() -> None:
    """``preexec_fn``: a process of root drops the capabilities that ignore a file's mode, so a
    read-only file is read-only to it too (others obey file permissions anyway)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in FILE_PERMISSION_OVERRIDES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


class APIRun(Service):
    """One start of ``python -m api``; ready once every worker booted."""

    def __init__(
        self,
        log_path: Path,
        settings: dict[str, str],
        *,
        port: int | None = None,
        obey_permissions: bool = False,
    ):
        self.obey_permissions = obey_permissions
        environment = service_environment(**settings)
        if port is None:
            super().__init__(
                "api", "api", environment, "/healthz", log_path, port_variable="API_PORT"
            )
        else:
            environment["API_PORT"] = str(port)
            super().__init__(
                "api", "api", environment, f"http://127.0.0.1:{port}/healthz", log_path
            )
            self.base_url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api"],
                cwd=self.log_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=obey_file_permissions if self.obey_permissions else None,
            )
        self._wait_until_ready()

    def is_ready(self) -> bool:
        return self.logs().count("Booting worker with pid") == WORKERS

    def kill(self) -> None:
        """SIGKILL to the master and its workers at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def pids(self) -> list[int]:
        """The master's and its workers' process ids."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [self.process.pid, *map(int, children.split())]

    def limit_file_size(self, limit: int) -> None:
        """RLIMIT_FSIZE of every process of this run: a write beyond ``limit`` bytes of a file
        fails with EFBIG (the processes ignore SIGXFSZ, as every Python process does)."""
        for pid in self.pids():
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (limit, hard))


class APIOnOneDatabase:
    """Starts of ``python -m api`` in ``directory``, all on ``api.sqlite3`` there."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        obey_permissions: bool = False,
        **settings: str,
    ):
        """``obey_permissions``: see :func:`obey_file_permissions`."""
        self.directory = directory
        self.obey_permissions = obey_permissions
        self.database = directory / "api.sqlite3"
        self.port = port
        self.settings = {"DATABASE_URL": f"sqlite:///{self.database}", **settings}
        self.runs: list[APIRun] = []

    @property
    def current(self) -> APIRun:
        return self.runs[-1]

    def start(self) -> APIRun:
        run = APIRun(
            self.directory / f"api-{len(self.runs) + 1}.log",
            self.settings,
            port=self.port,
            obey_permissions=self.obey_permissions,
        )
        self.runs.append(run)
        run.start()
        return run

    def logs(self) -> str:
        return "".join(run.logs() for run in self.runs)

    def stop(self) -> None:
        for run in self.runs:
            run.stop()

    def query(self, sql: str, *parameters: object) -> list[tuple]:
        """Rows of ``sql`` read straight from the database file, as another reader sees it."""
        connection = sqlite3.connect(self.database, timeout=30)
        try:
            return connection.execute(sql, parameters).fetchall()
        finally:
            connection.close()
