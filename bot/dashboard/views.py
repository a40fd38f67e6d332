"""What each dashboard page shows, as data: the report of the filtered posts, a theme's insight, the consented
replies behind a phrase, every prompt with its engagement. The HTML (``bot.dashboard.pages``) and the downloads
(``bot.dashboard.tables``) both render these, so a download holds exactly what its page shows.

Every figure comes from ``bot.report``: a page is a report of the posts its filters select, protected by the report's
disclosure rules (``min_group_size``, never exact), and theme text is given only from ``report_min_members`` members.
A theme's page uses the report of its filters *without* the theme, as the report does, so its phrases are ranked
against the other themes and its figures are those of the report's section for that theme.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import Settings
from bot.dashboard.filters import FilteredSource, Filters, parse_filters
from bot.dashboard.signin import SignInStore
from bot.events import Platform
from bot.report import Report, ReportOptions, make_report
from bot.report.charts import Value
from bot.report.insight import ThemeInsight
from bot.report.markers import shipped_markers
from bot.report.model import ChannelKey, ReportSource
from bot.report.quotes import printable
from bot.report.sections import PLATFORM_LABELS, channel_labels, posted_order, ranked_posts
from bot.report.text import clean, content, grams
from bot.timeutil import IsoWeek

CACHED_REPORTS = 4
MAX_PHRASE_REPLIES = 100
MEASURES = ("replies", "reactions", "participants")
SORTS = ("replies", "reactions", "participants", "posted", "theme")


class DashboardSource(ReportSource, SignInStore, Protocol):
    """What the dashboard reads (``storage.repository.Repository`` on a connection of the dashboard's own)."""

    def data_version(self) -> int: ...
    def dashboard_channels(self) -> list[ChannelKey]: ...
    def reader(self) -> AbstractContextManager[ReportSource | None]:
        """A read-only connection of its own to the same database, for the worker thread that counts a report's
        weeks meanwhile; None for an in-memory database."""
        ...


class NoSuchPage(LookupError):
    """A theme or phrase the page cannot show (unknown, or its text withheld): the page does not exist."""


@dataclass(frozen=True, slots=True)
class ThemeView:
    report: Report  # of the filters without the theme
    insight: ThemeInsight


@dataclass(frozen=True, slots=True)
class PhraseView:
    theme: ThemeView
    phrase: str
    members: int  # members who used it (at least the phrase threshold)
    replies: tuple[str, ...]  # consented replies using it, as quotes are printed: no mentions, no markup


@dataclass(frozen=True, slots=True)
class PromptRow:
    post_id: int
    prompt: str
    theme: str
    platform: Platform
    channel: str  # readable label
    posted_at: datetime
    figures: dict[str, Value]  # replies, reactions, participants: a number, or what its place reads


@dataclass(frozen=True, slots=True)
class PromptsView:
    report: Report
    rows: tuple[PromptRow, ...]
    sort: str
    descending: bool


def channel_choice(channel: ChannelKey, name: str | None) -> str:
    """How the channel filter names a channel: as the report does when its name is known, else by its id."""
    platform = PLATFORM_LABELS[channel[0]]
    if not name:
        return f"{platform} channel {channel[1]}"
    return f"{platform} · " + ("#" + name.lstrip("#") if channel[0] is Platform.SLACK else name)


class Views:
    def __init__(
        self, source: DashboardSource, settings: Settings, themes: tuple[str, ...], clock: Callable[[], datetime]
    ) -> None:
        self.source = source
        self.settings = settings
        self.themes = themes
        self.clock = clock
        self.options = ReportOptions(
            min_group_size=settings.min_group_size,
            report_min_members=settings.report_min_members,
            title="Engagement dashboard",
        )
        self._reports: OrderedDict[tuple[Filters, int], Report] = OrderedDict()

    # -- filters and the report behind a page ----------------------------------------------------------------------

    def filters(self, query: Mapping[str, str]) -> Filters:
        """The filters of a query string (UsageError when a value is wrong); the default period ends last week."""
        now, tz = self.clock(), self.settings.timezone
        return parse_filters(query, default_last=IsoWeek.containing(now, tz).previous(), now=now, tz=tz)

    def report(self, filters: Filters) -> Report:
        """The report of the posts ``filters`` select, remembered until the database changes; made as `engagebot
        report` makes it (``make_report``: the weeks' activity read on a second connection in a worker thread while
        the text is analysed)."""
        key = (filters, self.source.data_version())
        report = self._reports.get(key)
        if report is None:
            with self.source.reader() as reader:  # the weeks are counted on it in a worker thread meanwhile
                report = self._reports[key] = make_report(
                    self._filtered(self.source, filters),
                    filters.first,
                    filters.last,
                    self.settings.timezone,
                    self.options,
                    quote_emoji=self.settings.quote_emoji,
                    themes=(filters.theme,) if filters.theme is not None else self.themes,
                    counter=None if reader is None else self._filtered(reader, filters),
                )
            while len(self._reports) > CACHED_REPORTS:
                self._reports.popitem(last=False)
        self._reports.move_to_end(key)
        return report

    @staticmethod
    def _filtered(source: ReportSource, filters: Filters) -> ReportSource:
        return FilteredSource(source, filters) if filters.narrowed else source

    def channels(self) -> list[tuple[ChannelKey, str]]:
        """Every channel with posts, with its readable name where known, for the channel filter."""
        channels = self.source.dashboard_channels()
        names = self.source.channel_names(channels)
        labelled = [(channel, channel_choice(channel, names.get(channel))) for channel in channels]
        return sorted(labelled, key=lambda item: (item[0][0].value, item[1]))

    # -- pages -------------------------------------------------------------------------------------------------------

    def theme(self, filters: Filters) -> ThemeView:
        if filters.theme is None:
            raise NoSuchPage("no theme")
        report = self.report(filters.without_theme())
        found = [t for t in report.insights.themes if t.theme == filters.theme]
        if not found:
            raise NoSuchPage(filters.theme)
        return ThemeView(report, found[0])

    def phrase(self, filters: Filters, phrase: str) -> PhraseView:
        """The consented replies of the theme that use ``phrase``, one of the phrases its page lists."""
        view = self.theme(filters)
        listed = {p.text: p.members for p in view.insight.phrases}
        if view.insight.withheld or phrase not in listed:
            raise NoSuchPage(phrase)
        markers = shipped_markers()
        replies = []
        for reply in view.report.data.replies:
            if reply.theme != view.insight.theme or not reply.quote_ok or not reply.text.strip():
                continue
            if markers.is_endorsement(reply.text) or phrase not in grams(content(clean(reply.text))):
                continue
            text = printable(reply.text)
            if text and text not in replies:
                replies.append(text)
            if len(replies) == MAX_PHRASE_REPLIES:
                break
        return PhraseView(view, phrase, listed[phrase], tuple(replies))

    def prompts(self, filters: Filters, sort: str, descending: bool) -> PromptsView:
        """Every post of the period (made in it, or with activity in it) and its engagement, sorted by what is shown
        (``ranked_posts``, as the report ranks its prompts): a withheld figure sorts after every shown one, whatever
        the order, so the order gives nothing away."""
        if sort not in SORTS:
            raise NoSuchPage(sort)
        report = self.report(filters)
        f, labels = report.figures, channel_labels(report)
        if sort in MEASURES:
            items = ranked_posts(report, (sort,), descending=descending)
        else:
            items = sorted(report.data.period.by_post, key=posted_order)
        rows = [
            PromptRow(
                item.post.id,
                item.post.prompt,
                item.post.theme,
                item.post.platform,
                labels[item.post.platform, item.post.channel_id],
                item.post.posted_at,
                {m: f.show("post", item.post.id, m) for m in MEASURES},
            )
            for item in items
        ]
        if sort == "theme":  # ties stay in posting order (sorts are stable)
            rows.sort(key=lambda row: row.theme.casefold(), reverse=descending)
        elif sort == "posted" and descending:
            rows.reverse()
        return PromptsView(report, tuple(rows), sort, descending)
