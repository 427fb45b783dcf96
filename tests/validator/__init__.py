"""Tests of shared/token_validation.py."""
