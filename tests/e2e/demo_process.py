"""A demo client (`python -m native_demo` / `python -m m2m_demo`) as a real process whose output
the test reads line by line while it runs."""

import pathlib
import queue
import re
import signal
import subprocess
import sys
import threading
import time

PROCESS_TIMEOUT = 60.0


class DemoProcess:
    def __init__(self, module, *arguments, env, cwd):
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines = queue.Queue()
        self._stdout, self._stderr = [], []
        self._readers = [
            threading.Thread(
                target=self._read, args=(self.process.stdout, self._stdout), daemon=True
            ),
            threading.Thread(
                target=self._read, args=(self.process.stderr, self._stderr), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines):
        for line in stream:
            lines.append(line)
            self._lines.put(line.rstrip("\n"))

    def wait_for_line(self, pattern, timeout=30.0):
        """The first match of ``pattern`` in a line of stdout or stderr printed from now on."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout:g} s; "
                    f"output so far:\n{self.output}"
                ) from None
            match = compiled.search(line)
            if match:
                return match
            if remaining <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout:g} s; "
                    f"output so far:\n{self.output}"
                )

    def finish(self, timeout=PROCESS_TIMEOUT):
        """Wait for the exit; return its status (the process is killed if it overstays)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"{self.process.args} still running after {timeout:g} s:\n{self.output}"
            ) from None
        for reader in self._readers:
            reader.join(timeout=5)
        return self.process.returncode

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        return self.finish()

    def deliver_signal(self, signal_number, timeout=10.0):
        """Send a signal and return once the process has taken it (it is no longer pending).

        The kernel keeps a signal pending until it enters the process's handler, so when this
        returns while the process is blocked in a request, the signal arrived mid-request: no
        sleep has to guess how long delivery takes. Linux: read from /proc/<pid>/status."""
        self.process.send_signal(signal_number)
        bit = 1 << (signal_number - 1)
        deadline = time.monotonic() + timeout
        while True:
            status = pathlib.Path(f"/proc/{self.process.pid}/status").read_text()
            masks = dict(
                line.split(":\t", 1)
                for line in status.splitlines()
                if line.startswith(("SigPnd", "ShdPnd"))
            )
            if not any(int(mask, 16) & bit for mask in masks.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"signal {signal_number} still pending after {timeout:g} s")
            time.sleep(0.01)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def stdout(self):
        return "".join(self._stdout)

    @property
    def stderr(self):
        return "".join(self._stderr)

    @property
    def output(self):
        return self.stdout + self.stderr
