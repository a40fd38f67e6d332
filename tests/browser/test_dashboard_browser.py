"""The dashboard in a real browser: an admin asks for a link with a signed `/engage dashboard`, opens it in headless
Chromium, presses Continue, reads the overview (the figures of `engagebot summary --json`), filters to a theme and
follows a phrase to the consented replies behind it; no console error (a CSP violation is one), and no request
leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.report.html import minutes
from bot.report.quotes import printable
from tests.browser.conftest import watched_page
from tests.cli_support import run
from tests.dashboard.site import LINK, VOICES, WEEK, Site, consented, seed, site
from tests.serving import free_port

pytestmark = pytest.mark.browser
T = TypeVar("T")


class LiveSite:
    """The dashboard test site served from its own thread and event loop, so the test can drive a browser."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.site: Site | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)
        self._error: BaseException | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _main(self) -> None:
        try:
            self._stop = asyncio.Event()
            async with site(self.tmp_path, public_url=self.origin, port=self.port) as running:
                await seed(running)
                self.site = running
                self.ready.set()
                await self._stop.wait()
        except BaseException as err:  # surfaced to the test by start()
            self._error = err
            self.ready.set()

    def start(self) -> None:
        self._thread.start()
        self.ready.wait(60)
        if self._error is not None:
            raise self._error
        assert self.site is not None

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.loop.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveSite]:
    server = LiveSite(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_an_admin_signs_in_from_slack_and_browses_by_theme_and_phrase(
    live: LiveSite, browser_context: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    assert live.site is not None
    ack = live.call(live.site.slack_command("dashboard"))
    assert ack["response_type"] == "ephemeral"
    (link,) = LINK.findall(ack["text"])
    assert link.startswith(f"{live.origin}/dashboard/login/")

    watched = watched_page(browser_context, re.escape(live.origin) + "/")  # nothing leaves 127.0.0.1
    page, requests, problems = watched.page, watched.requests, watched.problems

    page.goto(link)
    assert page.locator("button", has_text="Continue").is_visible()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live.origin}/dashboard/")
    assert "/login/" not in page.url  # the token left the address bar
    assert page.locator("nav.top").is_visible()
    # The stylesheet applies under style-src 'self' (no inline style anywhere).
    assert page.evaluate("getComputedStyle(document.body).maxWidth") == "1120px"

    # The period that holds the community's week: its figures are the weekly summary's.
    page.select_option("select[name=weeks]", "4")
    page.fill("input[name=to]", str(WEEK))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*to=2026-W40.*"))
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(live.tmp_path / "engagebot.toml"))
    code, out, _ = run(capsys, "summary", "--week", str(WEEK), "--json", "--db", str(live.tmp_path / "dashboard.db"))
    assert code == 0
    totals = json.loads(out)["totals"]

    def tile(label: str) -> str:
        return page.locator(".tile", has=page.locator(".label", has_text=label)).locator(".figure").inner_text()

    assert tile("Replies") == str(totals["replies"])
    assert tile("Participants") == str(totals["participants"])
    assert tile("Reactions") == str(totals["reactions"])
    assert tile("Median time to first reply") == minutes(totals["median_minutes_to_first_reply"])
    for chart in ("chart-participants", "chart-replies", "chart-heatmap", "chart-themes"):
        box = page.locator(f"svg#{chart}").bounding_box()
        assert box is not None
        assert box["width"] > 200

    page.select_option("select[name=theme]", "Workforce")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*theme=Workforce.*"))
    page.locator("table.themes a", has_text="Workforce").click()
    page.wait_for_url(re.compile(r".*/dashboard/theme\?.*"))
    assert page.locator(".phrases li").count() >= 3
    page.locator(".phrases a", has_text="protected time").click()
    page.wait_for_url(re.compile(r".*/dashboard/phrase\?.*phrase=protected\+time.*"))
    quotes = [q.strip("“”") for q in page.locator("blockquote").all_inner_texts()]
    wanted = [printable(v.workforce) for v in VOICES if consented(v) and "protected time" in v.workforce.lower()]
    assert sorted(quotes) == sorted(wanted)
    body = page.content()
    for voice in VOICES:
        assert voice.member not in body
        assert voice.name not in body
        if not consented(voice):
            assert printable(voice.workforce) not in body

    assert problems == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.origin}/dashboard/signed-out")
    assert problems == []
    response = page.goto(f"{live.origin}/dashboard/")
    assert response is not None
    assert response.status == 401
    assert page.locator("h1").inner_text() == "Please sign in"
    assert problems == ["error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]
    assert requests
    assert all(url.startswith(f"{live.origin}/dashboard") for url in requests), requests
