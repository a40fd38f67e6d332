"""Every count the report prints, as disclosure cells with the people behind them and the sums that tie them.

Keys read like paths: ``period|replies``, ``week|3|replies|slack``, ``period|replies|theme|Workforce``,
``post|42|reactions``, ``previous|participants`` (never printed), ``change|replies``. ``relations`` declares every
sum a reader could use to work a hidden figure out, so ``bot.disclosure.protect`` can hide enough of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.disclosure import Cell, Number, Protection, Relation, change_relation, protect
from bot.events import Platform
from bot.report.model import ReportData
from bot.summary import Figures, People, Period

WITHHELD = "withheld"
HEADLINES = ("replies", "reactions", "participants", "new", "returning", "median")


def key(*parts: object) -> str:
    return "|".join(str(p) for p in parts)


@dataclass(frozen=True)
class ReportFigures:
    """The protected figures: ``value(...)`` is None for a withheld one."""

    protection: Protection

    @property
    def k(self) -> int:
        return self.protection.k

    @property
    def exact(self) -> bool:
        return self.protection.exact

    def value(self, *parts: object) -> Number | None:
        return self.protection.value(key(*parts))

    def hidden(self, *parts: object) -> bool:
        return self.protection.hidden(key(*parts))

    def show(self, *parts: object) -> Number | str:
        """The figure, or what its place reads: "fewer than k" about a small group, "withheld" to protect one."""
        name = key(*parts)
        if name in self.protection.primary:
            return f"fewer than {self.k}"
        if name in self.protection.complementary:
            return WITHHELD
        return self.protection.cells[name].value


def _headline_cells(scope: str, period: Period, crowd: People, published: bool) -> dict[str, Cell]:
    t = period.totals
    median = period.median_minutes_to_first_reply
    return {
        key(scope, "posts"): Cell(t.posts, 0, published),
        key(scope, "replies"): Cell(t.replies, crowd.repliers, published),
        key(scope, "reactions"): Cell(t.reactions, crowd.reactors, published),
        key(scope, "participants"): Cell(t.participants, t.participants, published),
        key(scope, "new"): Cell(period.new_participants, period.new_participants, published),
        key(scope, "returning"): Cell(period.returning_participants, period.returning_participants, published),
        key(scope, "median"): Cell(median if median is not None else 0, crowd.repliers, published),
    }


def _slice_cells(prefix: tuple[object, ...], figures: Figures, crowd: tuple[int, int]) -> dict[str, Cell]:
    return {
        key(*prefix, "replies"): Cell(figures.replies, crowd[0]),
        key(*prefix, "reactions"): Cell(figures.reactions, crowd[1]),
        key(*prefix, "participants"): Cell(figures.participants, figures.participants),
    }


def figure_cells(data: ReportData) -> tuple[dict[str, Cell], list[Relation]]:
    """The cells and relations of the report's counts (theme text insight adds its own cells)."""
    cells: dict[str, Cell] = {}
    relations: list[Relation] = []
    cells.update(_headline_cells("period", data.period, data.period.people, True))
    cells.update(_headline_cells("previous", data.previous, data.previous.people, False))
    relations += [
        Relation(key(s, "participants"), (key(s, "new"), key(s, "returning"))) for s in ("period", "previous")
    ]
    for name in HEADLINES:
        now, before = cells[key("period", name)], cells[key("previous", name)]
        cells[key("change", name)] = Cell(now.value - before.value, min(now.people, before.people))
        if name != "median":  # a median is no sum; its change is hidden with either side
            relations.append(change_relation(key("period", name), key("previous", name), key("change", name)))

    themes = list(data.themes)
    for index, week in enumerate(data.weeks):
        crowd = week.people
        w = ("week", index)
        cells[key(*w, "participants")] = Cell(week.totals.participants, week.totals.participants)
        cells[key(*w, "new")] = Cell(week.new_participants, week.new_participants)
        cells[key(*w, "returning")] = Cell(week.returning_participants, week.returning_participants)
        relations.append(Relation(key(*w, "participants"), (key(*w, "new"), key(*w, "returning"))))
        cells[key(*w, "replies")] = Cell(week.totals.replies, crowd.repliers)
        for platform in Platform:
            cells[key(*w, "replies", platform.value)] = Cell(
                week.by_platform[platform].replies, crowd.by_platform.get(platform, (0, 0))[0]
            )
        relations.append(Relation(key(*w, "replies"), tuple(key(*w, "replies", p.value) for p in Platform)))
        by_theme = dict(week.by_theme)
        for theme in themes:
            cells[key(*w, "replies", "theme", theme)] = Cell(
                by_theme[theme].replies if theme in by_theme else 0, crowd.by_theme.get(theme, (0, 0))[0]
            )
        relations.append(Relation(key(*w, "replies"), tuple(key(*w, "replies", "theme", t) for t in themes)))
    weeks = range(len(data.weeks))
    relations.append(Relation(key("period", "replies"), tuple(key("week", i, "replies") for i in weeks)))
    relations.append(Relation(key("period", "new"), tuple(key("week", i, "new") for i in weeks)))

    period_themes = dict(data.period.by_theme)
    posts_by_theme: dict[str, list[int]] = {t: [] for t in themes}
    for item in data.period.by_post:
        post_id = item.post.id
        cells.update(_slice_cells(("post", post_id), item.figures, data.period.people.by_post.get(post_id, (0, 0))))
        posts_by_theme.setdefault(item.post.theme, []).append(post_id)
    for theme in themes:
        figures = period_themes.get(theme, Figures())
        repliers, reactors = data.period.people.by_theme.get(theme, (0, 0))
        cells[key("period", "replies", "theme", theme)] = Cell(figures.replies, repliers)
        cells[key("period", "reactions", "theme", theme)] = Cell(figures.reactions, reactors, published=False)
        for measure in ("replies", "reactions"):
            relations.append(
                Relation(
                    key("period", measure, "theme", theme),
                    tuple(key("post", p, measure) for p in posts_by_theme[theme]),
                )
            )
        relations.append(
            Relation(
                key("period", "replies", "theme", theme),
                tuple(key("week", i, "replies", "theme", theme) for i in weeks),
            )
        )
    for measure in ("replies", "reactions"):
        relations.append(Relation(key("period", measure), tuple(key("period", measure, "theme", t) for t in themes)))
    return cells, relations


def protect_report(
    data: ReportData,
    extra: Mapping[str, Cell],
    extra_relations: Iterable[Relation],
    *,
    k: int,
    exact: bool,
) -> ReportFigures:
    cells, relations = figure_cells(data)
    cells.update(extra)
    return ReportFigures(protect(cells, [*relations, *extra_relations], 0 if exact else k))
