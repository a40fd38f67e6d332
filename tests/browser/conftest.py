"""Headless Chromium for the `browser` tests: the operating system's own build, driven by Playwright.

Playwright never downloads a browser here: it is pointed at the system binary (Debian's `chromium` package),
launched with a fresh profile and without any background networking of its own, so every request a page makes
is one the page asked for. `make test-browser` installs Playwright; `.ci/run` installs Chromium when missing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Watched:
    """A page whose every request and every console error or warning (a CSP violation is one) is recorded."""

    page: Any
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def watched_page(context: Any, allowed: str) -> Watched:
    """A new page of ``context`` that may fetch only addresses matching the regular expression ``allowed``: anything
    else is refused as well as recorded, so a regression cannot reach out."""
    watched = Watched(None)
    context.on("request", lambda request: watched.requests.append(request.url))
    context.route(re.compile(rf"^(?!{allowed}).*"), lambda route: route.abort())
    page = context.new_page()

    def console(msg: Any) -> None:
        if msg.type in ("error", "warning"):
            watched.problems.append(f"{msg.type}: {msg.text}")

    page.on("console", console)
    page.on("pageerror", lambda err: watched.problems.append(f"page error: {err}"))
    watched.page = page
    return watched
