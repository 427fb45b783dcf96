"""Benchmarks: `make bench` (not tests; see bench/__main__.py)."""
