"""What members said, per theme: shared phrases, marker counts, endorsements and consented quotes.

Concerns across themes are the multi-word phrases of replies that raise a barrier or ask for something, shared
by at least ``min_members`` members in each of several themes.

A theme's text insight is given only when at least ``report_min_members`` members replied in it during the
period; otherwise the report says it is withheld. Phrases need at least ``min_members`` members (3, or the
anonymity threshold when that is higher). Every count here is also a disclosure cell (see ``cells``), so the
small-group rule applies to it like to any other figure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter

from bot.disclosure import Cell
from bot.report.figures import key
from bot.report.markers import Markers
from bot.report.model import ReportData, ReportReply
from bot.report.phrase_counts import ThemeCounts, count_members
from bot.report.quotes import Folded, Quote, choose_quotes, fold_endorsements
from bot.report.reading import Reading, Readings
from bot.report.text import CrossPhrase, Phrase, across_themes, rank_phrases

CONCERN_MARKERS = ("barrier", "ask")  # replies with these markers feed "concerns across themes"
_GRAMS, _MEMBER = attrgetter("grams"), attrgetter("member_id")


@dataclass(frozen=True, slots=True)
class MarkerCount:
    name: str
    label: str
    replies: int
    members: int


@dataclass(frozen=True, slots=True)
class ThemeInsight:
    theme: str
    members: int  # distinct members who replied in the theme in the period
    replies: int  # replies with text, "+1"s included
    withheld: bool  # fewer than report_min_members members: no text insight
    phrases: tuple[Phrase, ...] = ()
    markers: tuple[MarkerCount, ...] = ()
    endorsements: int = 0  # "+1" replies folded into the reply they back
    endorsers: int = 0  # distinct members among them
    quotes: tuple[Quote, ...] = ()


@dataclass(frozen=True, slots=True)
class Insights:
    themes: tuple[ThemeInsight, ...]
    concerns: tuple[CrossPhrase, ...]

    def cells(self) -> dict[str, Cell]:
        """Every count the theme sections print, with the people behind it."""
        cells: dict[str, Cell] = {}
        for t in self.themes:
            cells[key("theme", t.theme, "members")] = Cell(t.members, t.members)
            if t.withheld:
                continue
            cells[key("theme", t.theme, "endorsements")] = Cell(t.endorsements, t.endorsers)
            for m in t.markers:
                cells[key("theme", t.theme, "marker", m.name)] = Cell(m.replies, m.members)
            for q in t.quotes:
                cells[key("quote", q.reply_id, "endorsers")] = Cell(q.endorsers, q.endorsers)
        return cells


def _concern(wanted: set[str], is_open: bool) -> Callable[[Reading], bool]:
    """Whether a reply of a theme feeds "concerns across themes": it is open and the reply carries a wanted marker."""
    if not is_open:
        return lambda reading: False
    if not wanted:
        return lambda reading: True
    return lambda reading: not wanted.isdisjoint(reading.marks)


def _markers(folded: Folded, markers: Markers) -> tuple[MarkerCount, ...]:
    replies: Counter[str] = Counter()
    members: Counter[str] = Counter()
    for own in folded.by_member.values():
        if len(own) == 1:  # most members: one reply
            for name in own[0].marks:
                replies[name] += 1
                members[name] += 1
            continue
        names = set()
        for reading in own:
            for name in reading.marks:
                replies[name] += 1
                names.add(name)
        for name in names:
            members[name] += 1
    return tuple(MarkerCount(m.name, m.label, replies[m.name], members[m.name]) for m in markers.markers)


@dataclass(frozen=True, slots=True)
class TextReading:
    """What the replies say, per theme, before the report knows its themes' order (``read_text``)."""

    members: dict[str, int]  # theme -> distinct members who replied with text
    replies: dict[str, int]  # theme -> replies with text
    candidates: dict[str, ThemeInsight]  # themes with enough members for text insight, phrases included
    flagged: dict[str, ThemeCounts]  # their phrases in replies that raise a barrier or ask for something
    min_members: int
    phrases: int

    def insights(self, themes: Sequence[str]) -> Insights:
        """The insight of each of ``themes`` (the report's order); concerns across the open ones."""
        results = [
            self.candidates[theme]
            if theme in self.candidates
            else ThemeInsight(theme, self.members.get(theme, 0), self.replies.get(theme, 0), withheld=True)
            for theme in themes
        ]
        open_themes = sorted(set(themes) & self.candidates.keys())
        concern_counts = {theme: self.flagged[theme] for theme in open_themes if theme in self.flagged}
        concerns = across_themes(rank_phrases(concern_counts, min_members=self.min_members, limit=self.phrases))
        return Insights(tuple(results), tuple(concerns))


def read_text(
    replies: Iterable[ReportReply],
    markers: Markers,
    *,
    min_members: int = 3,
    report_min_members: int = 10,
    quotes: int = 3,
    phrases: int = 8,
) -> TextReading:
    """Read the replies of every theme: phrases, markers, endorsements and quotes of the themes with at least
    ``report_min_members`` members. ``replies`` oldest first (ties by id), as a ``ReportSource`` gives them. Needs
    nothing of the report's figures, so it can run while they are counted."""
    by_theme: dict[str, list[ReportReply]] = defaultdict(list)
    for reply in replies:
        if reply.text.strip():
            by_theme[reply.theme].append(reply)
    members = {theme: len(set(map(_MEMBER, rows))) for theme, rows in by_theme.items()}
    # Concerns: phrases of replies that raise a barrier or ask for something, shared in several open themes.
    wanted = {m.name for m in markers.markers} & set(CONCERN_MARKERS)

    counts: dict[str, ThemeCounts] = {}
    flagged_counts: dict[str, ThemeCounts] = {}
    shown: dict[str, ThemeInsight] = {}
    for theme, rows in by_theme.items():  # one theme at a time: its texts are read once, then let go
        folded = fold_endorsements(rows, markers, Readings(markers), ordered=True)
        is_open = members[theme] >= report_min_members
        # least: what a phrase needs, or a 4-word run to tell a window (see text.py).
        counts[theme], concern = count_members(
            folded.by_member.values(), _GRAMS, _concern(wanted, is_open), least=min(2, min_members)
        )
        if concern is not None:
            flagged_counts[theme] = concern
        if is_open:
            endorsers = {m for backers in folded.endorsers.values() for m in backers}
            shown[theme] = ThemeInsight(
                theme,
                members[theme],
                len(rows),
                withheld=False,
                markers=_markers(folded, markers),
                endorsements=sum(len(b) for b in folded.endorsers.values()),
                endorsers=len(endorsers),
                quotes=tuple(choose_quotes(folded, count=quotes)),
            )
    found = {p.theme: p.phrases for p in rank_phrases(counts, min_members=min_members, limit=phrases)}
    return TextReading(
        members=members,
        replies={theme: len(rows) for theme, rows in by_theme.items()},
        candidates={theme: replace(insight, phrases=found.get(theme, ())) for theme, insight in shown.items()},
        flagged=flagged_counts,
        min_members=min_members,
        phrases=phrases,
    )


def theme_insights(data: ReportData, markers: Markers, **options: int) -> Insights:
    """What members said in each of the report's themes: ``read_text`` with the same ``options``, then the report's
    theme order."""
    return read_text(data.replies, markers, **options).insights(data.themes)
