"""Small-group protection for published figures: no figure may describe fewer than k people.

The rule, in words an administrator can check:

1. **Primary suppression.** A figure about more than zero but fewer than k people (``min_group_size``) is not
   shown; it reads "fewer than k". A figure about nobody (zero) is shown: it reveals no one.
2. **Complementary suppression.** Figures are related: the total of participants is the Slack figure plus the
   Teams figure, replies in all themes add up to the total of replies, new plus returning participants make all
   participants, and a change against the previous period is the current figure minus the previous one. Hiding
   one figure is useless if it can be worked out from the others by adding or subtracting. So whenever a hidden
   figure could still be calculated from shown figures, through any combination of the declared relations, more
   figures are hidden ("withheld"): the set that costs readers least, counted in the people behind the figures
   it hides (a figure about 4 people costs less than one about 400; a zero is hidden only when nothing else
   will do), and of equal cost the one with fewer figures. The set is looked for among the figures of the sums
   that still give the hidden figure away, so one figure that closes two sums at once, or a total hidden instead
   of a chain of its parts, is found when it is cheaper. This repeats until no hidden figure can be calculated.
3. The same figures always give the same choice, whatever order they were declared in.

Figures that are never printed (such as the previous period's totals behind a "change" figure) are declared
with ``published=False``: the engine treats them as unknown to the reader, and protects them like any other
figure when they are about fewer than k people.

What this does not do: it guarantees that a hidden figure cannot be *calculated exactly*; it does not hide
bounds (two hidden figures that add up to 7 are each at most 7), and it knows only the relations it is given.

Typical use::

    cells = {"all": Cell(12, 12), "slack": Cell(10, 10), "teams": Cell(2, 2)}
    shown = protect(cells, [Relation("all", ("slack", "teams"))], k=3)
    shown.value("teams")  # None: fewer than 3 people
    shown.value("slack")  # None as well: 12 - 10 would give the Teams figure away
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Number = int | float
MAX_PLAN = 4  # the most figures one complement hides at once
MAX_PLANS = 96  # sets tried for one figure before hiding the cheapest single figure next to it and looking again
EMPTY_COST = 10**9  # a zero figure is hidden only when nothing else will do
PRIME = 2**61 - 1  # the fast trials' arithmetic; every decision is confirmed in exact rational arithmetic


@dataclass(frozen=True, slots=True)
class Cell:
    """One figure: its value and the number of distinct people behind it."""

    value: Number
    people: int
    published: bool = True

    @property
    def empty(self) -> bool:
        return self.people == 0 and self.value == 0


@dataclass(frozen=True, slots=True)
class Relation:
    """``total`` equals the sum of ``parts`` (a parent and a partition of it into children)."""

    total: str
    parts: tuple[str, ...]

    def names(self) -> tuple[str, ...]:
        return (self.total, *self.parts)


def change_relation(current: str, previous: str, change: str) -> Relation:
    """``current = previous + change``: a change against the previous period gives the previous value away."""
    return Relation(current, (previous, change))


@dataclass(frozen=True)
class Protection:
    """Which figures may be shown, for ``k`` (``k <= 1`` shows everything)."""

    k: int
    cells: Mapping[str, Cell]
    primary: frozenset[str] = frozenset()
    complementary: frozenset[str] = frozenset()
    exact: bool = field(default=False)

    def hidden(self, key: str) -> bool:
        return key in self.primary or key in self.complementary

    def value(self, key: str) -> Number | None:
        """The figure, or None when it is withheld."""
        return None if self.hidden(key) else self.cells[key].value

    @property
    def withheld(self) -> int:
        """How many published figures are withheld."""
        return sum(1 for key in self.primary | self.complementary if self.cells[key].published)


def protect(cells: Mapping[str, Cell], relations: Iterable[Relation], k: int) -> Protection:
    """Apply primary then complementary suppression until no hidden figure can be calculated.

    Every key a relation names must be in ``cells``. ``k <= 1`` hides nothing.
    """
    rels = sorted({Relation(r.total, tuple(sorted(r.parts))) for r in relations}, key=Relation.names)
    for relation in rels:
        missing = [key for key in relation.names() if key not in cells]
        if missing:
            raise KeyError(f"relation {relation.total!r} names unknown figures: {', '.join(sorted(missing))}")
    if k <= 1:
        return Protection(k, dict(cells), exact=True)
    primary = frozenset(key for key, cell in cells.items() if 0 < cell.people < k)
    unknown = set(primary) | {key for key, cell in cells.items() if not cell.published}
    system = _System(rels, cells)
    complementary: set[str] = set()
    while True:
        exposed = [key for key in system.determined(unknown) if key in primary]
        if not exposed:
            break
        target = min(exposed)
        extra = system.plan(target, unknown) or system.fallback(target, unknown)
        if not extra:  # the relations pin it down whatever is hidden (inconsistent input): nothing more to do
            break
        unknown |= extra
        complementary |= extra
    # A figure hidden early may no longer be needed once later ones were hidden: show it again if that gives no
    # small group away (the costliest first).
    for key in sorted(complementary - primary, key=lambda key: (-system.cost(key), key)):
        trial = unknown - {key}
        if primary.isdisjoint(system.determined(trial)):
            unknown, complementary = trial, complementary - {key}
    return Protection(k, dict(cells), primary, frozenset(complementary - primary))


class _System:
    """The declared relations as equations ``total - sum(parts) = 0``, and the searches over them."""

    def __init__(self, rels: list[Relation], cells: Mapping[str, Cell]) -> None:
        self.cells = cells
        self.terms: list[dict[str, int]] = []  # per relation: figure -> coefficient
        self.of: dict[str, list[int]] = {}  # figure -> the relations naming it
        for index, relation in enumerate(rels):
            terms: dict[str, int] = {}
            for key, sign in ((relation.total, 1), *((part, -1) for part in relation.parts)):
                terms[key] = terms.get(key, 0) + sign
            self.terms.append({key: v for key, v in terms.items() if v})
            for key in self.terms[-1]:
                self.of.setdefault(key, []).append(index)

    def cost(self, key: str) -> int:
        cell = self.cells[key]
        return EMPTY_COST if cell.empty else cell.people + 1

    def determined(self, unknown: set[str]) -> set[str]:
        """The unknown figures the relations pin down exactly (Gaussian elimination over the rationals)."""
        rows = [terms for terms in self.terms if not unknown.isdisjoint(terms)]
        return _pinned(rows, unknown, None)

    def component(self, target: str, unknown: set[str]) -> list[int]:
        """The relations linked to ``target`` through unknown figures: the only ones that can give it away."""
        reached, pending, found = {target}, [target], set()
        while pending:
            for index in self.of.get(pending.pop(), ()):
                if index in found:
                    continue
                found.add(index)
                for key in self.terms[index]:
                    if key in unknown and key not in reached:
                        reached.add(key)
                        pending.append(key)
        return sorted(found)

    def pins(self, target: str, unknown: set[str]) -> bool:
        """Whether the relations pin ``target`` down: a fast trial modulo a large prime, confirmed exactly when it
        says no."""
        rows = [self.terms[index] for index in self.component(target, unknown)]
        if target in _pinned(rows, unknown, PRIME):
            return True
        return target in _pinned(rows, unknown, None)

    def candidates(self, target: str, unknown: set[str]) -> list[str]:
        """Shown figures that may help: those of the sums that give a figure of the target's component away on
        their own (a single unknown left), else of every sum in the component."""
        component = self.component(target, unknown)
        alone = [i for i in component if sum(1 for key in self.terms[i] if key in unknown) == 1]
        return sorted({key for i in alone or component for key in self.terms[i] if key not in unknown})

    def plan(self, target: str, unknown: set[str]) -> set[str]:
        """The cheapest set of at most MAX_PLAN shown figures whose hiding leaves ``target`` undetermined (cost
        first, then fewer figures, then their names), searched cheapest first; empty when none was found within
        MAX_PLANS trials."""
        start: tuple[str, ...] = ()
        queue: list[tuple[int, int, tuple[str, ...]]] = [(0, 0, start)]
        seen = {start}
        tried = 0
        while queue and tried < MAX_PLANS:
            cost, size, plan = heapq.heappop(queue)
            hidden = unknown.union(plan)
            if plan:
                tried += 1
                if not self.pins(target, hidden):
                    return set(plan)
            if size == MAX_PLAN:
                continue
            for key in self.candidates(target, hidden):
                bigger = tuple(sorted((*plan, key)))
                if bigger not in seen:
                    seen.add(bigger)
                    heapq.heappush(queue, (cost + self.cost(key), size + 1, bigger))
        return set()

    def fallback(self, target: str, unknown: set[str]) -> set[str]:
        """The cheapest single figure next to ``target`` (or, when everything near it is hidden, the first shown
        figure of any relation): each round hides more, so the search ends."""
        near = self.candidates(target, unknown)
        if near:
            return {min(near, key=lambda key: (self.cost(key), key))}
        rest = sorted(key for terms in self.terms for key in terms if key not in unknown)
        return set(rest[:1])


def _pinned(rows: list[dict[str, int]], unknown: set[str], modulus: int | None) -> set[str]:
    """The unknown figures that rows of relations pin down: a figure is determined exactly when its unit vector lies
    in the row space of the unknowns' columns, once the shown figures are moved to the right-hand side."""
    columns = sorted({key for terms in rows for key in terms if key in unknown})
    index = {key: i for i, key in enumerate(columns)}
    equations = []
    for terms in rows:
        row = {index[key]: v for key, v in terms.items() if key in index}
        if row:
            equations.append({c: Fraction(v) for c, v in row.items()} if modulus is None else row)
    return {columns[next(iter(row))] for row in _rref(equations, modulus) if len(row) == 1}


