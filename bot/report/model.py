"""What the leadership report is made from: plain data gathered through one storage Protocol.

``gather`` asks a ``ReportSource`` (the storage layer) for a range of ISO weeks. Every week is counted by the code
that counts ``engagebot summary --week W --json`` (``bot.counting`` and ``bot.summary``), so the report's weekly
figures equal the summary's by construction; the period's own figures (participants over the whole period, new
participants, median time to first reply) and the previous period's come from the same code over the weeks'
activity united. Everything after ``gather`` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from bot.counting import Activity, People, Turnout, count_new, median_minutes_to_first_reply, span_totals, tally
from bot.events import Platform
from bot.model import ActivityGroup, PostRecord
from bot.summary import Figures, Period, Summary, SummarySource, period_of, summary_of
from bot.timeutil import IsoWeek

ChannelKey = tuple[Platform, str]


class ReportReply(NamedTuple):
    """One counted reply of the period, as the text analysis needs it (a tuple: there are tens of thousands).
    ``member_id`` is never printed."""

    id: int
    post_id: int
    theme: str
    platform: Platform
    member_id: str
    text: str  # "" once retention has blanked it
    created_at: datetime
    quote_ok: bool  # the member's quote consent in force when the report is made


class ReportSource(SummarySource, Protocol):
    """Everything the report needs from storage: the summary's queries plus these two."""

    def report_replies(self, start: datetime, end: datetime, quote_emoji: str) -> list[ReportReply]:
        """Every counted reply created in [start, end), oldest first (ties by id), with the post's theme and
        platform and the member's current quote consent (``quote ok``, or the quote emoji by the consent rules).
        Members who opted out or were erased have no rows to return."""
        ...

    def channel_names(self, channels: Iterable[ChannelKey]) -> dict[ChannelKey, str]:
        """Readable names ("policy-views", "Healthcare science": as the platform spells them) of those channels whose
        name is known."""
        ...


@dataclass(frozen=True, slots=True)
class ReportData:
    first: IsoWeek
    last: IsoWeek
    timezone: str
    start: datetime
    end: datetime
    weeks: tuple[Summary, ...]  # one per ISO week, first to last
    period: Period
    previous: Period  # the same number of weeks just before: its headline figures only
    replies: tuple[ReportReply, ...]  # the period's, oldest first
    themes: tuple[str, ...]  # display order: the library's themes, then any others with activity
    platforms: tuple[Platform, ...]  # platforms with posts or activity in the period
    channel_names: dict[ChannelKey, str]

    @property
    def posts(self) -> dict[int, PostRecord]:
        return {item.post.id: item.post for item in self.period.by_post}


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """The ISO weeks from ``first`` to ``last`` inclusive (empty when ``last`` is before ``first``)."""
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        year, number, _ = (week.monday() + timedelta(days=7)).isocalendar()
        week = IsoWeek(year, number)
    return weeks


@dataclass(frozen=True, slots=True)
class Counts:
    """The report's figures: every week's summary, the period's and the previous period's headline figures."""

    weeks: tuple[Summary, ...]
    period: Period
    previous: Period


