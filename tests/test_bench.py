"""`make bench QUICK=1`'s smoke test: the benchmark runs end to end and writes its table and its
chart. Benchmarks are not tests: no figure is checked against its target here."""

import subprocess
import sys

import pytest

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
