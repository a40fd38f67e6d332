"""For the report tests: a simulated community in a real SQLite file (the demo planner's members, replies and
reactions, applied through the real capture rules and read back through the real Repository), and the report's
HTML read back with the standard library's parser."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.capture import Capture
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.demo import DemoMember, ThreadPlan, make_members, plan_thread
from bot.events import Platform, ReactionAdded, ReplyDeleted, ReplyEdited, ReplyPosted
from bot.prompts import Prompt, load_library
from bot.timeutil import IsoWeek
from storage.repository import Repository

LONDON = ZoneInfo("Europe/London")
FIRST = IsoWeek(2026, 40)
SLACK_CHANNEL, SLACK_SMALL, TEAMS_CHANNEL = "C0POLICY", "C0SMALL", "19:science@thread.tacv2"


@dataclass
class Community:
    source: Repository
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
    source = Repository.open(path)
    source.save_channel_names(Platform.SLACK, {SLACK_CHANNEL: "policy-views"}, datetime(2026, 9, 1, tzinfo=UTC))
    source.save_channel_names(Platform.TEAMS, {TEAMS_CHANNEL: "Healthcare science"}, datetime(2026, 9, 1, tzinfo=UTC))
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


class Page(HTMLParser):
    """Tags with their attributes, the text inside selected elements, and every <style> body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.descs: dict[str, str] = {}
        self.quotes: list[str] = []
        self.phrases: list[str] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open.append((tag, dict(attrs), []))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            name, attrs, parts = self._open.pop()
            text = "".join(parts)
            if self._open:
                self._open[-1][2].append(text)
            self.closed(name, attrs, text)
            if name == tag:
                break

    def closed(self, name: str, attrs: dict[str, str | None], text: str) -> None:
        """An element ended, with ``text`` inside it (its parent, if any, is ``self._open[-1]``)."""
        if name == "style":
            self.styles.append(text)
        elif name == "desc":
            self.descs[str(attrs.get("id"))] = text
        elif name == "blockquote":
            self.quotes.append(text)
        elif name == "li" and self._open and self._open[-1][1].get("class") == "phrases":
            self.phrases.append(text)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)


P = TypeVar("P", bound=Page)


def parse_as(html: str, kind: type[P]) -> P:
    """``html`` read by a parser of ``kind`` (Page or a subclass that collects more)."""
    page = kind()
    page.feed(html)
    page.close()
    return page


def parse(html: str) -> Page:
    return parse_as(html, Page)


def wordings(point: str) -> re.Pattern[str]:
    """Every way a corpus line with ``{a|b}`` choices can be written (its first letter lower-cased after an opener
    that ends with a comma)."""
    parts = re.split(r"\{([^{}]*)\}", point)
    pattern = "".join(
        re.escape(p) if i % 2 == 0 else "(?:" + "|".join(map(re.escape, p.split("|"))) + ")"
        for i, p in enumerate(parts)
    )
    return re.compile(f"(?i:{pattern[:1]}){pattern[1:]}" if pattern[:1].isalpha() else pattern)
