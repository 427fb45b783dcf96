"""`make demo`: every part of Flowlab on the local defaults, in one terminal.

Starts the authorization server, the protected API, the SPA server, the web app (regular web
app + BFF) and the machine-to-machine daemon as `python -m <part>` processes, prefixes each line they print with the part's name,
and stops them all on Ctrl-C. State lives in `.data/` of the project folder, so a restart keeps
users, keys and imported data. Before it starts anything it checks that the ports it needs are
free, and names the process that holds one (a second `make demo`, say): otherwise the readiness
checks would be answered by that other process.
"""

import errno
import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from m2m_demo.feed import SAMPLE_FEED, read_feed
from m2m_demo.state import DEFAULT_STATE_PATH

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
ISSUER = "http://localhost:9000/"
M2M_INTERVAL_SECONDS = 60

PARTS = [
    ("authserver", ["authserver"], f"{ISSUER}.well-known/openid-configuration"),
    ("api", ["api"], "http://localhost:3010/healthz"),
    ("spa", ["spa_demo"], "http://localhost:3000/"),
    ("webapp", ["webapp_demo"], "http://localhost:3001/"),
    ("m2m", ["m2m_demo", "--interval", str(M2M_INTERVAL_SECONDS)], None),
]
PORTS = (9000, 3010, 3000, 3001)
LISTEN = "0A"  # the TCP state "listening" in /proc/net/tcp

WELCOME = """
Flowlab is running (Ctrl-C stops everything).

  SPA demo (implicit grant beside code + PKCE)  http://localhost:3000
  Web app demo (SSO, tokens on the server: BFF) http://localhost:3001
  Protected API                                 http://localhost:3010/api/public
  Authorization server (issuer)                 http://localhost:9000/
  Machine-to-machine daemon (lines marked m2m): every {interval} s it reads {feed}
    and imports the records it has not delivered yet into the API (POST /api/imports, with
    its own client-credentials token). The first check imports the {records} sample records;
    after that ({state} remembers them, across restarts too) each check logs
    "nothing new in the feed; next check at ..." until records are added to the feed.

  Log in as alice@flowlab.test / alice-password (all permissions)
         or bob@flowlab.test / bob-password (read only: watch the 403s).

  Native app (another terminal):  .venv/bin/python -m native_demo login
"""


def welcome():
    """The banner, with what the m2m daemon really does: its schedule, feed and state."""
    return WELCOME.format(
        interval=M2M_INTERVAL_SECONDS,
        feed=SAMPLE_FEED.relative_to(PROJECT_ROOT),
        records=len(read_feed(SAMPLE_FEED).records),
        state=DEFAULT_STATE_PATH,
    )


def _listening_socket_inodes(port):
    """The inodes of the sockets listening on ``port`` (Linux /proc/net/tcp and tcp6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def _processes_holding(inodes):
    """``PID (command line)`` of each process with one of the socket ``inodes`` open."""
    sockets = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for fd_folder in pathlib.Path("/proc").glob("[0-9]*/fd"):
        if sockets & _links(fd_folder):
            try:
                command = (fd_folder.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            holders.append(
                f"PID {fd_folder.parent.name} ({command.decode(errors='replace').strip()})"
            )
    return holders


def _links(fd_folder):
    """What the open files of one process point to; those it cannot read (or closed) left out."""
    links = set()
    try:
        descriptors = list(fd_folder.iterdir())
    except OSError:
        return links
    for descriptor in descriptors:
        try:
            links.add(os.readlink(descriptor))
        except OSError:
            continue
    return links


def port_in_use(port):
    """None when ``port`` is free on 127.0.0.1; else a sentence naming who holds it."""
    with socket.socket() as probe:
        # As the servers bind (gunicorn sets SO_REUSEADDR): connections of a run that just
        # ended, left in TIME_WAIT, do not hold the port; only a listening socket does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return None
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    holders = _processes_holding(_listening_socket_inodes(port))
    who = ", ".join(holders) if holders else "another program"
    return f"port {port} is in use by {who}"


def stream(name, pipe):
    for line in iter(pipe.readline, b""):
        sys.stdout.write(f"{name:>10} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def wait_until_ready(name, process, url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with code {process.returncode}; see its lines above.")
        try:
            # The readiness URL of a part it just started: http on localhost, never a file: URL.
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not answer at {url} within {timeout:.0f} s.")


def main():
    busy = [message for message in map(port_in_use, PORTS) if message is not None]
    if busy:
        raise SystemExit(
            "Flowlab cannot start: "
            + "; ".join(busy)
            + ". Stop it (is `make demo` running already?)."
        )
    processes = []

    def stop_all(*_):
        for _, process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def interrupt(*_):
        raise KeyboardInterrupt

    # Explicit handlers: a launcher started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        for name, args, ready_url in PARTS:
            process = subprocess.Popen(
                [sys.executable, "-u", "-m", *args],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Ctrl-C reaches this launcher only; each part then gets a graceful SIGTERM.
                start_new_session=True,
            )
            processes.append((name, process))
            threading.Thread(target=stream, args=(name, process.stdout), daemon=True).start()
            if ready_url:
                wait_until_ready(name, process, ready_url)
        print(welcome(), flush=True)
        while all(process.poll() is None for _, process in processes):
            time.sleep(0.5)
        stopped = next(name for name, process in processes if process.poll() is not None)
        raise SystemExit(f"{stopped} stopped; stopping the others.")
    except KeyboardInterrupt:
        print("\nStopping Flowlab.", flush=True)
    finally:
        stop_all()


if __name__ == "__main__":
    main()
