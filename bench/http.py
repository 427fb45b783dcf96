"""Requests per second on loopback: ``python -m api`` and ``python -m authserver`` as shipped, wrk.

Both parts start exactly as a learner starts them (``tests.support.processes``: a clean
environment, a temporary folder for their databases and logs, free ports on 127.0.0.1): the
authorization server with a fresh database, the API trusting it as its issuer (keys found by
discovery). wrk (Debian's, ``scripts/ensure-bench-tools``) drives six cases, interleaved in
rounds (A B C D E F A B C D E F ...) so that machine noise hits each alike; the median round of
each is reported. A run during which the host took a core away (``MIN_BUSY``) is measured again:

- ``public``: ``GET /api/public``;
- ``private``: ``GET /api/private`` with one valid token on every request (a client reusing it);
- ``distinct``: ``GET /api/private`` with a distinct valid token on every request. They are the
  authorization server's own client-credentials token re-signed with its current key (read from
  its database) with a new ``jti`` each, minted fresh for every round (more than the round can
  use), so that no cache ever saw one before;
- ``grants``: ``POST /oauth/token`` client-credentials grants of the local ``m2m-demo`` client;
- ``refresh``: ``POST /oauth/token`` refresh-token grants of the local ``native-demo`` app (a
  public client: no secret), a distinct valid refresh token on every request (they rotate: each
  may be used once);
- ``code``: ``POST /oauth/token`` authorization-code redemptions of ``native-demo``, a distinct
  unused code with its PKCE ``code_verifier`` on every request.

The refresh tokens and codes are what a login of Alice in the native demo (its default scope,
with ``openid`` and ``offline_access``: each answer carries an ID token too) leaves in the
server's database, each under a grant of its own, stored there by the server's own storage
functions (:class:`CredentialMinter`) before every round, more than the round can use: a login
through the browser pages per credential would take far longer than the round.

All API cases go through one Lua script and all grant cases through another (one ``request()``
call per request), so the load generator costs each alike. A round that got any error or non-2xx
answer is reported.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from m2m_demo.daemon import CLIENT_ID, LOCAL_CLIENT_SECRET
from native_demo.authorization_code import DEFAULT_SCOPE
from native_demo.pkce import code_challenge_s256, new_code_verifier
from tests.support.processes import Service, free_port, service_environment

API_AUDIENCE = "https://api.flowlab.local"
CASES = ("public", "private", "distinct", "grants", "refresh", "code")
#: The cases of ``POST /oauth/token``; each request of ``refresh`` and ``code`` uses up a credential.
GRANT_CASES = ("grants", "refresh", "code")
#: The public client whose refresh tokens and codes ``refresh`` and ``code`` use, and its user.
NATIVE_CLIENT_ID = "native-demo"
NATIVE_USER_EMAIL = "alice@flowlab.test"
#: wrk threads and connections: one thread (the machine's other core serves), eight connections
#: (as many as the request threads of either part).
WRK_THREADS = 1
WRK_CONNECTIONS = 8
#: Distinct tokens minted per round: the highest API rate seen so far times the duration, times
#: this margin. Refresh tokens and codes likewise, from the highest grant rate seen so far.
TOKEN_MARGIN = 1.25
RESULT_LINE = re.compile(r"^BENCH (.*)$", re.MULTILINE)
#: A run during which the machine's cores were busy less than this share of the time is run
#: again, MAX_REPEATS times at most in a whole measurement. Every case keeps both cores busy (wrk
#: keeps 8 requests in flight against servers with more workers than cores): 80 to 99 % of the
#: run on these 2-core VMs. In about a third of 5-second runs the host takes a core away for a
#: while (/proc/stat: idle near 40 %, steal time) and the rate halves; such a run measured the
#: host, not the software. RESULTS.md lists every run measured again.
MIN_BUSY = 0.65
MAX_REPEATS = 10
#: And at most this many times for one case, so that a case the host keeps slowing down (one
#: run of 5 s after another) does not use up the repeats of the cases after it.
MAX_REPEATS_PER_CASE = 3

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
local bodies = {}
local index = 0
local step = 1
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
function setup(thread)
  thread:set("id", setup_count or 0)
  setup_count = (setup_count or 0) + 1
end
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  step = tonumber(args[2] or "1")
  index = id or 0
end
function request()
  local body = bodies[(index % #bodies) + 1]
  index = index + step
  return wrk.format("POST", nil, headers, body)
end
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
    #: The share of the machine's CPU time that was busy during the run; None where there is no
    #: /proc/stat to read it from.
    busy: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def host_took_a_core(self) -> bool:
        return self.busy is not None and self.busy < MIN_BUSY


@dataclass
class HttpFigures:
    rounds: int
    duration: float
    runs: dict[str, list[Run]] = field(default_factory=dict)
    #: The cases whose runs used more distinct credentials than were minted (some were reused).
    ran_out: set[str] = field(default_factory=set)
    #: The runs measured again (``Run.host_took_a_core``), with their case, in order.
    repeated: list[tuple[str, Run]] = field(default_factory=list)
    wrk_version: str = ""

    def rate(self, case: str) -> float:
        return statistics.median(run.rate for run in self.runs[case])

    def p99(self, case: str) -> float:
        return statistics.median(run.p99_ms for run in self.runs[case])

    @property
    def failures(self) -> int:
        return sum(run.errors + run.non_2xx for runs in self.runs.values() for run in runs)


def cpu_times() -> tuple[int, int] | None:
    """Busy and total CPU time of the machine so far (clock ticks, /proc/stat); None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            # user nice system idle iowait irq softirq steal ...
            ticks = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return None
    return sum(ticks[:3]) + sum(ticks[5:7]), sum(ticks[:8])


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


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


