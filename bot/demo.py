"""A simulated community for `engagebot demo`: members replying and reacting to prompts over several weeks.

The plan is platform-neutral and deterministic for a seed; a driver turns each action into real input. What
members write comes from ``demo_corpus.toml``: each member has a specialty, and a reply to a prompt of a theme
is composed from that specialty's openers and the theme's points (barriers, what works, asks), so replies read
like members of a professional body and the report's phrases and quotes mean something. Some replies are "+1"s
backing the reply before them. Some members consent to be quoted, by the `quote ok` command or (on Slack) by the
quote emoji; the plan says who and when (``ThreadPlan.consents``) for the driver to act on.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Literal

from bot.events import Platform

FIRST_NAMES = (
    "Aisha",
    "Ben",
    "Chloe",
    "Dev",
    "Ewan",
    "Fatima",
    "Grace",
    "Hamish",
    "Ifeoma",
    "James",
    "Kiran",
    "Laura",
    "Mohammed",
    "Niamh",
    "Oliver",
    "Priya",
    "Rhys",
    "Sian",
    "Tom",
    "Uma",
    "Wei",
    "Yusuf",
)
SURNAMES = ("Patel", "Jones", "Okafor", "Smith", "Campbell", "Khan", "Evans", "Murphy", "Chen", "Williams")
SLACK_REACTIONS = ("+1", "+1", "+1", "tada", "bulb", "heart", "eyes", "raised_hands")
TEAMS_REACTIONS = ("like", "like", "like", "heart", "laugh", "surprised")


KINDS = ("barriers", "works", "asks")
KIND_WEIGHTS = (0.42, 0.30, 0.28)
ENDORSEMENT_SHARE = 0.12  # of replies after the first in a thread: a "+1" backing the one before
QUOTE_CONSENT_SHARE = 0.5  # of members: consent to be quoted
Consent = Literal["none", "command", "emoji"]
_CHOICE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Corpus:
    """The text members compose replies from (``demo_corpus.toml``)."""

    specialties: Mapping[str, tuple[str, ...]]  # specialty -> opening sentences
    themes: Mapping[str, Mapping[str, tuple[str, ...]]]  # theme -> kind -> points
    endorsements: tuple[str, ...]
    closers: tuple[str, ...]


@cache
def corpus() -> Corpus:
    data = tomllib.loads(resources.files("bot").joinpath("demo_corpus.toml").read_text(encoding="utf-8"))
    return Corpus(
        specialties={name: tuple(lines) for name, lines in data["specialties"].items()},
        themes={theme: {kind: tuple(points[kind]) for kind in KINDS} for theme, points in data["themes"].items()},
        endorsements=tuple(data["endorsements"]),
        closers=tuple(data["closers"]),
    )


@dataclass(frozen=True, slots=True)
class DemoMember:
    platform: Platform
    user_id: str
    name: str
    activity: float  # chance of taking part in a given post's thread
    specialty: str = "engineering"
    quote_consent: Consent = "none"  # how the member consents to be quoted, if at all


@dataclass(frozen=True, slots=True)
class PlannedReply:
    member: DemoMember
    message_id: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class PlannedReaction:
    member: DemoMember
    target_id: str  # a post's or a reply's message id
    name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class PlannedConsent:
    """A member consenting to be quoted: by the `quote ok` command, or by the quote emoji on ``target_id``."""

    member: DemoMember
    via: Consent
    at: datetime
    target_id: str | None  # the post reacted to, for "emoji"


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    replies: tuple[PlannedReply, ...]
    reactions: tuple[PlannedReaction, ...]
    edits: tuple[tuple[PlannedReply, datetime, str], ...]
    deletions: tuple[tuple[PlannedReply, datetime], ...]
    consents: tuple[PlannedConsent, ...] = ()  # optional: a driver that can send commands acts on these


def make_members(rng: random.Random, platform: Platform, count: int) -> list[DemoMember]:
    """``count`` members of one platform, each with a specialty and a way of consenting to quotes (or none)."""
    specialties = sorted(corpus().specialties)
    members = []
    for index in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        user_id = f"U{1000 + index:05d}DEMO" if platform is Platform.SLACK else f"29:1demo{index:04d}"
        activity = rng.uniform(0.1, 0.7)
        consent: Consent = "none"
        if rng.random() < QUOTE_CONSENT_SHARE:
            # Teams has a fixed set of reactions without the quote emoji: Teams members consent by command.
            consent = "emoji" if platform is Platform.SLACK and rng.random() < 0.5 else "command"
        members.append(DemoMember(platform, user_id, name, activity, rng.choice(specialties), consent))
    return members


def compose_reply(rng: random.Random, theme: str | None, specialty: str) -> str:
    """A reply in a member's voice: maybe an opener of their specialty, one or two points, maybe a closer."""
    text = corpus()
    points = text.themes.get(theme or "") or text.themes[rng.choice(sorted(text.themes))]
    parts = []
    if rng.random() < 0.55:
        parts.append(rng.choice(text.specialties.get(specialty) or next(iter(text.specialties.values()))))
    first_kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
    first = rng.choice(points[first_kind])
    parts.append(first)
    if rng.random() < 0.35:
        second = rng.choice(points[rng.choice([k for k in KINDS if k != first_kind])])
        parts.append(second)
    if rng.random() < 0.15:
        parts.append(rng.choice(text.closers))
    parts = [vary(rng, part) for part in parts]
    out = parts[0]
    for part in parts[1:]:
        out += " " + (part[0].lower() + part[1:] if out.endswith(",") else part)
    return out


