"""Cold validation only, our validator vs PyJWT (``python -m bench.bench_validation``).

Kept for its old command line; ``make bench`` (``python -m bench``) measures this and every
other figure (see ``bench/__main__.py``, ``bench/validators.py``).
"""

from __future__ import annotations

import argparse

from bench.validators import OURS, measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1000, help="distinct tokens per round")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds")
    args = parser.parse_args()
    figures = measure(args.tokens, args.rounds)
    print(f"{args.tokens} distinct RS256 tokens, median of {args.rounds} interleaved rounds")
    for name in (OURS, "PyJWT"):
        print(f"  {name:<28} {figures.cold[name]:10,.0f} tokens/s")
    print(f"  ratio (ours / PyJWT)         {figures.cold[OURS] / figures.cold['PyJWT']:10.2f}x")


if __name__ == "__main__":
    main()
