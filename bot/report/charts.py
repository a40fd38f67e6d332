"""Inline SVG charts with a text alternative: a <title>, a <desc> listing every figure, and the numbers as labels.

A withheld figure is never drawn as a short bar: its place reads "fewer than k" (or "withheld") instead. Colours
are set by CSS classes (``report.css``), so print and screen styles stay in one place. No script, no external reference.
Each chart's ``unit`` is the noun for one ("reply"): every figure written with it agrees ("W46: 1 reply").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from bot.disclosure import Number
from bot.wording import plural

Value = Number | str  # a string: the figure is withheld, and this is what its place reads ("fewer than 3")

HEAT_STEPS = 6
WIDE = 960  # viewBox width of a full-width chart: about its size on screen and on A4, so text keeps its size
HALF = 470
LABEL_W = 270  # room for theme names on the left of the heatmap and the bars


def fmt(value: Number) -> str:
    """1,234 for counts; one decimal for fractional values."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def shown(value: Value) -> str:
    return value if isinstance(value, str) else fmt(value)


def counted(value: Value, singular: str, plural_form: str | None = None) -> str:
    """A figure as the report prints it and the noun that agrees with it: "1 reply", "1,234 replies"; a withheld
    figure keeps the plural: "fewer than 3 replies"."""
    number = None if isinstance(value, str) else value
    return plural(number, singular, plural_form, shown=shown(value))


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str  # class of its marks, e.g. "s-new"
    values: Sequence[Value]


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, css: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, css: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" class="{css}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return float(factor * step)
    return float(10 * step)  # pragma: no cover - the loop always returns


def stacked_columns(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    totals: Sequence[Value],
    *,
    unit: str,
) -> str:
    """Columns per label, stacked by series; a column whose split is withheld shows its total in grey."""
    width, height, left, top, bottom = HALF, 230, 36, 28, 30
    plot_w, plot_h = width - left - 8, height - top - bottom
    top_value = _nice_max(max((float(t) for t in totals if not isinstance(t, str)), default=0))
    slot = plot_w / max(1, len(labels))
    bar_w = min(56.0, slot * 0.66)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" class="axis"/>',
        _text(left - 6, top + 4, fmt(top_value), "tick", "end"),
        _text(left - 6, top + plot_h, "0", "tick", "end"),
        f'<line x1="{left}" y1="{top}" x2="{width - 8}" y2="{top}" class="grid"/>',
    ]
    desc = []
    grey = False
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        cx = x + bar_w / 2
        total = totals[i]
        parts = [s.values[i] for s in series]
        body.append(_text(cx, height - bottom + 17, label, "tick"))
        if isinstance(total, str):
            body.append(_text(cx, top + plot_h - 6, total, "withheld"))
            desc.append(f"{label}: {counted(total, unit)}")
            continue
        numbers = [p for p in parts if not isinstance(p, str)]
        if len(numbers) == len(parts):
            y = float(top + plot_h)
            for s, part in zip(series, numbers, strict=True):
                h = plot_h * float(part) / top_value
                y -= h
                if part:
                    body.append(_rect(x, y, bar_w, h, s.css, f"{label}: {fmt(part)} {s.name}"))
                    if h >= 14:
                        body.append(_text(cx, y + h / 2 + 4, fmt(part), "inbar"))
            split = ", ".join(f"{shown(p)} {s.name}" for s, p in zip(series, parts, strict=True))
        else:
            grey = True
            h = plot_h * float(total) / top_value
            body.append(_rect(x, top + plot_h - h, bar_w, h, "s-total", f"{label}: {counted(total, unit)}"))
            split = "split withheld: " + ", ".join(f"{shown(p)} {s.name}" for s, p in zip(series, parts, strict=True))
        body.append(_text(cx, top + plot_h - plot_h * float(total) / top_value - 5, fmt(total), "total"))
        desc.append(f"{label}: {counted(total, unit)} ({split})")
    legend_x = float(left)
    keys = [(s.name, s.css) for s in series] + ([("split withheld", "s-total")] if grey else [])
    for name, css in keys:
        body.append(f'<rect x="{legend_x:.1f}" y="4" width="10" height="10" class="{css}"/>')
        body.append(_text(legend_x + 14, 13, name, "legend", "start"))
        legend_x += 26 + 6.5 * len(name)
    return _svg(chart_id, title, "; ".join(desc), width, height, body)


def horizontal_bars(chart_id: str, title: str, rows: Sequence[tuple[str, Value]], *, unit: str) -> str:
    """One bar per row, the value written after it; a withheld value is written, not drawn."""
    label_w, row_h = LABEL_W, 26
    width, height = WIDE, row_h * max(1, len(rows)) + 8
    bar_room = width - label_w - 110
    top_value = max((float(v) for _, v in rows if not isinstance(v, str)), default=0.0) or 1.0
    body, desc = [], []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        body.append(_text(label_w - 8, y + 17, label, "label", "end"))
        if isinstance(value, str):
            body.append(_text(label_w, y + 17, value, "withheld", "start"))
        else:
            w = bar_room * float(value) / top_value
            if w > 0:
                body.append(_rect(label_w, y + 4, w, row_h - 8, "s-bar", f"{label}: {counted(value, unit)}"))
            body.append(_text(label_w + w + 6, y + 17, fmt(value), "value", "start"))
        desc.append(f"{label}: {counted(value, unit)}")
    return _svg(chart_id, title, "; ".join(desc), width, height, body)


def heatmap(
    chart_id: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[Value]],
    *,
    unit: str,
) -> str:
    """Rows by columns, darker for more; every cell carries its number or "fewer than k"."""
    label_w, cell_h, top = LABEL_W, 28, 22
    width = WIDE
    cell_w = min(110.0, (width - label_w - 4) / max(1, len(columns)))
    height = top + cell_h * max(1, len(rows)) + 4
    top_value = max((float(v) for row in values for v in row if not isinstance(v, str)), default=0.0) or 1.0
    body, desc = [], []
    for j, column in enumerate(columns):
        body.append(_text(label_w + cell_w * j + cell_w / 2, 14, column, "tick"))
    for i, row in enumerate(rows):
        y = top + i * cell_h
        body.append(_text(label_w - 8, y + cell_h / 2 + 4, row, "label", "end"))
        cells = []
        for j, value in enumerate(values[i]):
            x = label_w + cell_w * j
            tip = f"{row}, {columns[j]}: {counted(value, unit)}"
            if isinstance(value, str):
                body.append(_rect(x + 1, y + 1, cell_w - 2, cell_h - 2, "heat-withheld", tip))
                body.append(_text(x + cell_w / 2, y + cell_h / 2 + 3, value, "withheld small"))
            else:
                step = 0 if not value else 1 + int((HEAT_STEPS - 1) * float(value) / top_value)
                step = min(step, HEAT_STEPS)
                body.append(_rect(x + 1, y + 1, cell_w - 2, cell_h - 2, f"heat-{step}", tip))
                ink = "heat-ink-dark" if step >= 4 else "heat-ink"
                body.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, fmt(value), ink))
            cells.append(f"{columns[j]} {shown(value)}")
        desc.append(f"{row}: " + ", ".join(cells))
    return _svg(chart_id, title, "; ".join(desc), width, height, body)
