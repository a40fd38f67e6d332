"""The leadership report in a real browser: it renders without errors, asks the network for nothing, shows its
charts, and prints to A4."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app import main
from tests.browser.conftest import watched_page

pytestmark = pytest.mark.browser

A4_MEDIA_BOX = re.compile(rb"/MediaBox\s*\[0 0 595\.9\d* 842\.8\d*\]")
CHARTS = ("chart-participants", "chart-replies", "chart-heatmap", "chart-themes")


@pytest.fixture
def demo_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """The report `make demo` writes, of a shorter demo (made before the browser starts its own event loop)."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--db", str(tmp_path / "demo.db"), "--weeks", "3"]) == 0
    path = Path(capsys.readouterr().out.rstrip().splitlines()[-1])  # the path the demo printed last
    assert path == tmp_path / "demo-report.html"
    return path


def test_the_demo_report_opens_offline_without_errors_or_requests_and_prints_to_a4(
    demo_report: Path, browser_context: Any
) -> None:
    url = demo_report.as_uri()

    watched = watched_page(browser_context, "file:")  # only the file itself
    page, requests, problems = watched.page, watched.requests, watched.problems
    response = page.goto(url, wait_until="load")
    assert response is not None
    assert response.ok
    page.wait_for_timeout(300)  # let any late fetch or console message arrive before counting

    assert requests == [url]
    assert problems == []
    assert page.title().startswith("Member engagement report")
    assert page.locator("text=#nhs-10-year-plan").count() > 0  # channels by name
    for chart in CHARTS:
        locator = page.locator(f"svg#{chart}")
        assert locator.is_visible(), chart
        box = locator.bounding_box()
        assert box is not None, chart
        assert box["width"] > 200, (chart, box)
        assert box["height"] > 50, (chart, box)
        assert locator.get_attribute("aria-label")
        assert locator.locator("title").first.text_content()
    assert page.locator("section.tiles .tile").count() == 4
    assert page.locator("blockquote").count() > 0

    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    assert len(A4_MEDIA_BOX.findall(pdf)) >= 2  # several A4 pages, none of another size
    assert not re.search(rb"/MediaBox\s*\[0 0 (?!595\.9)", pdf)
    assert requests == [url]
