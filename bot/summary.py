"""The weekly engagement summary of SPEC §8: pure figures over the rows storage returns for one week."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.events import Platform
from bot.model import Activity, PostRecord
from bot.timeutil import IsoWeek, to_display

TOP_REACTIONS = 10


class SummarySource(Protocol):
    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]: ...
    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]: ...
    def activity_between(self, start: datetime, end: datetime) -> list[Activity]: ...
    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]: ...
    def first_activity_at(self, members: Iterable[str]) -> dict[str, datetime]: ...


@dataclass(slots=True)
class Figures:
    """posts, replies, reactions and distinct participants of one slice of a week."""

    posts: int = 0
    replies: int = 0
    reactions: int = 0
    members: set[str] = field(default_factory=set)

    @property
    def participants(self) -> int:
        return len(self.members)

    def add(self, item: Activity) -> None:
        if item.reaction is None:
            self.replies += 1
        else:
            self.reactions += 1
        self.members.add(item.member_id)

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
class Summary:
    week: IsoWeek
    start: datetime
    end: datetime
    timezone: str
    totals: Figures
    new_participants: int
    median_minutes_to_first_reply: float | None
    previous: Figures
    by_platform: dict[Platform, Figures]
    by_theme: list[tuple[str, Figures]]
    by_post: list[PostFigures]
    top_reactions: list[tuple[str, int]]

    @property
    def returning_participants(self) -> int:
        return self.totals.participants - self.new_participants

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
            "previous_week": self.previous.as_dict(),
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


def week_figures(source: SummarySource, week: IsoWeek, tz: ZoneInfo) -> Figures:
    start, end = week.bounds(tz)
    figures = Figures(posts=len(source.posts_between(start, end)))
    for item in source.activity_between(start, end):
        figures.add(item)
    return figures


def build_summary(source: SummarySource, week: IsoWeek, tz: ZoneInfo) -> Summary:
    start, end = week.bounds(tz)
    posts_made = source.posts_between(start, end)
    activity = source.activity_between(start, end)
    posts = {p.id: p for p in posts_made}
    posts.update(source.posts_by_ids({a.post_id for a in activity} - set(posts)))

    totals = Figures(posts=len(posts_made))
    by_platform = {platform: Figures() for platform in Platform}
    by_theme: dict[str, Figures] = defaultdict(Figures)
    by_post: dict[int, Figures] = {p.id: Figures() for p in posts_made}
    reactions: Counter[str] = Counter()
    for post in posts_made:
        by_platform[post.platform].posts += 1
        by_theme[post.theme].posts += 1
    for item in activity:
        post = posts[item.post_id]
        for figures in (totals, by_platform[post.platform], by_theme[post.theme]):
            figures.add(item)
        by_post.setdefault(post.id, Figures()).add(item)
        if item.reaction is not None:
            reactions[item.reaction] += 1

    first_activity = source.first_activity_at(totals.members)
    new = sum(1 for m in totals.members if m in first_activity and first_activity[m] >= start)

    first_replies = source.first_reply_at(p.id for p in posts_made)
    waits = [
        max(0.0, (first_replies[p.id] - p.posted_at).total_seconds() / 60) for p in posts_made if p.id in first_replies
    ]
    median = round(statistics.median(waits), 1) if waits else None

    return Summary(
        week=week,
        start=start,
        end=end,
        timezone=tz.key,
        totals=totals,
        new_participants=new,
        median_minutes_to_first_reply=median,
        previous=week_figures(source, week.previous(), tz),
        by_platform=by_platform,
        by_theme=sorted(by_theme.items(), key=lambda kv: (-kv[1].replies, -kv[1].reactions, kv[0])),
        by_post=sorted(
            (PostFigures(posts[pid], figures) for pid, figures in by_post.items()),
            key=lambda pf: (-pf.figures.replies, -pf.figures.reactions, pf.post.posted_at, pf.post.id),
        ),
        top_reactions=sorted(reactions.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REACTIONS],
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
