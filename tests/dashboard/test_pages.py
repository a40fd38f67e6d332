"""The pages and downloads of a signed-in admin, on a community captured through both platforms' real paths:
figures equal to `engagebot summary --json` and to the report's, filters, sorting, downloads that hold what the page
shows, and never a member id, a name or an unconsented reply anywhere."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.dashboard.filters import FilteredSource, Filters
from bot.events import Platform
from bot.report import ReportOptions, build_report, document, gather
from bot.report.html import minutes
from bot.report.quotes import printable
from bot.timeutil import to_slack_ts
from storage.repository import ReadOnlyRepository, Repository
from tests.cli_support import run
from tests.dashboard.parse import Page, parse
from tests.dashboard.site import CHANNEL, POSTED, SESSION, VOICES, WEEK, Site, consented
from tests.dashboard.test_signin import assert_no_data
from tests.fakes import slack_thread_reply

W = str(WEEK)
UNIQUE_WORDS = ("Quokka", "Zephyr", "Marmalade", "Tarragon", "Wombat", "Pelican", "Saffron", "Quince", "Juniper")


@pytest.fixture
async def admin(community: Site) -> tuple[Site, str]:
    return community, await community.sign_in(await community.link())


def summary_json(site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(site.tmp_path / "engagebot.toml"))
    code, out, err = run(capsys, "summary", "--week", W, "--json", "--db", str(site.tmp_path / "dashboard.db"))
    assert code == 0, err
    return dict(json.loads(out))


def tile(page: Page, label: str) -> str:
    return page.tiles[label]


def expected_tiles(figures: dict[str, int], k: int = 3) -> dict[str, str]:
    def show(value: int, people: int) -> str:
        return f"fewer than {k}" if 0 < people < k else f"{value:,}"

    return {
        "Replies": show(figures["replies"], figures["participants"]),
        "Participants": show(figures["participants"], figures["participants"]),
    }


# -- figures -----------------------------------------------------------------------------------------------------------


async def test_the_overview_shows_the_weekly_summarys_figures(admin, capsys, monkeypatch):
    site, session = admin
    summary = summary_json(site, capsys, monkeypatch)
    t = summary["totals"]
    page = parse(await site.page(f"/dashboard/?weeks=1&to={W}", session))
    assert tile(page, "Replies") == f"{t['replies']:,}"
    assert tile(page, "Participants") == f"{t['participants']:,}"
    assert tile(page, "Reactions") == f"{t['reactions']:,}"
    assert tile(page, "Median time to first reply") == minutes(t["median_minutes_to_first_reply"])
    assert page.splits == [f"{t['new_participants']} new · {t['returning_participants']} returning"]
    assert t["replies"] == 17
    assert t["participants"] == 13

    teams = summary["by_platform"]["teams"]
    page = parse(await site.page(f"/dashboard/?weeks=1&to={W}&platform=teams", session))
    assert tile(page, "Participants") == f"{teams['participants']:,}"
    assert tile(page, "Reactions") == "fewer than 3"  # one member reacted on Teams
    # Two members replied to the Prevention prompt on Teams: Teams replies minus the Workforce prompt's would say
    # how many replies they wrote, so the total is withheld.
    assert tile(page, "Replies") == "withheld"

    workforce = next(row for row in summary["by_theme"] if row["theme"] == "Workforce")
    page = parse(await site.page(f"/dashboard/?weeks=1&to={W}&theme=Workforce", session))
    assert tile(page, "Replies") == f"{workforce['replies']:,}"
    assert tile(page, "Participants") == f"{workforce['participants']:,}"

    channel = parse(await site.page(f"/dashboard/?weeks=1&to={W}&channel=slack:{CHANNEL}", session))
    slack = summary["by_platform"]["slack"]  # the only Slack channel
    assert tile(channel, "Participants") == f"{slack['participants']:,}"
    assert tile(channel, "Reactions") == f"{slack['reactions']:,}"


def fragments(html: str) -> Iterator[str]:
    """The parts of a page the report also prints: tiles, each chart, the prompts that landed, methods."""
    yield re.search(r'<section class="tiles".*?</section>', html, re.S)[0]  # type: ignore[index]
    yield from re.findall(r'<svg class="chart".*?</svg>', html, re.S)
    yield re.search(r"<section><h2>Prompts that landed</h2>.*?</section>", html, re.S)[0]  # type: ignore[index]
    yield re.search(r'<section class="methods">.*?</section>', html, re.S)[0]  # type: ignore[index]


async def test_the_overview_and_the_report_agree_figure_for_figure(admin, capsys, monkeypatch):
    site, session = admin
    monkeypatch.setenv("ENGAGEBOT_CONFIG", str(site.tmp_path / "engagebot.toml"))
    db = str(site.tmp_path / "dashboard.db")
    code, report, err = run(capsys, "report", "--from", "2026-W37", "--to", W, "--output", "-", "--db", db)
    assert code == 0, err
    page = await site.page(f"/dashboard/?weeks=4&to={W}", session)
    ours, theirs = list(fragments(page)), list(fragments(report))
    assert len(ours) == 7
    assert ours == theirs
    assert "fewer than 3" in "".join(ours)

    theme = await site.page(f"/dashboard/theme?weeks=4&to={W}&theme=Workforce", session)
    section = re.search(r'<article class="theme"><h3>Workforce</h3>.*?</article>', theme, re.S)[0]  # type: ignore[index]
    in_report = re.search(r'<article class="theme"><h3>Workforce</h3>.*?</article>', report, re.S)[0]  # type: ignore[index]
    assert re.sub(r'<a href="[^"]*">|</a>', "", section) == in_report  # the same section, its phrases made links
    assert section.count('<a href="/dashboard/phrase?') == 3


async def test_a_filtered_page_is_made_as_the_cli_report_is_with_the_same_figures(admin, monkeypatch):
    # The dashboard makes its reports with make_report, as `engagebot report` does: the weeks' activity read on a
    # read-only connection in a worker thread, through the page's filters, while the text is analysed. Its figures are
    # those of the plain gather + build_report of the same filtered posts.
    site, session = admin
    threads: list[str] = []
    original = ReadOnlyRepository.activity_between

    def counted(repo: ReadOnlyRepository, start: Any, end: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(repo, start, end)

    monkeypatch.setattr(ReadOnlyRepository, "activity_between", counted)
    page = await site.page(f"/dashboard/?weeks=4&to={W}&platform=teams", session)
    assert len(threads) == 8  # the 4 weeks, and the 4 before them for the changes
    assert all(name.startswith("report-activity") for name in threads)

    settings = site.runtime.settings
    filters = Filters(last=WEEK, weeks=4, platform=Platform.TEAMS)
    repo = Repository.open_readonly(site.tmp_path / "dashboard.db")
    try:
        themes = site.runtime.engagement.library.theme_names()
        data = gather(FilteredSource(repo, filters), filters.first, filters.last, settings.timezone,
                      quote_emoji=settings.quote_emoji, themes=themes)  # fmt: skip
    finally:
        repo.close()
    options = ReportOptions(min_group_size=settings.min_group_size, report_min_members=settings.report_min_members)
    plain = document(build_report(data, options), generated_at=datetime(2026, 10, 5, tzinfo=UTC))
    ours, theirs = list(fragments(page)), list(fragments(plain))
    assert len(ours) == 7
    assert ours == theirs
    assert "fewer than 3" in ours[0]  # one member reacted on Teams: the tiles withhold, identically


# -- privacy -----------------------------------------------------------------------------------------------------------


async def crawl(site: Site, session: str) -> dict[str, str]:
    """Every page and download an admin can reach from the overview's links, for several filters."""
    seen: dict[str, str] = {}
    queue = [
        f"/dashboard/?to={W}",
        f"/dashboard/?to={W}&weeks=1&platform=teams",
        f"/dashboard/?to={W}&theme=Prevention",
        f"/dashboard/?to={W}&channel=slack:{CHANNEL}",
        "/dashboard/",
    ]
    while queue:
        path = queue.pop(0)
        if path in seen or not path.startswith("/dashboard") or "/login/" in path or path == "/dashboard/signed-out":
            continue
        body = await site.page(path, session)
        seen[path] = body
        if path.split("?")[0].endswith((".csv", ".json", ".css")):
            continue
        queue += [link.replace("&amp;", "&") for link in parse(body).links]
    return seen


