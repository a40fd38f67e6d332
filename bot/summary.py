"""The weekly summary of SPEC §8: a span's figures, counted by ``bot.counting`` from the rows storage returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.counting import (
    Activity,
    Figures,
    People,
    Tally,
    Turnout,
    count_new,
    median_minutes_to_first_reply,
    span_totals,
    tally,
)
from bot.events import Platform
from bot.model import ActivityGroup, PostRecord, WeekTotals
from bot.timeutil import IsoWeek, to_display

__all__ = ["Figures", "People", "Period", "PostFigures", "Summary", "SummarySource", "build_period", "build_summary"]

TOP_REACTIONS = 10


class SummarySource(Protocol):
    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]: ...
    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]: ...
    def activity_between(self, start: datetime, end: datetime) -> Iterable[ActivityGroup]: ...
    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]: ...
    def first_activity(self, members: Iterable[str], since: datetime) -> dict[str, datetime]:
        """The first counted activity (a reply, or a counted reaction) of those ``members`` whose first one is at
        or after ``since``; the others have none in the result."""
        ...


@dataclass(frozen=True, slots=True)
class PostFigures:
    post: PostRecord
    figures: Figures


@dataclass(frozen=True, slots=True)
class Period:
    """The figures of any span [start, end): what a weekly summary shows, and what a report shows for its period."""

    start: datetime
    end: datetime
    totals: Figures
    new_participants: int
    median_minutes_to_first_reply: float | None
    by_platform: dict[Platform, Figures]
    by_theme: list[tuple[str, Figures]]
    by_post: list[PostFigures]
    top_reactions: list[tuple[str, int]]
    people: People  # the distinct members behind the reply and reaction counts (never printed as such)

    @property
    def returning_participants(self) -> int:
        return self.totals.participants - self.new_participants


@dataclass(frozen=True, slots=True)
class Summary(Period):
    """One ISO week's figures, with the previous week's totals for the change."""

    week: IsoWeek
    timezone: str
    previous: WeekTotals

    def as_json(self) -> dict[str, Any]:
        """Exactly the JSON object of SPEC §8."""
        return {
            "week": str(self.week),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "timezone": self.timezone,
            "totals": {
                **self.totals.as_dict(),
                "new_participants": self.new_participants,
                "returning_participants": self.returning_participants,
                "median_minutes_to_first_reply": self.median_minutes_to_first_reply,
            },
            "previous_week": {
                "posts": self.previous.posts,
                "replies": self.previous.replies,
                "reactions": self.previous.reactions,
                "participants": self.previous.participants,
            },
            "by_platform": {platform.value: figures.as_dict() for platform, figures in self.by_platform.items()},
            "by_theme": [{"theme": theme, **figures.as_dict()} for theme, figures in self.by_theme],
            "by_post": [
                {
                    "post_id": item.post.key,
                    "platform": item.post.platform.value,
                    "channel": item.post.channel_id,
                    "theme": item.post.theme,
                    "prompt": item.post.prompt,
                    "posted_at": to_display(item.post.posted_at),
                    "replies": item.figures.replies,
                    "reactions": item.figures.reactions,
                    "participants": item.figures.participants,
                }
                for item in self.by_post
            ],
            "top_reactions": [{"name": name, "count": count} for name, count in self.top_reactions],
        }


def period_of(
    start: datetime,
    end: datetime,
    counted: Tally,
    posts_made: Sequence[PostRecord],
    posts: Mapping[int, PostRecord],
    first_activity: Mapping[str, datetime],
    first_replies: Mapping[int, datetime],
) -> Period:
    """A span's figures as the summary shows them, from its tally (``bot.counting.tally``), the first activity of
    its new members (``SummarySource.first_activity`` since ``start`` or earlier) and its posts' first replies."""
    return Period(
        start=start,
        end=end,
        totals=counted.totals,
        new_participants=count_new(counted.members, first_activity, start),
        median_minutes_to_first_reply=median_minutes_to_first_reply(posts_made, first_replies),
        by_platform=counted.by_platform,
        by_theme=sorted(counted.by_theme.items(), key=lambda kv: (-kv[1].replies, -kv[1].reactions, kv[0])),
        by_post=sorted(
            (PostFigures(posts[post_id], figures) for post_id, figures in counted.by_post.items()),
            key=lambda pf: (-pf.figures.replies, -pf.figures.reactions, pf.post.posted_at, pf.post.id),
        ),
        top_reactions=sorted(counted.names.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REACTIONS],
        people=counted.people,
    )


