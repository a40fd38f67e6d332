"""Counting activity: the one implementation of the figures that the weekly summary, the channel card and the
leadership report print. It is one module so that those three cannot count differently.

Storage supplies rows; ``Activity.of`` reads them once into their distinct facts (how many replies and reactions
of each name each post has, and who replied and who reacted on each post), and ``tally`` counts a span's figures
and the people behind them from those facts. Spans add up: the activity of a period is its weeks' activity united
(``Activity.union``: the counts add, each post's members unite), so every week of a report and the whole period
are counted by the same code from rows read once. ``span_totals`` is the part of ``tally`` that a previous week or
period needs, from a ``Turnout`` (a lighter read of the same rows).

New participants: a member is new in a span starting at ``start`` when their first counted activity (a reply, or
a counted reaction) is at or after ``start`` (``count_new``). Storage gives the first activity of those members
whose first activity is at or after a bound (``first_activity``), so one read serves every span that starts at or
after that bound.

SQLite groups the rows by post and reaction name (``SummarySource.activity_between``), and Python counts with
C-level set operations on each post's members: a busy week has tens of thousands of replies and reactions.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any, TypeVar

from bot.events import Platform
from bot.model import ActivityGroup, PostRecord, WeekTotals

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Figures:
    """posts, replies, reactions and distinct participants of one slice of a span."""

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
class People:
    """Distinct members behind the reply and reaction counts of one span, overall and by slice."""

    repliers: int = 0
    reactors: int = 0
    by_platform: dict[Platform, tuple[int, int]] = field(default_factory=dict)  # (repliers, reactors)
    by_theme: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_post: dict[int, tuple[int, int]] = field(default_factory=dict)


Members = AbstractSet[str]  # sets of member ids: never changed once an Activity holds them


@dataclass(frozen=True, slots=True)
class Turnout:
    """How many replies and reactions some activity has, and who replied and who reacted: all that the totals of a
    span need (a previous week's or period's read no more than this)."""

    replies: int
    reactions: int
    repliers: Members
    reactors: Members

    @classmethod
    def of(cls, groups: Iterable[ActivityGroup], known: dict[str, str] | None = None) -> Turnout:
        """``known``: as for ``Activity.of``."""
        counts = [0, 0]  # replies, reactions
        people: tuple[set[str], set[str]] = (set(), set())
        one = known.setdefault if known is not None else None
        for _, name, members in groups:
            kind = 0 if name is None else 1
            counts[kind] += len(members)
            people[kind].update(map(one, members, members) if one is not None else members)
        return cls(counts[0], counts[1], *people)

    @classmethod
    def union(cls, spans: Sequence[Turnout]) -> Turnout:
        """Consecutive spans together."""
        return cls(
            sum(span.replies for span in spans),
            sum(span.reactions for span in spans),
            set().union(*(span.repliers for span in spans)),
            set().union(*(span.reactors for span in spans)),
        )


@dataclass(frozen=True, slots=True)
class Activity:
    """The distinct facts of some activity (``ActivityGroup`` rows): how many replies and reactions of each name
    each post has, and who replied and who reacted on each post. Never changed once made."""

    kinds: Counter[tuple[int, str | None]]  # (post id, reaction name or None) -> rows
    repliers: Mapping[int, Members]  # post id -> the members who replied there
    reactors: Mapping[int, Members]  # post id -> the members who reacted there
    turnout: Turnout  # the totals and everyone who replied or reacted

    @classmethod
    def of(cls, groups: Iterable[ActivityGroup], known: dict[str, str] | None = None) -> Activity:
        """``known``: member ids seen so far (each maps to itself), shared by the spans read together: each member
        id is then one string however often it occurs (memory), and ``known`` ends up holding every member."""
        kinds: dict[tuple[int, str | None], int] = {}
        replied: dict[int, set[str]] = {}
        reacted: dict[int, set[str]] = {}
        one = known.setdefault if known is not None else None
        for post_id, name, members in groups:
            key = (post_id, name)
            kinds[key] = kinds.get(key, 0) + len(members)
            who = map(one, members, members) if one is not None else members
            by_post = replied if name is None else reacted
            found = by_post.get(post_id)
            if found is None:
                by_post[post_id] = set(who)
            else:
                found.update(who)
        replies = sum(n for (_, name), n in kinds.items() if name is None)
        turnout = Turnout(
            replies, sum(kinds.values()) - replies, set().union(*replied.values()), set().union(*reacted.values())
        )
        return cls(Counter(kinds), replied, reacted, turnout)

    @classmethod
    def union(cls, spans: Sequence[Activity]) -> Activity:
        """The activity of consecutive spans together: their rows' counts add up, each post's members unite."""
        kinds: Counter[tuple[int, str | None]] = Counter()
        for span in spans:
            kinds.update(span.kinds)
        return cls(
            kinds,
            _united(span.repliers for span in spans),
            _united(span.reactors for span in spans),
            Turnout.union([span.turnout for span in spans]),
        )

    def post_ids(self) -> set[int]:
        return self.repliers.keys() | self.reactors.keys()


def _united(spans: Iterable[Mapping[int, Members]]) -> dict[int, Members]:
    found: dict[int, Members] = {}
    for span in spans:
        for post_id, members in span.items():
            found[post_id] = found[post_id] | members if post_id in found else members
    return found


@dataclass(frozen=True, slots=True)
class Tally:
    """A span's figures and the people behind them (see ``tally``)."""

    totals: Figures
    members: Members  # the participants
    by_platform: dict[Platform, Figures]  # every platform, in Platform order
    by_theme: dict[str, Figures]
    by_post: dict[int, Figures]  # the posts made in the span and those with activity in it
    names: Counter[str]  # reactions per reaction name
    people: People


