"""Ctrl-C stops every Flowlab server at once, as `shared/wsgi_server.py` serves them.

A terminal's Ctrl-C reaches the whole process group: gunicorn's master and its workers. gunicorn's
own quick shutdown of a threaded worker can hang on a request thread that waits for a client, until
the master SIGKILLs it after the graceful timeout; Flowlab's worker ends at once instead.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.processes import PROJECT_ROOT, Service, free_port, service_environment

# Below the graceful timeout (10 s) after which gunicorn would SIGKILL a worker that hangs on.
PROMPT_EXIT_SECONDS = 8


@pytest.mark.parametrize(
    ("module", "port_variable", "ready_path"),
    [("api", "API_PORT", "/healthz"), ("spa_demo", "SPA_PORT", "/")],
)
def test_ctrl_c_stops_the_server_while_a_client_holds_half_a_request(
    tmp_path, module, port_variable, ready_path
):
    port = free_port()
    service = Service(
        module,
        module,
        service_environment(
            **{port_variable: str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}"}
        ),
        f"http://127.0.0.1:{port}{ready_path}",
        tmp_path / f"{module}.log",
    )
    service.start()
    try:
        address = urlsplit(service.ready_url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as half_request:
            half_request.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            # Answered after the half request was taken: the listen queue is first in, first out.
            assert requests.get(service.ready_url, timeout=10).status_code == 200
            service.interrupt()
            interrupted = time.monotonic()
            try:
                returncode = service.process.wait(timeout=PROMPT_EXIT_SECONDS)
            except subprocess.TimeoutExpired:
                # How long it took after all, and what the server logged meanwhile.
                returncode = service.process.wait(timeout=30)
                pytest.fail(
                    f"{module} took {time.monotonic() - interrupted:.1f} s to stop:\n"
                    f"{service.logs()[-4000:]}"
                )
    finally:
        service.stop()
    log = service.logs()
    assert returncode == 0, log
    assert "SIGKILL" not in log


SLOW_BOOT = """
import sys, time
from shared.wsgi_server import serve

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

# A worker that takes its time between the fork and its own signal handlers, as one does on a
# busy machine.
serve(app, "127.0.0.1:0", post_fork=lambda arbiter, worker: time.sleep(3))
"""


def test_ctrl_c_stops_the_server_while_a_worker_is_still_booting(tmp_path):
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log_file:
        server = subprocess.Popen(  # noqa: S603 (this interpreter, the script above)
            [sys.executable, "-c", SLOW_BOOT],
            cwd=PROJECT_ROOT,
            env=service_environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 10
        while "Booting worker" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        interrupted = time.monotonic()
        os.killpg(server.pid, signal.SIGINT)
        returncode = server.wait(timeout=15)
        took = time.monotonic() - interrupted
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    log = log_path.read_text()
    assert "Booting worker" in log
    # gunicorn's quick shutdown would wait its graceful timeout (10 s) for a worker that lost the
    # signal, then SIGKILL it.
    assert took < 2, log
    assert returncode == 0, log
    assert "SIGKILL" not in log
