"""Headless Chromium for every test folder: one Playwright and one browser per test session.

Playwright's sync API runs its own event loop; a second ``sync_playwright()`` in the same session
fails ("Sync API inside the asyncio loop"), so every test that needs a browser asks for this
``browser`` fixture. Debian's Chromium (``make test`` installs it); no browser is downloaded.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: CI runs the whole suite on two busy cores; a wait that succeeds returns at once.
BROWSER_WAIT_MS = 30_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # `expect(...)` assertions retry until this timeout (Playwright's default is 5 s).
    expect.set_options(timeout=BROWSER_WAIT_MS)

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make test` (it installs Debian's chromium) "
            "or set CHROMIUM_PATH"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