def _rref(rows: list[dict[int, Any]], modulus: int | None) -> list[dict[int, Any]]:
    """Reduced row echelon form of sparse rows (column -> coefficient), over the rationals (``modulus`` None) or
    the integers modulo a prime; returns the non-zero rows."""

    def reduce(value: Any) -> Any:
        return value % modulus if modulus else value

    def inverse(value: Any) -> Any:
        return pow(value, -1, modulus) if modulus else 1 / value

    pivots: dict[int, dict[int, Any]] = {}  # pivot column -> row with a 1 there and 0 in other pivot columns
    for original in rows:
        row = {c: reduce(v) for c, v in original.items()}
        for col, pivot_row in pivots.items():
            factor = row.get(col)
            if factor:
                for c, v in pivot_row.items():
                    row[c] = reduce(row.get(c, 0) - factor * v)
                row = {c: v for c, v in row.items() if v}
        row = {c: v for c, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        scale = inverse(row[col])
        row = {c: reduce(v * scale) for c, v in row.items()}
        for other_col, other in list(pivots.items()):
            factor = other.get(col)
            if factor:
                for c, v in row.items():
                    other[c] = reduce(other.get(c, 0) - factor * v)
                pivots[other_col] = {c: v for c, v in other.items() if v}
        pivots[col] = row
    return list(pivots.values())
