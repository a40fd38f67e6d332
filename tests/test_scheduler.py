"""Scheduler: slots in local time across DST, exactly once per slot and channel, catch-up, rotation, failures, a
loop that never dies (its state in /healthz), and a new install's first start.

The scheduler runs with an injected clock against the real Slack adapter, a real SQLite file and the local
fake of Slack's Web API.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from bot.events import Platform
from bot.scheduler import CATCH_UP, Claim, Kind, Scheduler
from bot.slots import SlotKey
from tests.fakes import FakeSlackAPI, sign_slack, slack_event_body, slack_thread_reply
from tests.held_reads import GIVE_UP, HeldReads

SECRET = "scheduler-test-secret"


@dataclass
class ManualClock:
    current: datetime

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


CONFIG = """
timezone = "Europe/London"
[schedule]
prompts = "0 10 * * TUE"
summary = "0 9 * * MON"
[[channels]]
platform = "slack"
id = "CALL"
[[channels]]
platform = "slack"
id = "CWORK"
themes = ["Workforce", "Genomics, life sciences and research"]
[[summary_channels]]
platform = "slack"
id = "CADMIN"
"""


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def build_runtime(tmp_path: Path, api_url: str, config: str = CONFIG) -> Runtime:
    (tmp_path / "engagebot.toml").write_text(config)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "ENGAGEBOT_DB": str(tmp_path / "engagement.db"),
    }
    return Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)


def posts_to(fake: FakeSlackAPI, channel: str) -> list[str]:
    """The prompt texts (Block Kit fallback text) the fake received for one channel."""
    return [str(c["args"]["text"]) for c in fake.calls_to("chat.postMessage") if c["args"]["channel"] == channel]


# Tuesday 24 Nov 2026, 10:00 GMT = 10:00 UTC.
SLOT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def test_a_slot_posts_once_per_channel_however_often_it_ticks(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT + timedelta(seconds=5))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    first = await scheduler.tick()
    clock.current += timedelta(minutes=30)
    second = await scheduler.tick()
    # A second scheduler (a restarted process) on the same database does not post again either.
    again = await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
    assert [r.claim for r in first if r.kind == "prompt"] == [Claim.DONE, Claim.DONE]
    assert {r.claim for r in second + again if r.kind == "prompt"} == {Claim.DONE}
    assert len(posts_to(fake, "CALL")) == 1
    assert len(posts_to(fake, "CWORK")) == 1
    runs = [r for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"]
    assert [(r["channel_id"], r["status"], r["slot"]) for r in runs] == [
        ("CALL", "done", "2026-11-24T10:00:00.000000+00:00"),
        ("CWORK", "done", "2026-11-24T10:00:00.000000+00:00"),
    ]
    assert runtime.repo.counts()["posts"] == 2
    runtime.close()


async def test_a_crash_between_claim_and_record_never_reposts(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    # The process claimed the slot for CALL and died before recording the outcome.
    claim = runtime.repo.claim_slot(
        SlotKey(Kind.PROMPT, SLOT, Platform.SLACK, "CALL"), SLOT, max_attempts=5, retry_base=timedelta(minutes=1)
    )
    assert claim is Claim.CLAIMED
    clock = ManualClock(SLOT + timedelta(minutes=2))
    results = await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
    by_channel = {r.channel_id: r.claim for r in results if r.kind == "prompt"}
    assert by_channel == {"CALL": Claim.IN_DOUBT, "CWORK": Claim.DONE}
    assert posts_to(fake, "CALL") == []
    assert len(posts_to(fake, "CWORK")) == 1
    runtime.close()


async def test_a_missed_slot_is_posted_on_start_when_less_than_six_hours_late(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT + CATCH_UP - timedelta(minutes=1))
    await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
    assert len(posts_to(fake, "CALL")) == 1
    runtime.close()


async def test_a_slot_more_than_six_hours_late_is_skipped_and_logged_once(tmp_path, slack_fake, caplog):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT + CATCH_UP + timedelta(minutes=1))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        await scheduler.tick()
        await scheduler.tick()
    assert fake.calls_to("chat.postMessage") == []
    skipped = [m for m in caplog.messages if m.startswith("slot skipped kind=prompt")]
    assert len(skipped) == 2  # once per channel, not once per tick
    assert {r["status"] for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"} == {"skipped"}
    runtime.close()


async def test_several_missed_slots_lead_to_one_post(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    # Down for three weeks; back one hour after the latest slot.
    clock = ManualClock(SLOT + timedelta(weeks=3, hours=1))
    await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
    assert len(posts_to(fake, "CALL")) == 1
    slots = {r["slot"] for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"}
    assert slots == {"2026-12-15T10:00:00.000000+00:00"}
    runtime.close()


@pytest.mark.parametrize(
    ("tick_at", "expected_slot"),
    [
        # Tuesday 31 March 2026 10:00 BST (after the March change) is 09:00 UTC.
        (datetime(2026, 3, 31, 9, 0, 30, tzinfo=UTC), "2026-03-31T09:00:00.000000+00:00"),
        # Tuesday 27 October 2026 10:00 GMT (after the October change) is 10:00 UTC.
        (datetime(2026, 10, 27, 10, 0, 30, tzinfo=UTC), "2026-10-27T10:00:00.000000+00:00"),
        # Tuesday 20 October 2026, still BST.
        (datetime(2026, 10, 20, 9, 0, 30, tzinfo=UTC), "2026-10-20T09:00:00.000000+00:00"),
    ],
)
async def test_slots_stay_at_ten_local_across_daylight_saving_changes(tmp_path, slack_fake, tick_at, expected_slot):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    await Scheduler(runtime.engagement, runtime.posters, runtime.repo, ManualClock(tick_at)).tick()
    assert {r["slot"] for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"} == {expected_slot}
    assert len(posts_to(fake, "CALL")) == 1
    runtime.close()


async def test_rotation_is_kept_per_channel_and_respects_channel_themes(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    clock = ManualClock(SLOT)
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    for week in range(4):
        clock.current = SLOT + timedelta(weeks=week, seconds=1)
        await scheduler.tick()
    library = runtime.engagement.library
    themes_all = [t for t in library.theme_names()]
    all_posts = posts_to(fake, "CALL")
    work_posts = posts_to(fake, "CWORK")
    assert [text.split("(")[1].split(")")[0] for text in all_posts] == themes_all[:4]
    assert [text.split("(")[1].split(")")[0] for text in work_posts] == [
        "Workforce",
        "Genomics, life sciences and research",
        "Workforce",
        "Genomics, life sciences and research",
    ]
    # Within a theme, the second Workforce post is a different prompt from the first.
    assert work_posts[0] != work_posts[2]
    runtime.close()


async def test_a_failing_channel_retries_with_backoff_and_never_stops_the_others(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    fake.fail_next("chat.postMessage", error="channel_not_found")  # the first channel (CALL) fails once
    clock = ManualClock(SLOT + timedelta(seconds=1))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    first = {r.channel_id: r.claim for r in await scheduler.tick() if r.kind == "prompt"}
    assert first == {"CALL": Claim.WAIT, "CWORK": Claim.DONE}
    clock.current += timedelta(seconds=20)  # backoff not over yet
    assert {r.channel_id: r.claim for r in await scheduler.tick() if r.kind == "prompt"}["CALL"] is Claim.WAIT
    clock.current += timedelta(minutes=2)
    assert {r.channel_id: r.claim for r in await scheduler.tick() if r.kind == "prompt"}["CALL"] is Claim.DONE
    calls = [c["args"]["channel"] for c in fake.calls_to("chat.postMessage")]
    assert calls.count("CALL") == 2  # one failure, one success
    assert calls.count("CWORK") == 1
    runs = {r["channel_id"]: r for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"}
    assert runs["CALL"]["status"] == "done"
    assert runs["CALL"]["attempts"] == 2
    assert runtime.repo.counts()["posts"] == 2
    runtime.close()


async def test_the_weekly_summary_goes_to_the_summary_channels_once(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    monday = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, ManualClock(monday))
    await scheduler.tick()
    await scheduler.tick()
    summaries = posts_to(fake, "CADMIN")
    assert len(summaries) == 1
    assert "Engagement summary 2026-W48" in summaries[0]
    runtime.close()


async def test_a_slot_in_the_hour_the_clocks_go_back_posts_once(tmp_path, slack_fake):
    fake, url = slack_fake
    config = CONFIG.replace('prompts = "0 10 * * TUE"', 'prompts = "30 1 * * *"')
    runtime = build_runtime(tmp_path, url, config)
    # 25 October 2026: 01:30 BST (00:30 UTC), then the clocks go back and 01:30 GMT (01:30 UTC) comes again.
    clock = ManualClock(datetime(2026, 10, 25, 0, 30, 5, tzinfo=UTC))
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
    await scheduler.tick()
    clock.current = datetime(2026, 10, 25, 1, 30, 5, tzinfo=UTC)
    await scheduler.tick()
    assert len(posts_to(fake, "CALL")) == 1
    slots = {r["slot"] for r in runtime.repo.schedule_runs() if r["kind"] == "prompt"}
    assert slots == {"2026-10-25T00:30:00.000000+00:00"}
    # The next slot after the repeated hour is the next day's 01:30 GMT.
    assert scheduler.seconds_until_next() > 0
    runtime.close()


# -- never dies silently; /healthz tells its state (issue 13) ------------------------------------------------------


@dataclass
class StoppingClock(ManualClock):
    """Sleeps by moving the time on; ``on_sleep`` sees each sleep (and may stop the loop by raising)."""

    on_sleep: Callable[[float], Awaitable[None]] | None = None

    async def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            await self.on_sleep(seconds)
        await super().sleep(seconds)


async def stop_after_one_tick(seconds: float) -> None:
    raise asyncio.CancelledError


async def test_a_failing_tick_is_retried_within_a_minute_and_healthz_reports_it(tmp_path, slack_fake):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    runtime.repo.record_first_start(SLOT - timedelta(weeks=1))
    runtime.repo.db.execute("PRAGMA busy_timeout = 50")
    locker = sqlite3.connect(tmp_path / "engagement.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database: the first tick fails
    scheduler = runtime.scheduler
    assert scheduler is not None
    seen: list[tuple[float, dict[str, Any]]] = []
    async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:

        async def health() -> dict[str, Any]:
            response = await client.get("/healthz")
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            return body["scheduler"]

        async def on_sleep(seconds: float) -> None:
            seen.append((seconds, await health()))
            if len(seen) == 1:
                locker.execute("ROLLBACK")  # the database is free again
            if len(seen) == 2:
                raise asyncio.CancelledError

        assert (await health())["state"] == "stopped"
        scheduler.clock = StoppingClock(SLOT + timedelta(seconds=5), on_sleep)
        with pytest.raises(asyncio.CancelledError):
            await scheduler.run_forever()
        stopped = await health()
    locker.close()
    (first_sleep, failing), (_, recovered) = seen
    assert first_sleep <= 60
    assert failing["state"] == "retrying"
    assert "locked" in failing["last_error"]
    assert recovered == {
        "state": "running",
        "last_error": None,
        "next_prompt": "2026-12-01T10:00:00+00:00",
        "next_summary": "2026-11-30T09:00:00+00:00",
    }
    assert len(posts_to(fake, "CALL")) == 1  # the retried tick posted the slot
    assert stopped["state"] == "stopped"
    runtime.close()


# -- a new install: slots from before its first start are not missed (issue 13) ------------------------------------


async def test_a_new_install_does_not_catch_up_slots_from_before_its_first_start(tmp_path, slack_fake, caplog):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    # First started on Monday 30 November at 11:00: two hours after the summary slot (it would be caught up),
    # six days after the last prompt slot (it would be skipped with a warning).
    first_start = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    clock = StoppingClock(first_start, stop_after_one_tick)
    with caplog.at_level(logging.INFO, logger="bot.scheduler"), pytest.raises(asyncio.CancelledError):
        await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).run_forever()
    assert fake.calls_to("chat.postMessage") == []  # no empty summary, no late prompt
    assert not [m for m in caplog.messages if "skipped" in m]
    assert runtime.repo.schedule_runs() == []
    assert runtime.repo.first_start() == first_start
    # Restarted the next day: the first start stays, and the slots since then go out as usual.
    clock.current = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)
    fake.ts_start = clock.current.timestamp()  # Slack's ts: the prompts are in week 2026-W49
    with pytest.raises(asyncio.CancelledError):
        await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).run_forever()
    assert runtime.repo.first_start() == first_start
    assert len(posts_to(fake, "CALL")) == 1
    clock.current = datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC)
    with pytest.raises(asyncio.CancelledError):
        await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).run_forever()
    [summary] = posts_to(fake, "CADMIN")
    assert "Engagement summary 2026-W49" in summary
    runtime.close()


async def test_the_first_summary_of_a_week_without_posts_before_the_first_start_is_skipped(
    tmp_path, slack_fake, caplog
):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    runtime.repo.record_first_start(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # a Wednesday: after the prompt slot
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC))
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        await Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock).tick()
    assert posts_to(fake, "CADMIN") == []
    assert [(r["kind"], r["status"]) for r in runtime.repo.schedule_runs()] == [("summary", "skipped")]
    assert any("reason=no_posts_before_first_start" in m for m in caplog.messages)
    runtime.close()


# -- the weekly summary reads off the event loop ------------------------------------------------------------------


async def test_a_capture_is_answered_while_the_scheduled_summary_reads(tmp_path, slack_fake, monkeypatch):
    fake, url = slack_fake
    runtime = build_runtime(tmp_path, url)
    assert runtime.slack is not None
    post = await runtime.engagement.post_prompt(runtime.slack.poster, "CALL")
    monday = datetime(2026, 11, 30, 9, 0, 10, tzinfo=UTC)
    scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, ManualClock(monday))
    whole, _, frac = post.message_id.partition(".")
    async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
        held = HeldReads(monkeypatch)
        tick = asyncio.create_task(scheduler.tick())
        assert await asyncio.to_thread(held.started.wait, GIVE_UP)  # the summary is reading, off the event loop

        reply = slack_thread_reply("during", thread_ts=post.message_id, channel="CALL", ts=f"{int(whole) + 60}.{frac}")
        body = slack_event_body(reply, "EvDuringSummary")
        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
        async with client.post("/slack/events", data=body.encode(), headers=headers) as response:
            assert response.status == 200
        assert runtime.repo.db.execute("SELECT text FROM replies").fetchall() == [("during",)]
        assert posts_to(fake, "CADMIN") == []  # the summary is still being made

        held.release.set()
        results = await tick
    assert held.released is True
    assert "MainThread" not in held.threads
    assert [r.claim for r in results if r.key.kind is Kind.SUMMARY] == [Claim.DONE]
    [summary] = posts_to(fake, "CADMIN")
    assert "Engagement summary 2026-W48" in summary
    runtime.close()
