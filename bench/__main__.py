"""``make bench`` (``python -m bench``): every performance figure with its target, ``bench/RESULTS.md``
and ``bench/throughput.png``.

Two parts, each with its cases interleaved in rounds and the median round reported:
``bench.validators`` (validations per second in this process: the project's validator, PyJWT,
python-jose, joserfc and authlib's ``jose``, the raw RSA ``verify()`` floor and the signing
rate) and ``bench.http`` (wrk on loopback against ``python -m api`` and ``python -m authserver``
as shipped). ``--quick`` (``make bench QUICK=1``) runs a seconds-long version that only shows
the whole thing works: its figures are noise. Benchmarks are not tests: nothing here fails on a
figure that misses its target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import http, report, validators

FULL = {"tokens": 1000, "validator_rounds": 11, "http_rounds": 5, "duration": 5, "warmup": 2}
QUICK = {"tokens": 100, "validator_rounds": 3, "http_rounds": 1, "duration": 1, "warmup": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent,
        help="folder of RESULTS.md and throughput.png (default: bench/)",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started = time.monotonic()
    load_before = os.getloadavg()

    print("validators (in this process) ...", file=sys.stderr, flush=True)
    validator_figures = validators.measure(settings["tokens"], settings["validator_rounds"])
    print("HTTP (wrk on loopback) ...", file=sys.stderr, flush=True)
    http_figures = http.measure(settings["http_rounds"], settings["duration"], settings["warmup"])

    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "RESULTS.md"
    results.write_text(
        report.markdown(
            validator_figures,
            http_figures,
            seconds=time.monotonic() - started,
            quick=args.quick,
            load_before=load_before,
        )
    )
    report.chart(validator_figures, args.out / "throughput.png")
    print(report.table(report.figures(validator_figures, http_figures)))
    print(f"\nwrote {results} and {args.out / 'throughput.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