async def test_no_page_or_download_shows_a_member_id_a_name_or_unconsented_text(admin):
    site, session = admin
    pages = await crawl(site, session)
    assert any("/dashboard/phrase?" in path for path in pages)
    assert any(path.startswith("/dashboard/phrase.csv") for path in pages)
    assert any("sort=participants" in path for path in pages)
    everything = "\n".join(pages.values())
    unescaped = "\n".join(pages[p] for p in pages if p.split("?")[0].endswith((".csv", ".json")))
    for voice in VOICES:
        for ident in (voice.member, voice.user_id, voice.name, *voice.name.split()[-1:]):
            assert ident not in everything, ident
    for admin_id in ("UADMIN0001", "29:1admin-teams"):
        assert admin_id not in everything
    shown = 0
    for voice in VOICES:
        for text in (voice.workforce, voice.prevention):
            if not text or text == "+1":
                continue
            present = escape(printable(text)) in everything or printable(text) in unescaped
            assert consented(voice) or not present, (voice.user_id, text)
            shown += present
    assert shown >= 4  # the consented replies of the Workforce theme are there to be read
    for word in (*UNIQUE_WORDS, "Nimbus"):  # a word only unconsented (or erased) members used
        assert word not in everything, word


async def test_the_opted_out_member_is_absent_from_figures_and_text(admin, capsys, monkeypatch):
    site, session = admin
    page = parse(await site.page(f"/dashboard/?weeks=1&to={W}", session))
    assert tile(page, "Participants") == "13"  # 14 voices replied; the one who opted out is not counted
    phrase = await site.page(f"/dashboard/phrase?theme=Workforce&phrase=protected+time&to={W}", session)
    assert "Nimbus" not in phrase


