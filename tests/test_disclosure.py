"""Small-group protection (bot.disclosure): no published figure reveals a group of fewer than k people.

The property tests check the engine against an attacker written here from scratch: exact rational rank
arithmetic over every declared relation (a hidden figure is recoverable exactly when dropping its column lowers
the rank of the hidden figures' equations), plus the plain "one unknown left in a sum" differencing a reader
would do by hand.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.disclosure import Cell, Relation, change_relation, protect


def _rank(rows: list[list[Fraction]]) -> int:
    rows = [list(r) for r in rows if any(r)]
    rank, cols = 0, len(rows[0]) if rows else 0
    for col in range(cols):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for i in range(len(rows)):
            if i != rank and rows[i][col] != 0:
                factor = rows[i][col] / rows[rank][col]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[rank], strict=True)]
        rank += 1
    return rank


def recoverable(unknown: set[str], relations: list[Relation]) -> set[str]:
    """Unknown figures whose exact value follows from the known ones through any combination of relations."""
    columns = sorted(unknown)
    matrix = []
    for r in relations:
        row = [Fraction(0)] * len(columns)
        for name, sign in ((r.total, 1), *((p, -1) for p in r.parts)):
            if name in unknown:
                row[columns.index(name)] += sign
        matrix.append(row)
    if not matrix:
        return set()
    full = _rank(matrix)
    return {name for i, name in enumerate(columns) if _rank([row[:i] + row[i + 1 :] for row in matrix]) == full - 1}


def by_differencing(unknown: set[str], relations: list[Relation]) -> set[str]:
    """What a reader finds by hand: a sum with exactly one unknown term gives it away; repeat until nothing new."""
    unknown = set(unknown)
    found: set[str] = set()
    progress = True
    while progress:
        progress = False
        for r in relations:
            missing = [n for n in (r.total, *r.parts) if n in unknown]
            if len(missing) == 1:
                unknown.discard(missing[0])
                found.add(missing[0])
                progress = True
    return found


def unknown_to_reader(cells: dict[str, Cell], shown: object) -> set[str]:
    return {name for name, cell in cells.items() if not cell.published or shown.hidden(name)}  # type: ignore[attr-defined]


def test_a_small_platform_hides_its_sibling_so_the_total_cannot_give_it_away():
    cells = {"all": Cell(12, 12), "slack": Cell(10, 10), "teams": Cell(2, 2)}
    shown = protect(cells, [Relation("all", ("slack", "teams"))], k=3)
    assert shown.primary == {"teams"}
    assert shown.complementary == {"slack"}
    assert (shown.value("all"), shown.value("slack"), shown.value("teams")) == (12, None, None)


def test_zero_is_published_and_is_never_the_complement():
    cells = {"all": Cell(7, 7), "a": Cell(2, 2), "b": Cell(0, 0), "c": Cell(5, 5)}
    shown = protect(cells, [Relation("all", ("a", "b", "c"))], k=3)
    assert shown.value("b") == 0
    assert shown.primary == {"a"}
    assert shown.complementary == {"c"}  # hiding the zero would protect nothing: 7 - 0 - 5 = 2


def test_when_every_sibling_is_zero_the_total_is_hidden():
    cells = {"all": Cell(2, 2), "a": Cell(2, 2), "b": Cell(0, 0), "grand": Cell(9, 9), "other": Cell(7, 7)}
    relations = [Relation("all", ("a", "b")), Relation("grand", ("all", "other"))]
    shown = protect(cells, relations, k=3)
    assert shown.primary == {"a", "all"}
    assert "other" in shown.complementary  # else grand - other = all, and all - b = a
    assert recoverable(unknown_to_reader(cells, shown), relations) & shown.primary == set()


def test_a_change_against_a_small_previous_period_is_hidden():
    cells = {"now": Cell(20, 20), "before": Cell(2, 2, published=False), "change": Cell(18, 2)}
    shown = protect(cells, [change_relation("now", "before", "change")], k=3)
    assert shown.value("now") == 20
    assert shown.hidden("change")


def test_a_large_unpublished_figure_may_be_worked_out():
    cells = {"now": Cell(20, 20), "before": Cell(15, 15, published=False), "change": Cell(5, 15)}
    shown = protect(cells, [change_relation("now", "before", "change")], k=3)
    assert shown.withheld == 0
    assert shown.value("change") == 5


def test_a_cross_table_hides_a_rectangle_and_keeps_every_margin():
    values = {("a", "x"): 1, ("a", "y"): 5, ("b", "x"): 6, ("b", "y"): 7}
    cells = {f"{r}{c}": Cell(v, v) for (r, c), v in values.items()}
    relations = []
    for r in "ab":
        cells[r] = Cell(sum(v for (rr, _), v in values.items() if rr == r), 50)
        relations.append(Relation(r, (f"{r}x", f"{r}y")))
    for c in "xy":
        cells[c] = Cell(sum(v for (_, cc), v in values.items() if cc == c), 50)
        relations.append(Relation(c, (f"a{c}", f"b{c}")))
    cells["all"] = Cell(19, 50)
    relations += [Relation("all", ("a", "b")), Relation("all", ("x", "y"))]
    shown = protect(cells, relations, k=3)
    assert shown.primary == {"ax"}
    assert shown.complementary == {"ay", "bx", "by"}
    assert recoverable(unknown_to_reader(cells, shown), relations) == set()


def test_a_leak_through_two_relations_at_once_is_closed():
    # No single sum has one unknown, but (all - x) - (all - y) pins the small cell down.
    cells = {
        "all": Cell(30, 30),
        "p": Cell(2, 2),
        "q": Cell(8, 8),
        "r": Cell(20, 20),
        "pq": Cell(10, 10),
        "qr": Cell(28, 28),
    }
    relations = [Relation("all", ("p", "q", "r")), Relation("pq", ("p", "q")), Relation("qr", ("q", "r"))]
    shown = protect(cells, relations, k=3)
    assert recoverable(unknown_to_reader(cells, shown), relations) & {"p"} == set()


def test_k_of_one_or_less_shows_everything():
    cells = {"all": Cell(3, 3), "a": Cell(1, 1), "b": Cell(2, 2)}
    shown = protect(cells, [Relation("all", ("a", "b"))], k=1)
    assert shown.exact
    assert [shown.value(n) for n in ("all", "a", "b")] == [3, 1, 2]


def test_a_relation_naming_an_unknown_figure_is_refused():
    with pytest.raises(KeyError, match="unknown figures: b"):
        protect({"all": Cell(3, 3), "a": Cell(3, 3)}, [Relation("all", ("a", "b"))], k=3)


def test_the_choice_does_not_depend_on_the_order_things_were_declared_in():
    cells = {f"c{i}": Cell(v, v) for i, v in enumerate([1, 4, 4, 9, 2, 6])}
    cells["t1"] = Cell(9, 9)
    cells["t2"] = Cell(17, 17)
    cells["all"] = Cell(26, 26)
    relations = [
        Relation("t1", ("c0", "c1", "c2")),
        Relation("t2", ("c3", "c4", "c5")),
        Relation("all", ("t1", "t2")),
    ]
    first = protect(cells, relations, k=3)
    for seed in range(5):
        rng = random.Random(seed)
        items = list(cells.items())
        rng.shuffle(items)
        shuffled = [Relation(r.total, tuple(rng.sample(r.parts, len(r.parts)))) for r in relations]
        rng.shuffle(shuffled)
        again = protect(dict(items), shuffled, k=3)
        assert (again.primary, again.complementary) == (first.primary, first.complementary)


# -- a report's new and returning participants -------------------------------------------------------------------


def participation(
    new: list[int], returning: list[int], before: tuple[int, int]
) -> tuple[dict[str, Cell], list[Relation]]:
    """The report's participant figures (bot.report.figures): each week's participants are new plus returning, the
    period's new members are its weeks' new members, and each headline changes against an unprinted previous
    period."""
    cells: dict[str, Cell] = {}
    relations = []
    for i, (n, r) in enumerate(zip(new, returning, strict=True)):
        cells |= {
            f"week|{i}|new": Cell(n, n),
            f"week|{i}|returning": Cell(r, r),
            f"week|{i}|participants": Cell(n + r, n + r),
        }
        relations.append(Relation(f"week|{i}|participants", (f"week|{i}|new", f"week|{i}|returning")))
    spans = {"period": (sum(new), max(returning) + 5, True), "previous": (*before, False)}
    for span, (n, r, published) in spans.items():
        cells |= {
            f"{span}|new": Cell(n, n, published),
            f"{span}|returning": Cell(r, r, published),
            f"{span}|participants": Cell(n + r, n + r, published),
        }
        relations.append(Relation(f"{span}|participants", (f"{span}|new", f"{span}|returning")))
    for measure in ("new", "returning", "participants"):
        now, then = cells[f"period|{measure}"], cells[f"previous|{measure}"]
        cells[f"change|{measure}"] = Cell(now.value - then.value, min(now.people, then.people))
        relations.append(change_relation(f"period|{measure}", f"previous|{measure}", f"change|{measure}"))
    relations.append(Relation("period|new", tuple(f"week|{i}|new" for i in range(len(new)))))
    return cells, relations


def split_withheld(shown: object, weeks: int) -> list[int]:
    """The weeks whose new/returning split is not printed in full."""
    hidden = shown.hidden  # type: ignore[attr-defined]
    return [i for i in range(weeks) if hidden(f"week|{i}|new") or hidden(f"week|{i}|returning")]


def test_one_week_with_few_new_members_costs_one_other_week_not_a_chain():
    # A growing community: each week some new members; in week 2 only two. Its new count must not be worked out
    # from the period's new members minus the other weeks', so one other week's split goes too; not every week's.
    cells, relations = participation([30, 12, 2, 9, 4, 7, 5, 6], [0, 20, 28, 30, 33, 35, 36, 38], (20, 10))
    shown = protect(cells, relations, k=3)
    assert shown.primary == {"week|2|new"}
    withheld = split_withheld(shown, 8)
    assert 2 in withheld
    assert len(withheld) == 2  # the week itself and one partner (before: seven weeks of eight)
    assert shown.withheld == 4  # "fewer than 3", its week's returning, and the partner week's new and returning
    assert all(shown.value(f"period|{m}") is not None for m in ("new", "returning", "participants"))
    assert recoverable(unknown_to_reader(cells, shown), relations) & shown.primary == set()


def test_weeks_with_few_new_members_protect_each_other():
    # Several small weeks: their new counts hide each other inside the period's total; every week with at least
    # three new members keeps its split.
    new = [26, 7, 2, 0, 1, 0, 1, 0]
    cells, relations = participation(new, [0, 18, 25, 26, 24, 26, 27, 20], (30, 0))
    shown = protect(cells, relations, k=3)
    assert split_withheld(shown, 8) == [2, 4, 6]
    assert shown.complementary == {"week|2|returning", "week|4|returning", "week|6|returning"}
    assert recoverable(unknown_to_reader(cells, shown), relations) & shown.primary == set()


def test_a_steady_community_loses_the_split_of_its_few_small_weeks_only():
    # Hardly anyone new: most weeks have none (zero is printed), some a few.
    new = [3, 0, 1, 4, 0, 0, 2, 5]
    cells, relations = participation(new, [30, 31, 29, 30, 32, 30, 31, 30], (12, 40))
    shown = protect(cells, relations, k=3)
    assert split_withheld(shown, 8) == [2, 6]  # before: weeks 0, 2, 3, 6 and 7
    assert all(shown.value(f"week|{i}|new") == 0 for i in (1, 4, 5))
    unknown = unknown_to_reader(cells, shown)
    assert recoverable(unknown, relations) & shown.primary == set()
    assert by_differencing(unknown, relations) & shown.primary == set()


# -- properties ------------------------------------------------------------------------------------------------------


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[str, Cell], list[Relation], int]:
    """A rows x columns table of people counts with row, column and grand totals, and maybe a 'previous' period."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cells: dict[str, Cell] = {}
    for r in range(rows):
        for c in range(cols):
            people = draw(st.integers(0, 7))
            cells[f"r{r}c{c}"] = Cell(people * draw(st.integers(1, 3)) if people else 0, people)
    relations = []
    for r in range(rows):
        parts = tuple(f"r{r}c{c}" for c in range(cols))
        cells[f"r{r}"] = Cell(sum(cells[p].value for p in parts), sum(cells[p].people for p in parts))
        relations.append(Relation(f"r{r}", parts))
    for c in range(cols):
        parts = tuple(f"r{r}c{c}" for r in range(rows))
        cells[f"c{c}"] = Cell(sum(cells[p].value for p in parts), sum(cells[p].people for p in parts))
        relations.append(Relation(f"c{c}", parts))
    total = sum(cells[f"r{r}"].value for r in range(rows))
    people = sum(cells[f"r{r}"].people for r in range(rows))
    cells["all"] = Cell(total, people)
    relations += [
        Relation("all", tuple(f"r{r}" for r in range(rows))),
        Relation("all", tuple(f"c{c}" for c in range(cols))),
    ]
    if draw(st.booleans()):
        before = draw(st.integers(0, 9))
        cells["before"] = Cell(before, before, published=False)
        cells["change"] = Cell(total - before, min(people, before))
        relations.append(change_relation("all", "before", "change"))
    return cells, relations, draw(st.integers(2, 5))


@settings(max_examples=150, deadline=None)
@given(tables())
def test_no_small_group_can_be_recovered_from_what_is_shown(case):
    cells, relations, k = case
    shown = protect(cells, relations, k)
    small = {name for name, cell in cells.items() if 0 < cell.people < k}
    assert small <= shown.primary | shown.complementary
    assert shown.primary == small
    unknown = unknown_to_reader(cells, shown)
    assert recoverable(unknown, relations) & small == set()
    assert by_differencing(unknown, relations) & small == set()
    for name, cell in cells.items():
        if not shown.hidden(name):
            assert shown.value(name) == cell.value
        if cell.people == 0 and cell.value == 0:
            assert name not in shown.primary  # zero is publishable


@settings(max_examples=60, deadline=None)
@given(tables())
def test_nothing_is_hidden_when_no_group_is_small(case):
    cells, relations, _ = case
    big = {name: Cell(cell.value, cell.people + 10, cell.published) for name, cell in cells.items()}
    assert protect(big, relations, 3).withheld == 0
