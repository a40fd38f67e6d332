"""A simulated community in a real SQLite file, for the report tests: the demo planner's members, replies and
reactions, applied through the real capture rules, and a ReportSource over the real Repository.

``RepositoryReportSource`` adds the report's two queries to the Repository using its existing read methods; the
wiring of the report into storage replaces it with SQL in the storage layer.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from bot.capture import Capture
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.demo import DemoMember, ThreadPlan, make_members, plan_thread
from bot.events import Platform, ReactionAdded, ReplyDeleted, ReplyEdited, ReplyPosted
from bot.prompts import Prompt, load_library
from bot.report.model import ChannelKey, ReportReply
from bot.timeutil import IsoWeek
from storage.repository import Repository

LONDON = ZoneInfo("Europe/London")
FIRST = IsoWeek(2026, 40)
SLACK_CHANNEL, SLACK_SMALL, TEAMS_CHANNEL = "C0POLICY", "C0SMALL", "19:science@thread.tacv2"
CHANNEL_NAMES = {
    (Platform.SLACK, SLACK_CHANNEL): "#policy-views",
    (Platform.TEAMS, TEAMS_CHANNEL): "Healthcare science",
}


class RepositoryReportSource(Repository):
    """The Repository with the two queries a report adds (written with its existing read methods)."""

    names: ClassVar[dict[ChannelKey, str]] = CHANNEL_NAMES

    def report_replies(self, start: datetime, end: datetime, quote_emoji: str) -> list[ReportReply]:
        replies = self.replies_between(start, end)
        posts = self.posts_by_ids({r.post_id for r in replies})
        far = datetime(9999, 1, 1, tzinfo=UTC)
        on_reply = Counter(x.reply_id for x in self.reactions_between(start, far) if x.reply_id is not None)
        return [
            ReportReply(
                id=r.id,
                post_id=r.post_id,
                theme=posts[r.post_id].theme,
                platform=r.platform,
                member_id=r.member_id,
                text=r.text,
                created_at=r.created_at,
                quote_ok=self.has_consent(r.member_id, "quote"),
                reactions=on_reply[r.id],
            )
            for r in replies
        ]

    def channel_names(self, channels: Iterable[ChannelKey]) -> dict[ChannelKey, str]:
        return {c: self.names[c] for c in channels if c in self.names}


@dataclass
class Community:
    source: RepositoryReportSource
    first: IsoWeek
    last: IsoWeek
    members: list[DemoMember]
    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # reply message id -> (member id, text)

    def consented(self, member: str) -> bool:
        return self.source.has_consent(member, "quote")


def _member(m: DemoMember) -> str:
    return f"{m.platform.value}:{m.user_id}"


def build_community(path: Path, *, weeks: int = 4, seed: int = 5, slack: int = 24, teams: int = 14) -> Community:
    """``weeks`` ISO weeks from 2026-W40: every Tuesday a prompt in each of three channels, members replying.

    The small Slack channel has only two members, so some of its figures are about fewer than 3 people.
    """
    rng = random.Random(seed)
    library = load_library(DEFAULT_PROMPT_LIBRARY)
    source = RepositoryReportSource.open(path)
    assert isinstance(source, RepositoryReportSource)
    capture = Capture(source)
    slack_members = make_members(rng, Platform.SLACK, slack)
    teams_members = make_members(rng, Platform.TEAMS, teams)
    small = slack_members[:2]
    community = Community(source, FIRST, FIRST, slack_members + teams_members)
    for m in community.members:
        if m.quote_consent != "none":
            source.set_consent(_member(m), "quote", True, datetime(2026, 9, 1, tzinfo=UTC))
    themes = library.themes
    week = FIRST
    serial = itertools.count(1)
    for index in range(weeks):
        tuesday = week.bounds(LONDON)[0] + timedelta(days=1, hours=10)
        for slot, (platform, channel, members) in enumerate(
            (
                (Platform.SLACK, SLACK_CHANNEL, slack_members),
                (Platform.TEAMS, TEAMS_CHANNEL, teams_members),
                (Platform.SLACK, SLACK_SMALL, small),
            )
        ):
            theme = themes[(index * 2 + slot) % len(themes)]
            prompt = Prompt(theme.name, theme.prompts[index % len(theme.prompts)].text)
            posted_at = tuesday + timedelta(minutes=slot)
            post = source.record_post(platform, channel, f"P{next(serial)}", prompt, posted_at)
            plan = plan_thread(
                rng, members, post.message_id, post.posted_at, lambda at: f"M{next(serial)}", 1.0, theme=theme.name
            )
            _apply(capture, platform, channel, post.message_id, plan, community, serial)
        year, number, _ = (week.monday() + timedelta(days=7)).isocalendar()
        community.last, week = week, IsoWeek(year, number)
    return community


def _apply(
    capture: Capture,
    platform: Platform,
    channel: str,
    thread: str,
    plan: ThreadPlan,
    community: Community,
    serial: Iterable[int],
) -> None:
    keys = iter(serial)
    common: dict[str, Any] = {"platform": platform, "channel_id": channel}
    with capture.store.transaction():
        for r in plan.replies:
            capture.apply(
                ReplyPosted(
                    **common,
                    occurred_at=r.at,
                    event_key=f"E{next(keys)}",
                    thread_id=thread,
                    message_id=r.message_id,
                    user_id=r.member.user_id,
                    text=r.text,
                )
            )
            community.texts[r.message_id] = (_member(r.member), r.text)
        for x in plan.reactions:
            capture.apply(
                ReactionAdded(
                    **common,
                    occurred_at=x.at,
                    event_key=f"E{next(keys)}",
                    target_id=x.target_id,
                    user_id=x.member.user_id,
                    name=x.name,
                )
            )
        for r, at, text in plan.edits:
            capture.apply(
                ReplyEdited(**common, occurred_at=at, event_key=f"E{next(keys)}", message_id=r.message_id, text=text)
            )
            community.texts[r.message_id] = (_member(r.member), text)
        for r, at in plan.deletions:
            capture.apply(ReplyDeleted(**common, occurred_at=at, event_key=f"E{next(keys)}", message_id=r.message_id))
            community.texts.pop(r.message_id, None)
