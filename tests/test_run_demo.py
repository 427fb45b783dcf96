"""`make demo` refuses to start on a port another process holds, and names that process."""

import os
import socket
import sys

import pytest

from tests.support.processes import PROJECT_ROOT, free_port

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))

import run_demo  # noqa: E402  (a script of the project, not a package)


def test_a_free_port_is_free():
    assert run_demo.port_in_use(free_port()) is None


def test_a_port_in_use_names_the_process_that_listens_on_it():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        message = run_demo.port_in_use(port)
    assert message.startswith(f"port {port} is in use by PID {os.getpid()} (")


def test_make_demo_stops_before_starting_anything_when_a_port_is_taken(monkeypatch, capsys):
    started = []
    monkeypatch.setattr(run_demo.subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        monkeypatch.setattr(run_demo, "PORTS", (free_port(), port))
        with pytest.raises(SystemExit) as stopped:
            run_demo.main()
    assert f"port {port} is in use by PID {os.getpid()}" in str(stopped.value)
    assert started == []
    assert "Flowlab is running" not in capsys.readouterr().out