def span_totals(turnout: Turnout, posts_made: Sequence[PostRecord]) -> tuple[WeekTotals, Members]:
    """Posts, replies, reactions, participants, repliers and reactors of a span, and its participants."""
    members = turnout.repliers | turnout.reactors
    totals = WeekTotals(
        len(posts_made),
        turnout.replies,
        turnout.reactions,
        len(members),
        len(turnout.repliers),
        len(turnout.reactors),
    )
    return totals, members


def tally(activity: Activity, posts_made: Sequence[PostRecord], posts: Mapping[int, PostRecord]) -> Tally:
    """Count a span: ``posts_made`` are the posts made in it, ``posts`` holds at least those and every post with
    activity in it (it may hold more)."""
    totals, members = span_totals(activity.turnout, posts_made)
    repliers, reactors = activity.turnout.repliers, activity.turnout.reactors
    replies: Counter[int] = Counter()
    reactions: Counter[int] = Counter()
    names: Counter[str] = Counter()
    for (post_id, name), n in activity.kinds.items():
        if name is None:
            replies[post_id] += n
        else:
            reactions[post_id] += n
            names[name] += n
    made = Counter(p.id for p in posts_made)
    ids = made.keys() | replies.keys() | reactions.keys()

    # By post: each post's distinct members.
    nobody: frozenset[str] = frozenset()
    replied, reacted = activity.repliers, activity.reactors
    by_post = {
        i: Figures(made[i], replies[i], reactions[i], _together(replied.get(i, nobody), reacted.get(i, nobody)))
        for i in ids
    }
    people_by_post = {
        i: (len(replied.get(i, nobody)), len(reacted.get(i, nobody))) for i in replied.keys() | reacted.keys()
    }

    # By theme: the distinct members of the theme's posts.
    theme_of = {i: posts[i].theme for i in ids}
    themes: defaultdict[str, list[int]] = defaultdict(list)
    for i in ids:
        themes[theme_of[i]].append(i)
    people_by_theme: dict[str, tuple[int, int]] = {}
    participants_by_theme: Counter[str] = Counter()
    for theme, theme_posts in themes.items():
        theme_repliers = nobody.union(*(replied[i] for i in theme_posts if i in replied))
        theme_reactors = nobody.union(*(reacted[i] for i in theme_posts if i in reacted))
        if theme_repliers or theme_reactors:
            people_by_theme[theme] = (len(theme_repliers), len(theme_reactors))
            participants_by_theme[theme] = _together(theme_repliers, theme_reactors)
    by_theme = _grouped(theme_of, made, replies, reactions, participants_by_theme)

    # By platform: member ids carry their platform (slack:…, teams:…), so a platform's people need no pairing.
    platform_of = {i: posts[i].platform for i in ids}
    grouped = _grouped(platform_of, made, replies, reactions, Counter())
    by_platform: dict[Platform, Figures] = {}
    repliers_by_platform: Counter[Platform] = Counter()
    reactors_by_platform: Counter[Platform] = Counter()
    for platform in Platform:
        prefix = f"{platform.value}:"
        f = grouped.get(platform, Figures())
        by_platform[platform] = Figures(f.posts, f.replies, f.reactions, _starting(members, prefix))
        repliers_by_platform[platform] = _starting(repliers, prefix)
        reactors_by_platform[platform] = _starting(reactors, prefix)

    return Tally(
        totals=Figures(totals.posts, totals.replies, totals.reactions, totals.participants),
        members=members,
        by_platform=by_platform,
        by_theme=by_theme,
        by_post=by_post,
        names=names,
        people=People(
            repliers=totals.repliers,
            reactors=totals.reactors,
            by_platform=_paired(+repliers_by_platform, +reactors_by_platform),
            by_theme=dict(sorted(people_by_theme.items())),
            by_post=dict(sorted(people_by_post.items(), key=lambda kv: str(kv[0]))),
        ),
    )


