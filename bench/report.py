"""``bench/RESULTS.md`` (the performance figures, each with its ratio and target, and the
machine) and ``bench/throughput.png`` (validations per second, matplotlib's Agg backend)."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.http import MIN_BUSY, WRK_CONNECTIONS, WRK_THREADS, HttpFigures
from bench.validators import LIBRARIES, OURS, ValidatorFigures

PACKAGES = (
    "PyJWT",
    "cryptography",
    "python-jose",
    "joserfc",
    "authlib",
    "flask",
    "gunicorn",
    "matplotlib",
)


@dataclass
class Figure:
    what: str
    measured: str
    ratio: float
    target: str
    met: bool


def figures(validators: ValidatorFigures, http: HttpFigures) -> list[Figure]:
    cold, warm = validators.cold[OURS], validators.warm[OURS]
    pyjwt = validators.cold["PyJWT"]
    floor = validators.verify_floor
    public, private, distinct = (http.rate(case) for case in ("public", "private", "distinct"))
    grants, refresh, code = (http.rate(case) for case in ("grants", "refresh", "code"))
    p99_public, p99_private = http.p99("public"), http.p99("private")
    no_cache = "" if validators.has_cache else " (no cache)"
    return [
        Figure(
            "validator, cold (every token distinct) vs PyJWT `jwt.decode` with a preloaded key",
            f"{cold:,.0f}/s vs {pyjwt:,.0f}/s",
            cold / pyjwt,
            "≥ 2.3×",
            cold / pyjwt >= 2.3,
        ),
        Figure(
            "validator, cold, share of the raw RSA-2048 `verify()` floor",
            f"{cold:,.0f}/s of {floor:,.0f}/s",
            cold / floor,
            "≥ 0.75",
            cold / floor >= 0.75,
        ),
        Figure(
            "validator, warm (one token again and again) vs cold",
            f"{warm:,.0f}/s vs {cold:,.0f}/s{no_cache}",
            warm / cold,
            "≥ 10×",
            warm / cold >= 10,
        ),
        Figure(
            "`GET /api/private`, one repeated valid token, vs `GET /api/public`, requests/s",
            f"{private:,.0f}/s vs {public:,.0f}/s",
            private / public,
            "≥ 0.95",
            private / public >= 0.95,
        ),
        Figure(
            "the same with a distinct valid token on every request",
            f"{distinct:,.0f}/s vs {public:,.0f}/s" + _ran_out(http, "distinct"),
            distinct / public,
            "≥ 0.85",
            distinct / public >= 0.85,
        ),
        Figure(
            "p99 latency, private (warm) vs public",
            f"{p99_private:.1f} ms vs {p99_public:.1f} ms",
            p99_private / p99_public,
            "≤ 1.2×",
            p99_private / p99_public <= 1.2,
        ),
        Figure(
            "authserver client-credentials grants/s, `python -m authserver` as shipped",
            f"{grants:,.0f}/s",
            grants,
            "≥ 400/s",
            grants >= 400,
        ),
        Figure(
            "the same as a share of one process's RSA-2048 signing rate",
            f"{grants:,.0f}/s of {validators.signing_rate:,.0f}/s",
            grants / validators.signing_rate,
            "≥ 0.1",
            grants / validators.signing_rate >= 0.1,
        ),
        Figure(
            "authserver refresh-token grants/s (rotation, a distinct refresh token each)",
            f"{refresh:,.0f}/s" + _ran_out(http, "refresh"),
            refresh,
            "≥ 400/s",
            refresh >= 400,
        ),
        Figure(
            "authserver authorization-code redemptions/s (PKCE, a distinct code each)",
            f"{code:,.0f}/s" + _ran_out(http, "code"),
            code,
            "≥ 400/s",
            code >= 400,
        ),
    ]


def _ran_out(http: HttpFigures, case: str) -> str:
    return " (ran out of distinct ones: some reused)" if case in http.ran_out else ""


def _ratio(figure: Figure) -> str:
    if figure.target.endswith("/s"):
        return f"{figure.ratio:,.0f}/s"
    if figure.target.endswith("×"):
        return f"{figure.ratio:.2f}×"
    return f"{figure.ratio:.2f}"


def table(rows: list[Figure]) -> str:
    lines = ["| what | measured | ratio | target | met |", "|---|---|---|---|---|"]
    for row in rows:
        met = "yes" if row.met else "no"
        lines.append(f"| {row.what} | {row.measured} | {_ratio(row)} | {row.target} | {met} |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 (git on PATH)
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def markdown(
    validators: ValidatorFigures,
    http: HttpFigures,
    *,
    seconds: float,
    quick: bool,
    load_before: tuple[float, float, float],
) -> str:
    from cryptography.hazmat.backends.openssl.backend import backend

    rows = figures(validators, http)
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    kind = (
        "`make bench QUICK=1` (a seconds-long smoke run: its figures are noise)"
        if quick
        else "`make bench`"
    )
    rates = "\n".join(
        f"| {name} | {validators.cold[name]:,.0f} | {validators.warm[name]:,.0f} |"
        for name in (OURS, *LIBRARIES)
    )
    http_rows = "\n".join(
        f"| {case} | {http.rate(case):,.0f} | {http.p99(case):.1f} | "
        + " ".join(f"{run.rate:,.0f}" for run in http.runs[case])
        + " |"
        for case in http.runs
    )
    repeated = (
        "Runs measured again because the cores were busy less than "
        f"{MIN_BUSY:.0%} of the run (the host took a core away): "
        + "; ".join(
            f"{case} {run.rate:,.0f}/s ({run.busy:.0%} busy)" for case, run in http.repeated
        )
        + "."
        if http.repeated
        else f"No run was measured again (each kept the cores busy {MIN_BUSY:.0%} of the time or more)."
    )
    failures = (
        f"\n\n**{http.failures} requests failed or got a non-2xx answer** (see the runs)."
        if http.failures
        else ""
    )
    cache = (
        "with its verified-token cache (`verified_cache_size`)"
        if validators.has_cache
        else "without a verified-token cache (this `shared/token_validation.py` has no "
        "`verified_cache_size` option: warm is cold)"
    )
    return f"""# Benchmark results

