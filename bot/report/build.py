"""From gathered data to a report: the protected figures and the theme insight, ready to render.

``make_report`` reads and builds in one go. Given a second source on its own connection to the same database
(``counter``), a worker thread reads every week's activity on it while this thread reads the replies and analyses
their text. SQLite releases the GIL while it runs a query, and grouping a week's activity is SQLite's work (one
result row per week: the worker needs the GIL only to take that row), so those reads overlap the text analysis;
the figures are then counted here, with no second thread asking for the GIL.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.report.figures import ReportFigures, protect_report
from bot.report.insight import Insights, read_text, theme_insights
from bot.report.markers import Markers, shipped_markers
from bot.report.model import (
    ReportData,
    ReportSource,
    count_weeks,
    read_weeks,
    report_data,
    report_spans,
    report_weeks,
)
from bot.summary import SummarySource
from bot.timeutil import IsoWeek

MIN_PHRASE_MEMBERS = 3


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """How a report is made. ``exact`` lifts the small-group suppression of counts (never of text)."""

    min_group_size: int = 3  # the anonymity threshold k: no count about fewer than k people
    report_min_members: int = 10  # a theme's text insight needs at least this many members
    exact: bool = False
    quotes_per_theme: int = 3
    phrases_per_theme: int = 8
    prompts_listed: int = 10
    title: str = "Member engagement report"


@dataclass(frozen=True, slots=True)
class Report:
    data: ReportData
    options: ReportOptions
    figures: ReportFigures
    insights: Insights

    @property
    def k(self) -> int:
        return self.options.min_group_size

    @property
    def phrase_members(self) -> int:
        """The fewest members a shared phrase needs: 3, or k when that is higher (exact or not)."""
        return max(MIN_PHRASE_MEMBERS, self.options.min_group_size)


def build_report(data: ReportData, options: ReportOptions | None = None, markers: Markers | None = None) -> Report:
    options = options or ReportOptions()
    insights = theme_insights(data, markers or shipped_markers(), **_text_options(options))
    return _protected(data, options, insights)


def make_report(
    source: ReportSource,
    first: IsoWeek,
    last: IsoWeek,
    tz: ZoneInfo,
    options: ReportOptions | None = None,
    *,
    quote_emoji: str = "speech_balloon",
    themes: Sequence[str] = (),
    counter: SummarySource | None = None,
    markers: Markers | None = None,
) -> Report:
    """``build_report(gather(...))``, the same report; the weeks' activity is read on ``counter`` (a source on its
    own connection to the same database, used by no other thread meanwhile) in a worker thread when it is given."""
    options = options or ReportOptions()
    weeks = report_weeks(first, last)
    spans = report_spans(weeks, tz)
    start, end = spans[len(weeks)][0], spans[-1][1]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-activity") as pool:
        reading = pool.submit(read_weeks, counter, spans) if counter is not None else None
        replies = source.report_replies(start, end, quote_emoji)
        text = read_text(replies, markers or shipped_markers(), **_text_options(options))
        groups = reading.result() if reading is not None else None
    counts = count_weeks(source, weeks, tz, groups)
    data = report_data(source, weeks, tz, counts, replies, themes)
    return _protected(data, options, text.insights(data.themes))


def _text_options(options: ReportOptions) -> dict[str, int]:
    return {
        "min_members": max(MIN_PHRASE_MEMBERS, options.min_group_size),
        "report_min_members": options.report_min_members,
        "quotes": options.quotes_per_theme,
        "phrases": options.phrases_per_theme,
    }


def _protected(data: ReportData, options: ReportOptions, insights: Insights) -> Report:
    figures = protect_report(data, insights.cells(), (), k=options.min_group_size, exact=options.exact)
    return Report(data, options, figures, insights)
