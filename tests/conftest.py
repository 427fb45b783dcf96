"""Fixtures shared by every test folder: see tests/support/__init__.py for the list."""

pytest_plugins = ["tests.support.fixtures", "tests.support.browser"]
