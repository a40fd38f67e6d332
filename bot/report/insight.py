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
from collections.abc import Iterable
from dataclasses import dataclass

from bot.disclosure import Cell
from bot.report.figures import key
from bot.report.markers import Markers
from bot.report.model import ReportData, ReportReply
from bot.report.quotes import Folded, Quote, choose_quotes, fold_endorsements
from bot.report.text import CrossPhrase, Phrase, across_themes, theme_phrases

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


def _markers(folded: Folded, markers: Markers, marks: dict[int, tuple[str, ...]]) -> tuple[MarkerCount, ...]:
    replies: dict[str, int] = defaultdict(int)
    members: dict[str, set[str]] = defaultdict(set)
    for reply in folded.replies:
        for name in marks[reply.id]:
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
    folded = {theme: fold_endorsements(rows, markers) for theme, rows in by_theme.items()}
    marks = {i: markers.classify_cleaned(text) for f in folded.values() for i, text in f.cleaned.items()}
    rows: Iterable[tuple[str, str, str]] = (
        (theme, r.member_id, f.material[r.id]) for theme, f in folded.items() for r in f.replies
    )
    found = {p.theme: p for p in theme_phrases(rows, min_members=min_members, limit=phrases)}

    results = []
    for theme in data.themes:
        replies = by_theme.get(theme, [])
        members = len({r.member_id for r in replies})
        if members < report_min_members or theme not in folded:
            results.append(ThemeInsight(theme, members, len(replies), withheld=True))
            continue
        f = folded[theme]
        endorsers = {m for backers in f.endorsers.values() for m in backers}
        results.append(
            ThemeInsight(
                theme,
                members,
                len(replies),
                withheld=False,
                phrases=found[theme].phrases if theme in found else (),
                markers=_markers(f, markers, marks),
                endorsements=sum(len(b) for b in f.endorsers.values()),
                endorsers=len(endorsers),
                quotes=tuple(choose_quotes(f, count=quotes)),
            )
        )
    open_themes = {t.theme for t in results if not t.withheld}
    # Concerns: phrases of replies that raise a barrier or ask for something, shared in several themes.
    wanted = {m.name for m in markers.markers} & set(CONCERN_MARKERS)
    concern_rows = (
        (theme, r.member_id, folded[theme].material[r.id])
        for theme in sorted(open_themes)
        for r in folded[theme].replies
        if not wanted or wanted.intersection(marks[r.id])
    )
    concerns = across_themes(theme_phrases(concern_rows, min_members=min_members, limit=phrases))
    return Insights(tuple(results), tuple(concerns))