def vary(rng: random.Random, line: str) -> str:
    """``line`` with each ``{a|b|c}`` replaced by one of its wordings."""
    return _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), line)


def plan_thread(
    rng: random.Random,
    members: list[DemoMember],
    post_message_id: str,
    posted_at: datetime,
    message_id_at: Callable[[datetime], str],
    week_factor: float,
    theme: str | None = None,
) -> ThreadPlan:
    """Replies within a few days of the post, reactions on the post and on replies, a few edits and deletions.

    ``message_id_at`` is a callable ``(datetime) -> str`` giving the platform message id for a message at a time.
    ``theme`` is the post's theme: replies speak to it (without it, to a theme drawn at random).
    """
    timed: list[tuple[datetime, DemoMember]] = []
    for member in members:
        if rng.random() < member.activity * week_factor:
            timed.append((posted_at + timedelta(minutes=rng.expovariate(1 / 240) + 1), member))
    timed.sort(key=lambda tm: (tm[0], tm[1].user_id))
    replies: list[PlannedReply] = []
    reactions: list[PlannedReaction] = []
    endorsements = corpus().endorsements
    for index, (at, member) in enumerate(timed):
        backs = index > 0 and timed[index - 1][1] != member and rng.random() < ENDORSEMENT_SHARE
        text = rng.choice(endorsements) if backs else compose_reply(rng, theme, member.specialty)
        replies.append(PlannedReply(member, str(message_id_at(at)), at, text))
    names = SLACK_REACTIONS if members and members[0].platform is Platform.SLACK else TEAMS_REACTIONS
    targets = [(post_message_id, posted_at)] + [(r.message_id, r.at) for r in replies]
    for member in members:
        for target_id, target_at in targets:
            if rng.random() < member.activity * week_factor * (0.5 if target_id == post_message_id else 0.15):
                at = target_at + timedelta(minutes=rng.expovariate(1 / 120) + 0.5)
                reactions.append(PlannedReaction(member, target_id, rng.choice(names), at))
    edits = tuple(
        (r, r.at + timedelta(minutes=5), f"{r.text} {rng.choice(corpus().closers)}")
        for r in replies
        if rng.random() < 0.1
    )
    deletions = tuple((r, r.at + timedelta(minutes=30)) for r in replies if rng.random() < 0.04)
    consents = tuple(
        PlannedConsent(r.member, r.member.quote_consent, r.at + timedelta(minutes=1), post_message_id)
        if r.member.quote_consent == "emoji"
        else PlannedConsent(r.member, r.member.quote_consent, r.at + timedelta(minutes=1), None)
        for r in replies
        if r.member.quote_consent != "none"
    )
    return ThreadPlan(tuple(replies), tuple(reactions), edits, deletions, consents)
