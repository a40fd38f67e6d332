"""What the leadership report is made from: plain data gathered through one storage Protocol.

``gather`` asks a ``ReportSource`` (the storage layer) for a range of ISO weeks. The weekly figures are
``bot.summary.build_summary`` itself, so every week in a report equals ``engagebot summary --week W --json``; the
period's own figures (participants over the whole period, new participants, median time to first reply) and the
previous period's are ``bot.summary.build_period`` over [start, end). Everything after ``gather`` is pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from operator import itemgetter
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.events import Platform
from bot.model import ActivityRow, PostRecord, WeekTotals
from bot.summary import (
    Figures,
    Period,
    Summary,
    SummarySource,
    build_period,
    build_summary,
    median_minutes_to_first_reply,
)
from bot.timeutil import IsoWeek

ChannelKey = tuple[Platform, str]
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


@dataclass(frozen=True, slots=True)
class ReportReply:
    """One counted reply of the period, as the text analysis needs it. ``member_id`` is never printed."""

    id: int
    post_id: int
    theme: str
    platform: Platform
    member_id: str
    text: str  # "" once retention has blanked it
    created_at: datetime
    quote_ok: bool  # the member's quote consent in force when the report is made
    reactions: int  # counted reactions on this reply


class ReportSource(SummarySource, Protocol):
    """Everything the report needs from storage: the summary's queries plus these two."""

    def report_replies(self, start: datetime, end: datetime, quote_emoji: str) -> list[ReportReply]:
        """Every counted reply created in [start, end), oldest first (ties by id), with the post's theme and
        platform, the member's current quote consent (``quote ok``, or the quote emoji by the consent rules) and
        the number of counted reactions on it. Members who opted out or were erased have no rows to return."""
        ...

    def channel_names(self, channels: Iterable[ChannelKey]) -> dict[ChannelKey, str]:
        """Readable names ("policy-views", "Healthcare science": as the platform spells them) of those channels whose
        name is known."""
        ...


@dataclass(frozen=True, slots=True)
class People:
    """Distinct members behind the reply and reaction counts of one span, overall and by slice."""

    repliers: int = 0
    reactors: int = 0
    by_platform: dict[Platform, tuple[int, int]] = field(default_factory=dict)  # (repliers, reactors)
    by_theme: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_post: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportData:
    first: IsoWeek
    last: IsoWeek
    timezone: str
    start: datetime
    end: datetime
    weeks: tuple[Summary, ...]  # one per ISO week, first to last
    week_people: tuple[People, ...]
    period: Period
    period_people: People
    previous: Period  # the same number of weeks just before
    previous_people: People
    replies: tuple[ReportReply, ...]  # the period's, oldest first
    themes: tuple[str, ...]  # display order: the library's themes, then any others with activity
    platforms: tuple[Platform, ...]  # platforms with posts or activity in the period
    channel_names: dict[ChannelKey, str]

    @property
    def posts(self) -> dict[int, PostRecord]:
        return {item.post.id: item.post for item in self.period.by_post}


class _Remembering:
    """A SummarySource that reads each span once. The figures and the people behind them share a span's activity
    rows; a span whose rows are kept has its totals counted from them (each week's "previous week" but the first's),
    and the period's rows are its weeks' rows (``keep``), read once."""

    def __init__(self, source: SummarySource) -> None:
        self.source = source
        self.activity: dict[tuple[datetime, datetime], list[ActivityRow]] = {}
        self.posts: dict[tuple[datetime, datetime], list[PostRecord]] = {}

    def keep(self, start: datetime, end: datetime, rows: list[ActivityRow]) -> None:
        self.activity[start, end] = rows

    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]:
        if (start, end) not in self.posts:
            self.posts[start, end] = self.source.posts_between(start, end)
        return self.posts[start, end]

    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]:
        return self.source.posts_by_ids(ids)

    def activity_between(self, start: datetime, end: datetime) -> list[ActivityRow]:
        if (start, end) not in self.activity:
            self.activity[start, end] = self.source.activity_between(start, end)
        return self.activity[start, end]

    def week_totals(self, start: datetime, end: datetime) -> WeekTotals:
        rows = self.activity.get((start, end))
        if rows is None:
            return self.source.week_totals(start, end)
        repliers = {member for _, member, name in rows if name is None}
        reactors = {member for _, member, name in rows if name is not None}
        replies = sum(1 for row in rows if row[2] is None)
        return WeekTotals(
            len(self.posts_between(start, end)),
            replies,
            len(rows) - replies,
            len(repliers | reactors),
            len(repliers),
            len(reactors),
        )

    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]:
        return self.source.first_reply_at(post_ids)

    def count_new_participants(self, members: Iterable[str], start: datetime) -> int:
        return self.source.count_new_participants(members, start)


def people(activity: Iterable[ActivityRow], posts: dict[int, PostRecord]) -> People:
    """Count the distinct repliers and reactors of some activity rows, overall and by platform, theme and post."""
    return Pairs.of(activity).people(posts)


