"""Requests per second on loopback: ``python -m api`` and ``python -m authserver`` as shipped, wrk.

Both parts start exactly as a learner starts them (``tests.support.processes``: a clean
environment, a temporary folder for their databases and logs, free ports on 127.0.0.1): the
authorization server with a fresh database, the API trusting it as its issuer (keys found by
discovery). wrk (Debian's, ``scripts/ensure-bench-tools``) drives four cases, interleaved in
rounds (A B C D A B C D ...) so that machine noise hits each alike; the median round of each is
reported:

- ``public``: ``GET /api/public``;
- ``private``: ``GET /api/private`` with one valid token on every request (a client reusing it);
- ``distinct``: ``GET /api/private`` with a distinct valid token on every request. They are the
  authorization server's own client-credentials token re-signed with its current key (read from
  its database) with a new ``jti`` each, minted fresh for every round (more than the round can
  use), so that no cache ever saw one before;
- ``grants``: ``POST /oauth/token`` client-credentials grants of the local ``m2m-demo`` client.

All API cases go through the same Lua script (one ``request()`` call per request), so the load
generator costs each alike. A round that got any error or non-2xx answer is reported.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from m2m_demo.daemon import CLIENT_ID, LOCAL_CLIENT_SECRET
from tests.support.processes import Service, free_port, service_environment

API_AUDIENCE = "https://api.flowlab.local"
CASES = ("public", "private", "distinct", "grants")
#: wrk threads and connections: one thread (the machine's other core serves), eight connections
#: (as many as the request threads of either part).
WRK_THREADS = 1
WRK_CONNECTIONS = 8
#: Distinct tokens minted per round: the highest API rate seen so far times the duration, times
#: this margin.
TOKEN_MARGIN = 1.25
RESULT_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)

API_SCRIPT = """
local tokens = {}
local index = 0
local step = 1
function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
function init(args)
  path = args[1]
  if args[2] then
    for line in io.lines(args[2]) do tokens[#tokens + 1] = line end
  end
  step = tonumber(args[3] or "1")
  index = id or 0
end
function request()
  if #tokens == 0 then return wrk.format("GET", path) end
  local token = tokens[(index % #tokens) + 1]
  index = index + step
  return wrk.format("GET", path, {Authorization = "Bearer " .. token})
end
"""
GRANT_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = os.getenv("BENCH_GRANT_BODY")
"""
DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(99)))
end
"""


@dataclass
class Run:
    requests: int
    seconds: float
    errors: int
    non_2xx: int
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class HttpFigures:
    rounds: int
    duration: float
    runs: dict[str, list[Run]] = field(default_factory=dict)
    tokens_reused: bool = False
    wrk_version: str = ""

    def rate(self, case: str) -> float:
        return statistics.median(run.rate for run in self.runs[case])

    def p99(self, case: str) -> float:
        return statistics.median(run.p99_ms for run in self.runs[case])

    @property
    def failures(self) -> int:
        return sum(run.errors + run.non_2xx for runs in self.runs.values() for run in runs)


def wrk_version(wrk: str) -> str:
    result = subprocess.run(  # noqa: S603 (wrk, found on PATH)
        [wrk, "-v"], capture_output=True, text=True, check=False
    )
    return (result.stdout + result.stderr).splitlines()[0].split(" [")[0].strip()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _sign(header: str, claims: dict, pem: bytes, serials: range) -> list[str]:
    key = serialization.load_pem_private_key(pem, None)
    tokens = []
    for serial in serials:
        payload = _b64url(json.dumps(claims | {"jti": f"bench-{serial}"}).encode())
        signing_input = f"{header}.{payload}"
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        tokens.append(f"{signing_input}.{_b64url(signature)}")
    return tokens


class TokenMinter:
    """Copies of one token of the authorization server, each with its own ``jti``, signed with
    the server's current key (RS256) as the server itself would sign them (in one process per
    core: between runs, never while one is measured)."""

    def __init__(self, token: str, database: Path) -> None:
        from authserver.storage import Storage

        header, payload, _ = token.split(".")
        self.header = header
        self.claims = json.loads(_b64decode(payload))
        storage = Storage.open(database)
        try:
            row = next(row for row in storage.signing_keys() if row["state"] == "current")
        finally:
            storage.close()
        self.pem = row["private_key"].encode()
        self.serial = 0
        self.pool = ProcessPoolExecutor(os.cpu_count() or 1)

    def mint(self, count: int) -> list[str]:
        first, self.serial = self.serial, self.serial + count
        workers = os.cpu_count() or 1
        chunk = math.ceil(count / workers)
        parts = [
            self.pool.submit(
                _sign,
                self.header,
                self.claims,
                self.pem,
                range(start, min(start + chunk, self.serial)),
            )
            for start in range(first, self.serial, chunk)
        ]
        return [token for part in parts for token in part.result()]

    def close(self) -> None:
        self.pool.shutdown()


class Bench:
    def __init__(self, folder: Path, wrk: str, duration: float) -> None:
        self.folder = folder
        self.wrk = wrk
        self.duration = duration
        self.authserver_port = free_port()
        self.issuer = f"http://127.0.0.1:{self.authserver_port}/"
        self.authserver = Service(
            "authserver",
            "authserver",
            service_environment(
                AUTHSERVER_HOST="127.0.0.1",
                AUTHSERVER_PORT=str(self.authserver_port),
                AUTHSERVER_ISSUER=self.issuer,
                AUTHSERVER_DB=str(folder / "authserver.sqlite3"),
            ),
            self.issuer + ".well-known/openid-configuration",
            folder / "authserver.log",
        )
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.api = Service(
            "api",
            "api",
            service_environment(
                AUTH_ISSUER=self.issuer,
                API_HOST="127.0.0.1",
                API_PORT=str(api_port),
                DATABASE_URL=f"sqlite:///{folder / 'api.sqlite3'}",
            ),
            self.api_url + "/api/public",
            folder / "api.log",
        )
        self.grant_body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": LOCAL_CLIENT_SECRET,
                "audience": API_AUDIENCE,
            }
        )
        (folder / "api.lua").write_text(API_SCRIPT + DONE)
        (folder / "grant.lua").write_text(GRANT_SCRIPT + DONE)

    def start(self) -> None:
        self.authserver.start()
        self.api.start()
        answer = requests.post(
            self.issuer + "oauth/token",
            data=self.grant_body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        (self.folder / "one-token.txt").write_text(self.token + "\n")
        self.minter = TokenMinter(self.token, self.folder / "authserver.sqlite3")
        checked = requests.get(
            self.api_url + "/api/private",
            headers={"Authorization": f"Bearer {self.minter.mint(1)[0]}"},
            timeout=10,
        )
        if checked.status_code != 200:
            raise RuntimeError(f"the API refused a minted token: {checked.status_code}")

    def stop(self) -> None:
        if hasattr(self, "minter"):
            self.minter.close()
        self.api.stop()
        self.authserver.stop()

    def wrk_run(self, script: str, url: str, *args: str, duration: float | None = None) -> Run:
        seconds = duration or self.duration
        command = [
            self.wrk,
            f"-t{WRK_THREADS}",
            f"-c{WRK_CONNECTIONS}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(self.folder / script),
            url,
        ]
        if args:
            command += ["--", *args]
        result = subprocess.run(  # noqa: S603 (wrk with the bench's own arguments)
            command,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
            env=service_environment(BENCH_GRANT_BODY=self.grant_body),
        )
        match = RESULT_LINE.search(result.stdout)
        if match is None:
            raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
        count, micros, errors, non_2xx, p99 = (int(value) for value in match.group(1).split())
        return Run(count, micros / 1e6, errors, non_2xx, p99 / 1000)

    def case(self, name: str, top_rate: float) -> tuple[Run, bool]:
        """One run of a case; and, for ``distinct``, whether it used more tokens than it had."""
        if name == "public":
            return self.wrk_run("api.lua", self.api_url, "/api/public"), False
        if name == "private":
            tokens = str(self.folder / "one-token.txt")
            return self.wrk_run("api.lua", self.api_url, "/api/private", tokens), False
        if name == "distinct":
            count = math.ceil(top_rate * max(1, round(self.duration)) * TOKEN_MARGIN) + 100
            path = self.folder / "distinct-tokens.txt"
            path.write_text("\n".join(self.minter.mint(count)) + "\n")
            run = self.wrk_run("api.lua", self.api_url, "/api/private", str(path), str(WRK_THREADS))
            return run, run.requests > count
        return self.wrk_run("grant.lua", self.issuer + "oauth/token"), False


def measure(rounds: int = 5, duration: float = 5, warmup: float = 1) -> HttpFigures:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: run scripts/ensure-bench-tools (make bench does)")
    figures = HttpFigures(rounds, duration, {case: [] for case in CASES})
    figures.wrk_version = wrk_version(wrk)
    with tempfile.TemporaryDirectory(prefix="flowlab-bench-") as folder:
        bench = Bench(Path(folder), wrk, duration)
        try:
            bench.start()
            # Warm-up, not counted: every worker's JWKS cache, imports and connections.
            warm = [
                bench.wrk_run("api.lua", bench.api_url, "/api/public", duration=warmup),
                bench.wrk_run(
                    "api.lua",
                    bench.api_url,
                    "/api/private",
                    str(bench.folder / "one-token.txt"),
                    duration=warmup,
                ),
            ]
            # The highest API rate seen so far bounds how many distinct tokens a run can use.
            top_rate = max(run.rate for run in warm)
            bench.wrk_run("grant.lua", bench.issuer + "oauth/token", duration=warmup)
            for _ in range(rounds):
                for case in CASES:
                    run, reused = bench.case(case, top_rate)
                    figures.runs[case].append(run)
                    figures.tokens_reused |= reused
                    if case != "grants":
                        top_rate = max(top_rate, run.rate)
        finally:
            bench.stop()
    return figures
