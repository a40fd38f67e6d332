"""Shared phrases: the 1-3 word phrases several members used in a theme's replies, ranked by how specific they are.

How a phrase is found, in order:

1. Each reply is cleaned (mentions, links and emoji codes removed), lower-cased and split into words; punctuation
   ends a phrase, so no phrase runs across two sentences.
2. A phrase is one to three consecutive words, none of them a stop word (``stopwords.txt``) or a number, and is
   not one of the generic phrases listed there ("healthcare scientists"). A single word needs at least two
   letters and is not a word of the theme's own name.
3. For each theme, a phrase counts the distinct *members* who used it (not replies: one talkative member cannot
   make a phrase shared). Only phrases used by at least ``min_members`` members are kept.
4. Windows are dropped: when most members of a phrase used it inside the same longer wording (several members
   wrote the same sentence), the phrase is a window into that sentence ("qa freed clinical"), not something they
   have in common in their own words; so are the shorter phrases inside such a window.
5. Nested phrases are merged: a phrase is dropped when a longer phrase containing it accounts for most of its
   members ("protected" inside "protected time"); a longer phrase is dropped when it is a minority use of a shorter
   phrase of two or more words ("equipment replacement programme" inside "equipment replacement"). Of two
   phrases that overlap by two words ("rural areas face", "areas face long"), only the better ranked is listed.
   A single word kept in most of (three or more) themes ("equipment") is listed in none.
6. Phrases are ranked TF-IDF style: the share of the theme's members who used it, times how specific it is to the
   theme (log(1 + themes / themes where it is shared)), with a bonus for longer phrases (+50% a word), which
   say more than single words.

Standard library only, deterministic, and linear in the text: each distinct text is split into phrases once
(``bot.report.reading``), and each member's phrases are counted once per theme as a set.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.report.phrase_counts import Gram as Gram
from bot.report.phrase_counts import ThemeCounts, count_phrases

_MENTION = re.compile(r"<[@#!][^>]*>|<at>.*?</at>", re.IGNORECASE)
_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")
_POSSESSIVE = re.compile(r"'s\b")
_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
BOUNDARY = "|"
# Punctuation ends a phrase: every mark but the apostrophe and hyphen inside words becomes a boundary (one
# character for one, str.translate's fast path; the boundary is spaced out afterwards).
_BREAKS = str.maketrans({c: BOUNDARY for c in string.punctuation + "“”‘…–—•" if c not in "'-"})
LENGTH_BONUS = 0.5
MAX_WORDS = 3  # the longest phrase
LONGER_SHARE = 0.6  # a longer phrase speaks for a word when it has at least this share of the word's members


@cache
def _stop_lines() -> tuple[str, ...]:
    text = resources.files("bot.report").joinpath("stopwords.txt").read_text(encoding="utf-8")
    return tuple(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def stop_words() -> frozenset[str]:
    """The single words of the shipped stop-word list (``stopwords.txt``)."""
    return frozenset(line for line in _stop_lines() if " " not in line)


def stop_phrases() -> frozenset[Gram]:
    """The phrases of several words the list names: never reported as a shared phrase."""
    return frozenset(" ".join(line.split()) for line in _stop_lines() if " " in line)


def clean(text: str) -> str:
    """Lower-cased text without mentions, links and emoji codes, possessive 's, curly apostrophes made straight."""
    text = text.lower()
    if "<" in text:
        text = _MENTION.sub(" . ", text)
    if "http" in text or "www." in text:
        text = _LINK.sub(" . ", text)
    if text.count(":") > 1:
        text = _EMOJI.sub(" . ", text)
    text = text.replace("’", "'")
    return _POSSESSIVE.sub("", text) if "'s" in text else text


class _Vocabulary(dict[str, str]):
    """Each token seen, mapped to itself when it may be part of a phrase, else to the boundary mark."""

    def __init__(self, stop: frozenset[str]) -> None:
        super().__init__()
        self.stop = stop

    def __missing__(self, token: str) -> str:
        usable = token not in self.stop and not token.isdigit() and _WORD.fullmatch(token) is not None
        self[token] = value = token if usable else BOUNDARY
        return value


@cache
def _vocabulary() -> _Vocabulary:
    return _Vocabulary(stop_words())


def content(cleaned: str) -> str:
    """The phrase material of cleaned text: its usable words, with "|" wherever a phrase must stop."""
    spaced = cleaned.translate(_BREAKS).replace(BOUNDARY, " | ")
    return " ".join(map(_vocabulary().__getitem__, spaced.split()))


def words(text: str) -> list[str]:
    """The usable words (no stop words, numbers or punctuation) of raw ``text``."""
    return [w for w in content(clean(text)).split() if w != BOUNDARY]


def grams(material: str) -> set[Gram]:
    """Every run of 1 to 4 words of ``content`` material (which has no stop word or punctuation left). Phrases
    have at most 3 words; a 4-word run only tells whether a 3-word one is a window into a longer wording."""
    found: set[Gram] = set()
    for run in material.split(BOUNDARY):
        words = run.split()
        found.update(words)
        if len(words) > 1:
            found.update(map(" ".join, itertools.pairwise(words)))
            if len(words) > 2:
                found.update(map(" ".join, zip(words, words[1:], words[2:], strict=False)))
                if len(words) > 3:  # MAX_WORDS + 1
                    found.update(map(" ".join, zip(words, words[1:], words[2:], words[3:], strict=False)))
    return found


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str
    members: int
    score: float

    @property
    def length(self) -> int:
        return self.text.count(" ") + 1


@dataclass(frozen=True, slots=True)
class ThemePhrases:
    theme: str
    members: int  # members who replied in the theme
    phrases: tuple[Phrase, ...]  # ranked, nested duplicates merged
    shared: dict[str, int]  # every multi-word phrase that reached the threshold: its member count