# -- theme and phrase pages --------------------------------------------------------------------------------------------


async def test_a_theme_page_lists_its_phrases_as_links_to_the_consented_replies_that_use_them(admin):
    site, session = admin
    page = parse(await site.page(f"/dashboard/theme?theme=Workforce&to={W}", session))
    phrases = {text.rsplit(" ", 1)[0]: (int(text.rsplit(" ", 1)[1]), link) for text, link in page.linked_phrases}
    assert set(phrases) >= {"protected time", "training posts", "career progression"}
    for phrase, (members, link) in phrases.items():
        assert members >= 3
        assert link is not None
        query = parse_qs(urlsplit(link).query)
        assert (query["phrase"], query["theme"], query["to"]) == ([phrase], ["Workforce"], [W])
        shown = parse(await site.page(link.replace("&amp;", "&"), session))
        wanted = [
            printable(v.workforce)
            for v in VOICES
            if consented(v) and re.search(rf"\b{re.escape(phrase)}\b", v.workforce, re.I)
        ]
        assert sorted(q.strip("“”") for q in shown.quotes) == sorted(wanted), phrase
    quotes = [q.split("”")[0].lstrip("“") for q in page.quotes]
    assert quotes
    assert set(quotes) <= {printable(v.workforce) for v in VOICES if consented(v)}


async def test_a_theme_with_too_few_members_has_no_phrases_and_its_phrase_pages_do_not_exist(admin):
    site, session = admin
    page = await site.page(f"/dashboard/theme?theme=Prevention&to={W}", session)
    assert "What members said is withheld: 4 members replied, and a theme needs at least 10." in page
    assert "<blockquote" not in page
    for phrase in ("screening", "clinics"):
        response = await site.get(
            f"/dashboard/phrase?theme=Prevention&phrase={phrase}&to={W}", cookies={SESSION: session}
        )
        assert response.status == 404
        assert_no_data(await response.text())


