"""The summary posted to a channel: no figure describes fewer than min_group_size people, directly or by adding
and subtracting the other figures the card shows (totals, platforms, themes, prompts, new and returning, the
change on last week, reaction names), over two weeks of both platforms, several channels and themes.

The card is what the Slack fake received from the scheduler's weekly post. The test reads its numbers, then plays
the reader: every sum the card implies is tried, again and again with what it gave, and no small group may come
out. The admin's own card (`/engage summary`) keeps the exact figures."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.runtime import Runtime
from adapters.slack.render import card_text
from bot.config import load_settings
from bot.events import Platform, ReactionAdded, ReplyPosted
from bot.prompts import Prompt
from bot.scheduler import Scheduler
from bot.timeutil import IsoWeek
from tests.fakes import FakeSlackAPI

SLACK, TEAMS = Platform.SLACK, Platform.TEAMS
WEEK = IsoWeek(2026, 47)  # Mon 16 Nov 2026; the previous week is 2026-W46
MONDAY = datetime(2026, 11, 16, tzinfo=UTC)
TEAMS_CHANNEL = "19:science@thread.tacv2"
K = 3
_serial = itertools.count(1)

# (week offset, platform, channel, theme, prompt, repliers, reactions as (member, name)); members are per platform
THREADS = [
    (-1, SLACK, "CPROMPT", "Workforce", "Last week's prompt", ["S1", "S2"], [("S1", "+1")]),
    (0, SLACK, "CPROMPT", "Workforce", "Slack workforce prompt", ["S1", "S2", "S3", "S4", "S5", "S6"], []),
    (0, SLACK, "CSECOND", "Prevention", "Slack prevention prompt", ["S7", "S8"], [("S7", "+1")]),
    (0, TEAMS, TEAMS_CHANNEL, "Workforce", "Teams workforce prompt", ["T1", "T2", "T3", "T4"], []),
    (
        0,
        TEAMS,
        TEAMS_CHANNEL,
        "Genomics, life sciences and research",
        "Teams genomics prompt",
        ["T5"],
        [("T6", "heart")],
    ),
]
REACTIONS_ON_WORKFORCE = [("S1", "+1"), ("S2", "+1"), ("S3", "+1"), ("S4", "+1"), ("S5", "tada")]
TEAMS_LIKES = [("T1", "like"), ("T2", "like"), ("T3", "like")]
# The figures about fewer than 3 people, named as the reader below names what the card shows.
SMALL = {
    "returning",  # S1 and S2 come back from last week
    "theme|Prevention|replies",
    "theme|Prevention|participants",
    "theme|Prevention|reactions",
    "theme|Genomics, life sciences and research|replies",
    "theme|Genomics, life sciences and research|reactions",
    "theme|Genomics, life sciences and research|participants",
    "post|Slack prevention prompt|replies",
    "post|Teams genomics prompt|replies",
    "previous|replies",  # last week: two members
    "previous|participants",
    "previous|reactions",
    "reaction|tada",
    "reaction|heart",
}


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[tuple[Runtime, FakeSlackAPI]]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        (tmp_path / "engagebot.toml").write_text('[[summary_channels]]\nplatform = "slack"\nid = "CSUMMARY"\n')
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_URL": str(api.make_url("/api/")),
            "ENGAGEBOT_DB": str(tmp_path / "e.db"),
            "ENGAGEBOT_ADMINS": "slack:UADMIN",
        }
        built = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
        try:
            yield built, fake
        finally:
            built.close()


def capture(runtime: Runtime) -> None:
    """The threads above, written through the real capture rules."""
    for week, platform, channel, theme, text, repliers, reactions in THREADS:
        posted = MONDAY + timedelta(days=7 * week + 1, hours=10, minutes=next(_serial))
        post = runtime.repo.record_post(platform, channel, f"P{next(_serial)}", Prompt(theme, text), posted)
        extra = {"Slack workforce prompt": REACTIONS_ON_WORKFORCE, "Teams workforce prompt": TEAMS_LIKES}
        for index, user in enumerate(repliers):
            runtime.capture.apply(
                ReplyPosted(
                    platform=platform,
                    channel_id=channel,
                    occurred_at=posted + timedelta(minutes=5 + index),
                    event_key=f"E{next(_serial)}",
                    thread_id=post.message_id,
                    message_id=f"M{next(_serial)}",
                    user_id=user,
                    text=f"reply by {user}",
                )
            )
        for user, name in [*reactions, *extra.get(text, [])]:
            runtime.capture.apply(
                ReactionAdded(
                    platform=platform,
                    channel_id=channel,
                    occurred_at=posted + timedelta(hours=1),
                    event_key=f"E{next(_serial)}",
                    target_id=post.message_id,
                    user_id=user,
                    name=name,
                )
            )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


FIGURE = r"(fewer than \d people|withheld|[\d.]+)"
HIDDEN = r"fewer than \d people|withheld"


def read_card(text: str) -> tuple[dict[str, float], set[str]]:
    """The numbers the card shows, and the figures it withholds, named like SMALL."""
    shown: dict[str, float] = {}
    hidden: set[str] = set()

    def note(name: str, value: str) -> None:
        if value.startswith(("fewer", "withheld")):
            hidden.add(name)
        else:
            shown[name] = float(value)

    def parts(prefix: str, line: str, labels: tuple[str, ...]) -> None:
        if line.startswith("activity from fewer than"):
            for label in labels:
                hidden.add(f"{prefix}|{label}")
            return
        for label, piece in zip(labels, line.split(", "), strict=True):
            match = re.fullmatch(rf"([\d.]+) {label}|{label}: ({HIDDEN})", piece)
            assert match, (label, piece)
            note(f"{prefix}|{label}", match.group(1) or match.group(2))

    for label in ("Posts", "Replies", "Reactions", "Participants"):
        match = re.search(rf"^{label}: {FIGURE} \(((?:[+-]?[\d.]+)|±0|change withheld)\)", text, re.M)
        assert match, (label, text)
        note(label.lower(), match.group(1))
        change = match.group(2)
        note(f"change|{label.lower()}", "withheld" if change == "change withheld" else change.replace("±", ""))
    match = re.search(r"\); (.*), (.*)$", text.split("Participants: ")[1].splitlines()[0])
    assert match
    for piece, label in zip(match.groups(), ("new", "returning"), strict=True):
        found = re.fullmatch(rf"([\d.]+) {label}|{label}: ({HIDDEN})", piece)
        assert found, piece
        note(label, found.group(1) or found.group(2))
    measures = ("replies", "reactions", "participants")
    for platform in ("slack", "teams"):
        match = re.search(rf"^• {platform}: (\d+) posts, (.*)$", text, re.M)
        assert match, platform
        note(f"{platform}|posts", match.group(1))
        parts(platform, match.group(2), measures)
    for _, _, _, theme, prompt, _, _ in THREADS[1:]:
        match = re.search(rf"^• {re.escape(theme)}: (.*)$", text, re.M)
        if match:
            parts(f"theme|{theme}", match.group(1), measures)
        match = re.search(rf"^• {re.escape(prompt)} \((.*)\)$", text, re.M)
        if match:
            parts(f"post|{prompt}", match.group(1), measures)
    match = re.search(r"^Top reactions\n(.*)$", text, re.M)
    for part in match.group(1).split(", ") if match else []:
        name, value = part.rsplit(" ", 1)
        note(f"reaction|{name}", value)
    return shown, hidden


def sums() -> list[tuple[str, tuple[str, ...]]]:
    """Every sum a reader of the card can rely on: total = parts."""
    themes = sorted({t[3] for t in THREADS[1:]})
    relations: list[tuple[str, tuple[str, ...]]] = [("participants", ("new", "returning"))]
    for measure in ("posts", "replies", "reactions", "participants"):
        relations.append((measure, ("slack|" + measure, "teams|" + measure)))
        relations.append((measure, (f"previous|{measure}", f"change|{measure}")))
    for measure in ("replies", "reactions"):
        relations.append((measure, tuple(f"theme|{t}|{measure}" for t in themes)))
        for theme in themes:
            prompts = [t[4] for t in THREADS[1:] if t[3] == theme]
            relations.append((f"theme|{theme}|{measure}", tuple(f"post|{p}|{measure}" for p in prompts)))
        for platform in (SLACK, TEAMS):
            prompts = [t[4] for t in THREADS[1:] if t[1] is platform]
            relations.append((f"{platform.value}|{measure}", tuple(f"post|{p}|{measure}" for p in prompts)))
    relations.append(("reactions", ("reaction|+1", "reaction|like", "reaction|tada", "reaction|heart")))
    for theme in themes:  # a theme with one prompt: its participants are the prompt's
        prompts = [t[4] for t in THREADS[1:] if t[3] == theme]
        if len(prompts) == 1:
            relations.append((f"theme|{theme}|participants", (f"post|{prompts[0]}|participants",)))
    return relations


def work_out(shown: dict[str, float]) -> dict[str, float]:
    """What a reader can calculate: any sum with one unknown term, repeated until nothing new comes out."""
    known = dict(shown)
    changed = True
    while changed:
        changed = False
        for total, parts in sums():
            terms = [total, *parts]
            unknown = [t for t in terms if t not in known]
            if len(unknown) != 1:
                continue
            (missing,) = unknown
            if missing == total:
                known[total] = sum(known[p] for p in parts)
            else:
                known[missing] = known[total] - sum(known[p] for p in parts if p != missing)
            changed = True
    return known


async def test_the_channel_summary_gives_no_small_group_away_by_any_sum(runtime) -> None:
    built, fake = runtime
    capture(built)
    scheduler = Scheduler(built.engagement, built.posters, built.repo, Clock(MONDAY + timedelta(days=7, hours=9)))
    results = await scheduler.tick()
    assert [r.claim.value for r in results if r.kind.value == "summary"] == ["done"]
    [sent] = [c for c in fake.calls_to("chat.postMessage") if c["args"]["channel"] == "CSUMMARY"]
    text = sent["args"]["text"]
    assert text.startswith(f"Engagement summary {WEEK}")

    shown, hidden = read_card(text)
    truth = built.engagement.summary(WEEK).as_json()
    assert shown["posts"] == 4
    for name, value in shown.items():  # what is shown is true
        if name in ("replies", "reactions", "participants"):
            assert value == truth["totals"][name]
        elif name.startswith(("slack|", "teams|")):
            platform, measure = name.split("|")
            assert value == truth["by_platform"][platform][measure]
    assert "fewer than 3 people" in text
    assert SMALL & hidden, "the card must withhold the small groups it has"
    found = work_out(shown)
    assert not SMALL & found.keys(), {k: found[k] for k in SMALL & found.keys()}
    # Not everything is withheld: the big groups are still there.
    assert {"replies", "participants", "slack|replies", "theme|Workforce|replies"} <= shown.keys()
    for name in ("Charlie", "reply by"):
        assert name not in text


async def test_the_admins_own_summary_is_exact(runtime) -> None:
    built, _ = runtime
    capture(built)
    card = built.engagement.summary_card(built.engagement.summary(WEEK))
    text = card_text(card)
    shown, hidden = read_card(text)
    assert hidden == set()
    assert shown["returning"] == 2
    assert shown["change|replies"] == 13 - 2
    assert shown["theme|Genomics, life sciences and research|replies"] == 1
    assert shown["reaction|tada"] == 1