class CredentialMinter:
    """Refresh tokens and authorization codes of ``native-demo`` for Alice, as her logins leave
    them: each under a grant of its own, stored with the server's own storage functions (as
    digests), in one transaction per batch (between runs, never while one is measured)."""

    def __init__(self, database: Path, redirect_uri: str) -> None:
        from authserver.storage import Storage
        from authserver.tenant import load_tenant

        self.database = database
        self.redirect_uri = redirect_uri
        self.tenant = load_tenant()
        storage = Storage.open(database)
        try:
            self.user, _ = storage.find_credentials(NATIVE_USER_EMAIL)
        finally:
            storage.close()
        # What the server grants Alice out of the native demo's default scope for the API.
        permissions = self.user.permissions_for(API_AUDIENCE)
        api_scopes = self.tenant.find_api(API_AUDIENCE).scopes
        self.scope = " ".join(
            value for value in DEFAULT_SCOPE if value not in api_scopes or value in permissions
        )

    def _minted(self, count: int, store) -> list[str]:
        from authserver.storage import Storage

        storage = Storage.open(self.database)
        try:
            with storage.transaction():
                now = int(time.time())
                return [store(storage, now) for _ in range(count)]
        finally:
            storage.close()

    def _grant(self, storage, now: int, nonce: str | None) -> str:
        return storage.create_grant(NATIVE_CLIENT_ID, self.user.id, nonce, now)

    def refresh_bodies(self, count: int) -> list[str]:
        """Token requests of ``count`` distinct valid refresh tokens."""
        return self._minted(count, self._refresh_body)

    def _refresh_body(self, storage, now: int) -> str:
        from authserver.models import RefreshToken
        from authserver.storage import secret_hash

        token = secrets.token_urlsafe(32)
        source = RefreshToken(
            token_hash=secret_hash(token),
            grant_id=self._grant(storage, now, None),
            client_id=NATIVE_CLIENT_ID,
            user_id=self.user.id,
            scope=self.scope,
            audience=API_AUDIENCE,
            auth_time=now,
            expires_at=now + self.tenant.refresh_token_lifetime,
            used=False,
            grant_revoked=False,
        )
        storage.save_refresh_token(token, source, source.expires_at)
        return urlencode(
            {"grant_type": "refresh_token", "client_id": NATIVE_CLIENT_ID, "refresh_token": token}
        )

    def code_bodies(self, count: int) -> list[str]:
        """Token requests of ``count`` distinct unused authorization codes, with their verifiers."""
        return self._minted(count, self._code_body)

    def _code_body(self, storage, now: int) -> str:
        from authserver.models import AuthorizationCode
        from authserver.storage import secret_hash

        code, verifier, nonce = (
            secrets.token_urlsafe(32),
            new_code_verifier(),
            secrets.token_urlsafe(),
        )
        storage.save_authorization_code(
            AuthorizationCode(
                code_hash=secret_hash(code),
                grant_id=self._grant(storage, now, nonce),
                client_id=NATIVE_CLIENT_ID,
                user_id=self.user.id,
                redirect_uri=self.redirect_uri,
                scope=self.scope,
                audience=API_AUDIENCE,
                nonce=nonce,
                code_challenge=code_challenge_s256(verifier),
                code_challenge_method="S256",
                auth_time=now,
                expires_at=now + self.tenant.authorization_code_lifetime,
                used=False,
            )
        )
        return urlencode(
            {
                "grant_type": "authorization_code",
                "client_id": NATIVE_CLIENT_ID,
                "code": code,
                "code_verifier": verifier,
                "redirect_uri": self.redirect_uri,
            }
        )


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
        (folder / "grant-body.txt").write_text(self.grant_body + "\n")
        # A loopback redirect URI of the native demo (RFC 8252 §7.3: any port).
        self.redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
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
        self.credentials = CredentialMinter(self.folder / "authserver.sqlite3", self.redirect_uri)
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
        before = cpu_times()
        result = subprocess.run(  # noqa: S603 (wrk with the bench's own arguments)
            command,
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
            env=service_environment(),
        )
        busy = busy_share(before, cpu_times())
        match = RESULT_LINE.search(result.stdout)
        if match is None:
            raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
        count, micros, errors, non_2xx, p99 = (int(value) for value in match.group(1).split())
        return Run(count, micros / 1e6, errors, non_2xx, p99 / 1000, busy)

    def enough_for(self, rate: float, duration: float | None = None) -> int:
        """How many distinct credentials a run at up to ``rate`` requests per second may use."""
        seconds = max(1, round(duration or self.duration))
        return math.ceil(rate * seconds * TOKEN_MARGIN) + 100

    def grant_run(self, bodies: list[str], duration: float | None = None) -> Run:
        """A run of token requests, each body in turn (each thread its share)."""
        path = self.folder / "grant-bodies.txt"
        path.write_text("\n".join(bodies) + "\n")
        return self.wrk_run(
            "grant.lua", self.issuer + "oauth/token", str(path), str(WRK_THREADS), duration=duration
        )

    def credential_bodies(self, name: str, count: int) -> list[str]:
        """``count`` token requests of the ``refresh`` or the ``code`` case."""
        if name == "refresh":
            return self.credentials.refresh_bodies(count)
        return self.credentials.code_bodies(count)

    def case(self, name: str, top_rate: float, top_grant_rate: float) -> tuple[Run, bool]:
        """One run of a case; and, for the cases of distinct credentials, whether it used more
        than it had."""
        if name == "public":
            return self.wrk_run("api.lua", self.api_url, "/api/public"), False
        if name == "private":
            tokens = str(self.folder / "one-token.txt")
            return self.wrk_run("api.lua", self.api_url, "/api/private", tokens), False
        if name == "distinct":
            count = self.enough_for(top_rate)
            path = self.folder / "distinct-tokens.txt"
            path.write_text("\n".join(self.minter.mint(count)) + "\n")
            run = self.wrk_run("api.lua", self.api_url, "/api/private", str(path), str(WRK_THREADS))
            return run, run.requests > count
        if name == "grants":
            return self.grant_run([self.grant_body]), False
        count = self.enough_for(top_grant_rate)
        run = self.grant_run(self.credential_bodies(name, count))
        return run, run.requests > count


