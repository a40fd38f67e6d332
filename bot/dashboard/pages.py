"""The dashboard's pages as HTML: the report's own fragments (header, tiles, charts, theme sections, prompts, methods)
around a navigation bar, the filter form and download links. Member text is always escaped; no page names anyone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.dashboard.filters import WEEKS, Filters, channel_param
from bot.dashboard.html import HOME, NavLink, document, esc, hidden, href, navigation
from bot.dashboard.views import MEASURES, PhraseView, PromptsView, ThemeView
from bot.events import Platform
from bot.report import Report
from bot.report.charts import counted, shown
from bot.report.html import header, methods, period_words, tiles
from bot.report.model import ChannelKey
from bot.report.sections import PLATFORM_LABELS, charts, concerns, prompts, theme_section
from bot.wording import plural

PROMPTS = "/dashboard/prompts"
THEME = "/dashboard/theme"
PHRASE = "/dashboard/phrase"
SORT_LABELS = {"posted": "Posted", "theme": "Theme", "replies": "Replies", "reactions": "Reactions",
               "participants": "Participants"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Chrome:
    """What every signed-in page carries: the session's CSRF value (for sign-out) and the filters' choices."""

    csrf: str
    themes: tuple[str, ...]
    channels: Sequence[tuple[ChannelKey, str]]


def _select(name: str, label: str, options: Sequence[tuple[str, str]], chosen: str) -> str:
    items = "".join(
        f'<option value="{esc(value)}"' + (" selected" if value == chosen else "") + f">{esc(text)}</option>"
        for value, text in options
    )
    return f'<label>{esc(label)}<select name="{esc(name)}">{items}</select></label>'


def filter_form(action: str, filters: Filters, chrome: Chrome, *, keep: dict[str, str] | None = None) -> str:
    """The filters as a GET form (no script: Apply submits it). ``keep``: hidden parameters of the page; a page
    about one theme keeps its theme instead of offering the choice."""
    keep = keep or {}
    weeks = sorted({*WEEKS, filters.weeks})
    fields = [
        _select("weeks", "Weeks", [(str(w), plural(w, "week")) for w in weeks], str(filters.weeks)),
        f'<label>Ending<input name="to" value="{esc(filters.last)}" maxlength="8"></label>',
        _select(
            "platform",
            "Platform",
            [("", "All platforms"), *((p.value, PLATFORM_LABELS[p]) for p in Platform)],
            filters.platform.value if filters.platform else "",
        ),
    ]
    if "theme" not in keep:
        themes = list(chrome.themes) + ([filters.theme] if filters.theme and filters.theme not in chrome.themes else [])
        fields.append(_select("theme", "Theme", [("", "All themes"), *((t, t) for t in themes)], filters.theme or ""))
    channels = [(channel_param(c), label) for c, label in chrome.channels]
    chosen = channel_param(filters.channel) if filters.channel else ""
    if chosen and chosen not in {value for value, _ in channels}:
        channels.append((chosen, chosen))
    fields.append(_select("channel", "Channel", [("", "All channels"), *channels], chosen))
    return (
        f'<form method="get" action="{esc(action)}" class="filters">'
        + "".join(hidden(k, v) for k, v in keep.items())
        + "".join(fields)
        + '<button type="submit">Apply</button></form>'
    )


def scope(filters: Filters, chrome: Chrome) -> str:
    """The filters in words, under the form."""
    labels = dict(chrome.channels)
    parts = [
        PLATFORM_LABELS[filters.platform] if filters.platform else "all platforms",
        f"theme {filters.theme}" if filters.theme else "all themes",
        (labels.get(filters.channel) or channel_param(filters.channel)) if filters.channel else "all channels",
    ]
    return f'<p class="scope">Showing {esc(" · ".join(parts))}.</p>'


def _page(
    title: str,
    current: str,
    filters: Filters,
    chrome: Chrome,
    form: str,
    body: str,
    download: tuple[str, dict[str, str]],
) -> str:
    query = filters.params()
    links = [
        NavLink("Overview", href(HOME, query), current == "overview"),
        NavLink("Prompts", href(PROMPTS, query), current == "prompts"),
    ]
    path, params = download
    downloads = (
        '<p class="downloads">Download what this page shows: '
        f'<a href="{href(path + ".csv", params)}">CSV</a> · <a href="{href(path + ".json", params)}">JSON</a>'
        " (figures about small groups withheld as on the page).</p>"
    )
    return document(title, navigation(links, chrome.csrf) + form + f"<main>{body}</main>" + downloads)


def overview_page(report: Report, filters: Filters, chrome: Chrome) -> str:
    f = report.figures
    rows = []
    for insight in report.insights.themes:
        theme = insight.theme
        state = (
            "withheld: too few members"
            if insight.withheld and insight.members
            else ("no replies" if insight.withheld else "what members said")
        )
        link = href(THEME, filters.params(theme=theme))
        rows.append(
            f'<tr><td><a href="{link}">{esc(theme)}</a></td>'
            f'<td class="num">{esc(shown(f.show("period", "replies", "theme", theme)))}</td>'
            f'<td class="num">{esc(shown(f.show("theme", theme, "members")))}</td><td>{esc(state)}</td></tr>'
        )
    themes = (
        '<section><h2>Themes</h2><table class="themes"><thead><tr><th>Theme</th><th class="num">Replies</th>'
        '<th class="num">Members who replied</th><th>Text</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )
    body = "".join(
        [
            header(report),
            scope(filters, chrome),
            tiles(report),
            charts(report),
            themes,
            prompts(report),
            f'<p class="links"><a href="{href(PROMPTS, filters.params())}">Every prompt of the period</a></p>',
            concerns(report),
            methods(report),
        ]
    )
    form = filter_form(HOME, filters, chrome)
    return _page("Overview", "overview", filters, chrome, form, body, ("/dashboard/overview", filters.params()))


def theme_page(view: ThemeView, filters: Filters, chrome: Chrome) -> str:
    report, insight = view.report, view.insight
    theme = insight.theme
    f = report.figures
    weeks = "".join(
        f'<tr><td>{esc(summary.week)}</td><td class="num">{esc(shown(f.show("week", i, "replies", "theme", theme)))}'
        "</td></tr>"
        for i, summary in enumerate(report.data.weeks)
    )
    total = esc(shown(f.show("period", "replies", "theme", theme)))
    body = (
        f'<h1>{esc(theme)}</h1><p class="period">{esc(period_words(report))}</p>{scope(filters, chrome)}'
        '<section class="what-members-said"><h2>What members said</h2>'
        + theme_section(report, insight, lambda phrase: href(PHRASE, filters.params(phrase=phrase)))
        + "</section>"
        '<section><h2>Replies per week</h2><table><thead><tr><th>Week</th><th class="num">Replies</th></tr></thead>'
        f'<tbody>{weeks}<tr><td><b>All weeks</b></td><td class="num"><b>{total}</b></td></tr></tbody></table>'
        "</section>" + methods(report)
    )
    form = filter_form(THEME, filters, chrome, keep={"theme": theme})
    return _page(theme, "theme", filters, chrome, form, body, (THEME, filters.params()))


def phrase_page(view: PhraseView, filters: Filters, chrome: Chrome) -> str:
    theme = view.theme.insight.theme
    quotes = "".join(f"<blockquote>“{esc(text)}”</blockquote>" for text in view.replies) or (
        '<p class="quiet">None of the members who used this phrase agreed to be quoted.</p>'
    )
    body = (
        f"<h1>“{esc(view.phrase)}” in {esc(theme)}</h1>"
        f'<p class="period">{esc(period_words(view.theme.report))}</p>{scope(filters, chrome)}'
        f"<p>{esc(counted(view.members, 'member'))} used this phrase in their replies to prompts of this theme. "
        "Below are the replies that use it by members who agreed to be quoted, without names; other members' "
        "replies are not shown.</p>"
        f"<section><h2>In members’ words</h2>{quotes}</section>"
        f'<p class="links"><a href="{href(THEME, filters.params())}">Back to {esc(theme)}</a></p>'
    )
    form = filter_form(THEME, filters, chrome, keep={"theme": theme})
    return _page(view.phrase, "phrase", filters, chrome, form, body, (PHRASE, filters.params(phrase=view.phrase)))


def prompts_page(view: PromptsView, filters: Filters, chrome: Chrome) -> str:
    report = view.report
    tz = report.data.start.tzinfo

    def heading(name: str, numeric: bool) -> str:
        current = view.sort == name
        descending = not (current and view.descending) if current else name in MEASURES
        order = "desc" if descending else "asc"
        link = href(PROMPTS, filters.params(sort=name, order=order))
        state = (' aria-sort="descending"' if view.descending else ' aria-sort="ascending"') if current else ""
        css = ' class="num"' if numeric else ""
        return f'<th{css}{state}><a href="{link}">{esc(SORT_LABELS[name])}</a></th>'

    rows = "".join(
        f"<tr><td>{esc(row.prompt)}</td><td>{esc(row.theme)}</td><td>{esc(row.channel)}</td>"
        f"<td>{esc(row.posted_at.astimezone(tz).strftime('%d %b %Y'))}</td>"
        + "".join(f'<td class="num">{esc(shown(row.figures[m]))}</td>' for m in MEASURES)
        + "</tr>"
        for row in view.rows
    )
    table = (
        '<table class="sortable"><thead><tr><th>Prompt</th>'
        + heading("theme", False)
        + "<th>Where</th>"
        + heading("posted", False)
        + "".join(heading(m, True) for m in MEASURES)
        + f"</tr></thead><tbody>{rows}</tbody></table>"
        if view.rows
        else '<p class="quiet">No prompt was posted, and none had replies or reactions, in this period.</p>'
    )
    body = (
        f'<h1>Prompts</h1><p class="period">{esc(period_words(report))}</p>{scope(filters, chrome)}'
        '<p class="quiet">Every prompt posted in the period, and every earlier one with replies or reactions in it. '
        "Press a column's name to sort by it; figures withheld to protect small groups sort last.</p>"
        f"{table}{methods(report)}"
    )
    order = {"sort": view.sort, "order": "desc" if view.descending else "asc"}
    form = filter_form(PROMPTS, filters, chrome, keep=order)
    return _page("Prompts", "prompts", filters, chrome, form, body, (PROMPTS, filters.params(**order)))
