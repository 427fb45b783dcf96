"""`make demo` refuses to start on a port another process holds, and names that process; its
banner says what the m2m daemon really does."""

import logging
import os
import socket
import sys

import pytest

from m2m_demo.daemon import ImportDaemon, build_parser
from m2m_demo.feed import read_feed
from shared.oidc_client import Narrator
from tests.support.processes import PROJECT_ROOT, free_port

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))

import run_demo  # noqa: E402  (a script of the project, not a package)


def test_a_free_port_is_free():
    assert run_demo.port_in_use(free_port()) is None


def test_a_port_whose_last_connections_wait_in_time_wait_is_free():
    # The state a port is in just after a `make demo` stopped: its server closed connections
    # first, so they linger in TIME_WAIT; the next `make demo` must start all the same.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()
            client.recv(1)
    assert run_demo.port_in_use(port) is None


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


def test_the_banner_says_what_the_m2m_daemon_really_does(monkeypatch):
    """The schedule is the one `make demo` starts the daemon with; the feed, its record count
    and the state file are the daemon's defaults; "nothing new" is the line it logs."""
    (m2m_arguments,) = [arguments for name, arguments, _ in run_demo.PARTS if name == "m2m"]
    interval = m2m_arguments[m2m_arguments.index("--interval") + 1]
    defaults = build_parser().parse_args([])
    records = len(read_feed(defaults.source).records)
    banner = " ".join(run_demo.welcome().split())

    assert f"every {interval} s it reads {defaults.source.relative_to(PROJECT_ROOT)}" in banner
    assert f"imports the {records} sample records" in banner
    assert f"({defaults.state} remembers them" in banner
    assert '"nothing new in the feed; next check at ..."' in banner
    assert "POST /api/imports" in banner and "client-credentials token" in banner


def test_make_demo_starts_the_web_app_on_its_port_and_names_it_in_the_banner():
    (webapp,) = [(arguments, url) for name, arguments, url in run_demo.PARTS if name == "webapp"]
    assert webapp == (["webapp_demo"], "http://localhost:3001/")
    assert 3001 in run_demo.PORTS
    assert "Web app demo (SSO, tokens on the server: BFF) http://localhost:3001" in (
        run_demo.welcome()
    )


def test_the_daemon_logs_the_nothing_new_line_the_banner_quotes(caplog):
    daemon = ImportDaemon(None, None, 1, None, Narrator(logging.getLogger("tests.banner")), None)
    with caplog.at_level(logging.INFO, "tests.banner"):
        daemon.nothing_new("sample_feed.json", 5, 60)
    assert caplog.messages[0].startswith("nothing new in the feed; next check at ")
