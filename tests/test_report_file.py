"""The report file `engagebot report` writes, on a database made through the real adapters (the demo: signed Slack
events and Bot Framework activities from 50 members on both platforms, several channels and themes), read back
with the standard library: nothing fetched, figures equal to `engagebot summary --json`, small groups withheld,
no member id, name or unconsented text in the bytes, and members who opt out (by the chat command) absent."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.demo.run import simulate
from adapters.runtime import Runtime
from bot.config import load_settings
from tests.cli_support import run
from tests.fakes import FakeSlackAPI, FakeTeamsConnector, slack_command_body, teams_personal_message
from tests.report_community import parse
from tests.slack.rig import sign_bytes, slack_env

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
WEEKS = ("2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47")
PERIOD = ("--from", WEEKS[0], "--to", WEEKS[-1], "--generated-at", "2026-12-01T09:00:00Z")
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    runtime, last, _ = asyncio.run(
        simulate(load_settings({}, cwd=root), root / "demo.db", weeks=len(WEEKS), seed=48, now=NOW)
    )
    runtime.close()
    assert str(last) == WEEKS[-1]
    return root / "demo.db"


@pytest.fixture
def db(demo_db: Path, workdir: Path) -> Path:
    """A copy of the demo's database for one test, in its working directory."""
    target = workdir / "e.db"
    with closing(sqlite3.connect(demo_db)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return target


def report(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> str:
    code, out, err = run(capsys, "report", "--db", str(db), *PERIOD, "--output", "-", *extra)
    assert code == 0, err
    return out


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def test_the_file_fetches_nothing_and_two_runs_are_byte_identical(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = report(capsys, db)
    assert report(capsys, db) == html
    page = parse(html)
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"]
    assert {t for t, _ in page.tags} & {"script", "link", "iframe", "object", "embed", "img", "form", "base"} == set()
    for _, attrs in page.tags:
        assert not URL_ATTRS & set(attrs), attrs
        assert not any(name.startswith("on") for name in attrs), attrs
    assert page.styles
    assert not any("url(" in style or "@import" in style for style in page.styles)
    assert "://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_weekly_figures_equal_the_summary_json_and_small_groups_read_fewer_than_3(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = parse(report(capsys, db))
    participants = dict(part.split(": ", 1) for part in page.descs["chart-participants-d"].split("; "))
    replies = dict(part.split(": ", 1) for part in page.descs["chart-replies-d"].split("; "))
    heat = {
        theme: dict(cell.split(" ", 1) for cell in cells.split(", "))
        for theme, cells in (row.split(": ", 1) for row in page.descs["chart-heatmap-d"].split("; "))
    }
    small = 0

    def check(shown: str, value: int) -> None:
        """A figure reads "fewer than 3" only about 1 or 2; otherwise it is the summary's value, or withheld."""
        nonlocal small
        if shown == "fewer than 3":
            assert 0 < value < 3
            small += 1
        else:
            assert shown == "withheld" or int(shown.replace(",", "")) == value

    for week in WEEKS:
        code, out, _ = run(capsys, "summary", "--db", str(db), "--week", week, "--json")
        assert code == 0
        summary = json.loads(out)
        label = f"W{int(week[-2:]):02d}"
        t, platforms = summary["totals"], summary["by_platform"]
        assert participants[label].startswith(f"{t['participants']} participants")  # never a small week here
        for name, value in (("new", t["new_participants"]), ("returning", t["returning_participants"])):
            figure = re.search(rf"(fewer than 3|withheld|[\d,]+) {name}", participants[label])
            assert figure is not None, participants[label]
            check(figure.group(1), value)
        assert replies[label].startswith(f"{t['replies']} replies")
        for platform, name in (("slack", "Slack"), ("teams", "Teams")):
            figure = re.search(rf"(fewer than 3|withheld|[\d,]+) {name}", replies[label])
            assert figure is not None
            check(figure.group(1), platforms[platform]["replies"])
        by_theme = {row["theme"]: row["replies"] for row in summary["by_theme"]}
        for theme, cells in heat.items():
            check(cells[label], by_theme.get(theme, 0))
    assert small, "the demo's weeks must include a small group, or this test proves nothing"


def test_no_member_id_name_or_unconsented_text_is_anywhere_in_the_bytes(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = report(capsys, db, "--exact").encode() + report(capsys, db).encode()
    members = rows(db, "SELECT member_id, user_id, display_name FROM members")
    assert len(members) > 40
    for member_id, user_id, name in members:
        for value in (member_id, user_id, name):
            assert not value or value.encode() not in data, value
    consented = {m for (m,) in rows(db, "SELECT member_id FROM consents WHERE kind = 'quote'")}
    emoji = (
        "SELECT member_id FROM reactions WHERE name = 'speech_balloon' AND post_id IS NOT NULL AND removed_at IS NULL"
    )
    consented |= {m for (m,) in rows(db, emoji)}
    texts = rows(db, "SELECT member_id, text FROM replies")
    allowed = [text for member, text in texts if member in consented]
    quotes = parse(data.decode()).quotes
    assert quotes, "the report must quote someone"
    for quote in quotes:
        body = quote.split("”")[0].lstrip("“")
        assert any(body == text for text in allowed), body
    checked = 0
    for member, text in texts:
        if member not in consented and len(text) > 40 and not any(text in other for other in allowed):
            assert escape(text).encode() not in data
            checked += 1
    assert checked > 10


def test_shared_phrases_are_used_by_at_least_three_members(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = parse(report(capsys, db))
    assert page.phrases
    words = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
    by_member: dict[str, list[list[str]]] = {}
    for member, text in rows(db, "SELECT member_id, text FROM replies"):
        by_member.setdefault(member, []).append(words.findall(text.lower().replace("’", "'")))
    for item in page.phrases:
        phrase, count = item.rsplit(" ", 1)
        target = phrase.split(" ")
        users = sum(
            1
            for replies in by_member.values()
            if any(ws[i : i + len(target)] == target for ws in replies for i in range(len(ws)))
        )
        assert users >= int(count) >= 3, item


async def test_members_who_opt_out_by_the_chat_command_are_absent(
    db: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = report(capsys, db)
    quoted: dict[str, tuple[str, str]] = {}
    for member, text in rows(db, "SELECT member_id, text FROM replies"):
        if f"“{escape(text, quote=True)}”" in before:
            quoted.setdefault(member.partition(":")[0], (member, text))
    assert set(quoted) == {"slack", "teams"}, "a quoted member on each platform"
    slack_member, slack_text = quoted["slack"]
    teams_member, teams_text = quoted["teams"]

    fake = FakeSlackAPI()
    async with fake.serve() as api:
        env = slack_env(api, workdir) | {"ENGAGEBOT_DB": str(db), "ENGAGEBOT_TEAMS_EMULATOR": "1"}
        runtime = Runtime.build(load_settings(env, cwd=workdir))
        try:
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                body = slack_command_body("optout", slack_member.partition(":")[2], "C0DEMOPROMPTS", "http://x/")
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    **sign_bytes(body.encode(), env["SLACK_SIGNING_SECRET"], None),
                }
                response = await client.post("/slack/events", data=body, headers=headers)
                assert response.status == 200
                assert "You have opted out" in (await response.json())["text"]
                with FakeTeamsConnector() as connector:
                    activity = teams_personal_message(
                        "optout", service_url=connector.url, user_id=teams_member.partition(":")[2]
                    )
                    response = await client.post("/api/messages", json=activity)
                    assert response.status == 201
        finally:
            runtime.close()

    after = report(capsys, db)
    assert rows(db, f"SELECT count(*) FROM replies WHERE member_id IN ('{slack_member}', '{teams_member}')") == [(0,)]
    for text in (slack_text, teams_text):
        assert escape(text, quote=True) not in after
    first = re.search(r"Participants</div><div class=\"figure\">(\d+)", before)
    second = re.search(r"Participants</div><div class=\"figure\">(\d+)", after)
    assert first
    assert second
    assert int(second.group(1)) == int(first.group(1)) - 2
