"""`make demo`: every part of Flowlab on the local defaults, in one terminal.

Starts the authorization server, the protected API, the SPA server and the machine-to-machine
daemon as `python -m <part>` processes, prefixes each line they print with the part's name,
and stops them all on Ctrl-C. State lives in `.data/` of the project folder, so a restart keeps
users, keys and imported data.
"""

import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
ISSUER = "http://localhost:9000/"

PARTS = [
    ("authserver", ["authserver"], f"{ISSUER}.well-known/openid-configuration"),
    ("api", ["api"], "http://localhost:3010/healthz"),
    ("spa", ["spa_demo"], "http://localhost:3000/"),
    ("m2m", ["m2m_demo", "--interval", "60"], None),
]

WELCOME = """
Flowlab is running (Ctrl-C stops everything).

  SPA demo (implicit grant beside code + PKCE)  http://localhost:3000
  Protected API                                 http://localhost:3010/api/public
  Authorization server (issuer)                 http://localhost:9000/
  Machine-to-machine daemon                     imports the sample feed every 60 s (lines marked m2m)

  Log in as alice@flowlab.test / alice-password (all permissions)
         or bob@flowlab.test / bob-password (read only: watch the 403s).

  Native app (another terminal):  .venv/bin/python -m native_demo login
"""


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
        print(WELCOME, flush=True)
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