def summary_of(period: Period, week: IsoWeek, tz: ZoneInfo, previous: WeekTotals) -> Summary:
    return Summary(
        **{f.name: getattr(period, f.name) for f in fields(Period)}, week=week, timezone=tz.key, previous=previous
    )


def read_span(source: SummarySource, start: datetime, end: datetime) -> tuple[list[PostRecord], Activity]:
    """The posts made in [start, end) and its activity, each row read once."""
    return source.posts_between(start, end), Activity.of(source.activity_between(start, end))


def build_period(source: SummarySource, start: datetime, end: datetime) -> Period:
    """Count the activity in [start, end) by the rules of SPEC §8 (a week's summary is this over one week)."""
    posts_made, activity = read_span(source, start, end)
    posts = {p.id: p for p in posts_made}
    posts.update(source.posts_by_ids(activity.post_ids() - posts.keys()))
    counted = tally(activity, posts_made, posts)
    first_activity = source.first_activity(counted.members, start)
    first_replies = source.first_reply_at(p.id for p in posts_made)
    return period_of(start, end, counted, posts_made, posts, first_activity, first_replies)


def build_summary(source: SummarySource, week: IsoWeek, tz: ZoneInfo) -> Summary:
    period = build_period(source, *week.bounds(tz))
    start, end = week.previous().bounds(tz)
    previous, _ = span_totals(Turnout.of(source.activity_between(start, end)), source.posts_between(start, end))
    return summary_of(period, week, tz, previous)


def change(current: int, previous: int) -> str:
    """``+5``, ``-3`` or ``±0``: the change against the previous week, for people."""
    delta = current - previous
    return f"+{delta}" if delta > 0 else (f"{delta}" if delta < 0 else "±0")


def render_text(summary: Summary) -> str:
    """The readable report `engagebot summary` prints without --json."""
    t, p = summary.totals, summary.previous
    local = summary.start.strftime("%a %d %b %Y")
    lines = [
        f"Engagement summary {summary.week} (week starting {local}, {summary.timezone})",
        "",
        f"  Posts         {t.posts:>6}   ({change(t.posts, p.posts)} on previous week)",
        f"  Replies       {t.replies:>6}   ({change(t.replies, p.replies)})",
        f"  Reactions     {t.reactions:>6}   ({change(t.reactions, p.reactions)})",
        f"  Participants  {t.participants:>6}   ({change(t.participants, p.participants)}; "
        f"{summary.new_participants} new, {summary.returning_participants} returning)",
        "  Median time to first reply: "
        + (
            "no replies to this week's posts"
            if summary.median_minutes_to_first_reply is None
            else f"{summary.median_minutes_to_first_reply:g} min"
        ),
        "",
        "By platform:",
    ]
    for platform, f in summary.by_platform.items():
        lines.append(
            f"  {platform.value:<6} posts {f.posts}, replies {f.replies}, reactions {f.reactions}, "
            f"participants {f.participants}"
        )
    if summary.by_theme:
        lines += ["", "By theme:"]
        lines += [
            f"  {theme}: replies {f.replies}, reactions {f.reactions}, participants {f.participants}"
            for theme, f in summary.by_theme
        ]
    if summary.by_post:
        lines += ["", "Posts:"]
        for item in summary.by_post:
            prompt = item.post.prompt if len(item.post.prompt) <= 90 else item.post.prompt[:87] + "..."
            lines.append(f"  [{item.post.platform.value} {item.post.channel_id}] {item.post.theme}: {prompt}")
            lines.append(
                f"      replies {item.figures.replies}, reactions {item.figures.reactions}, "
                f"participants {item.figures.participants}"
            )
    if summary.top_reactions:
        lines += ["", "Top reactions: " + ", ".join(f"{name} {count}" for name, count in summary.top_reactions)]
    return "\n".join(lines)
