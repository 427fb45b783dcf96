"""`make bench QUICK=1`'s smoke test: the benchmark runs end to end and writes its table and its
chart; and the rule by which a run the host slowed down is measured again. Benchmarks are not
tests: no figure is checked against its target here."""

import os
import subprocess
import sys
import time

import pytest

from bench.http import (
    MAX_REPEATS,
    MAX_REPEATS_PER_CASE,
    MIN_BUSY,
    Run,
    busy_share,
    cpu_times,
    measured,
)
from tests.support.processes import PROJECT_ROOT, service_environment


@pytest.mark.timeout(90)
def test_quick_bench_writes_the_table_and_the_chart(tmp_path):
    # What `make bench` runs: wrk from Debian when missing, then the benchmark (here into tmp).
    subprocess.run([PROJECT_ROOT / "scripts" / "ensure-bench-tools"], check=True)
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        env=service_environment(),
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    results = (tmp_path / "RESULTS.md").read_text()
    for figure in (
        "vs PyJWT",
        "`verify()` floor",
        "warm (one token again and again) vs cold",
        "`GET /api/private`, one repeated valid token",
        "a distinct valid token on every request",
        "p99 latency",
        "client-credentials grants/s",
        "RSA-2048 signing rate",
        "refresh-token grants/s",
        "authorization-code redemptions/s",
    ):
        assert figure in results
    assert "cores" in results and "PyJWT 2." in results
    # Every request of every case was answered 2xx: the minted refresh tokens and codes worked.
    assert "failed or got a non-2xx answer" not in results
    assert (tmp_path / "throughput.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def run_of(busy: float | None) -> Run:
    return Run(requests=1000, seconds=1.0, errors=0, non_2xx=0, p99_ms=5.0, busy=busy)


def test_a_run_that_found_a_core_taken_by_the_host_is_measured_again():
    answers = iter([run_of(0.40), run_of(0.55), run_of(0.93)])
    repeated: list = []
    run, _ = measured("public", lambda: (next(answers), False), repeated)
    assert run.busy == 0.93
    assert [(case, taken.busy) for case, taken in repeated] == [("public", 0.40), ("public", 0.55)]


@pytest.mark.parametrize("busy", [MIN_BUSY, 0.99, None])
def test_a_run_that_kept_the_cores_busy_or_could_not_tell_is_kept(busy):
    repeated: list = []
    run, _ = measured("grants", lambda: (run_of(busy), False), repeated)
    assert run.busy == busy and repeated == []


def test_runs_are_measured_again_at_most_max_repeats_times_in_all():
    repeated = [("public", run_of(0.4))] * (MAX_REPEATS - 1)
    run, _ = measured("code", lambda: (run_of(0.4), False), repeated)
    assert len(repeated) == MAX_REPEATS
    assert run.busy == 0.4, "past the limit, the run is kept as it is"


def test_one_case_is_measured_again_at_most_max_repeats_per_case_times():
    # A case the host keeps slowing down does not use up the repeats of the cases after it.
    repeated = [("refresh", run_of(0.4))] * MAX_REPEATS_PER_CASE
    run, _ = measured("refresh", lambda: (run_of(0.4), False), repeated)
    assert run.busy == 0.4 and len(repeated) == MAX_REPEATS_PER_CASE
    answers = iter([run_of(0.4), run_of(0.9)])
    run, _ = measured("private", lambda: (next(answers), False), repeated)
    assert run.busy == 0.9 and len(repeated) == MAX_REPEATS_PER_CASE + 1


def test_the_busy_share_of_the_machine_is_read_from_proc_stat():
    before = cpu_times()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        pass
    share = busy_share(before, cpu_times())
    # One of the machine's cores spun the whole time (less what the host may have taken of it).
    assert share is not None and 0.5 / (os.cpu_count() or 1) <= share <= 1