Written by {kind} on {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}, in {seconds:.0f} s.
Targets are the project's performance goals. Every figure is the median of its rounds; the cases of each part
ran interleaved (A B C A B C ...), so machine noise hit them alike.

{table(rows)}{failures}

## Machine and versions

- {os.cpu_count()} cores, {cpu_model()}; {platform.platform()}
- load average (1, 5, 15 min) before the run {_load(load_before)}, after it {_load(os.getloadavg())}
  (the figure after includes the benchmark's own processes; a high one before means something
  else shared the cores)
- Python {platform.python_version()}, {backend.openssl_version_text()}, {http.wrk_version}
- {versions}
- commit {_commit()}

## Validations per second (in one process)

{validators.tokens} RS256 tokens of {validators.token_bytes} bytes (RSA-2048), {validators.rounds}
rounds; the project's validator {cache}. Raw `verify()` floor: {validators.verify_floor:,.0f}/s;
RSA-2048 signing: {validators.signing_rate:,.0f}/s.

| validator | cold /s | warm /s |
|---|---|---|
{rates}

![validations per second](throughput.png)

## HTTP (wrk on loopback, {http.rounds} rounds of {http.duration:g} s per case)

`python -m api` and `python -m authserver` as shipped; wrk `-t{WRK_THREADS} -c{WRK_CONNECTIONS}`. `distinct`: a distinct valid
token on every request; `grants`: `POST /oauth/token` client-credentials grants; `refresh`:
refresh-token grants of the native demo, a distinct refresh token each; `code`: its
authorization-code redemptions (PKCE), a distinct code each. Both with the native demo's default
scope (`openid`: an ID token is signed too).

| case | requests/s | p99 ms | rounds (requests/s) |
|---|---|---|---|
{http_rows}

{repeated}
"""


def chart(validators: ValidatorFigures, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = (OURS, *LIBRARIES)
    positions = range(len(names))
    width = 0.38
    figure, axes = plt.subplots(figsize=(9, 5), dpi=110)
    for offset, label, values, colour in (
        (-width / 2, "cold (every token distinct)", validators.cold, "#4c72b0"),
        (width / 2, "warm (one token again and again)", validators.warm, "#dd8452"),
    ):
        bars = axes.bar(
            [position + offset for position in positions],
            [values[name] for name in names],
            width,
            label=label,
            color=colour,
        )
        axes.bar_label(bars, labels=[f"{values[name]:,.0f}" for name in names], fontsize=7)
    axes.axhline(
        validators.verify_floor,
        color="#c44e52",
        linestyle="--",
        label=f"raw RSA-2048 verify() floor ({validators.verify_floor:,.0f}/s)",
    )
    axes.set_yscale("log")
    axes.set_xticks(list(positions), [name.replace("shared.", "shared.\n") for name in names])
    axes.set_ylabel("validations per second (log scale)")
    axes.set_title("RS256 access-token validation, one process")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
