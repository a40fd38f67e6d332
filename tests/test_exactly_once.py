"""Posting exactly once (issue 12.1): a post the platform may have accepted puts its slot in doubt, and the slot is
resolved by asking the platform, never by posting again blindly.

Failures are injected into the local fakes: Slack or the connector takes the post and then answers 500 or drops
the connection, the database is locked when the post is to be recorded, the process is killed between the post and
its record. Each test asserts what the channel got (what the fake accepted), exactly once, and the rows.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlite_utils import Database

import app as engagebot_app
from adapters.runtime import Runtime
from bot.config import load_settings
from bot.events import Platform
from bot.scheduler import Claim, Kind, Scheduler
from bot.slots import SlotKey
from bot.timeutil import to_slack_ts, utc_now
from storage.repository import Repository
from storage.schema import migrations
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    SlackCall,
    sign_slack,
    slack_event_body,
    slack_thread_reply,
    teams_install_conversation_update,
)
from tests.serving import SECRET, Serve
from tests.test_scheduler import CONFIG, SLOT, ManualClock, build_runtime

MONDAY = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)  # the summary slot after SLOT's week


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI(ts_start=SLOT.timestamp() + 2)  # Slack's ts is its own clock: just after the slot
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def status(runtime: Runtime, channel: str, kind: str = "prompt") -> str:
    [row] = [r for r in runtime.repo.schedule_runs() if r["channel_id"] == channel and r["kind"] == kind]
    return str(row["status"])


def posts_in(runtime: Runtime, channel: str) -> list[str]:
    rows = runtime.repo.db.execute("SELECT message_id FROM posts WHERE channel_id = ?", [channel]).fetchall()
    return [row[0] for row in rows]


def by_channel(results: list[Any]) -> dict[str, Claim]:
    return {r.channel_id: r.claim for r in results if r.kind == "prompt"}


# -- Slack: in doubt, then resolved from the channel's history ---------------------------------------------------


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda fake: fake.fail_after_accept("chat.postMessage", status=500), id="accept-then-500"),
        pytest.param(lambda fake: fake.fail_after_accept("chat.postMessage", drop=True), id="accept-then-drop"),
    ],
)
async def test_a_post_slack_took_without_answering_is_found_and_recorded_not_posted_again(
    tmp_path: Path, slack_fake: tuple[FakeSlackAPI, str], inject: Callable[[FakeSlackAPI], None]
) -> None:
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT + timedelta(seconds=5))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    inject(fake)  # the first post (channel CALL) is taken, and the answer is lost
    assert by_channel(await scheduler.tick()) == {"CALL": Claim.IN_DOUBT, "CWORK": Claim.DONE}
    assert status(runtime, "CALL") == "in_doubt"
    clock.current += timedelta(seconds=30)
    assert by_channel(await scheduler.tick())["CALL"] is Claim.IN_DOUBT  # checked after a backoff, not at once
    clock.current += timedelta(minutes=2)
    results = await scheduler.tick()
    assert by_channel(results)["CALL"] is Claim.DONE
    [message] = fake.posted("CALL")
    assert len(fake.calls_to("chat.postMessage")) == 2  # CALL once, CWORK once
    assert posts_in(runtime, "CALL") == [message["ts"]]  # recorded with the ts Slack gave it: its thread is captured
    assert status(runtime, "CALL") == "done"
    for _ in range(3):  # later ticks change nothing
        clock.current += timedelta(minutes=10)
        await scheduler.tick()
    assert len(fake.posted("CALL")) == 1
    assert len(fake.calls_to("conversations.history")) == 1
    runtime.close()


async def test_a_slot_in_doubt_whose_post_is_not_in_the_channel_is_posted_once_more(
    tmp_path: Path, slack_fake: tuple[FakeSlackAPI, str]
) -> None:
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT + timedelta(seconds=5))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    fake.fail_next("chat.postMessage", status=503)  # a 5xx: Slack may or may not have taken it (here: not)
    assert by_channel(await scheduler.tick())["CALL"] is Claim.IN_DOUBT
    clock.current += timedelta(minutes=2)
    assert by_channel(await scheduler.tick())["CALL"] is Claim.WAIT  # the channel has no such post: a failure
    assert status(runtime, "CALL") == "failed"
    clock.current += timedelta(minutes=2)
    assert by_channel(await scheduler.tick())["CALL"] is Claim.DONE
    [message] = fake.posted("CALL")
    assert posts_in(runtime, "CALL") == [message["ts"]]
    runtime.close()


async def test_a_database_locked_at_record_time_never_leads_to_a_second_post(
    tmp_path: Path, slack_fake: tuple[FakeSlackAPI, str]
) -> None:
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url, CONFIG.split('[[channels]]\nplatform = "slack"\nid = "CWORK"')[0])
    runtime.repo.db.execute("PRAGMA busy_timeout = 50")
    locker = sqlite3.connect(tmp_path / "engagement.db", isolation_level=None)

    def lock_on_post(call: SlackCall) -> None:
        if call["method"] == "chat.postMessage":
            locker.execute("BEGIN EXCLUSIVE")  # another writer holds the database as the post is taken

    fake.on_accept = lock_on_post
    clock = ManualClock(SLOT + timedelta(seconds=5))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    assert by_channel(await scheduler.tick()) == {"CALL": Claim.IN_DOUBT}
    fake.on_accept = None
    locker.execute("ROLLBACK")
    assert len(fake.posted("CALL")) == 1
    assert posts_in(runtime, "CALL") == []
    assert status(runtime, "CALL") == "claimed"  # not even "in doubt" could be written: the claim stays open
    clock.current += timedelta(minutes=5)
    assert by_channel(await scheduler.tick())["CALL"] is Claim.IN_DOUBT  # within the claim lease: left alone
    clock.current += timedelta(minutes=15)  # the claim lease is over: the channel is checked
    assert by_channel(await scheduler.tick())["CALL"] is Claim.DONE
    [message] = fake.posted("CALL")
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert posts_in(runtime, "CALL") == [message["ts"]]
    locker.close()
    runtime.close()


async def test_a_summary_in_doubt_is_found_and_not_posted_twice(
    tmp_path: Path, slack_fake: tuple[FakeSlackAPI, str]
) -> None:
    fake, url = slack_fake
    fake.ts_start = MONDAY.timestamp()
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(MONDAY)
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    fake.fail_after_accept("chat.postMessage", drop=True)
    await scheduler.tick()
    assert status(runtime, "CADMIN", "summary") == "in_doubt"
    clock.current += timedelta(minutes=3)
    await scheduler.tick()
    assert status(runtime, "CADMIN", "summary") == "done"
    [summary] = fake.posted("CADMIN")
    assert "Engagement summary 2026-W48" in summary["text"]
    assert [c["args"]["channel"] for c in fake.calls_to("chat.postMessage")].count("CADMIN") == 1
    runtime.close()


# -- A crash between the post and its record -------------------------------------------------------------------


async def test_a_crash_between_post_and_record_is_resolved_and_the_thread_captured(
    tmp_path: Path, slack_fake: tuple[FakeSlackAPI, str]
) -> None:
    fake, url = slack_fake
    started = utc_now()
    fake.ts_queue.append(to_slack_ts(started))
    due = started - timedelta(minutes=1)  # a daily slot one minute ago: due at start
    config = (
        f'timezone = "UTC"\n[schedule]\nprompts = "{due.minute} {due.hour} * * *"\nsummary = "0 9 1 1 *"\n'
        '[[channels]]\nplatform = "slack"\nid = "CKILLED"\n'
    )
    serve = Serve(tmp_path, url, config)
    serve.installed()

    def kill_on_post(call: SlackCall) -> None:
        if call["method"] == "chat.postMessage":
            serve.signal(signal.SIGKILL)  # Slack took the post; the process dies before it hears back

    fake.on_accept = kill_on_post
    serve.start()
    try:
        assert await serve.wait() == -signal.SIGKILL
    finally:
        serve.stop()
    fake.on_accept = None
    [message] = fake.posted("CKILLED")

    env = {**serve.env, "SLACK_API_URL": url}
    runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
    try:
        assert status(runtime, "CKILLED") == "claimed"
        assert posts_in(runtime, "CKILLED") == []
        clock = ManualClock(utc_now() + timedelta(minutes=16))  # the next start, after the claim lease
        results = await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
        assert by_channel(results) == {"CKILLED": Claim.DONE}
        assert len(fake.calls_to("chat.postMessage")) == 1
        assert posts_in(runtime, "CKILLED") == [message["ts"]]
        # The prompt's thread is captured: a member's reply is stored against it.
        reply = slack_thread_reply("my view", thread_ts=message["ts"], channel="CKILLED", user="U9")
        body = slack_event_body(reply, "EvKilled1")
        async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
            headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
            response = await client.post("/slack/events", data=body, headers=headers)
            assert response.status == 200
        stored = runtime.repo.db.execute("SELECT p.message_id FROM replies r JOIN posts p ON p.id = r.post_id")
        assert stored.fetchall() == [(message["ts"],)]
    finally:
        runtime.close()


# -- Teams: nothing can be checked, so a slot in doubt is left for an admin --------------------------------------


TEAMS_CONFIG = f"""
timezone = "Europe/London"
[schedule]
prompts = "0 10 * * TUE"
summary = "0 9 * * MON"
[[channels]]
platform = "teams"
id = "{TEAMS_CHANNEL_ID}"
"""


@pytest.fixture
def connector() -> Iterator[FakeTeamsConnector]:
    with FakeTeamsConnector() as fake:
        yield fake


@pytest.mark.parametrize("drop", [False, True], ids=["accept-then-500", "accept-then-drop"])
async def test_a_teams_post_in_doubt_is_left_for_an_admin_and_never_posted_again(
    tmp_path: Path,
    connector: FakeTeamsConnector,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    drop: bool,
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    (tmp_path / "engagebot.toml").write_text(TEAMS_CONFIG)
    env = {"ENGAGEBOT_DB": str(tmp_path / "e.db"), "ENGAGEBOT_TEAMS_EMULATOR": "1"}
    runtime = Runtime.build(load_settings(env, cwd=tmp_path))
    assert runtime.teams is not None
    runtime.teams.poster.base_delay = 0.0
    async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
        install = teams_install_conversation_update(service_url=connector.url, channel_id=TEAMS_CHANNEL_ID)
        assert (await client.post("/api/messages", json=install)).status == 201
    clock = ManualClock(SLOT + timedelta(seconds=5))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    connector.fail_after_accept("create_conversation", status=500, drop=drop)
    assert by_channel(await scheduler.tick()) == {TEAMS_CHANNEL_ID: Claim.IN_DOUBT}
    with caplog.at_level(logging.ERROR, logger="bot.in_doubt"):
        for _ in range(4):
            clock.current += timedelta(minutes=5)
            await scheduler.tick()
    assert len(connector.threads) == 1  # the channel got it once
    assert len(connector.calls_to("create_conversation")) == 1
    assert status(runtime, TEAMS_CHANNEL_ID) == "unresolved"
    [line] = [m for m in caplog.messages if m.startswith("slot unresolved")]
    assert "check the channel" in line
    assert f"engagebot post --platform teams --channel {TEAMS_CHANNEL_ID}" in line
    runtime.close()


# -- Posts on demand: never retried; the admin is told to look -------------------------------------------------


async def test_engagebot_post_in_doubt_says_check_the_channel(
    tmp_path: Path,
    slack_fake: tuple[FakeSlackAPI, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = slack_fake
    monkeypatch.chdir(tmp_path)
    for key, value in {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": url,
        "ENGAGEBOT_DB": str(tmp_path / "e.db"),
    }.items():
        monkeypatch.setenv(key, value)
    fake.fail_after_accept("chat.postMessage", status=502)
    code = await asyncio.to_thread(engagebot_app.main, ["post", "--platform", "slack", "--channel", "C0NOW"])
    err = capsys.readouterr().err
    assert code == 1
    assert "slack:C0NOW may have been posted; check the channel before posting again" in err
    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(fake.posted("C0NOW")) == 1
    with sqlite3.connect(tmp_path / "e.db") as conn:
        assert conn.execute("SELECT count(*) FROM posts").fetchone() == (0,)


# -- the schema change --------------------------------------------------------------------------------------------


def test_an_existing_database_is_migrated_with_its_runs_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path, isolation_level=None))
    migrations.apply(old, stop_before="m006_schedule_in_doubt")
    runs = [
        ("2026-11-17T10:00:00.000000+00:00", "done", "1763373600.000100"),
        ("2026-11-24T10:00:00.000000+00:00", "claimed", None),  # an earlier version died mid-post
        ("2026-12-01T10:00:00.000000+00:00", "failed", None),
    ]
    for slot, state, message in runs:
        old.execute(
            """INSERT INTO schedule_runs (kind, slot, platform, channel_id, status, claimed_at, message_id)
               VALUES ('prompt', ?, 'slack', 'CALL', ?, ?, ?)""",
            [slot, state, slot.replace("10:00:00", "10:00:02"), message],
        )
    old.conn.close()

    repo = Repository.open(path)
    try:
        rows = repo.schedule_runs()
        assert [(r["status"], r["message_id"]) for r in rows] == [
            ("done", "1763373600.000100"),
            ("unresolved", None),  # posted without a marker: it can never be checked, and is never posted again
            ("failed", None),
        ]
        assert repo.first_start() == datetime(2026, 11, 17, 10, 0, tzinfo=UTC)  # slots since then are not "missed"
        key = SlotKey(Kind.PROMPT, datetime(2026, 12, 8, 10, 0, tzinfo=UTC), Platform.SLACK, "CALL")
        assert repo.claim_slot(key, utc_now(), max_attempts=5, retry_base=timedelta(minutes=1)) is Claim.CLAIMED
        repo.doubt_slot(key, utc_now(), "HTTP 503")  # the new state passes the new CHECK constraint
        assert repo.schedule_runs()[-1]["status"] == "in_doubt"
        assert repo.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert repo.db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        repo.close()
