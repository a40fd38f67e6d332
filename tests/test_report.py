"""The leadership report file, read back with the standard library's HTML parser.

The data is a simulated community (the demo's members and text) written through the real capture rules into a
real SQLite file; the report is gathered from it and rendered. Expected figures are recomputed here from
``build_summary(...).as_json()`` of the same weeks and from the disclosure decisions, never read from the page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

import pytest

from bot.capture import Capture
from bot.config import DEFAULT_PROMPT_LIBRARY
from bot.events import Platform, ReplyPosted
from bot.prompts import Prompt, load_library
from bot.report import ReportOptions, build_report, document, gather
from bot.report.figures import key
from bot.report.model import week_range
from bot.report.quotes import Quote, printable
from bot.report.sections import theme_section
from bot.report.text import Phrase
from bot.summary import build_summary
from storage.repository import Repository
from tests.report_community import FIRST, LONDON, Community, build_community, parse

GENERATED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
THEMES = [t.name for t in load_library(DEFAULT_PROMPT_LIBRARY).themes]
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background"}


@pytest.fixture
def community(tmp_path: Path) -> Iterator[Community]:
    built = build_community(tmp_path / "report.db", weeks=4)
    yield built
    built.source.close()


def render(community: Community, **options: Any) -> tuple[Any, str]:
    data = gather(community.source, community.first, community.last, LONDON, themes=THEMES)
    report = build_report(data, ReportOptions(**options))
    return report, document(report, generated_at=GENERATED)


def expected(report: Any, name: str, value: object) -> str:
    """What a figure's place must read: the number from the summary JSON, or why it is withheld."""
    if name in report.figures.protection.primary:
        return "fewer than 3"
    if name in report.figures.protection.complementary:
        return "withheld"
    return f"{value:,}"


def test_the_file_fetches_nothing_and_runs_nothing(community):
    _, html = render(community)
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert "default-src 'none'" in str(csp[0])
    assert "script-src" not in str(csp[0])
    assert {t for t, _ in page.tags} & {"script", "link", "iframe", "object", "embed", "img", "form"} == set()
    for _, attrs in page.tags:
        for name, value in attrs.items():
            assert name not in URL_ATTRS, (name, value)
            assert not name.startswith("on"), name
    assert page.styles
    assert all("url(" not in s and "@import" not in s for s in page.styles)
    assert "url(" not in html
    assert "://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_two_renders_of_the_same_data_are_byte_identical(community):
    assert render(community)[1] == render(community)[1]
    assert render(community, exact=True)[1] != render(community)[1]


def test_weekly_figures_are_those_of_the_weekly_summary_and_small_groups_read_fewer_than_3(community):
    report, html = render(community)
    page = parse(html)
    weeks = week_range(community.first, community.last)
    protection = report.figures.protection
    assert {n for n in protection.primary if protection.cells[n].published}, "the data must contain a small group"
    participants: list[str] = []
    replies: list[str] = []
    heat: dict[str, list[str]] = {t: [] for t in THEMES}
    for i, week in enumerate(weeks):
        summary = build_summary(community.source, week, LONDON).as_json()
        label = f"W{week.week:02d}"
        t = summary["totals"]
        total = expected(report, key("week", i, "participants"), t["participants"])
        new = expected(report, key("week", i, "new"), t["new_participants"])
        back = expected(report, key("week", i, "returning"), t["returning_participants"])
        if total in ("fewer than 3", "withheld"):
            participants.append(f"{label}: {total} participants")
        elif "fewer than 3" in (new, back) or "withheld" in (new, back):
            participants.append(f"{label}: {total} participants (split withheld: {new} new, {back} returning)")
        else:
            participants.append(f"{label}: {total} participants ({new} new, {back} returning)")
        platforms = summary["by_platform"]
        parts = ", ".join(
            f"{expected(report, key('week', i, 'replies', p.value), platforms[p.value]['replies'])} {name}"
            for p, name in ((Platform.SLACK, "Slack"), (Platform.TEAMS, "Teams"))
        )
        total_replies = expected(report, key("week", i, "replies"), t["replies"])
        split = f"split withheld: {parts}" if "fewer" in parts or "withheld" in parts else parts
        replies.append(f"{label}: {total_replies} replies ({split})")
        by_theme = {row["theme"]: row["replies"] for row in summary["by_theme"]}
        for theme in THEMES:
            heat[theme].append(
                f"{label} {expected(report, key('week', i, 'replies', 'theme', theme), by_theme.get(theme, 0))}"
            )
    assert page.descs["chart-participants-d"] == "; ".join(participants)
    assert page.descs["chart-replies-d"] == "; ".join(replies)
    assert page.descs["chart-heatmap-d"] == "; ".join(f"{t}: " + ", ".join(cells) for t, cells in heat.items())
    assert "fewer than 3" in page.descs["chart-heatmap-d"] + page.descs["chart-participants-d"]


