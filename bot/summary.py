"""The weekly engagement summary of SPEC §8: pure figures over the rows storage returns for one week."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.events import Platform
from bot.model import ActivityRow, PostRecord, WeekTotals
from bot.timeutil import IsoWeek, to_display

TOP_REACTIONS = 10
# Parts of an activity row (post id, member id, reaction name or None) and of a (post id, member id) pair.
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_POST_AND_MEMBER, _POST_AND_NAME = itemgetter(0, 1), itemgetter(0, 2)
K = TypeVar("K")


class SummarySource(Protocol):
    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]: ...
    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]: ...
    def activity_between(self, start: datetime, end: datetime) -> list[ActivityRow]: ...
    def week_totals(self, start: datetime, end: datetime) -> WeekTotals: ...
    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]: ...
    def count_new_participants(self, members: Iterable[str], start: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class Figures:
    """posts, replies, reactions and distinct participants of one slice of a week."""

    posts: int = 0
    replies: int = 0
    reactions: int = 0
    participants: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "posts": self.posts,
            "replies": self.replies,
            "reactions": self.reactions,
            "participants": self.participants,
        }


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


def _figures_by(
    key_of: Mapping[int, K],
    posts_made: Iterable[PostRecord],
    replies: Counter[int],
    reactions: Counter[int],
    pairs: set[tuple[int, str]],
) -> dict[K, Figures]:
    """Group per-post counts by ``key_of[post_id]``; participants are distinct members per group."""
    posts = Counter(key_of[p.id] for p in posts_made)
    grouped_replies: Counter[K] = Counter()
    grouped_reactions: Counter[K] = Counter()
    for post_id, count in replies.items():
        grouped_replies[key_of[post_id]] += count
    for post_id, count in reactions.items():
        grouped_reactions[key_of[post_id]] += count
    keyed = zip(map(key_of.__getitem__, map(_FIRST, pairs)), map(_SECOND, pairs), strict=True)
    people = Counter(map(_FIRST, set(keyed)))  # distinct (key, member) pairs, counted by key
    keys = posts.keys() | grouped_replies.keys() | grouped_reactions.keys()
    return {k: Figures(posts[k], grouped_replies[k], grouped_reactions[k], people[k]) for k in keys}


def build_period(source: SummarySource, start: datetime, end: datetime) -> Period:
    """Count the activity in [start, end) by the rules of SPEC §8 (a week's summary is this over one week)."""
    posts_made = source.posts_between(start, end)
    activity = source.activity_between(start, end)
    posts = {p.id: p for p in posts_made}
    made = set(posts)
    posts.update(source.posts_by_ids(set(map(_FIRST, activity)) - set(posts)))

    # Counted with C-level containers and iterators (map, itemgetter, zip: no Python code per row) in two passes
    # over the rows: a busy week has tens of thousands of them.
    kinds = Counter(map(_POST_AND_NAME, activity))  # name None: a reply
    pairs = set(map(_POST_AND_MEMBER, activity))
    replies: Counter[int] = Counter()
    reactions: Counter[int] = Counter()
    names: Counter[str] = Counter()
    for (post_id, name), count in kinds.items():
        if name is None:
            replies[post_id] += count
        else:
            reactions[post_id] += count
            names[name] += count

    members = set(map(_SECOND, pairs))
    totals = Figures(len(posts_made), replies.total(), reactions.total(), len(members))
    people_by_post = Counter(map(_FIRST, pairs))
    by_post = {
        p.id: Figures(int(p.id in made), replies[p.id], reactions[p.id], people_by_post[p.id]) for p in posts.values()
    }
    by_theme = _figures_by({p.id: p.theme for p in posts.values()}, posts_made, replies, reactions, pairs)
    # Member ids carry their platform (slack:…, teams:…), so a platform's participants need no pairing.
    by_platform = {}
    for platform in Platform:
        prefix = f"{platform.value}:"
        by_platform[platform] = Figures(
            sum(1 for p in posts_made if p.platform is platform),
            sum(n for pid, n in replies.items() if posts[pid].platform is platform),
            sum(n for pid, n in reactions.items() if posts[pid].platform is platform),
            sum(map(str.startswith, members, repeat(prefix))),
        )

    return Period(
        start=start,
        end=end,
        totals=totals,
        new_participants=source.count_new_participants(members, start),
        median_minutes_to_first_reply=median_minutes_to_first_reply(source, posts_made),
        by_platform=by_platform,
        by_theme=sorted(by_theme.items(), key=lambda kv: (-kv[1].replies, -kv[1].reactions, kv[0])),
        by_post=sorted(
            (PostFigures(posts[pid], figures) for pid, figures in by_post.items()),
            key=lambda pf: (-pf.figures.replies, -pf.figures.reactions, pf.post.posted_at, pf.post.id),
        ),
        top_reactions=sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REACTIONS],
    )


def median_minutes_to_first_reply(source: SummarySource, posts_made: Iterable[PostRecord]) -> float | None:
    """Over the posts that got a reply: minutes from the post to its first reply (0 for a reply timed before its
    post), rounded to 0.1; None when none got a reply."""
    posts = list(posts_made)
    first_replies = source.first_reply_at(p.id for p in posts)
    waits = [max(0.0, (first_replies[p.id] - p.posted_at).total_seconds() / 60) for p in posts if p.id in first_replies]
    return round(statistics.median(waits), 1) if waits else None


def build_summary(source: SummarySource, week: IsoWeek, tz: ZoneInfo) -> Summary:
    period = build_period(source, *week.bounds(tz))
    return Summary(
        **{f.name: getattr(period, f.name) for f in fields(Period)},
        week=week,
        timezone=tz.key,
        previous=source.week_totals(*week.previous().bounds(tz)),
    )


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
