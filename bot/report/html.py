"""The report as ONE self-contained HTML document: no script, nothing fetched, a CSP that forbids both.

Each part is a function returning an HTML fragment (``header``, ``tiles``, ``charts``, ``prompts``,
``theme_section``, ``concerns``, ``methods``), so a dashboard page can reuse them; ``document`` wraps them with the
stylesheet into the file. Member text is always escaped. The only time in the output is ``generated_at``, so the
same data gives byte-identical files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from html import escape
from importlib import resources

from bot.events import Platform
from bot.report.build import Report
from bot.report.charts import fmt
from bot.report.sections import charts, concerns, prompts, themes
from bot.wording import plural

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
PLATFORM_NAMES = {Platform.SLACK: "Slack", Platform.TEAMS: "Microsoft Teams"}


@cache
def stylesheet() -> str:
    """The report's CSS (``report.css``), for inlining or serving."""
    return resources.files("bot.report").joinpath("report.css").read_text(encoding="utf-8")


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def minutes(value: float) -> str:
    """A duration for people: 42 min, 3 h 05 min, 2.5 days."""
    if value < 60:
        return f"{value:.0f} min" if value >= 10 else f"{value:.1f} min".replace(".0 min", " min")
    if value < 48 * 60:
        hours, rest = divmod(round(value), 60)
        return f"{hours} h {rest:02d} min"
    return f"{value / 1440:.1f} days"


def period_words(report: Report) -> str:
    d = report.data
    last_day = (d.end - timedelta(days=1)).date()
    span = f"{d.start.day} {d.start:%b %Y}" if d.start.year != last_day.year else f"{d.start.day} {d.start:%b}"
    weeks = len(d.weeks)
    return f"{span} – {last_day.day} {last_day:%b %Y} · {plural(weeks, 'week')} ({d.first} to {d.last}), {d.timezone}"


def header(report: Report, generated_at: datetime | None = None) -> str:
    d, o = report.data, report.options
    platforms = " and ".join(PLATFORM_NAMES[p] for p in d.platforms) or "none yet"
    threshold = (
        "off: exact figures (internal use only)"
        if o.exact
        else f"no figure about fewer than {plural(o.min_group_size, 'person', 'people')}"
    )
    items = [
        f"<li><b>Platforms</b> {esc(platforms)}</li>",
        f"<li><b>Anonymity threshold</b> {esc(threshold)}</li>",
        f"<li><b>Theme text</b> from at least {plural(o.report_min_members, 'member')}</li>",
    ]
    if generated_at is not None:
        stamp = generated_at.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")
        items.append(f"<li><b>Generated</b> {esc(stamp)}</li>")
    exact = ""
    if o.exact:
        exact = (
            '<p class="note exact">Exact figures: small-group suppression is switched off in this copy. '
            "It is for internal use only; do not share it.</p>"
        )
    return (
        f'<header><h1>{esc(o.title)}</h1><p class="period">{esc(period_words(report))}</p>'
        f'<ul class="meta">{"".join(items)}</ul>{exact}'
        '<p class="note">Participants chose to take part: they are self-selected, and their views may not '
        "represent all members.</p></header>"
    )


def _change(report: Report, name: str, *, unit: str = "") -> str:
    weeks = len(report.data.weeks)
    against = f"on the previous {plural(weeks, 'week')}"
    previous = report.data.previous
    if not (previous.totals.participants or previous.totals.posts):
        return "no earlier activity to compare"
    if name == "median" and (
        previous.median_minutes_to_first_reply is None or report.data.period.median_minutes_to_first_reply is None
    ):
        return "no earlier figure to compare"
    value = report.figures.show("change", name)
    if isinstance(value, str):
        return f"change {value}"
    if unit == "min":
        text = ("+" if value > 0 else "−") + minutes(abs(value)) if value else "no change"
    else:
        text = f"+{fmt(value)}" if value > 0 else (f"−{fmt(-value)}" if value < 0 else "no change")
    return f"{text} {against}"


def _figure(value: float | str, render: str | None = None) -> str:
    if isinstance(value, str):
        return f'<div class="figure small-figure">{esc(value)}</div>'
    return f'<div class="figure">{esc(render if render is not None else fmt(value))}</div>'