def test_exact_figures_lift_suppression_and_say_so(community):
    report, html = render(community, exact=True)
    assert report.figures.protection.primary == frozenset()
    assert "fewer than 3" not in html
    assert ">withheld<" not in html
    assert "Exact figures: small-group suppression is switched off" in html
    page = parse(html)
    for _i, week in enumerate(week_range(community.first, community.last)):
        summary = build_summary(community.source, week, LONDON).as_json()
        t = summary["totals"]
        assert (
            f"W{week.week:02d}: {t['participants']} participants "
            f"({t['new_participants']} new, {t['returning_participants']} returning)"
        ) in page.descs["chart-participants-d"]


def test_a_small_channel_reads_fewer_than_3_in_the_prompt_table_and_is_never_a_short_bar(community):
    report, html = render(community, prompts_listed=50)
    small_posts = [item.post for item in report.data.period.by_post if item.post.channel_id == "C0SMALL"]
    assert small_posts
    rows = re.findall(r"<tr><td class=\"rank\">.*?</tr>", html)
    for post in small_posts:
        figures = {m: report.figures.show("post", post.id, m) for m in ("replies", "reactions", "participants")}
        if not any(report.data.period.people.by_post.get(post.id, (0, 0))):
            continue
        assert figures["participants"] == "fewer than 3"
        row = next(r for r in rows if escape(post.prompt) in r and "posted " in r and _is_small_row(r))
        assert row.count('<td class="num">fewer than 3</td>') >= 1
    # A withheld bar is words, not a short bar: no bar (class s-...) stands for a withheld figure.
    assert re.search(r'<rect[^>]*class="heat-withheld"><title>[^<]*fewer than 3', html)
    assert not re.search(r'<rect[^>]*class="s-[a-z]+"><title>[^<]*(fewer than|withheld)', html)


def _is_small_row(row: str) -> bool:
    return "Slack channel 1" in row  # the small channel has no readable name


def test_no_member_id_name_or_unconsented_text_anywhere_in_the_bytes(community):
    _, html = render(community, report_min_members=3)
    data = html.encode()
    for member in community.members:
        for ident in (f"{member.platform.value}:{member.user_id}", member.user_id, member.name):
            assert ident.encode() not in data, ident
    consented = [t for m, t in community.texts.values() if community.consented(m)]
    unconsented = [t for m, t in community.texts.values() if not community.consented(m)]
    page = parse(html)
    assert page.quotes, "some theme must have quotes"
    allowed = {printable(t) for t in consented}
    for quote in page.quotes:
        body = quote.split("”")[0].lstrip("“")
        assert body in allowed
    for text in unconsented:
        if len(text) > 40 and not any(text in other for other in consented):
            assert escape(text).encode() not in data


def test_an_opted_out_member_is_absent(community):
    counts: dict[str, int] = {}
    for member, _ in community.texts.values():
        if community.consented(member):
            counts[member] = counts.get(member, 0) + 1
    leaver = max(sorted(counts), key=counts.__getitem__)
    own = [t for m, t in community.texts.values() if m == leaver]
    others = [t for m, t in community.texts.values() if m != leaver]
    community.source.opt_out(leaver, GENERATED, requested_by=leaver, reason="optout")
    _, html = render(community, report_min_members=3)
    assert leaver not in html
    assert leaver.split(":", 1)[1] not in html
    for text in own:
        if not any(text in other for other in others):
            assert escape(printable(text)) not in html


def test_shared_phrases_have_at_least_three_members_who_used_them(community):
    report, html = render(community, report_min_members=3)
    page = parse(html)
    assert page.phrases
    for item in page.phrases:
        phrase, members = item.rsplit(" ", 1)
        assert int(members) >= 3, item
    words = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
    for insight in report.insights.themes:
        texts: dict[str, list[list[str]]] = {}
        for r in report.data.replies:
            if r.theme == insight.theme:
                texts.setdefault(r.member_id, []).append(words.findall(r.text.lower().replace("’", "'")))
        for phrase in insight.phrases:
            target = phrase.text.split(" ")
            users = sum(
                1
                for replies in texts.values()
                if any(ws[i : i + len(target)] == target for ws in replies for i in range(len(ws)))
            )
            assert users >= phrase.members >= 3, (insight.theme, phrase)


def test_member_text_is_escaped_wherever_it_is_printed(community):
    report, _ = render(community, report_min_members=3)
    insight = next(t for t in report.insights.themes if not t.withheld)
    hostile = '<script>alert("x")</script> & <u>protected</u> time'
    crafted = replace(
        insight,
        theme=insight.theme,
        phrases=(Phrase("<img src=x>", 5, 1.0),),
        quotes=(Quote(hostile, 0, insight.quotes[0].reply_id),),
    )
    fragment = theme_section(report, crafted)
    assert "<script" not in fragment
    assert "<img" not in fragment
    assert "<u>" not in fragment
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;u&gt;protected&lt;/u&gt; time" in fragment
    assert "&lt;img src=x&gt;" in fragment


