"""Headless Chromium for the `browser` tests: the operating system's own build, driven by Playwright.

Playwright never downloads a browser here: it is pointed at the system binary (Debian's `chromium` package),
launched with a fresh profile and without any background networking of its own, so every request a page makes
is one the page asked for. `make test-browser` installs Playwright; `.ci/run` installs Chromium when missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ENGAGEBOT_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[object]:
    """A fresh headless Chromium context (its own user-data-dir), closed after the test."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="run `make test-browser`, which installs Playwright")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install the OS package (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
