"""What members said, per theme: shared phrases, marker counts, endorsements and consented quotes.

Concerns across themes are the multi-word phrases of replies that raise a barrier or ask for something, shared
by at least ``min_members`` members in each of several themes.

A theme's text insight is given only when at least ``report_min_members`` members replied in it during the
period; otherwise the report says it is withheld. Phrases need at least ``min_members`` members (3, or the
anonymity threshold when that is higher). Every count here is also a disclosure cell (see ``cells``), so the
small-group rule applies to it like to any other figure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from bot.disclosure import Cell
from bot.report.figures import key
from bot.report.markers import Markers
from bot.report.model import ReportData, ReportReply
from bot.report.quotes import Folded, Quote, choose_quotes, fold_endorsements
from bot.report.reading import Readings
from bot.report.text import CrossPhrase, Phrase, ThemeCounts, across_themes, count_phrases, rank_phrases

CONCERN_MARKERS = ("barrier", "ask")  # replies with these markers feed "concerns across themes"


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


def _markers(folded: Folded, markers: Markers) -> tuple[MarkerCount, ...]:
    replies: dict[str, int] = defaultdict(int)
    members: dict[str, set[str]] = defaultdict(set)
    for reply in folded.replies:
        for name in folded.readings[reply.id].marks:
            replies[name] += 1
            members[name].add(reply.member_id)
    return tuple(MarkerCount(m.name, m.label, replies[m.name], len(members[m.name])) for m in markers.markers)


def theme_insights(
    data: ReportData,
    markers: Markers,
    *,
    min_members: int = 3,
    report_min_members: int = 10,
    quotes: int = 3,
    phrases: int = 8,
) -> Insights:
    by_theme: dict[str, list[ReportReply]] = defaultdict(list)
    for reply in data.replies:
        if reply.text.strip():
            by_theme[reply.theme].append(reply)
    members = {theme: len({r.member_id for r in rows}) for theme, rows in by_theme.items()}
    open_themes = {theme for theme in data.themes if members.get(theme, 0) >= report_min_members}
    # Concerns: phrases of replies that raise a barrier or ask for something, shared in several open themes.
    wanted = {m.name for m in markers.markers} & set(CONCERN_MARKERS)

    counts: dict[str, ThemeCounts] = {}
    flagged: dict[str, ThemeCounts] = {}
    shown: dict[str, ThemeInsight] = {}
    for theme, rows in by_theme.items():  # one theme at a time: its texts are read once, then let go
        folded = fold_endorsements(rows, markers, Readings(markers))
        is_open = theme in open_themes
        readings = folded.readings
        all_counts, concern_counts = count_phrases(
            (
                (
                    theme,
                    r.member_id,
                    readings[r.id].grams,
                    is_open and (not wanted or not wanted.isdisjoint(readings[r.id].marks)),
                )
                for r in folded.replies
            ),
            least=min(2, min_members),  # what a phrase needs, or a 4-word run to tell a window (see text.py)
        )
        counts.update(all_counts)
        flagged.update(concern_counts)
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
    results = [
        replace(shown[theme], phrases=found.get(theme, ()))
        if theme in shown
        else ThemeInsight(theme, members.get(theme, 0), len(by_theme.get(theme, ())), withheld=True)
        for theme in data.themes
    ]
    concern_counts = {theme: flagged[theme] for theme in sorted(open_themes) if theme in flagged}
    concerns = across_themes(rank_phrases(concern_counts, min_members=min_members, limit=phrases))
    return Insights(tuple(results), tuple(concerns))