def _together(left: Members, right: Members) -> int:
    """How many members two sets hold together (without building their union)."""
    return len(left) + len(right) - len(left & right) if left and right else len(left) + len(right)


def _starting(members: Iterable[str], prefix: str) -> int:
    return sum(map(str.startswith, members, repeat(prefix)))


def _grouped(
    key_of: Mapping[int, K], made: Counter[int], replies: Counter[int], reactions: Counter[int], people: Counter[K]
) -> dict[K, Figures]:
    """Per-post counts added up by ``key_of[post id]``, with the distinct ``people`` of each key."""
    posts: Counter[K] = Counter()
    grouped_replies: Counter[K] = Counter()
    grouped_reactions: Counter[K] = Counter()
    for counts, grouped in ((made, posts), (replies, grouped_replies), (reactions, grouped_reactions)):
        for post_id, n in counts.items():
            grouped[key_of[post_id]] += n
    keys = posts.keys() | grouped_replies.keys() | grouped_reactions.keys()
    return {k: Figures(posts[k], grouped_replies[k], grouped_reactions[k], people[k]) for k in keys}


def _paired(left: Counter[Any], right: Counter[Any]) -> dict[Any, tuple[int, int]]:
    return {k: (left[k], right[k]) for k in sorted(left.keys() | right.keys(), key=str)}


def count_new(members: Iterable[str], first_activity: Mapping[str, datetime], start: datetime) -> int:
    """How many of a span's ``members`` are new in it: their first counted activity is at or after ``start``.
    ``first_activity`` holds the first activity of (at least) every member whose first one is at or after
    ``start``; a member it does not hold was active before."""
    return sum(1 for m in members if m in first_activity and first_activity[m] >= start)


def median_minutes_to_first_reply(
    posts_made: Iterable[PostRecord], first_replies: Mapping[int, datetime]
) -> float | None:
    """Over the posts that got a reply: minutes from the post to its first reply (0 for a reply timed before its
    post), rounded to 0.1; None when none got a reply."""
    waits = [
        max(0.0, (first_replies[p.id] - p.posted_at).total_seconds() / 60) for p in posts_made if p.id in first_replies
    ]
    return round(statistics.median(waits), 1) if waits else None
