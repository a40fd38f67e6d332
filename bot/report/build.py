"""From gathered data to a report: the protected figures and the theme insight, ready to render."""

from __future__ import annotations

from dataclasses import dataclass

from bot.report.figures import ReportFigures, protect_report
from bot.report.insight import Insights, theme_insights
from bot.report.markers import Markers, shipped_markers
from bot.report.model import ReportData

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
    insights = theme_insights(
        data,
        markers or shipped_markers(),
        min_members=max(MIN_PHRASE_MEMBERS, options.min_group_size),
        report_min_members=options.report_min_members,
        quotes=options.quotes_per_theme,
        phrases=options.phrases_per_theme,
    )
    figures = protect_report(data, insights.cells(), (), k=options.min_group_size, exact=options.exact)
    return Report(data, options, figures, insights)
