"""Benchmarks: `make bench` (not tests; see bench_validation.py)."""
