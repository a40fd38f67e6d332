"""Downloads: what a dashboard page shows, as CSV or JSON. The rows come from the same page data and the same
protected figures as the page: a figure about a small group reads "fewer than k" (or "withheld") here too, and
there is never an exact copy. Member text is guarded against spreadsheet formulas in CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from bot.dashboard.filters import Filters
from bot.dashboard.views import MEASURES, PhraseView, PromptsView, ThemeView
from bot.events import Platform
from bot.export import csv_safe
from bot.report import Report
from bot.report.sections import PLATFORM_LABELS, landed
from bot.wording import plural

Cell = int | float | str | None


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # the page: overview, theme, phrase, prompts
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    report: Report
    filters: Filters

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows([csv_safe(cell) for cell in row] for row in self.rows)
        return buffer.getvalue()

    def json(self) -> str:
        d = self.report.data
        body: dict[str, Any] = {
            "page": self.name,
            "from": str(d.first),
            "to": str(d.last),
            "timezone": d.timezone,
            "filters": self.filters.params(),
            "min_group_size": self.report.k,
            "rows": [dict(zip(self.columns, row, strict=True)) for row in self.rows],
        }
        return json.dumps(body, ensure_ascii=False, indent=2) + "\n"

    def filename(self, ext: str) -> str:
        return f"engagebot-{self.name}-{self.report.data.first}-{self.report.data.last}.{ext}"


def overview_table(report: Report, filters: Filters) -> Table:
    """The headline figures (and their changes where the page shows one), the weekly figures of the charts, the
    themes table and the prompts listed."""
    f, d = report.figures, report.data
    rows: list[tuple[Cell, ...]] = []
    compare = bool(d.previous.totals.participants or d.previous.totals.posts)
    for name, label in (("replies", "replies"), ("participants", "participants"), ("new", "new_participants"),
                        ("returning", "returning_participants"), ("reactions", "reactions")):  # fmt: skip
        rows.append((label, "", "", "", "", f.show("period", name)))
        if compare and name in ("replies", "participants", "reactions"):
            rows.append((f"change_{label}", "", "", "", "", f.show("change", name)))
    median = d.period.median_minutes_to_first_reply
    rows.append(
        ("median_minutes_to_first_reply", "", "", "", "", None if median is None else f.show("period", "median"))
    )
    if compare and median is not None and d.previous.median_minutes_to_first_reply is not None:
        rows.append(("change_median_minutes_to_first_reply", "", "", "", "", f.show("change", "median")))
    platforms = [p for p in Platform if p in d.platforms] or list(Platform)
    for i, summary in enumerate(d.weeks):
        label = str(summary.week)
        rows += [(name, label, "", "", "", f.show("week", i, key)) for name, key in
                 (("participants", "participants"), ("new_participants", "new"),
                  ("returning_participants", "returning"), ("replies", "replies"))]  # fmt: skip
        rows += [
            ("replies", label, PLATFORM_LABELS[p], "", "", f.show("week", i, "replies", p.value)) for p in platforms
        ]
        rows += [("replies", label, "", t, "", f.show("week", i, "replies", "theme", t)) for t in d.themes]
    for insight in report.insights.themes:
        rows.append(("replies", "", "", insight.theme, "", f.show("period", "replies", "theme", insight.theme)))
        rows.append(("members_who_replied", "", "", insight.theme, "", f.show("theme", insight.theme, "members")))
    for item in landed(report)[: report.options.prompts_listed]:
        post = item.post
        for m in MEASURES:
            rows.append((f"prompt_{m}", "", PLATFORM_LABELS[post.platform], post.theme, post.prompt,
                         f.show("post", post.id, m)))  # fmt: skip
    return Table("overview", ("figure", "week", "platform", "theme", "prompt", "value"), rows, report, filters)


def theme_table(view: ThemeView, filters: Filters) -> Table:
    report, insight = view.report, view.insight
    f, theme = report.figures, insight.theme
    rows: list[tuple[Cell, ...]] = [("members_who_replied", "", "", f.show("theme", theme, "members"))]
    if insight.withheld:
        rows.append(
            ("text_withheld", "", f"fewer than {plural(report.options.report_min_members, 'member')} replied", None)
        )
    else:
        rows.append(("endorsements", "", "", f.show("theme", theme, "endorsements")))
        rows += [("phrase", "", p.text, p.members) for p in insight.phrases]
        rows += [("marker", "", m.label, f.show("theme", theme, "marker", m.name)) for m in insight.markers]
        for quote in insight.quotes:
            backed = f.show("quote", quote.reply_id, "endorsers")
            rows.append(("quote", "", quote.text, backed))
    rows += [("replies", str(s.week), "", f.show("week", i, "replies", "theme", theme)) for i, s in
             enumerate(report.data.weeks)]  # fmt: skip
    rows.append(("replies", "", "all weeks", f.show("period", "replies", "theme", theme)))
    return Table("theme", ("item", "week", "text", "value"), rows, report, filters)


def phrase_table(view: PhraseView, filters: Filters) -> Table:
    theme = view.theme.insight.theme
    rows: list[tuple[Cell, ...]] = [(theme, view.phrase, text) for text in view.replies]
    return Table("phrase", ("theme", "phrase", "reply"), rows, view.theme.report, filters)


def prompts_table(view: PromptsView, filters: Filters) -> Table:
    tz = view.report.data.start.tzinfo
    rows: list[tuple[Cell, ...]] = [
        (row.prompt, row.theme, row.channel, row.posted_at.astimezone(tz).date().isoformat(),
         *(row.figures[m] for m in MEASURES))
        for row in view.rows
    ]  # fmt: skip
    columns = ("prompt", "theme", "where", "posted", *MEASURES)
    return Table("prompts", columns, rows, view.report, filters)
