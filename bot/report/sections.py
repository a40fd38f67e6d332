"""Report sections as HTML fragments: the charts, the prompts that landed, what members said, cross-theme concerns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from bot.events import Platform
from bot.report.build import Report
from bot.report.charts import Series, Value, counted, fmt, heatmap, horizontal_bars, shown, stacked_columns
from bot.report.insight import ThemeInsight
from bot.report.model import ChannelKey
from bot.summary import PostFigures
from bot.wording import agreeing, noun, plural

PLATFORM_LABELS = {Platform.SLACK: "Slack", Platform.TEAMS: "Teams"}


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def week_labels(report: Report) -> list[str]:
    return [f"W{s.week.week:02d}" for s in report.data.weeks]


def participants_chart(report: Report) -> str:
    f, weeks = report.figures, range(len(report.data.weeks))
    return stacked_columns(
        "chart-participants",
        "Participants per week, new and returning",
        week_labels(report),
        [
            Series("new", "s-new", [f.show("week", i, "new") for i in weeks]),
            Series("returning", "s-returning", [f.show("week", i, "returning") for i in weeks]),
        ],
        [f.show("week", i, "participants") for i in weeks],
        unit="participant",
    )


def replies_chart(report: Report) -> str:
    f, weeks = report.figures, range(len(report.data.weeks))
    platforms = [p for p in Platform if p in report.data.platforms] or list(Platform)
    return stacked_columns(
        "chart-replies",
        "Replies per week by platform",
        week_labels(report),
        [
            Series(PLATFORM_LABELS[p], f"s-{p.value}", [f.show("week", i, "replies", p.value) for i in weeks])
            for p in platforms
        ],
        [f.show("week", i, "replies") for i in weeks],
        unit="reply",
    )


def heatmap_chart(report: Report) -> str:
    f, weeks = report.figures, range(len(report.data.weeks))
    themes = list(report.data.themes)
    values: list[list[Value]] = [[f.show("week", i, "replies", "theme", t) for i in weeks] for t in themes]
    return heatmap("chart-heatmap", "Replies per theme and week", themes, week_labels(report), values, unit="reply")


def themes_chart(report: Report) -> str:
    f = report.figures
    rows = [(t, f.show("period", "replies", "theme", t)) for t in report.data.themes]
    rows.sort(key=lambda tv: (published_order(tv[1]), tv[0]))
    return horizontal_bars("chart-themes", "Replies by theme over the period", rows, unit="reply")


def _figure(chart: str, caption: str, note: str, wide: bool = False) -> str:
    css = ' class="wide"' if wide else ""
    return f"<figure{css}><figcaption>{esc(caption)} <span>{esc(note)}</span></figcaption>{chart}</figure>"


def charts(report: Report) -> str:
    return (
        '<section><h2>Participation over time</h2><div class="charts">'
        + _figure(participants_chart(report), "Participants per week", "new (first time) and returning")
        + _figure(replies_chart(report), "Replies per week", "by platform")
        + _figure(heatmap_chart(report), "Replies per theme and week", "darker is more", wide=True)
        + _figure(themes_chart(report), "Replies by theme", "whole period", wide=True)
        + "</div></section>"
    )


def published_order(value: Value, descending: bool = True) -> tuple[int, float]:
    """Where a printed figure sorts: shown figures by their value, every withheld one ("fewer than k", "withheld")
    after them whatever the direction, all alike, so an order never tells more than the figures do."""
    if isinstance(value, str):
        return (1, 0.0)
    return (0, -float(value) if descending else float(value))


def posted_order(item: PostFigures) -> tuple[object, ...]:
    """Posts in the order they were posted, then by prompt text: ties broken by what the page shows anyway."""
    return (item.post.posted_at, item.post.prompt, item.post.id)


def ranked_posts(
    report: Report, measures: Sequence[str] = ("replies", "reactions"), *, descending: bool = True
) -> list[PostFigures]:
    """The period's posts ordered by their printed figures of ``measures``, each in turn (``published_order``), then
    as posted. The report's prompts that landed and the dashboard's prompts page both rank with it."""
    f = report.figures

    def order(item: PostFigures) -> tuple[object, ...]:
        figures = (published_order(f.show("post", item.post.id, m), descending) for m in measures)
        return (*figures, *posted_order(item))

    return sorted(report.data.period.by_post, key=order)


def landed(report: Report) -> list[PostFigures]:
    """The prompts that landed, best first: those whose printed replies or reactions are not plainly 0."""
    f = report.figures
    return [
        item
        for item in ranked_posts(report)
        if any(f.show("post", item.post.id, m) != 0 for m in ("replies", "reactions"))
    ]


def prompts(report: Report) -> str:
    """The prompts ranked by engagement over the period: whole text, theme, platform and channel."""
    data, f = report.data, report.figures
    ranked = landed(report)
    listed = ranked[: report.options.prompts_listed]
    rows = []
    labels = channel_labels(report)
    for rank, item in enumerate(listed, 1):
        post = item.post
        where = labels[post.platform, post.channel_id]
        when = post.posted_at.astimezone(data.start.tzinfo).strftime("%d %b")
        numbers = "".join(f'<td class="num">{esc(shown(f.show("post", post.id, m)))}</td>' for m in _MEASURES)
        rows.append(
            f'<tr><td class="rank">{rank}</td><td>{esc(post.prompt)}'
            f'<span class="where">{esc(post.theme)} · {esc(where)} · posted {esc(when)}</span></td>{numbers}</tr>'
        )
    if not rows:
        return (
            '<section><h2>Prompts that landed</h2><p class="quiet">No replies or reactions in this period.</p>'
            "</section>"
        )
    rest = len(ranked) - len(listed)
    more = f'<p class="more">{plural(rest, "more prompt")} had replies or reactions.</p>' if rest else ""
    head = "".join(f'<th class="num">{esc(m)}</th>' for m in _MEASURES)
    return (
        "<section><h2>Prompts that landed</h2>"
        '<p class="quiet">Ranked by replies, then reactions, in this period; withheld figures rank last.</p>'
        f"<table><thead><tr><th></th><th>Prompt</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{more}</section>"
    )


_MEASURES = ("replies", "reactions", "participants")


def channel_labels(report: Report) -> dict[ChannelKey, str]:
    """How the report names each channel of the period's posts: "Slack · #policy-views", "Teams · Healthcare
    science"; a channel whose name engagebot never learnt is "Slack channel 1", "Slack channel 2"…, numbered per
    platform in the order of its first post in the period (never its raw id)."""
    data = report.data
    labels: dict[ChannelKey, str] = {}
    unnamed: dict[Platform, int] = {}
    for item in sorted(data.period.by_post, key=lambda pf: (pf.post.posted_at, pf.post.id)):
        key = (item.post.platform, item.post.channel_id)
        if key in labels:
            continue
        platform = PLATFORM_LABELS[key[0]]
        name = data.channel_names.get(key)
        if name:
            labels[key] = f"{platform} · " + ("#" + name.lstrip("#") if key[0] is Platform.SLACK else name)
        else:
            unnamed[key[0]] = unnamed.get(key[0], 0) + 1
            labels[key] = f"{platform} channel {unnamed[key[0]]}"
    return labels


def theme_section(report: Report, insight: ThemeInsight, phrase_link: Callable[[str], str] | None = None) -> str:
    """One theme: who replied, shared phrases, barrier/works/ask counts, endorsements and quotes (or withheld).
    ``phrase_link`` (the dashboard's): the escaped address each phrase links to (the replies that use it)."""
    f, o = report.figures, report.options
    members = f.show("theme", insight.theme, "members")
    title = f"<h3>{esc(insight.theme)}</h3>"
    if insight.withheld:
        reason = (
            "No member replied in this theme during the period."
            if insight.members == 0
            else f"What members said is withheld: {counted(members, 'member')} replied, and a theme needs at least "
            f"{o.report_min_members}."
        )
        return f'<article class="theme">{title}<p class="withheld-line">{esc(reason)}</p></article>'
    who = f"{counted(members, 'member')} replied"
    endorsed = f.show("theme", insight.theme, "endorsements")
    if isinstance(endorsed, str) or endorsed:
        backs = "the reply it backs" if endorsed == 1 else "the replies they back"
        who += f" · {counted(endorsed, '“+1” endorsement')} folded into {backs}"
    phrases = (
        '<ul class="phrases">'
        + "".join(f"<li>{_phrase(p.text, phrase_link)} <span>{fmt(p.members)}</span></li>" for p in insight.phrases)
        + "</ul>"
        if insight.phrases
        else f'<p class="quiet">No phrase was shared by {report.phrase_members} or more members.</p>'
    )
    marks = "".join(_marker(f.show("theme", insight.theme, "marker", m.name), m.label) for m in insight.markers)
    quotes = "".join(_quote(report, q.text, q.reply_id) for q in insight.quotes) or (
        '<p class="quiet">No member who agreed to be quoted replied in this theme.</p>'
    )
    return (
        f'<article class="theme">{title}<p class="who">{esc(who)}</p><div class="theme-body">'
        f"<div><h4>Shared phrases <span>(members using each)</span></h4>{phrases}</div>"
        f'<div><h4>Replies that…</h4><ul class="markers">{marks}</ul></div></div>'
        f"<h4>In members’ words</h4>{quotes}</article>"
    )


def _phrase(text: str, link: Callable[[str], str] | None) -> str:
    return esc(text) if link is None else f'<a href="{link(text)}">{esc(text)}</a>'


def _marker(value: Value, label: str) -> str:
    """A marker's line: "<b>12</b>replies raise a barrier", "<b>1</b>reply raises a barrier" (a label reads after
    several replies), "<b>fewer than 3</b>replies raise a barrier"."""
    number = None if isinstance(value, str) else value
    figure = f'<b class="small-figure">{esc(value)}</b>' if number is None else f"<b>{fmt(number)}</b>"
    return f"<li>{figure}{noun(number, 'reply')} {esc(agreeing(number, label))}</li>"


def _quote(report: Report, text: str, reply_id: int) -> str:
    backed = report.figures.show("quote", reply_id, "endorsers")
    note = ""
    if not isinstance(backed, str) and backed:
        note = f'<span class="backed">backed by {counted(backed, "other member")}</span>'
    return f"<blockquote>“{esc(text)}”{note}</blockquote>"


def themes(report: Report) -> str:
    return (
        '<section class="what-members-said"><h2>What members said</h2>'
        + "".join(theme_section(report, t) for t in report.insights.themes)
        + "</section>"
    )


def concerns(report: Report) -> str:
    """Phrases shared in several themes: concerns that cut across the programme."""
    found = report.insights.concerns
    if not found:
        return ""
    items = "".join(
        f"<li><b>{esc(c.text)}</b>: "
        + esc("; ".join(f"{theme} ({counted(n, 'member')})" for theme, n in c.themes))
        + "</li>"
        for c in found
    )
    return (
        '<section><h2>Concerns across themes</h2><p class="quiet">Phrases that members shared in several themes.'
        f'</p><ul class="concerns">{items}</ul></section>'
    )
