"""Data protection (SPEC §7, §9): erasure without trace, audit, retention, anonymity, quotes, subject access,
opt-in consent and the privacy notice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.maintenance import run_maintenance
from adapters.runtime import Runtime
from bot.commands import CommandContext
from bot.config import load_settings
from bot.events import Platform, ReactionAdded, ReplyEdited, ReplyPosted
from bot.timeutil import IsoWeek
from tests.fakes import FakeSlackAPI

POST_TS = "1795514400.000100"  # Tue 24 Nov 2026 10:00 UTC (week 2026-W48)
POSTED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WEEK = IsoWeek(2026, 48)


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI(ts_queue=[POST_TS])
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def make_runtime(tmp_path: Path, api_url: str, config: str = "") -> Runtime:
    (tmp_path / "engagebot.toml").write_text(config)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "privacy-secret",
        "SLACK_API_URL": api_url,
        "ENGAGEBOT_DB": str(tmp_path / "engagement.db"),
        "ENGAGEBOT_ADMINS": "slack:UADMIN",
    }
    return Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)


async def post_prompt(runtime: Runtime, theme: str | None = None) -> str:
    assert runtime.slack is not None
    post = await runtime.engagement.post_prompt(runtime.slack.poster, "CPROMPT", theme)
    return post.message_id


def reply(user: str, text: str, minutes: int, message_id: str | None = None, thread: str = POST_TS) -> ReplyPosted:
    ts = message_id or f"{int(POSTED.timestamp()) + minutes * 60}.{minutes:06d}"
    return ReplyPosted(
        platform=Platform.SLACK,
        channel_id="CPROMPT",
        occurred_at=POSTED + timedelta(minutes=minutes),
        event_key=f"Ev{user}{minutes}",
        thread_id=thread,
        message_id=ts,
        user_id=user,
        text=text,
        display_name=f"Name-{user}-MARK",
    )


def react(user: str, target: str, name: str, minutes: int) -> ReactionAdded:
    return ReactionAdded(
        platform=Platform.SLACK,
        channel_id="CPROMPT",
        occurred_at=POSTED + timedelta(minutes=minutes),
        event_key=f"EvR{user}{target}{name}",
        target_id=target,
        user_id=user,
        name=name,
    )


def file_bytes(tmp_path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{tmp_path / 'engagement.db'}{suffix}")
        if path.exists():
            data += path.read_bytes()
    return data


async def test_optout_erases_everything_without_trace_in_the_file_or_the_wal(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    first = reply("UGONE", "SECRET-ORIGINAL-TEXT-7731", 5)
    runtime.capture.apply(first)
    runtime.capture.apply(
        ReplyEdited(
            platform=Platform.SLACK,
            channel_id="CPROMPT",
            event_key="EvEdit",
            occurred_at=POSTED + timedelta(minutes=6),
            message_id=first.message_id,
            text="SECRET-EDITED-TEXT-9182",
        )
    )
    runtime.capture.apply(react("UGONE", POST_TS, "tada", 7))
    runtime.capture.apply(reply("UKEEP", "kept text", 8))
    runtime.capture.apply(react("UKEEP", first.message_id, "+1", 9))  # someone else's reaction on the erased reply
    assert b"SECRET-EDITED-TEXT-9182" in file_bytes(tmp_path)

    answer = await runtime.commands.handle(CommandContext(Platform.SLACK, "UGONE", "CPROMPT"), "optout")
    assert "Erased 1 replies and 1 reactions" in answer.text
    data = file_bytes(tmp_path)  # the database is still open: its WAL is on disk
    for marker in (b"SECRET-ORIGINAL-TEXT-7731", b"SECRET-EDITED-TEXT-9182", b"Name-UGONE-MARK"):
        assert marker not in data
    repo = runtime.repo
    assert repo.db.execute("SELECT count(*) FROM replies WHERE member_id = 'slack:UGONE'").fetchone() == (0,)
    assert repo.db.execute("SELECT count(*) FROM reactions").fetchone() == (0,)  # its own and those on its reply
    audit = repo.db.execute("SELECT member_id, requested_by, reason, replies, reactions FROM erasures").fetchall()
    assert audit == [("slack:UGONE", "slack:UGONE", "optout", 1, 1)]
    assert runtime.engagement.summary(WEEK).totals.replies == 1
    # Opted out: a later reply stores nothing.
    runtime.capture.apply(reply("UGONE", "after optout", 20))
    assert repo.db.execute("SELECT count(*) FROM replies WHERE member_id = 'slack:UGONE'").fetchone() == (0,)
    runtime.close()


async def test_retention_purge_removes_old_text_and_keeps_every_figure(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url, "retention_days = 30\n")
    await post_prompt(runtime)
    for index, user in enumerate(("UA", "UB", "UC")):
        runtime.capture.apply(reply(user, f"OLD-TEXT-{user}-5521", 10 + index))
        runtime.capture.apply(react(user, POST_TS, "+1", 20 + index))
    before = [runtime.engagement.summary(w).as_json() for w in (WEEK, WEEK.previous())]
    result = await run_maintenance(runtime, POSTED + timedelta(days=31))
    assert result.texts_removed == 3
    after = [runtime.engagement.summary(w).as_json() for w in (WEEK, WEEK.previous())]
    assert after == before
    assert runtime.repo.db.execute("SELECT count(*), group_concat(text, '') FROM replies").fetchone() == (3, "")
    assert b"OLD-TEXT-" not in file_bytes(tmp_path)
    # Text younger than the retention period stays.
    runtime.capture.apply(reply("UD", "recent", 60 * 24 * 40))
    assert (await run_maintenance(runtime, POSTED + timedelta(days=41))).texts_removed == 0
    runtime.close()


async def test_channel_summary_withholds_small_groups_but_the_admin_card_is_exact(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    runtime.capture.apply(reply("UA", "one", 5))
    runtime.capture.apply(reply("UB", "two", 6))
    summary = runtime.engagement.summary(WEEK)
    public = runtime.engagement.summary_card(summary, public=True)
    private = runtime.engagement.summary_card(summary)
    public_text = json.dumps([public.facts, public.sections])
    assert "fewer than 3 people" in public_text
    assert "2 (" not in dict(public.facts).get("Participants", "")
    assert "Name-" not in public_text
    assert dict(private.facts)["Participants"].startswith("2 (+2)")
    assert "2 replies" in json.dumps(private.sections)
    # The scheduled post to a summary channel is the public card.
    assert runtime.slack is not None
    await runtime.slack.poster.post_card("CADMIN", public)
    sent = json.dumps(fake.calls_to("chat.postMessage")[-1]["args"])
    assert "fewer than 3 people" in sent
    runtime.close()


async def test_quotes_come_only_from_consenting_members_by_the_documented_rule(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    commands = runtime.commands
    await commands.handle(CommandContext(Platform.SLACK, "UOK", "CPROMPT"), "quote ok")
    a1, a2 = reply("UOK", "quote A early", 5), reply("UOK", "quote A late", 9)
    b1 = reply("UEMOJI", "quote B by emoji", 6)
    c1 = reply("UNO", "NEVER-QUOTED", 7)
    d1 = reply("UOK", "quote A popular", 11)
    for event in (a1, a2, b1, c1, d1):
        runtime.capture.apply(event)
    runtime.capture.apply(react("UEMOJI", POST_TS, "speech_balloon", 12))  # consent by the configured emoji
    for user in ("UX", "UY"):
        runtime.capture.apply(react(user, d1.message_id, "+1", 13))
        runtime.capture.apply(react(user, c1.message_id, "+1", 14))
    runtime.capture.apply(react("UX", a2.message_id, "+1", 15))
    quotes = runtime.engagement.quotes(runtime.engagement.summary(WEEK))
    assert list(quotes.values()) == [["quote A popular", "quote A late", "quote A early"]]  # 2, 1, then earliest
    await commands.handle(CommandContext(Platform.SLACK, "UOK", "CPROMPT"), "quote off")
    quotes = runtime.engagement.quotes(runtime.engagement.summary(WEEK))
    assert list(quotes.values()) == [["quote B by emoji"]]
    card = runtime.engagement.summary_card(runtime.engagement.summary(WEEK), public=True)
    assert "NEVER-QUOTED" not in json.dumps(card.sections)
    runtime.close()


async def test_mydata_returns_all_of_the_callers_data_and_nothing_of_anyone_else(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url)
    await post_prompt(runtime)
    mine = reply("UME", "MY-REPLY", 5)
    runtime.capture.apply(mine)
    runtime.capture.apply(reply("UOTHER", "OTHER-REPLY", 6))
    runtime.capture.apply(react("UME", POST_TS, "tada", 7))
    runtime.capture.apply(react("UOTHER", mine.message_id, "+1", 8))
    answer = await runtime.commands.handle(CommandContext(Platform.SLACK, "UME", "CPROMPT"), "mydata")
    assert answer.attachment is not None
    data = json.loads(answer.attachment.content)
    assert data["member_id"] == "slack:UME"
    assert data["member"]["display_name"] == "Name-UME-MARK"
    assert [r["text"] for r in data["replies"]] == ["MY-REPLY"]
    assert [r["name"] for r in data["reactions"]] == ["tada"]
    raw = answer.attachment.content.decode()
    assert "OTHER" not in raw
    assert "UOTHER" not in raw
    runtime.close()


async def test_opt_in_mode_captures_only_members_who_opted_in(tmp_path, slack_fake):
    _, url = slack_fake
    runtime = make_runtime(tmp_path, url, 'consent = "opt-in"\n')
    await post_prompt(runtime)
    runtime.capture.apply(reply("UNEW", "not yet", 5))
    runtime.capture.apply(react("UNEW", POST_TS, "+1", 6))
    assert runtime.repo.counts()["replies"] == 0
    assert runtime.repo.counts()["reactions"] == 0
    await runtime.commands.handle(CommandContext(Platform.SLACK, "UNEW", "CPROMPT"), "optin")
    runtime.capture.apply(reply("UNEW", "now captured", 7))
    assert runtime.repo.counts()["replies"] == 1
    privacy = await runtime.commands.handle(CommandContext(Platform.SLACK, "UNEW", "CPROMPT"), "privacy")
    assert "Nothing is captured until you say `optin`" in privacy.text
    runtime.close()


async def test_every_prompt_carries_the_privacy_notice(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = make_runtime(tmp_path, url, 'privacy_url = "https://example.org/privacy"\n')
    await post_prompt(runtime)
    sent = json.dumps(fake.calls_to("chat.postMessage")[0]["args"])
    assert "Privacy notice: https://example.org/privacy" in sent
    privacy = await runtime.commands.handle(CommandContext(Platform.SLACK, "UANY", "CPROMPT"), "privacy")
    assert "after 730 days" in privacy.text
    runtime.close()
