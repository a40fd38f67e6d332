"""Representative replies per theme, only from members who consented to be quoted; "+1" replies as endorsements.

Endorsements: a reply that only backs another ("+1", "agree", "same here", emoji alone: the ``[endorsement]`` list
of ``markers.toml``) is folded into the latest earlier reply in the same thread by another member, and counts as an
endorsement of it. It is never quoted, and carries no phrase or marker of its own.

Choosing quotes: every substantive reply of the theme contributes to the theme's centroid (its words weighted
TF-IDF style, so words every reply uses count little). Candidates are the consented replies of a readable length
without mentions of other people; the first quote is the one closest to the centroid (the most typical), and each
next one maximises closeness to the centroid minus closeness to the quotes already chosen (maximal marginal
relevance), so the quotes are typical yet say different things; one too close to a chosen quote is skipped.
Endorsements break near-ties.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter, neg

from bot.report.markers import Markers
from bot.report.model import ReportReply
from bot.report.reading import Reading, Readings
from bot.report.text import BOUNDARY

MIN_CHARS = 40
MAX_CHARS = 420
RELEVANCE = 0.7  # weight of typicality against difference from the quotes already chosen
SHORTLIST = 60  # candidates closest to the centroid that the diversity step compares
TOO_CLOSE = 0.45  # a candidate this similar to a chosen quote says the same thing: it is skipped

_MENTION = re.compile(r"<@[^>]*>|<at>.*?</at>|<!(?:here|channel|everyone)[^>]*>", re.IGNORECASE)
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[^|>]*(?:\|([^>]*))?>")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_SPACE = re.compile(r"\s+")
_WHEN = attrgetter("created_at", "id")
_TEXT, _ID, _MEMBER = attrgetter("text"), attrgetter("id"), attrgetter("member_id")
_CREATED, _QUOTE_OK, _MATERIAL = attrgetter("created_at"), attrgetter("quote_ok"), attrgetter("material")


@dataclass(frozen=True, slots=True)
class Folded:
    """A theme's replies with the "+1"s folded in: substantive replies and who endorsed each."""

    replies: tuple[ReportReply, ...]  # substantive replies, oldest first
    endorsers: dict[int, frozenset[str]]  # reply id -> members who backed it
    endorsements: int  # "+1" replies seen (whether or not they had a reply to back)
    readings: dict[int, Reading]  # reply id -> how its text reads (cleaned, material, markers, phrases)
    by_member: dict[str, list[Reading]]  # member -> the reading of each of their substantive replies


@dataclass(frozen=True, slots=True)
class Quote:
    text: str  # cleaned for print: no mentions, no markup
    endorsers: int
    reply_id: int


def fold_endorsements(
    replies: Iterable[ReportReply],
    markers: Markers,
    read: Callable[[str], Reading] | None = None,
    *,
    ordered: bool = False,
) -> Folded:
    """Separate "+1" replies from substantive ones; each backs the latest earlier reply by someone else.
    ``read``: the theme's ``Readings`` (a new one by default); ``ordered``: ``replies`` are oldest first already
    (ties by id), as a ``ReportSource`` gives them."""
    read = read or Readings(markers)
    in_order = list(replies) if ordered else sorted(replies, key=_WHEN)
    texts = list(map(_TEXT, in_order))
    reading_of = {text: read(text) for text in dict.fromkeys(texts)}  # each distinct text read once
    read_as = list(map(reading_of.__getitem__, texts))
    says = [not reading.endorsement for reading in read_as]  # says something of its own
    substantive = tuple(compress(in_order, says))
    substantive_readings = list(compress(read_as, says))
    by_member: dict[str, list[Reading]] = defaultdict(list)
    for member, reading in zip(map(_MEMBER, substantive), substantive_readings, strict=True):
        by_member[member].append(reading)
    endorsers: dict[int, set[str]] = defaultdict(set)
    if len(substantive) < len(in_order):  # some "+1"s: each backs the latest earlier reply by someone else
        by_thread: dict[int, list[ReportReply]] = defaultdict(list)
        for reply, own in zip(in_order, says, strict=True):
            thread = by_thread[reply.post_id]
            if own:
                thread.append(reply)
                continue
            backed = next((r for r in reversed(thread) if r.member_id != reply.member_id), None)
            if backed is not None:
                endorsers[backed.id].add(reply.member_id)
    return Folded(
        substantive,
        {k: frozenset(v) for k, v in endorsers.items()},
        len(in_order) - len(substantive),
        dict(zip(map(_ID, substantive), substantive_readings, strict=True)),
        dict(by_member),
    )