NOT_LISTED = [
    "theme=Workforce&phrase=quokka",  # used by one unconsented member: no phrase
    "theme=Workforce&phrase=protected",  # a word inside a listed phrase, not itself listed
    "theme=Workforce",
    "phrase=protected+time",
    "theme=Nope&phrase=protected+time",
]


async def test_a_phrase_that_is_not_listed_is_404(admin):
    site, session = admin
    for query in NOT_LISTED:
        response = await site.get(f"/dashboard/phrase?{query}&to={W}", cookies={SESSION: session})
        assert response.status == 404, query
        assert_no_data(await response.text())


# -- filters and sorting -----------------------------------------------------------------------------------------------


WRONG_FILTERS = ["weeks=0", "weeks=53", "weeks=abc", "weeks=%EF%BC%93", "to=2026-W99", "to=junk", "to=0001-W01",
                 "platform=myspace", "channel=slack", "channel=irc:C1", "theme=" + "x" * 201, "theme=%01"]  # fmt: skip


async def test_a_wrong_filter_is_400_and_shows_no_data(admin):
    site, session = admin
    for query in WRONG_FILTERS:
        for path in ("/dashboard/", "/dashboard/prompts", "/dashboard/overview.csv", "/dashboard/theme"):
            response = await site.get(f"{path}?{query}", cookies={SESSION: session})
            assert response.status == 400, (path, query)
            assert_no_data(await response.text())


def prompt_rows(page: Page) -> list[list[str]]:
    table = next(t for t in page.tables if t and t[0][:1] == ["Prompt"])
    return table[1:]


async def test_prompts_sort_by_what_is_shown_with_withheld_figures_last(admin):
    site, session = admin
    columns = {"replies": 4, "reactions": 5, "participants": 6}
    for sort, column in columns.items():
        for order in ("desc", "asc"):
            page = parse(await site.page(f"/dashboard/prompts?to={W}&sort={sort}&order={order}", session))
            values = [row[column] for row in prompt_rows(page)]
            assert len(values) == 4
            shown = [int(v) for v in values if v[0].isdigit()]
            assert values[: len(shown)] == [str(v) for v in shown], values  # withheld ones last, whatever the order
            assert shown == sorted(shown, reverse=order == "desc"), (sort, order, values)
    posted = [row[3] for row in prompt_rows(parse(await site.page(f"/dashboard/prompts?to={W}&sort=theme", session)))]
    assert len(set(posted)) == 1
    themes = [row[1] for row in prompt_rows(parse(await site.page(f"/dashboard/prompts?to={W}&sort=theme", session)))]
    assert themes == sorted(themes, reverse=True)
    page = await site.page(f"/dashboard/prompts?to={W}&sort=theme&order=asc", session)
    assert [row[1] for row in prompt_rows(parse(page))] == sorted(themes)
    assert 'aria-sort="ascending"' in page
    assert 'sort=theme&amp;order=desc">Theme' in page  # pressing it again reverses the order


async def test_pages_follow_new_captures(admin):
    site, session = admin
    before = tile(parse(await site.page(f"/dashboard/?weeks=1&to={W}", session)), "Replies")
    post = site.posts["slack:Workforce"]
    reply = slack_thread_reply(
        "Rota gaps again this week.", thread_ts=post.message_id, user="U0MEMBER02", channel=CHANNEL,
        ts=to_slack_ts(POSTED.replace(hour=15)),
    )  # fmt: skip
    await site.slack_event(reply, "EvDashLate")
    after = tile(parse(await site.page(f"/dashboard/?weeks=1&to={W}", session)), "Replies")
    assert int(after) == int(before) + 1


# -- downloads ---------------------------------------------------------------------------------------------------------


