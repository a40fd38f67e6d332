"""Small-group protection for published figures: no figure may describe fewer than k people.

The rule, in words an administrator can check:

1. **Primary suppression.** A figure about more than zero but fewer than k people (``min_group_size``) is not
   shown; it reads "fewer than k". A figure about nobody (zero) is shown: it reveals no one.
2. **Complementary suppression.** Figures are related: the total of participants is the Slack figure plus the
   Teams figure, replies in all themes add up to the total of replies, new plus returning participants make all
   participants, and a change against the previous period is the current figure minus the previous one. Hiding
   one figure is useless if it can be worked out from the others by adding or subtracting. So whenever a hidden
   figure could still be calculated from shown figures, through any combination of the declared relations, one
   more figure of the relation that gives it away is hidden too: the smallest of its parts (in people, then in
   value) that is not zero, or else the total. This repeats until no hidden figure can be calculated.
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Number = int | float
MAX_WIDENING = 3  # how many relations away from a leaking figure a single settling figure is looked for
MAX_TRIALS = 24  # candidates tried at each distance before settling for the most preferred one
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
    complementary: set[str] = set()
    while True:
        exposed = [key for key in _determined(unknown, rels) if key in primary]
        if not exposed:
            break
        extra = _complement(min(exposed), unknown, rels, cells)
        if extra is None:  # the relations pin it down whatever is hidden (inconsistent input): nothing more to do
            break
        unknown.add(extra)
        complementary.add(extra)
    return Protection(k, dict(cells), primary, frozenset(complementary - primary))


def _preference(key: str, relation: Relation, cells: Mapping[str, Cell]) -> tuple[int, int, int, float, str]:
    """Which shown figure to hide first: a part before the total, non-zero before zero, then the smallest."""
    cell = cells[key]
    return (int(key == relation.total), int(cell.empty), cell.people, abs(cell.value), key)


def _complement(target: str, unknown: set[str], rels: list[Relation], cells: Mapping[str, Cell]) -> str | None:
    """The next figure to hide so that ``target`` can no longer be calculated, or None when none is left.

    The search starts with the relations that name the target and widens one relation at a time. A figure whose
    hiding settles the leak on its own is chosen at the nearest distance where one exists; when none does, the most
    preferred figure next to the target is hidden and the caller looks again.
    """
    reached = {target}
    used: set[Relation] = set()
    fallback: str | None = None
    for _ in range(MAX_WIDENING):
        touching = [r for r in rels if r not in used and reached & set(r.names())]
        if not touching:
            break
        used.update(touching)
        candidates = sorted(
            {(_preference(key, r, cells), key) for r in touching for key in r.names() if key not in unknown}
        )
        for _, key in candidates[:MAX_TRIALS]:
            trial = unknown | {key}
            if target not in _determined(trial, rels, around=target) and target not in _determined(trial, rels):
                return key
        if fallback is None and candidates:
            fallback = candidates[0][1]
        reached.update(key for r in touching for key in r.names())
    if fallback is None:  # every figure near the target is hidden already: hide the next one out
        fallback = next((key for r in rels if r not in used for key in r.names() if key not in unknown), None)
    return fallback


def _determined(unknown: set[str], rels: list[Relation], *, around: str | None = None) -> set[str]:
    """The unknown figures the relations pin down exactly.

    Each relation is the equation ``total - sum(parts) = 0``; with the shown figures moved to the right-hand side,
    an unknown figure is determined exactly when its unit vector lies in the row space of the unknowns' columns
    (Gaussian elimination in exact rational arithmetic). With ``around``, only the equations connected to that
    figure through unknown figures are looked at, in arithmetic modulo a large prime: a fast trial whose answer
    the caller confirms exactly.
    """
    columns = sorted(unknown)
    index = {key: i for i, key in enumerate(columns)}
    rows: list[dict[int, int]] = []
    for relation in rels:
        row: dict[int, int] = {}
        for key, sign in ((relation.total, 1), *((part, -1) for part in relation.parts)):
            if key in index:
                row[index[key]] = row.get(index[key], 0) + sign
        row = {col: v for col, v in row.items() if v}
        if row:
            rows.append(row)
    if around is None:
        reduced = _rref([{c: Fraction(v) for c, v in row.items()} for row in rows], None)
    elif around not in index:
        return set()
    else:
        reduced = _rref(_component(rows, index[around]), PRIME)
    return {columns[next(iter(row))] for row in reduced if len(row) == 1}


def _component(rows: list[dict[int, int]], column: int) -> list[dict[int, int]]:
    """The rows linked to ``column`` through shared columns."""
    reached, picked, pending = {column}, [False] * len(rows), True
    while pending:
        pending = False
        for i, row in enumerate(rows):
            if not picked[i] and not reached.isdisjoint(row):
                picked[i] = pending = True
                reached.update(row)
    return [row for i, row in enumerate(rows) if picked[i]]


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