def measured(
    case: str, run_case: Callable[[], tuple[Run, bool]], repeated: list[tuple[str, Run]]
) -> tuple[Run, bool]:
    """``run_case()`` again while its run finds a core taken by the host (``MIN_BUSY``), as long
    as ``repeated`` (every run measured again, with its case) has fewer than MAX_REPEATS, and
    fewer than MAX_REPEATS_PER_CASE of ``case``."""
    run, ran_out = run_case()
    while (
        run.host_took_a_core
        and len(repeated) < MAX_REPEATS
        and sum(done == case for done, _ in repeated) < MAX_REPEATS_PER_CASE
    ):
        repeated.append((case, run))
        run, ran_out = run_case()
    return run, ran_out


def measure(
    rounds: int = 5, duration: float = 5, warmup: float = 1, cases: tuple[str, ...] = CASES
) -> HttpFigures:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: run scripts/ensure-bench-tools (make bench does)")
    figures = HttpFigures(rounds, duration, {case: [] for case in cases})
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
            # The highest API rate seen so far bounds how many distinct tokens a run can use;
            # the highest grant rate, how many refresh tokens or codes.
            top_rate = max(run.rate for run in warm)
            top_grant_rate = bench.grant_run([bench.grant_body], duration=warmup).rate
            for name in ("refresh", "code"):
                bodies = bench.credential_bodies(name, bench.enough_for(top_rate, warmup))
                top_grant_rate = max(top_grant_rate, bench.grant_run(bodies, warmup).rate)
            for _ in range(rounds):
                for case in cases:
                    run, ran_out = measured(
                        case, partial(bench.case, case, top_rate, top_grant_rate), figures.repeated
                    )
                    figures.runs[case].append(run)
                    if ran_out:
                        figures.ran_out.add(case)
                    if case in GRANT_CASES:
                        top_grant_rate = max(top_grant_rate, run.rate)
                    else:
                        top_rate = max(top_rate, run.rate)
        finally:
            bench.stop()
    return figures