async def download(site: Site, session: str, path: str) -> tuple[str, str]:
    response = await site.get(path, cookies={SESSION: session})
    assert response.status == 200, path
    return response.headers["Content-Disposition"], await response.text()


async def test_downloads_hold_what_their_page_shows(admin):
    site, session = admin
    page = parse(await site.page(f"/dashboard/?to={W}", session))
    disposition, text = await download(site, session, f"/dashboard/overview.json?to={W}")
    assert disposition == 'attachment; filename="engagebot-overview-2026-W33-2026-W40.json"'
    body = json.loads(text)
    assert (body["page"], body["from"], body["to"], body["min_group_size"]) == ("overview", "2026-W33", W, 3)
    headline = {row["figure"]: row["value"] for row in body["rows"] if not row["week"] and not row["theme"]}
    assert str(headline["replies"]) == tile(page, "Replies")
    assert str(headline["participants"]) == tile(page, "Participants")
    assert str(headline["reactions"]) == tile(page, "Reactions")
    _, text = await download(site, session, f"/dashboard/overview.csv?to={W}")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["figure"], r["value"]) for r in rows[:5]] == [(r["figure"], str(r["value"])) for r in body["rows"][:5]]

    page = parse(await site.page(f"/dashboard/prompts?to={W}&sort=replies&order=asc", session))
    _, text = await download(site, session, f"/dashboard/prompts.csv?to={W}&sort=replies&order=asc")
    cells = list(csv.reader(io.StringIO(text)))
    assert cells[0] == ["prompt", "theme", "where", "posted", "replies", "reactions", "participants"]
    assert [[r[0], r[1], r[2], *r[4:]] for r in cells[1:]] == [[r[0], r[1], r[2], *r[4:]] for r in prompt_rows(page)]

    link = f"/dashboard/phrase?theme=Workforce&phrase=protected+time&to={W}"
    page = parse(await site.page(link, session))
    _, text = await download(site, session, link.replace("/phrase?", "/phrase.csv?"))
    replies = [row["reply"] for row in csv.DictReader(io.StringIO(text))]
    wanted = [v for v in VOICES if consented(v) and "protected time" in v.workforce.lower()]
    assert len(replies) == len(page.quotes) == len(wanted) == 4  # one consented by the quote reaction, on Slack
    assert "'- protected time for CPD would keep senior physicists in post." in replies  # no formula in a spreadsheet
    assert {r.lstrip("'") for r in replies} == {q.strip("“”") for q in page.quotes}

    page = parse(await site.page(f"/dashboard/theme?theme=Workforce&to={W}", session))
    _, text = await download(site, session, f"/dashboard/theme.json?theme=Workforce&to={W}")
    rows = json.loads(text)["rows"]
    assert [(r["text"], r["value"]) for r in rows if r["item"] == "phrase"] == [
        (t.rsplit(" ", 1)[0], int(t.rsplit(" ", 1)[1])) for t, _ in page.linked_phrases
    ]


# -- what the browser may run or fetch ---------------------------------------------------------------------------------


async def test_pages_run_nothing_and_fetch_only_the_stylesheet(admin):
    site, session = admin
    pages = await crawl(site, session)
    for path, body in pages.items():
        if not path.split("?")[0].endswith("/") and "." in path.split("?")[0].rsplit("/", 1)[-1]:
            continue  # downloads
        page = parse(body)
        names = {tag for tag, _ in page.tags}
        assert not names & {"script", "style", "iframe", "object", "embed", "img", "base"}, path
        for tag, attrs in page.tags:
            assert "style" not in attrs, (path, tag)
            assert not any(name.startswith("on") for name in attrs), (path, tag)
            for name in ("href", "src", "action"):
                value = attrs.get(name)
                if value is not None and tag != "svg":
                    assert value.startswith("/dashboard"), (path, tag, value)
        assert [a.get("href") for t, a in page.tags if t == "link"] == ["/dashboard/static/dashboard.css"]
    css = await site.page("/dashboard/static/dashboard.css", session)
    assert "url(" not in css
    assert "@import" not in css