@dataclass(frozen=True, slots=True)
class CrossPhrase:
    """A phrase shared in several themes: the themes, each with its member count (most first)."""

    text: str
    themes: tuple[tuple[str, int], ...]


def _pairs(text: str) -> set[tuple[str, str]]:
    parts = text.split(" ")
    return set(itertools.pairwise(parts))


def _windows(counts: Counter[Gram], kept: dict[Gram, int]) -> set[Gram]:
    """The kept phrases that are windows into one longer wording: most of their members used them inside the
    same run of one more word, and that run is too long to be a phrase (or a window itself). Several members
    writing the same sentence ("routine QA freed clinical scientists") share every part of it, but its parts
    ("qa freed clinical") are not what they have in common: the sentence is."""
    extended: dict[Gram, int] = defaultdict(int)  # phrase -> members of its most used one-word-longer run
    for gram, members in counts.items():
        if gram.count(" ") == MAX_WORDS:  # a run just too long to be a phrase
            head, _, _ = gram.rpartition(" ")
            _, _, tail = gram.partition(" ")
            for part in (head, tail):
                if part in kept:
                    extended[part] = max(extended[part], members)
    windows = {gram for gram, members in kept.items() if extended[gram] >= LONGER_SHARE * members}
    for size in range(MAX_WORDS - 1, 0, -1):  # then the shorter phrases inside those windows, and so on
        for gram, members in kept.items():
            if gram.count(" ") != size:
                continue
            head, _, _ = gram.rpartition(" ")
            _, _, tail = gram.partition(" ")
            for part in (head, tail):
                if part in kept and gram in windows and members >= LONGER_SHARE * kept[part]:
                    windows.add(part)
    return windows


def _merge_nested(kept: dict[Gram, int]) -> dict[Gram, int]:
    dropped: set[Gram] = set()
    for gram, members in kept.items():
        parts = gram.split(" ")
        for size in range(1, len(parts)):
            for i in range(len(parts) - size + 1):
                inner = " ".join(parts[i : i + size])
                if inner not in kept:
                    continue
                if members >= LONGER_SHARE * kept[inner]:
                    dropped.add(inner)
                elif size > 1:
                    dropped.add(gram)
    return {gram: members for gram, members in kept.items() if gram not in dropped}


def theme_phrases(
    replies: Iterable[tuple[str, str, str]],
    *,
    min_members: int = 3,
    limit: int = 8,
) -> list[ThemePhrases]:
    """Ranked shared phrases per theme from ``(theme, member id, material)`` rows, ``material`` being
    ``content(clean(text))`` of a reply (themes in first-seen order)."""
    counts, _ = count_phrases((theme, member, grams(material), False) for theme, member, material in replies)
    return rank_phrases(counts, min_members=min_members, limit=limit)


def rank_phrases(counts: dict[str, ThemeCounts], *, min_members: int = 3, limit: int = 8) -> list[ThemePhrases]:
    """Ranked shared phrases per theme from the themes' phrase counts (see ``count_phrases``)."""
    generic = stop_phrases()
    kept: dict[str, dict[Gram, int]] = {}
    for theme, found in counts.items():
        own = set(words(theme))  # "prevention" says nothing in the Prevention theme
        candidates = {
            g: n
            for g, n in found.counts.items()
            if n >= min_members
            and g.count(" ") < MAX_WORDS
            and g not in generic
            and (" " in g or (len(g) > 1 and g not in own))
        }
        windows = _windows(found.counts, candidates)
        kept[theme] = _merge_nested({g: n for g, n in candidates.items() if g not in windows})
    spread = Counter(gram for phrases in kept.values() for gram in phrases)
    total = len(kept)
    result = []
    for theme, phrases in kept.items():
        members = counts[theme].members
        # A single word that most of several themes share ("equipment", "support") says nothing about this one.
        phrases = {g: n for g, n in phrases.items() if " " in g or total < 3 or 2 * spread[g] <= total}
        scored = [
            Phrase(
                gram,
                n,
                round((n / members) * math.log(1 + total / spread[gram]) * (1 + LENGTH_BONUS * gram.count(" ")), 9),
            )
            for gram, n in phrases.items()
        ]
        scored.sort(key=lambda p: (-p.score, -p.members, p.text))
        chosen: list[Phrase] = []
        pairs: set[tuple[str, str]] = set()
        for phrase in scored:
            mine = _pairs(phrase.text)
            if mine & pairs:
                continue
            chosen.append(phrase)
            pairs |= mine
            if len(chosen) == limit:
                break
        shared = {g: n for g, n in sorted(phrases.items()) if " " in g}
        result.append(ThemePhrases(theme, members, tuple(chosen), shared))
    return result


def across_themes(themes: Iterable[ThemePhrases], *, min_themes: int = 2, limit: int = 6) -> list[CrossPhrase]:
    """Multi-word phrases shared in at least ``min_themes`` themes: the concerns that cut across themes."""
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for theme in themes:
        for text, members in theme.shared.items():
            seen[text].append((theme.theme, members))
    found = [
        CrossPhrase(text, tuple(sorted(where, key=lambda tm: (-tm[1], tm[0]))))
        for text, where in seen.items()
        if len(where) >= min_themes
    ]
    found.sort(key=lambda c: (-len(c.themes), -sum(n for _, n in c.themes), c.text))
    # A phrase inside a longer one already listed adds nothing.
    chosen: list[CrossPhrase] = []
    for phrase in found:
        if not any(f" {phrase.text} " in f" {other.text} " for other in chosen):
            chosen.append(phrase)
    return chosen[:limit]
