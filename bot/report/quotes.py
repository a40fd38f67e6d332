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

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Folded:
    """A theme's replies with the "+1"s folded in: substantive replies and who endorsed each."""

    replies: tuple[ReportReply, ...]  # substantive replies, oldest first
    endorsers: dict[int, frozenset[str]]  # reply id -> members who backed it
    endorsements: int  # "+1" replies seen (whether or not they had a reply to back)
    readings: dict[int, Reading]  # reply id -> how its text reads (cleaned, material, markers, phrases)


@dataclass(frozen=True, slots=True)
class Quote:
    text: str  # cleaned for print: no mentions, no markup
    endorsers: int
    reply_id: int


def fold_endorsements(
    replies: Iterable[ReportReply], markers: Markers, read: Callable[[str], Reading] | None = None
) -> Folded:
    """Separate "+1" replies from substantive ones; each backs the latest earlier reply by someone else.
    ``read``: the theme's ``Readings`` (a new one by default)."""
    read = read or Readings(markers)
    substantive: list[ReportReply] = []
    readings: dict[int, Reading] = {}
    endorsers: dict[int, set[str]] = defaultdict(set)
    by_thread: dict[int, list[ReportReply]] = defaultdict(list)
    count = 0
    for reply in sorted(replies, key=lambda r: (r.created_at, r.id)):
        reading = read(reply.text)
        if reading.endorsement:
            count += 1
            backed = next((r for r in reversed(by_thread[reply.post_id]) if r.member_id != reply.member_id), None)
            if backed is not None:
                endorsers[backed.id].add(reply.member_id)
            continue
        substantive.append(reply)
        readings[reply.id] = reading
        by_thread[reply.post_id].append(reply)
    return Folded(tuple(substantive), {k: frozenset(v) for k, v in endorsers.items()}, count, readings)


def printable(text: str) -> str:
    """Member text made safe to print as a quote: mentions become "@colleague", links and channels their label."""
    text = _MENTION.sub("@colleague", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(1)}" if m.group(1) else "#channel", text)
    text = _SPACE.sub(" ", _TAG.sub("", text)).strip()
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def _vector(material: str, idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(material.split())
    counts.pop(BOUNDARY, None)
    vec = {w: n * idf.get(w, 0.0) for w, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {w: v / norm for w, v in vec.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


def choose_quotes(folded: Folded, *, count: int = 3) -> list[Quote]:
    """Up to ``count`` consented replies: typical of the theme yet different from each other."""
    replies = folded.replies
    if not replies:
        return []
    materials = [folded.readings[r.id].material for r in replies]
    words_of = {material: set(material.split()) for material in set(materials)}
    df: Counter[str] = Counter()
    for material in materials:
        df.update(words_of[material])
    df.pop(BOUNDARY, None)
    n = len(replies)
    idf = {w: math.log((1 + n) / (1 + d)) + 1 for w, d in df.items()}
    centroid = {w: d * idf[w] for w, d in df.items()}
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    centroid = {w: v / norm for w, v in centroid.items()}

    printed: dict[str, str] = {}

    def shown(text: str) -> str:
        if text not in printed:
            printed[text] = printable(text)
        return printed[text]

    candidates = [
        r
        for r in replies
        if r.quote_ok and len(r.text.strip()) >= MIN_CHARS and not _MENTION.search(r.text) and shown(r.text)
    ]
    made: dict[str, dict[str, float]] = {}
    for r in candidates:
        material = folded.readings[r.id].material
        if material not in made:
            made[material] = _vector(material, idf)
    vectors = {r.id: made[folded.readings[r.id].material] for r in candidates}
    closeness = {material: _cosine(vector, centroid) for material, vector in made.items()}

    def typical(r: ReportReply) -> float:
        own = closeness[folded.readings[r.id].material]
        return own + 0.02 * math.log1p(len(folded.endorsers.get(r.id, ())))

    ranked = sorted(candidates, key=lambda r: (-typical(r), r.created_at, r.id))[:SHORTLIST]
    chosen: list[ReportReply] = []
    seen_texts: set[str] = set()
    while ranked and len(chosen) < count:

        def marginal(r: ReportReply) -> float:
            overlap = max((_cosine(vectors[r.id], vectors[c.id]) for c in chosen), default=0.0)
            return RELEVANCE * typical(r) - (1 - RELEVANCE) * overlap

        best = max(ranked, key=lambda r: (marginal(r), -r.created_at.timestamp(), -r.id))
        ranked.remove(best)
        text = shown(best.text)
        if text.lower() in seen_texts or any(_cosine(vectors[best.id], vectors[c.id]) > TOO_CLOSE for c in chosen):
            continue
        seen_texts.add(text.lower())
        chosen.append(best)
    return [Quote(shown(r.text), len(folded.endorsers.get(r.id, ())), r.id) for r in chosen]