def report_spans(weeks: Sequence[IsoWeek], tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The bounds of each week of the previous period (as many weeks just before), then of each of ``weeks``."""
    n = len(weeks)
    return [week.bounds(tz) for week in (*(weeks[0].back(n - i) for i in range(n)), *weeks)]


def read_weeks(source: SummarySource, spans: Sequence[tuple[datetime, datetime]]) -> list[Iterable[ActivityGroup]]:
    """The activity of each span (``report_spans``), each read once. Grouping a week's rows is SQLite's work: on a
    source of its own, this runs in a worker thread while the text is analysed."""
    return [source.activity_between(start, end) for start, end in spans]


def count_weeks(
    source: SummarySource,
    weeks: Sequence[IsoWeek],
    tz: ZoneInfo,
    groups: Sequence[Iterable[ActivityGroup]] | None = None,
) -> Counts:
    """Count the consecutive ``weeks``, the period they make and the previous period (as many weeks just before).

    Each week of both periods is read once (``read_weeks`` over ``report_spans``, unless ``groups`` gives them):
    into its ``Activity``, or its ``Turnout`` in the previous period; the period's activity is its weeks' united.
    Every week, the period and the previous period are counted by ``bot.counting`` and ``bot.summary`` exactly as
    ``build_summary`` counts a week, with each member's first activity and each post's first reply read once for
    all of them."""
    n = len(weeks)
    spans = report_spans(weeks, tz)
    start, end, previous_start = spans[n][0], spans[-1][1], spans[0][0]
    known: dict[str, str] = {}  # every member, one string each
    read = list(groups) if groups is not None else read_weeks(source, spans)
    # The previous period's weeks: only their totals are shown (the period's, and the first week's previous week).
    turnouts = [Turnout.of(week, known) for week in read[:n]]
    week_activity = [Activity.of(week, known) for week in read[n:]]
    del read
    first_activity = source.first_activity(known, previous_start)
    made = [source.posts_between(*span) for span in spans]
    posts = {p.id: p for posts_made in made for p in posts_made}
    posts.update(source.posts_by_ids(set().union(*(a.post_ids() for a in week_activity)) - posts.keys()))
    first_replies = source.first_reply_at({p.id for posts_made in made for p in posts_made})

    # The previous period: only what the report shows of it (its totals, new participants and median), and each
    # week's "previous week" totals.
    previous_made = [p for posts_made in made[:n] for p in posts_made]
    before_totals, before_members = span_totals(Turnout.union(turnouts), previous_made)
    week_before = [
        span_totals(turnouts[-1] if i == 0 else week_activity[i - 1].turnout, made[n + i - 1])[0] for i in range(n)
    ]

    summaries = []
    for i, week in enumerate(weeks):
        counted = tally(week_activity[i], made[n + i], posts)
        week_start, week_end = spans[n + i]
        period = period_of(week_start, week_end, counted, made[n + i], posts, first_activity, first_replies)
        summaries.append(summary_of(period, week, tz, week_before[i]))
    period_made = [p for posts_made in made[n:] for p in posts_made]
    whole = tally(Activity.union(week_activity), period_made, posts)
    period = period_of(start, end, whole, period_made, posts, first_activity, first_replies)
    previous = Period(
        start=previous_start,
        end=start,
        totals=Figures(before_totals.posts, before_totals.replies, before_totals.reactions, before_totals.participants),
        new_participants=count_new(before_members, first_activity, previous_start),
        median_minutes_to_first_reply=median_minutes_to_first_reply(previous_made, first_replies),
        by_platform={},
        by_theme=[],
        by_post=[],
        top_reactions=[],
        people=People(before_totals.repliers, before_totals.reactors),
    )
    return Counts(tuple(summaries), period, previous)


def report_data(
    source: ReportSource,
    weeks: Sequence[IsoWeek],
    tz: ZoneInfo,
    counts: Counts,
    replies: Sequence[ReportReply],
    themes: Sequence[str],
) -> ReportData:
    """The report's data from its figures and replies (``themes``: the library's order); reads channel names."""
    period = counts.period
    active = [name for name, figures in period.by_theme if figures.replies or figures.reactions or figures.posts]
    ordered = [*themes, *sorted(set(active) - set(themes))]
    platforms = tuple(p for p, f in period.by_platform.items() if f.posts or f.replies or f.reactions)
    shown = {(item.post.platform, item.post.channel_id) for item in period.by_post}
    return ReportData(
        first=weeks[0],
        last=weeks[-1],
        timezone=tz.key,
        start=period.start,
        end=period.end,
        weeks=counts.weeks,
        period=period,
        previous=counts.previous,
        replies=tuple(replies),
        themes=tuple(ordered),
        platforms=platforms,
        channel_names=source.channel_names(sorted(shown)),
    )


def report_weeks(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """``week_range``, refusing an empty period."""
    weeks = week_range(first, last)
    if not weeks:
        raise ValueError(f"the report period is empty: {first} is after {last}")
    return weeks


def gather(
    source: ReportSource,
    first: IsoWeek,
    last: IsoWeek,
    tz: ZoneInfo,
    *,
    quote_emoji: str = "speech_balloon",
    themes: Sequence[str] = (),
) -> ReportData:
    """Read everything a report of the weeks ``first``..``last`` shows. ``themes``: the library's order."""
    weeks = report_weeks(first, last)
    counts = count_weeks(source, weeks, tz)
    replies = source.report_replies(counts.period.start, counts.period.end, quote_emoji)
    return report_data(source, weeks, tz, counts, replies, themes)