def tiles(report: Report) -> str:
    """The four headline tiles, each with its change against the previous period of the same length."""
    f = report.figures
    median_value = f.show("period", "median")
    period_median = report.data.period.median_minutes_to_first_reply
    if period_median is None:
        median = _figure("none yet")
    else:
        median = _figure(median_value, None if isinstance(median_value, str) else minutes(float(median_value)))

    def part(name: str, label: str) -> str:
        value = f.show("period", name)
        return f"{label}: {esc(value)}" if isinstance(value, str) else f"{fmt(value)} {label}"

    cards = [
        ("Replies", _figure(f.show("period", "replies")), "", _change(report, "replies")),
        (
            "Participants",
            _figure(f.show("period", "participants")),
            f'<div class="split">{part("new", "new")} · {part("returning", "returning")}</div>',
            _change(report, "participants"),
        ),
        ("Reactions", _figure(f.show("period", "reactions")), "", _change(report, "reactions")),
        ("Median time to first reply", median, "", _change(report, "median", unit="min")),
    ]
    return (
        '<section class="tiles" aria-label="Headline figures">'
        + "".join(
            f'<div class="tile"><div class="label">{esc(label)}</div>{figure}{extra}'
            f'<div class="change">{esc(change)}</div></div>'
            for label, figure, extra, change in cards
        )
        + "</section>"
    )


def methods(report: Report) -> str:
    """What was counted, the thresholds, and what was withheld and why, in plain words."""
    o, protection = report.options, report.figures.protection
    published = {k for k, cell in protection.cells.items() if cell.published}
    small = len(protection.primary & published)
    guarded = len(protection.complementary & published)
    withheld_themes = [t.theme for t in report.insights.themes if t.withheld]
    items = [
        "<b>What was counted.</b> Replies in the threads of engagebot's prompts, and reactions to those prompts and "
        "replies, by the time they happened. A participant is a member with at least one reply or reaction in the "
        "period; new participants took part for the first time in it. Each week's figures are those of the weekly "
        "engagement summary for that week.",
        "<b>Who is missing.</b> Members who opted out or asked for their data to be erased are not in this report. "
        "Only people who chose to reply are heard: treat the views as signals, not a survey.",
    ]
    k = o.min_group_size
    if o.exact:
        items.append("<b>Anonymity.</b> Exact figures: small-group suppression was switched off for this copy.")
    elif k <= 1:
        items.append("<b>Anonymity.</b> The threshold is 1 person: no figure is withheld for the size of its group.")
    else:
        about = "1 person" if k == 2 else f"1 to {k - 1} people"
        items.append(
            f"<b>Anonymity.</b> No figure describes fewer than {k} people. A figure about {about} reads “fewer than "
            f"{k}”; where it could still be worked out by adding or subtracting other figures (totals, platforms, "
            "themes, weeks, the change on the previous period), the fewest and smallest figures that prevent it are "
            f"hidden too and read “withheld”. In this report: {plural(small, 'figure')} “fewer than {k}”, {guarded} "
            "“withheld”."
        )
    text = (
        "<b>What members said.</b> A theme is summarised only when at least "
        f"{plural(o.report_min_members, 'member')} replied in it. Shared phrases are 1–3 word phrases used by at "
        f"least {plural(report.phrase_members, 'different member')}, ranked by how particular they are to the "
        "theme. Barrier / what works / ask counts come from editable word lists, not sentiment scoring; a reply can "
        "count under more than one. Replies that only agree (“+1”, “same here”) count as endorsements of the reply "
        "they follow. Quotes are from members who agreed to be quoted, without names; mentions of colleagues are "
        "removed."
    )
    if withheld_themes:
        text += " Withheld for too few members this period: " + esc(", ".join(withheld_themes)) + "."
    items.append(text)
    return (
        '<section class="methods"><h2>Methods and privacy</h2><ul>'
        + "".join(f"<li>{item}</li>" for item in items)
        + "</ul></section>"
    )


def body(report: Report, generated_at: datetime | None = None) -> str:
    """Everything inside <body>, for a page that brings its own head."""
    return "".join(
        [
            header(report, generated_at),
            tiles(report),
            charts(report),
            prompts(report),
            themes(report),
            concerns(report),
            methods(report),
            "<footer>Made by engagebot from its own database, offline. Figures and text follow the rules above; "
            "nothing in this file loads from the internet.</footer>",
        ]
    )


def document(report: Report, *, generated_at: datetime) -> str:
    """The whole report file."""
    title = f"{report.options.title} {report.data.first} to {report.data.last}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{stylesheet()}</style></head>"
        f"<body>{body(report, generated_at)}</body></html>\n"
    )