def test_a_theme_with_too_few_members_says_its_text_is_withheld(community):
    report, html = render(community, report_min_members=1000)
    assert "<blockquote" not in html
    assert 'class="phrases"' not in html
    replied = {r.theme for r in report.data.replies}
    assert html.count("What members said is withheld") == len(replied)
    assert html.count("No member replied in this theme during the period.") == len(set(THEMES) - replied)
    assert "Withheld for too few members this period: " + escape(", ".join(t for t in THEMES if t in replied)) in html


def test_only_weeks_with_few_new_members_lose_their_new_and_returning_split(tmp_path):
    # Eight weeks of a community that grows at first and then hardly (2, 1 and 1 new members in weeks 3, 5 and 7):
    # those three weeks' new counts hide each other inside the period's; the other weeks keep their split.
    grown = build_community(tmp_path / "grown.db", weeks=8, seed=11)
    try:
        data = gather(grown.source, grown.first, grown.last, LONDON, themes=THEMES)
        figures = build_report(data, ReportOptions()).figures
    finally:
        grown.source.close()
    new = [week.new_participants for week in data.weeks]
    assert [i for i, n in enumerate(new) if 0 < n < 3] == [2, 4, 6]
    withheld = [i for i in range(8) if figures.hidden("week", i, "new") or figures.hidden("week", i, "returning")]
    assert withheld == [2, 4, 6]
    for i, week in enumerate(data.weeks):
        if i not in withheld:
            assert figures.value("week", i, "new") == week.new_participants
            assert figures.value("week", i, "returning") == week.returning_participants


def test_prompts_that_landed_are_ranked_by_what_is_printed_never_by_a_withheld_size(tmp_path):
    # One week: two members wrote 12 replies to the Quality prompt (its figures read "fewer than 3"), and the Workforce
    # prompt's figures are withheld so that Quality's cannot be worked out from the total. Ranked by their true sizes
    # they would come first and last, so the order would tell the hidden sizes: they rank after every shown figure,
    # in posting order. The two Genomics prompts, posted at the same minute with the same figures, go by their text.
    source = Repository.open(tmp_path / "ranked.db")
    capture = Capture(source)
    tuesday = FIRST.bounds(LONDON)[0] + timedelta(days=1, hours=10)
    genomics = "Genomics, life sciences and research"
    threads = [  # platform, channel, theme, prompt, minutes after 10:00, members, replies each
        (Platform.SLACK, "C0BIG", "Quality management and regulation", "Q: what slows accreditation?", 0, 2, 6),
        (Platform.SLACK, "C0BIG", "Prevention", "P: where does screening work?", 1, 6, 1),
        (Platform.TEAMS, "19:t@thread.tacv2", genomics, "Z: what would help genomic testing?", 2, 5, 1),
        (Platform.TEAMS, "19:t@thread.tacv2", genomics, "A: who interprets genomic results?", 2, 5, 1),
        (Platform.SLACK, "C0BIG", "Workforce", "W: what keeps you in post?", 3, 3, 1),
    ]
    serial = itertools.count(1)
    for platform, channel, theme, text, minutes, members, each in threads:
        post = source.record_post(
            platform, channel, f"P{next(serial)}", Prompt(theme, text), tuesday + timedelta(minutes=minutes)
        )
        for m, _ in itertools.product(range(members), range(each)):
            n = next(serial)
            at = post.posted_at + timedelta(minutes=5 + n)
            user = f"U{theme[:3].upper()}{m}" if platform is Platform.SLACK else f"29:1{theme[:3].lower()}{m}"
            capture.apply(ReplyPosted(platform=platform, channel_id=channel, occurred_at=at, event_key=f"E{n}",
                                      thread_id=post.message_id, message_id=f"M{n}", user_id=user,
                                      text=f"reply {n}"))  # fmt: skip
    data = gather(source, FIRST, FIRST, LONDON, themes=THEMES)
    source.close()
    report = build_report(data)
    html = document(report, generated_at=GENERATED)
    section = re.search(r"<h2>Prompts that landed</h2>.*?</section>", html, re.S)
    assert section is not None
    rows = re.findall(r'<td class="rank">(\d+)</td><td>([A-Z]): .*?</span></td>((?:<td class="num">[^<]*</td>)+)',
                      section[0])  # fmt: skip
    printed = [(letter, re.findall(r'<td class="num">([^<]*)</td>', numbers)) for _, letter, numbers in rows]
    assert printed == [
        ("P", ["6", "0", "6"]),
        ("A", ["5", "0", "5"]),
        ("Z", ["5", "0", "5"]),
        ("Q", ["fewer than 3", "0", "fewer than 3"]),
        ("W", ["withheld", "0", "3"]),
    ]
    assert [item.figures.replies for item in data.period.by_post] == [12, 6, 5, 5, 3]  # the true order
    assert "Ranked by replies, then reactions, in this period; withheld figures rank last." in section[0]