@dataclass(frozen=True, slots=True)
class Pairs:
    """The distinct (post id, member) pairs of some activity: who replied where, who reacted where."""

    replied: frozenset[tuple[int, str]]
    reacted: frozenset[tuple[int, str]]

    @classmethod
    def of(cls, activity: Iterable[ActivityRow]) -> Pairs:
        rows = activity if isinstance(activity, list) else list(activity)
        return cls(
            frozenset((post_id, member) for post_id, member, name in rows if name is None),
            frozenset((post_id, member) for post_id, member, name in rows if name is not None),
        )

    @classmethod
    def union(cls, spans: Iterable[Pairs]) -> Pairs:
        """The pairs of consecutive spans together (a period from its weeks: no row read twice)."""
        spans = list(spans)
        return cls(frozenset().union(*(s.replied for s in spans)), frozenset().union(*(s.reacted for s in spans)))

    def people(self, posts: dict[int, PostRecord]) -> People:
        replied, reacted = _Spread(self.replied, posts), _Spread(self.reacted, posts)

        def paired(left: Counter[Any], right: Counter[Any]) -> dict[Any, tuple[int, int]]:
            return {k: (left[k], right[k]) for k in sorted(left.keys() | right.keys(), key=str)}

        return People(
            repliers=replied.members,
            reactors=reacted.members,
            by_platform=paired(replied.by_platform, reacted.by_platform),
            by_theme=paired(replied.by_theme, reacted.by_theme),
            by_post=paired(replied.by_post, reacted.by_post),
        )


class _Spread:
    """How many distinct members some (post id, member) pairs hold: overall, by platform, theme and post."""

    def __init__(self, pairs: frozenset[tuple[int, str]], posts: dict[int, PostRecord]) -> None:
        # C-level iteration (map, itemgetter, zip) over tens of thousands of pairs, as in bot.summary.
        members = set(map(_SECOND, pairs))
        self.members = len(members)
        self.by_post: Counter[int] = Counter(map(_FIRST, pairs))
        theme_of = {post_id: posts[post_id].theme for post_id in self.by_post}
        themed = zip(map(theme_of.__getitem__, map(_FIRST, pairs)), map(_SECOND, pairs), strict=True)
        self.by_theme: Counter[str] = Counter(map(_FIRST, set(themed)))
        # Member ids carry their platform (slack:…, teams:…), as in bot.summary.
        self.by_platform: Counter[Platform] = Counter(
            {p: sum(map(str.startswith, members, repeat(f"{p.value}:"))) for p in Platform}
        )
        self.by_platform = +self.by_platform  # only the platforms with someone


def headline(source: SummarySource, start: datetime, end: datetime) -> tuple[Period, People]:
    """The period's headline figures only (totals, new participants, median time to first reply) and the repliers
    and reactors behind them: all a report shows of the period before its own (as changes)."""
    rows = source.activity_between(start, end)
    repliers = {member for _, member, name in rows if name is None}
    reactors = {member for _, member, name in rows if name is not None}
    made = source.posts_between(start, end)
    replies = sum(1 for row in rows if row[2] is None)
    members = repliers | reactors
    period = Period(
        start=start,
        end=end,
        totals=Figures(len(made), replies, len(rows) - replies, len(members)),
        new_participants=source.count_new_participants(members, start),
        median_minutes_to_first_reply=median_minutes_to_first_reply(source, made),
        by_platform={},
        by_theme=[],
        by_post=[],
        top_reactions=[],
    )
    return period, People(len(repliers), len(reactors))


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """The ISO weeks from ``first`` to ``last`` inclusive (empty when ``last`` is before ``first``)."""
    weeks = []
    week = first
    while week <= last:
        weeks.append(week)
        year, number, _ = (week.monday() + timedelta(days=7)).isocalendar()
        week = IsoWeek(year, number)
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
    weeks = week_range(first, last)
    if not weeks:
        raise ValueError(f"the report period is empty: {first} is after {last}")
    remembering = _Remembering(source)
    start, end = weeks[0].bounds(tz)[0], weeks[-1].bounds(tz)[1]
    previous_start = weeks[0].back(len(weeks)).bounds(tz)[0]

    # The previous period first: its rows are let go before the period's are read (memory).
    previous, previous_people = headline(source, previous_start, start)
    summaries = tuple(build_summary(remembering, week, tz) for week in weeks)
    remembering.keep(start, end, [row for s in summaries for row in remembering.activity[s.start, s.end]])
    period = build_period(remembering, start, end)
    posts = {item.post.id: item.post for p in (period, *summaries) for item in p.by_post}
    weekly = [Pairs.of(remembering.activity[s.start, s.end]) for s in summaries]
    week_people = tuple(pairs.people(posts) for pairs in weekly)
    period_people = Pairs.union(weekly).people(posts)
    del weekly
    remembering.activity.clear()  # every count is made: the rows are let go before the replies' text is read

    active = [name for name, figures in period.by_theme if figures.replies or figures.reactions or figures.posts]
    ordered = [*themes, *sorted(set(active) - set(themes))]
    platforms = tuple(p for p, f in period.by_platform.items() if f.posts or f.replies or f.reactions)
    return ReportData(
        first=weeks[0],
        last=weeks[-1],
        timezone=tz.key,
        start=start,
        end=end,
        weeks=summaries,
        week_people=week_people,
        period=period,
        period_people=period_people,
        previous=previous,
        previous_people=previous_people,
        replies=tuple(source.report_replies(start, end, quote_emoji)),
        themes=tuple(ordered),
        platforms=platforms,
        channel_names=source.channel_names(sorted({(p.platform, p.channel_id) for p in posts.values()})),
    )