def printable(text: str) -> str:
    """Member text made safe to print as a quote: mentions become "@colleague", links and channels their label."""
    text = _MENTION.sub("@colleague", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "#channel", text)
    text = _SPACE.sub(" ", _TAG.sub("", text)).strip()
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def _terms(material: str) -> Counter[str]:
    """How often each word occurs in phrase material (``bot.report.text.content``)."""
    counts = Counter(material.split())
    counts.pop(BOUNDARY, None)
    return counts


def _weights(terms: Counter[str], idf: dict[str, float]) -> tuple[dict[str, float], float]:
    vec = {w: n * idf.get(w, 0.0) for w, n in terms.items()}
    return vec, math.sqrt(sum(v * v for v in vec.values()))


def _vector(terms: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    vec, norm = _weights(terms, idf)
    return {w: v / norm for w, v in vec.items()} if norm else {}


def _closeness(terms: Counter[str], idf: dict[str, float], centroid: dict[str, float]) -> float:
    """``_cosine(_vector(terms, idf), centroid)`` (every word of a reply is in the centroid), computed alike."""
    vec, norm = _weights(terms, idf)
    return sum((v / norm) * centroid.get(w, 0.0) for w, v in vec.items()) if norm else 0


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


def choose_quotes(folded: Folded, *, count: int = 3) -> list[Quote]:
    """Up to ``count`` consented replies: typical of the theme yet different from each other."""
    replies = folded.replies
    if not replies:
        return []
    # Word weights over every substantive reply; replies that share a text share its words (counted once per text).
    readings = folded.readings
    materials = Counter(map(_MATERIAL, readings.values()))
    terms = {material: _terms(material) for material in materials}
    df: Counter[str] = Counter()
    for material, n in materials.items():
        words = terms[material].keys()
        df.update(words if n == 1 else dict.fromkeys(words, n))
    total = len(replies)
    idf = {w: math.log((1 + total) / (1 + d)) + 1 for w, d in df.items()}
    centroid = {w: d * idf[w] for w, d in df.items()}
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    centroid = {w: v / norm for w, v in centroid.items()}

    printed: dict[str, str] = {}

    def shown(text: str) -> str:
        if text not in printed:
            printed[text] = printable(text)
        return printed[text]

    def quotable(text: str) -> bool:
        """A readable length, no mention of someone else, something left to print. Without a "<" a text has no
        mention, link or markup, so something is left to print."""
        if len(text.strip()) < MIN_CHARS:
            return False
        return "<" not in text or (not _MENTION.search(text) and bool(shown(text)))

    consented = list(compress(replies, map(_QUOTE_OK, replies)))
    eligible = {text for text in set(map(_TEXT, consented)) if quotable(text)}  # decided once per text
    candidates = [r for r in consented if r.text in eligible]
    closeness = {
        material: _closeness(terms[material], idf, centroid)
        for material in dict.fromkeys(readings[r.id].material for r in candidates)
    }
    endorsers = folded.endorsers
    vectors_of: dict[str, dict[str, float]] = {}

    def vector(r: ReportReply) -> dict[str, float]:
        material = readings[r.id].material
        if material not in vectors_of:
            vectors_of[material] = _vector(terms[material], idf)
        return vectors_of[material]

    def typical(r: ReportReply) -> float:
        own = closeness[readings[r.id].material]
        return own + 0.02 * math.log1p(len(endorsers.get(r.id, ())))

    # The SHORTLIST most typical, earliest first among equals (replies without endorsers are as typical as their text).
    scores = [
        typical(r) if r.id in endorsers else closeness[material]
        for r, material in zip(candidates, map(_MATERIAL, map(readings.__getitem__, map(_ID, candidates))), strict=True)
    ]
    ranked = [
        r
        for *_, r in heapq.nsmallest(
            SHORTLIST, zip(map(neg, scores), map(_CREATED, candidates), map(_ID, candidates), candidates, strict=True)
        )
    ]
    chosen: list[ReportReply] = []
    seen_texts: set[str] = set()
    while ranked and len(chosen) < count:

        def marginal(r: ReportReply) -> float:
            overlap = max((_cosine(vector(r), vector(c)) for c in chosen), default=0.0)
            return RELEVANCE * typical(r) - (1 - RELEVANCE) * overlap

        best = max(ranked, key=lambda r: (marginal(r), -r.created_at.timestamp(), -r.id))
        ranked.remove(best)
        text = shown(best.text)
        if text.lower() in seen_texts or any(_cosine(vector(best), vector(c)) > TOO_CLOSE for c in chosen):
            continue
        seen_texts.add(text.lower())
        chosen.append(best)
    return [Quote(shown(r.text), len(folded.endorsers.get(r.id, ())), r.id) for r in chosen]
