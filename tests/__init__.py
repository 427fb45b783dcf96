"""Flowlab's test suite (a package so that ``tests.support`` imports by its dotted name)."""
