"""A simulated community for `engagebot demo`: members replying and reacting to prompts over several weeks.

The plan is platform-neutral and deterministic for a seed; a driver turns each action into real input.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
REPLY_OPENERS = (
    "In our radiotherapy physics team",
    "From a clinical engineering point of view",
    "Speaking as an STP trainee",
    "In nuclear medicine we",
    "Our imaging physics group",
    "In the community diagnostic centre",
    "From the medical devices management side",
    "In physiological measurement",
)
REPLY_BODIES = (
    "we have seen real gains when scientists are in the room early, before procurement decisions are made.",
    "the biggest barrier is protected time: service pressure eats every hour we set aside for improvement work.",
    "shared data across trusts would let us spot equipment and dose trends long before they become incidents.",
    "training routes need to flex so people can move between hospital and community roles without starting again.",
    "registration gives patients and managers confidence; it should be visible on every job description.",
    "networks between departments have been the fastest way to spread good practice in our region.",
    "we need a clear national voice so commissioners understand what healthcare scientists actually do.",
)
SLACK_REACTIONS = ("+1", "+1", "+1", "tada", "bulb", "heart", "eyes", "raised_hands")
TEAMS_REACTIONS = ("like", "like", "like", "heart", "laugh", "surprised")


@dataclass(frozen=True, slots=True)
class DemoMember:
    platform: Platform
    user_id: str
    name: str
    activity: float  # chance of taking part in a given post's thread


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
class ThreadPlan:
    replies: tuple[PlannedReply, ...]
    reactions: tuple[PlannedReaction, ...]
    edits: tuple[tuple[PlannedReply, datetime, str], ...]
    deletions: tuple[tuple[PlannedReply, datetime], ...]


def make_members(rng: random.Random, platform: Platform, count: int) -> list[DemoMember]:
    members = []
    for index in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        user_id = f"U{1000 + index:05d}DEMO" if platform is Platform.SLACK else f"29:1demo{index:04d}"
        members.append(DemoMember(platform, user_id, name, activity=rng.uniform(0.1, 0.7)))
    return members


def plan_thread(
    rng: random.Random,
    members: list[DemoMember],
    post_message_id: str,
    posted_at: datetime,
    message_id_at: Callable[[datetime], str],
    week_factor: float,
) -> ThreadPlan:
    """Replies within a few days of the post, reactions on the post and on replies, a few edits and deletions.

    ``message_id_at`` is a callable ``(datetime) -> str`` giving the platform message id for a message at a time.
    """
    replies: list[PlannedReply] = []
    reactions: list[PlannedReaction] = []
    for member in members:
        if rng.random() < member.activity * week_factor:
            at = posted_at + timedelta(minutes=rng.expovariate(1 / 240) + 1)
            text = f"{rng.choice(REPLY_OPENERS)}, {rng.choice(REPLY_BODIES)}"
            replies.append(PlannedReply(member, str(message_id_at(at)), at, text))
    names = SLACK_REACTIONS if members and members[0].platform is Platform.SLACK else TEAMS_REACTIONS
    targets = [(post_message_id, posted_at)] + [(r.message_id, r.at) for r in replies]
    for member in members:
        for target_id, target_at in targets:
            if rng.random() < member.activity * week_factor * (0.5 if target_id == post_message_id else 0.15):
                at = target_at + timedelta(minutes=rng.expovariate(1 / 120) + 0.5)
                reactions.append(PlannedReaction(member, target_id, rng.choice(names), at))
    edits = tuple(
        (r, r.at + timedelta(minutes=5), r.text + " (edited to add: happy to share more)")
        for r in replies
        if rng.random() < 0.1
    )
    deletions = tuple((r, r.at + timedelta(minutes=30)) for r in replies if rng.random() < 0.04)
    return ThreadPlan(tuple(replies), tuple(reactions), edits, deletions)
