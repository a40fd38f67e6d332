"""How many members used each phrase in a theme: each member's phrases counted once, whatever number of replies
carry them (see ``bot.report.text`` for what a phrase is and how they are ranked)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, TypeVar

Gram = str  # a phrase: its words joined by single spaces
W = TypeVar("W")  # what a member wrote, as the caller keeps it
_FOUND, _FLAGGED = itemgetter(0), itemgetter(1)


@dataclass(frozen=True, slots=True)
class ThemeCounts:
    """How many of a theme's members used each phrase (``members``: how many members the counts are over)."""

    members: int
    counts: Counter[Gram]


def count_phrases(
    replies: Iterable[tuple[str, str, AbstractSet[Gram], bool]], *, least: int = 1
) -> tuple[dict[str, ThemeCounts], dict[str, ThemeCounts]]:
    """Per theme (first-seen order), the members who used each phrase, from ``(theme, member, phrases, flagged)``
    rows (``phrases``: ``grams`` of the reply's material): over all replies, and over the flagged replies only
    (those that feed "concerns across themes"). Phrases of fewer than ``least`` members are let go: most phrases
    are one member's, and no phrase of two is ever shown (a 4-word window needs two)."""
    by_theme: dict[str, dict[str, list[tuple[AbstractSet[Gram], bool]]]] = defaultdict(lambda: defaultdict(list))
    for theme, member, found, flagged in replies:
        by_theme[theme][member].append((found, flagged))
    everything: dict[str, ThemeCounts] = {}
    flagged_only: dict[str, ThemeCounts] = {}
    for theme, members in by_theme.items():
        everything[theme], marked = count_members(members.values(), _FOUND, _FLAGGED, least=least)
        if marked is not None:
            flagged_only[theme] = marked
    return everything, flagged_only


def count_members(
    members: Iterable[Sequence[W]],
    phrases: Callable[[W], AbstractSet[Gram]],
    flagged: Callable[[W], bool],
    *,
    least: int = 1,
) -> tuple[ThemeCounts, ThemeCounts | None]:
    """One theme's phrase counts from what each member wrote (one entry per reply; ``phrases`` and ``flagged`` read
    an entry): over everything, and over the flagged replies (None when no member has one). Members who wrote a
    single reply are counted by what it says: n members whose reply is the same object add n at once."""
    # Members' phrases (a member's replies united) are counted by C-level Counter updates; n members with the same
    # single reply add n to each of its phrases at once.
    everyone: list[Iterable[Gram]] = []
    flagged_ones: list[Iterable[Gram]] = []
    shared: dict[Gram, int] = {}
    flagged_shared: dict[Gram, int] = {}
    total = marked_members = 0
    alone: dict[int, list[Any]] = {}  # id of a single reply's entry -> [entry, members]
    for own in members:
        total += 1
        if len(own) == 1:
            entry = alone.get(id(own[0]))
            if entry is None:
                alone[id(own[0])] = [own[0], 1]
            else:
                entry[1] += 1
            continue
        everyone.append(set().union(*map(phrases, own)))
        chosen = [phrases(wrote) for wrote in own if flagged(wrote)]
        if chosen:
            marked_members += 1
            flagged_ones.append(set().union(*chosen))
    for wrote, n in alone.values():
        found = phrases(wrote)
        _add(everyone, shared, found, n)
        if flagged(wrote):
            marked_members += n
            _add(flagged_ones, flagged_shared, found, n)
    counts = _at_least(_counted(everyone, shared), least)
    flagged_counts = ThemeCounts(marked_members, _at_least(_counted(flagged_ones, flagged_shared), least))
    return ThemeCounts(total, counts), flagged_counts if marked_members else None


def _add(once: list[Iterable[Gram]], weighted: dict[Gram, int], found: AbstractSet[Gram], members: int) -> None:
    """Count the phrases ``found`` for that many members."""
    if members == 1:
        once.append(found)
        return
    get = weighted.get
    for gram in found:
        weighted[gram] = get(gram, 0) + members


def _counted(once: list[Iterable[Gram]], weighted: dict[Gram, int]) -> Counter[Gram]:
    counts = Counter(chain.from_iterable(once))
    counts.update(weighted)
    return counts


def _at_least(counts: Counter[Gram], least: int) -> Counter[Gram]:
    return counts if least <= 1 else Counter({gram: n for gram, n in counts.items() if n >= least})
