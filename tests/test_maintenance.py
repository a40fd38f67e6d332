"""The daily upkeep (issue 12.10): purges in batches that let captures run between them, and the dedupe keys and
deletion tombstones purged after their seven-day window."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.maintenance import DEDUPE_WINDOW, run_maintenance
from adapters.runtime import Runtime
from bot.config import load_settings
from bot.events import Platform
from bot.prompts import Prompt
from bot.timeutil import from_slack_ts, to_db, to_slack_ts, utc_now
from tests.fakes import FakeSlackAPI, sign_slack, slack_event_body, slack_thread_reply
from tests.slack.rig import SECRET, slack_env

CHANNEL = "C0UPKEEP"
PURGE = "UPDATE replies SET text = ''"  # one batch of the retention purge
SAFETY_NET = 30.0  # seconds: only so that a broken test fails instead of hanging
T = TypeVar("T")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        runtime = Runtime.build(load_settings(slack_env(api, tmp_path), cwd=tmp_path), with_teams=False)
        try:
            yield runtime
        finally:
            runtime.close()


async def test_dedupe_keys_and_tombstones_are_purged_after_seven_days(runtime: Runtime) -> None:
    now = utc_now()
    db = runtime.repo.db
    ages = [10, 8, 7.5, 6, 1]  # days; written oldest first, as deliveries arrive
    for n, days in enumerate(ages):
        at = to_db(now - timedelta(days=days))
        db.execute("INSERT INTO seen_events VALUES (?, 'slack', ?)", [f"Ev{n}", at])
        db.execute("INSERT INTO deleted_messages VALUES ('slack', ?, ?, ?)", [CHANNEL, f"{n}.000100", at])
    result = await run_maintenance(runtime, now, batch=2)  # several batches
    assert (result.seen_events_purged, result.tombstones_purged) == (3, 3)
    assert [r[0] for r in db.execute("SELECT event_key FROM seen_events").fetchall()] == ["Ev3", "Ev4"]
    assert [r[0] for r in db.execute("SELECT message_id FROM deleted_messages")] == ["3.000100", "4.000100"]
    assert result.restores_purged == 0  # none yet: see the next test
    assert timedelta(days=7) == DEDUPE_WINDOW
    assert (await run_maintenance(runtime, now)).seen_events_purged == 0


async def test_records_of_restored_messages_are_purged_after_seven_days(runtime: Runtime) -> None:
    now = utc_now()
    db = runtime.repo.db
    for n, days in enumerate([9, 7.5, 6, 1]):  # Teams undeleteMessage records, oldest first
        at = to_db(now - timedelta(days=days))
        db.execute(
            "INSERT INTO restored_messages VALUES ('teams', '19:c@thread.tacv2', ?, ?)", [f"17323500000{n:02d}", at]
        )
    result = await run_maintenance(runtime, now, batch=1)
    assert result.restores_purged == 2
    assert [r[0] for r in db.execute("SELECT message_id FROM restored_messages")] == ["1732350000002", "1732350000003"]


async def test_a_capture_during_a_big_purge_is_answered_between_two_batches(runtime: Runtime) -> None:
    """The purge's batches are units of work of the writer thread, each queued once the previous one is committed: a
    capture that arrives while a batch runs is committed before the purge's next batch.

    Deterministic: the first batch is held (inside SQLite's trace callback, in the writer thread) until the
    capture's unit is queued behind it."""
    now = utc_now()
    post_ts = to_slack_ts(now - timedelta(hours=1))
    post = runtime.repo.record_post(Platform.SLACK, CHANNEL, post_ts, Prompt("W", "Q?"), from_slack_ts(post_ts))
    old = to_db(now - timedelta(days=runtime.settings.retention_days + 30))
    repo, db = runtime.repo, runtime.repo.db
    with repo.transaction():
        db.execute("INSERT INTO members (member_id, platform, user_id) VALUES ('slack:UOLD', 'slack', 'UOLD')")
        db.conn.executemany(
            """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at)
               VALUES (?, 'slack', ?, ?, 'slack:UOLD', 'old words', ?)""",
            [(post.id, CHANNEL, f"1.{n:06d}", old) for n in range(4000)],
        )
    statements: list[str] = []
    loop, purging, queued = asyncio.get_running_loop(), asyncio.Event(), threading.Event()

    def trace(statement: str) -> None:  # called in the thread that runs the statement: here the writer
        statements.append(statement)
        if statement.startswith(PURGE) and not purging.is_set():
            loop.call_soon_threadsafe(purging.set)
            assert queued.wait(SAFETY_NET)  # the first batch waits until the capture is queued behind it

    enqueue = repo.enqueue

    def enqueue_and_tell(work: Callable[[], T]) -> asyncio.Future[T]:
        future = enqueue(work)
        if purging.is_set():
            queued.set()  # the purge is held in its first batch: this unit is the capture's
        return future

    db.conn.set_trace_callback(trace)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(repo, "enqueue", enqueue_and_tell)
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                purge = asyncio.create_task(run_maintenance(runtime, now, batch=40))  # 100 batches
                await purging.wait()
                ts = to_slack_ts(now)
                reply = slack_thread_reply("new words", thread_ts=post_ts, channel=CHANNEL, user="UNEW", ts=ts)
                body = slack_event_body(reply, "EvDuringPurge")
                headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
                response = await client.post("/slack/events", data=body, headers=headers)
                assert response.status == 200
                result = await purge
                assert runtime.slack is not None
                await runtime.slack.wait_idle()  # the new member's display name, written through the writer too
    finally:
        db.conn.set_trace_callback(None)
    purges = [i for i, s in enumerate(statements) if s.startswith(PURGE)]
    [captured] = [i for i, s in enumerate(statements) if s.startswith("INSERT INTO replies")]
    assert purges[0] < captured < purges[1]  # the capture ran right after the first batch, before the second
    assert len(purges) > 90  # and the purge went on in its batches after it
    assert result.texts_removed == 4000
    assert repo._fetchall("SELECT text FROM replies WHERE member_id = 'slack:UNEW'") == [("new words",)]
    assert repo._fetchall("SELECT count(*) FROM replies WHERE text = ''") == [(4000,)]
