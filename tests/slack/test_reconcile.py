"""Reconciliation after downtime (adapters/slack/reconcile.py): what Slack shows in `conversations.replies` and
`reactions.get` for the recent posts is brought into the database through the capture rules, with platform times,
so a week's figures come out as if no event had been missed; rate limits are honoured; `engagebot reconcile` shows a
progress bar; `serve` reconciles at start and daily."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import adapters.slack.reconcile as reconcile_module
import app as engagebot_app
from adapters.maintenance import run_maintenance
from adapters.reconcile import ProgressBar, reconcile_loop, reconciler_for
from adapters.runtime import Runtime
from adapters.server import serve
from adapters.slack.poster import RetryAfterHandler
from adapters.slack.reconcile import Reconciler
from bot.config import Settings, load_settings
from bot.events import Platform
from bot.prompts import Prompt
from bot.timeutil import IsoWeek, from_slack_ts, to_db
from tests.fakes import (
    SLACK_BOT_ID,
    SLACK_BOT_USER_ID,
    FakeSlackAPI,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_reply,
)
from tests.privacy_support import file_bytes
from tests.serving import free_port
from tests.waiting import eventually

SECRET = "reconcile-signing-secret-0123"
TOKEN = "xoxb-reconcile"
CHANNEL = "C0REC"
POST_TS = "1732525200.000100"  # Monday 2024-11-25 09:00 UTC: the week 2024-W48
POST_SECOND = 1732525200
WEEK = IsoWeek(2024, 48)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) >= 2:
            raise asyncio.CancelledError  # enough days for a test
        self.at += timedelta(seconds=seconds)


def at(seconds: int) -> str:
    """A Slack ts ``seconds`` after the post."""
    return f"{POST_SECOND + seconds}.000200"


# -- Slack as it is: the state the events describe -------------------------------------------------------------------


@dataclass
class SlackWorld:
    """What Slack holds after a list of events: the thread's messages and each message's reactions."""

    post_ts: str = POST_TS
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    reactions: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # ts -> name -> users

    def apply(self, event: dict[str, Any]) -> None:
        kind, subtype = event["type"], event.get("subtype")
        if kind == "message" and subtype is None:
            self.messages[event["ts"]] = {
                "type": "message",
                "user": event["user"],
                "text": event["text"],
                "ts": event["ts"],
                "thread_ts": event["thread_ts"],
            }
        elif subtype == "message_changed":
            message = self.messages[event["message"]["ts"]]
            message["text"] = event["message"]["text"]
            message["edited"] = {"user": message["user"], "ts": event["ts"]}
        elif subtype == "message_deleted":
            self.messages.pop(event["deleted_ts"], None)
            self.reactions.pop(event["deleted_ts"], None)
        elif kind in ("reaction_added", "reaction_removed"):
            users = self.reactions.setdefault(event["item"]["ts"], {}).setdefault(event["reaction"], [])
            if kind == "reaction_added" and event["user"] not in users:
                users.append(event["user"])
            elif kind == "reaction_removed" and event["user"] in users:
                users.remove(event["user"])

    def publish(self, fake: FakeSlackAPI) -> None:
        root: dict[str, Any] = {"type": "message", "user": SLACK_BOT_USER_ID, "bot_id": SLACK_BOT_ID, "text": "prompt"}
        root.update(ts=self.post_ts, thread_ts=self.post_ts, reply_count=len(self.messages))
        fake.replies[(CHANNEL, self.post_ts)] = [root, *sorted(self.messages.values(), key=lambda m: m["ts"])]
        fake.reactions.clear()
        for ts, by_name in self.reactions.items():
            listed = [{"name": n, "users": list(u), "count": len(u)} for n, u in sorted(by_name.items()) if u]
            if listed:
                fake.reactions[(CHANNEL, ts)] = listed


def scenario() -> list[dict[str, Any]]:
    """A week in one thread: replies, an edit, deletions, reactions added and removed, on the post and on replies."""
    reply = lambda text, s, user: slack_thread_reply(  # noqa: E731
        text, thread_ts=POST_TS, channel=CHANNEL, ts=at(s), user=user
    )
    add = lambda name, target, s, user: slack_reaction_added(  # noqa: E731
        name, ts=target, channel=CHANNEL, user=user, event_ts=at(s)
    )
    remove = lambda name, target, s, user: slack_reaction_removed(  # noqa: E731
        name, ts=target, channel=CHANNEL, user=user, event_ts=at(s)
    )
    return [
        reply("Workforce first", 600, "U1"),
        add("+1", POST_TS, 650, "U4"),
        reply("Genomics needs staff", 900, "U2"),
        add("tada", at(600), 1000, "U2"),
        reply("opted out text", 1100, "U9"),  # U9 opted out: never stored, whatever the route
        add("+1", POST_TS, 1150, "U9"),
        reply("Scratch that", 1200, "U3"),
        add("heart", at(1200), 1250, "U1"),
        slack_message_changed(
            ts=at(900),
            new_text="Genomics needs people",
            thread_ts=POST_TS,
            channel=CHANNEL,
            user="U2",
            edit_ts=at(1300),
        ),
        add("eyes", POST_TS, 1400, "U5"),
        remove("eyes", POST_TS, 1500, "U5"),
        add("+1", at(900), 1600, "U5"),
        slack_message_deleted(deleted_ts=at(1200), thread_ts=POST_TS, channel=CHANNEL, event_ts=at(1700)),
        reply("Late thought", 3600 * 30, "U6"),
        add("+1", at(3600 * 30), 3600 * 30 + 60, "U1"),
        add("tada", POST_TS, 3600 * 31, "U6"),
        remove("+1", POST_TS, 3600 * 32, "U4"),
    ]


# -- rig -----------------------------------------------------------------------------------------------------------


@dataclass
class Bot:
    runtime: Runtime
    client: TestClient[web.Request, web.Application]
    api: TestServer
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def deliver(self, event: dict[str, Any]) -> None:
        body = slack_event_body(event, f"EvR{next(self.ids)}", event_time=POST_SECOND)
        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
        response = await self.client.post("/slack/events", data=body, headers=headers)
        assert response.status == 200, await response.text()

    async def command(self, text: str, user: str) -> None:
        body = slack_command_body(text, user, CHANNEL, str(self.api.make_url("/commands/T/1/x")))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_slack(body, SECRET)}
        response = await self.client.post("/slack/events", data=body, headers=headers)
        assert response.status == 200, await response.text()

    def reconciler(self, clock: FixedClock | None = None, **kwargs: Any) -> Reconciler:
        clock = clock or FixedClock(datetime(2024, 11, 30, 12, tzinfo=UTC))
        return reconciler_for(self.runtime, pause=0, clock=clock, **kwargs)

    def summary(self) -> dict[str, Any]:
        return self.runtime.engagement.summary(WEEK).as_json()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.runtime.repo._fetchall(sql)


def bot_settings(api: TestServer, tmp_path: Path, name: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": str(api.make_url("/api/")),
        "ENGAGEBOT_DB": str(tmp_path / f"{name}.db"),
    }
    return load_settings(env, cwd=tmp_path)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Callable[[str], Any]]:
    """A factory of bots (each its own database) sharing one fake Slack, each with the week's post recorded."""
    fake = FakeSlackAPI()
    opened: list[Bot] = []
    async with fake.serve() as api:

        async def make(name: str) -> Bot:
            runtime = Runtime.build(bot_settings(api, tmp_path, name), with_teams=False)
            client = TestClient(TestServer(runtime.web_app(), host="127.0.0.1"))
            await client.start_server()
            bot = Bot(runtime, client, api)
            opened.append(bot)
            runtime.repo.record_post(
                Platform.SLACK, CHANNEL, POST_TS, Prompt("Workforce", "What would help?"), from_slack_ts(POST_TS)
            )
            return bot

        make.fake = fake  # type: ignore[attr-defined]
        try:
            yield make
        finally:
            for bot in opened:
                assert bot.runtime.slack is not None
                await bot.runtime.slack.wait_idle()
                await bot.client.close()
                bot.runtime.close()


def fake_of(make: Callable[[str], Any]) -> FakeSlackAPI:
    return make.fake  # type: ignore[attr-defined]


def export_view(bot: Bot) -> list[tuple[Any, ...]]:
    """The week's export without reaction times (Slack does not give them to reconciliation)."""
    rows = bot.runtime.engagement.export_rows(WEEK)
    keys = ("kind", "post_id", "message_id", "member", "text", "reaction", "edited_at")
    view = [tuple(r[k] for k in keys) + ((r["created_at"],) if r["kind"] == "reply" else ()) for r in rows]
    return sorted(view, key=repr)


# -- tests ---------------------------------------------------------------------------------------------------------


async def test_missed_replies_and_reactions_are_added_with_platform_times(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    slack = SlackWorld()
    for event in scenario()[:4]:
        slack.apply(event)
    slack.publish(fake)
    fake.replies[(CHANNEL, POST_TS)] += [
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B9",
            "text": "a bot",
            "ts": at(700),
            "thread_ts": POST_TS,
        },
        {"type": "message", "user": SLACK_BOT_USER_ID, "text": "our own", "ts": at(710), "thread_ts": POST_TS},
        {
            "type": "message",
            "subtype": "channel_join",
            "user": "U7",
            "text": "joined",
            "ts": at(720),
            "thread_ts": POST_TS,
        },
    ]
    fake.reactions[(CHANNEL, POST_TS)][0]["users"].append(SLACK_BOT_USER_ID)  # the app's own reaction

    result = await bot.reconciler().run()

    assert (result.posts, result.replies_added, result.reactions_added) == (1, 2, 2)
    assert bot.rows("SELECT message_id, member_id, text, created_at FROM replies ORDER BY message_id") == [
        (at(600), "slack:U1", "Workforce first", to_db(from_slack_ts(at(600)))),
        (at(900), "slack:U2", "Genomics needs staff", to_db(from_slack_ts(at(900)))),
    ]
    # A reaction found only by reconciliation gets the time of the message reacted to.
    assert bot.rows("SELECT target_id, member_id, name, created_at FROM reactions ORDER BY target_id") == [
        (POST_TS, "slack:U4", "+1", to_db(from_slack_ts(POST_TS))),
        (at(600), "slack:U2", "tada", to_db(from_slack_ts(at(600)))),
    ]
    assert bot.rows("SELECT count(*) FROM reactions WHERE post_id IS NULL") == [(0,)]
    again = await bot.reconciler().run()  # a second run finds nothing to do
    assert (again.replies_added, again.reactions_added, again.replies_deleted, again.reactions_removed) == (0, 0, 0, 0)


@pytest.mark.parametrize("delivered_before_downtime", [0, 5, 11])
async def test_weekly_figures_are_the_same_as_when_every_event_was_delivered(
    world: Callable[[str], Any], delivered_before_downtime: int
) -> None:
    fake = fake_of(world)
    events = scenario()
    slack = SlackWorld()
    for event in events:
        slack.apply(event)
    slack.publish(fake)

    live: Bot = await world("live")
    await live.command("optout", "U9")
    for event in events:
        await live.deliver(event)

    missed: Bot = await world("missed")
    await missed.command("optout", "U9")
    for event in events[:delivered_before_downtime]:
        await missed.deliver(event)
    result = await missed.reconciler().run()  # the bot comes back: it looks at the week's thread

    assert result.posts_failed == 0
    assert missed.summary() == live.summary()
    assert export_view(missed) == export_view(live)
    assert missed.rows("SELECT count(*) FROM replies WHERE member_id = 'slack:U9'") == [(0,)]
    assert missed.rows("SELECT count(*) FROM reactions WHERE member_id = 'slack:U9'") == [(0,)]
    if delivered_before_downtime > 6:
        # The reply stored before the downtime and deleted during it stays deleted: a late delivery is not stored.
        await missed.deliver(events[6])
        assert missed.summary() == live.summary()


async def test_deletions_edits_and_removals_made_during_downtime_are_applied(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    events = scenario()
    for event in events[:8]:  # delivered: three replies (one by the opted-in U9), reactions
        await bot.deliver(event)
    slack = SlackWorld()
    for event in events:
        slack.apply(event)
    slack.publish(fake)

    result = await bot.reconciler().run()

    assert result.replies_deleted == 1  # at(1200), deleted while down
    assert result.replies_edited == 1  # at(900), edited while down
    assert result.reactions_removed == 1  # U4's +1 on the post
    assert bot.rows(f"SELECT text, edited_at FROM replies WHERE message_id = '{at(900)}'") == [
        ("Genomics needs people", to_db(from_slack_ts(at(1300))))
    ]
    assert bot.rows(f"SELECT count(*) FROM replies WHERE message_id = '{at(1200)}'") == [(0,)]
    assert bot.rows(f"SELECT count(*) FROM deleted_messages WHERE message_id = '{at(1200)}'") == [(1,)]
    assert bot.rows(f"SELECT count(*) FROM reactions WHERE target_id = '{at(1200)}'") == [(0,)]
    assert bot.rows("SELECT removed_at IS NOT NULL FROM reactions WHERE member_id = 'slack:U4' AND name = '+1'") == [
        (1,)
    ]


async def test_a_reaction_removed_and_added_again_while_down_counts(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    await bot.deliver(slack_reaction_added("+1", ts=POST_TS, channel=CHANNEL, user="U4", event_ts=at(60)))
    await bot.deliver(slack_reaction_removed("+1", ts=POST_TS, channel=CHANNEL, user="U4", event_ts=at(120)))
    fake.replies[(CHANNEL, POST_TS)] = []
    fake.reactions[(CHANNEL, POST_TS)] = [{"name": "+1", "users": ["U4"], "count": 1}]
    result = await bot.reconciler().run()
    assert result.reactions_added == 1
    [(created, removed)] = bot.rows("SELECT created_at, removed_at FROM reactions")
    assert removed is None
    assert created > to_db(from_slack_ts(at(120)))  # just after the removal it saw, not the post's time


async def test_what_arrived_while_reading_is_not_undone(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    await bot.deliver(slack_thread_reply("just now", thread_ts=POST_TS, channel=CHANNEL, ts=at(3000), user="U1"))
    await bot.deliver(slack_reaction_added("+1", ts=POST_TS, channel=CHANNEL, user="U4", event_ts=at(3000)))
    fake.replies[(CHANNEL, POST_TS)] = []  # Slack's answer predates them
    clock = FixedClock(from_slack_ts(at(3030)))
    result = await bot.reconciler(clock).run()
    assert (result.replies_deleted, result.reactions_removed) == (0, 0)
    assert bot.rows("SELECT count(*) FROM replies") == [(1,)]


async def test_replies_are_read_page_by_page(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    slack = SlackWorld()
    for i in range(7):
        slack.apply(slack_thread_reply(f"r{i}", thread_ts=POST_TS, channel=CHANNEL, ts=at(100 + i), user=f"U{i}"))
    slack.publish(fake)
    everything = fake.replies.pop((CHANNEL, POST_TS))
    original = fake._answer

    def paged(method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if method != "conversations.replies":
            return original(method, args, request)
        start = int(args.get("cursor") or 0)
        page = everything[start : start + 3]
        more = start + 3 < len(everything)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + 3) if more else ""},
        }

    fake._answer = paged  # type: ignore[method-assign]
    result = await bot.reconciler().run()
    assert result.replies_added == 7
    cursors = [c["args"].get("cursor") for c in fake.calls_to("conversations.replies")]
    assert cursors == [None, "3", "6"]


async def test_rate_limits_are_honoured(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    slack = SlackWorld()
    slack.apply(slack_thread_reply("hi", thread_ts=POST_TS, channel=CHANNEL, ts=at(100), user="U1"))
    slack.publish(fake)
    fake.fail_next("conversations.replies", status=429, retry_after=3)
    fake.fail_next("reactions.get", status=429, retry_after=0)
    pauses: list[float] = []
    waits: list[tuple[float, int]] = []  # (seconds, how many calls the fake had received by then)

    async def record(seconds: float) -> None:
        pauses.append(seconds)

    async def wait(seconds: float) -> None:
        waits.append((seconds, len(fake.calls)))

    assert bot.runtime.slack is not None
    (handler,) = [h for h in bot.runtime.slack.client.retry_handlers if isinstance(h, RetryAfterHandler)]
    handler.sleep = wait  # the client's own 429 handling, waiting without a clock
    reconciler = reconciler_for(
        bot.runtime, pause=0.25, clock=FixedClock(datetime(2024, 11, 30, tzinfo=UTC)), sleep=record
    )
    result = await reconciler.run()
    assert result.replies_added == 1
    assert result.posts_failed == 0
    methods = [call["method"] for call in fake.calls]
    assert methods == [
        "auth.test",
        "conversations.replies",  # answered 429, Retry-After: 3
        "conversations.replies",  # only after the wait
        "reactions.get",  # answered 429, Retry-After: 0
        "reactions.get",
        "reactions.get",  # the reply's
    ]
    assert [calls for _, calls in waits] == [2, 4]  # each wait began after its 429 and before the retry
    assert [int(seconds) for seconds, _ in waits] == [3, 0]  # Retry-After, plus less than a second of jitter
    api_calls = 1 + 1 + 2  # auth.test, conversations.replies, reactions.get on the post and on the reply
    assert pauses == [0.25] * (api_calls - 1)  # a pause between every two calls


async def test_a_failed_listing_changes_nothing(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    await bot.deliver(slack_thread_reply("kept", thread_ts=POST_TS, channel=CHANNEL, ts=at(100), user="U1"))
    fake.fail_next("conversations.replies", status=200, error="thread_not_found")
    result = await bot.reconciler().run()
    assert result.posts_failed == 1
    assert bot.rows("SELECT count(*) FROM replies") == [(1,)]
    fake.fail_next("conversations.replies", status=503, times=3)
    result = await bot.reconciler().run()
    assert result.posts_failed == 1
    assert bot.rows("SELECT count(*) FROM replies") == [(1,)]


async def test_only_posts_of_the_last_reconcile_days_are_read(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    fake.replies[(CHANNEL, POST_TS)] = []
    late = FixedClock(from_slack_ts(POST_TS) + timedelta(days=8))
    result = await bot.reconciler(late).run()  # reconcile_days = 7
    assert result.posts == 0
    assert fake.calls_to("conversations.replies") == []
    assert (await bot.reconciler(late).run(days=9)).posts == 1


async def test_reconcile_loop_runs_at_start_and_daily(world: Callable[[str], Any]) -> None:
    bot: Bot = await world("b")
    fake = fake_of(world)
    fake.replies[(CHANNEL, POST_TS)] = []
    clock = FixedClock(from_slack_ts(POST_TS) + timedelta(hours=1))
    with pytest.raises(asyncio.CancelledError):
        await reconcile_loop(bot.runtime, clock, pause=0)
    assert clock.slept == [86400.0, 86400.0]
    assert len(fake.calls_to("conversations.replies")) == 2


def test_progress_bar_is_plain_text() -> None:
    out = io.StringIO()
    bar = ProgressBar(out, width=10)
    for done in range(5):
        bar(done, 4)
    lines = out.getvalue().splitlines()
    assert lines[0] == "reconcile [----------] 0/4 posts"
    assert lines[-1] == "reconcile [##########] 4/4 posts"
    ProgressBar(out)(0, 0)
    assert out.getvalue().endswith("reconcile: no Slack posts in the period\n")


async def test_engagebot_reconcile_runs_on_demand_with_a_progress_bar(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeSlackAPI()
    now_ts = f"{int(time.time()) - 3 * 86400}.000100"
    async with fake.serve() as api:
        monkeypatch.setattr(reconcile_module, "DEFAULT_PAUSE_SECONDS", 0)
        for key, value in {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": str(api.make_url("/api/")),
            "ENGAGEBOT_DB": str(workdir / "e.db"),
        }.items():
            monkeypatch.setenv(key, value)
        runtime = Runtime.build(load_settings(cwd=workdir), with_teams=False)
        runtime.repo.record_post(Platform.SLACK, CHANNEL, now_ts, Prompt("W", "Q?"), from_slack_ts(now_ts))
        runtime.close()
        slack = SlackWorld(post_ts=now_ts)
        reply_ts = f"{int(time.time()) - 2 * 86400}.000300"
        slack.apply(slack_thread_reply("missed", thread_ts=now_ts, channel=CHANNEL, ts=reply_ts, user="U1"))
        slack.publish(fake)

        code = await asyncio.to_thread(engagebot_app.main, ["reconcile", "--days", "4"])
        err = capsys.readouterr().err
        assert code == 0, err
        assert "reconcile [" in err
        assert "1/1 posts" in err
        assert "reconciled 1 post: 1 reply added" in err
        assert "missed" not in err  # no message text in the output or the log
        assert (await asyncio.to_thread(engagebot_app.main, ["reconcile", "--days", "0"])) == 2  # a usage error


def test_engagebot_reconcile_without_slack_is_a_usage_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engagebot_app.main(["reconcile"]) == 2
    assert "Slack is not configured" in capsys.readouterr().err


async def test_serve_reconciles_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSlackAPI()
    post_ts = f"{int(time.time()) - 86400}.000100"
    reply_ts = f"{int(time.time()) - 3600}.000200"
    monkeypatch.setattr(reconcile_module, "DEFAULT_PAUSE_SECONDS", 0)
    async with fake.serve() as api:
        settings = bot_settings(api, tmp_path, "serve")
        settings = Settings(**{**{f: getattr(settings, f) for f in settings.__dataclass_fields__}, "port": free_port()})
        runtime = Runtime.build(settings, with_teams=False)
        runtime.repo.record_post(Platform.SLACK, CHANNEL, post_ts, Prompt("W", "Q?"), from_slack_ts(post_ts))
        runtime.close()
        slack = SlackWorld(post_ts=post_ts)
        slack.apply(slack_thread_reply("while down", thread_ts=post_ts, channel=CHANNEL, ts=reply_ts, user="U1"))
        slack.publish(fake)

        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop=stop))
        # The reply is captured as its thread is read; reactions.get on the post and on the reply end the pass.
        await eventually(lambda: task.done() or len(fake.calls_to("reactions.get")) == 2)
        assert not task.done()
        stop.set()
        assert await task == 0
    check = Runtime.build(settings, with_teams=False)
    try:
        assert [r.message_id for r in check.repo.post_replies(1)] == [reply_ts]
    finally:
        check.close()


async def test_reconciliation_does_not_bring_back_text_purged_by_retention(world: Callable[[str], Any]) -> None:
    """retention_days (2) shorter than reconcile_days (7): the purged text of a reply, edited or not, stays purged,
    and a reply missed while down that is older than the retention period is added without its text."""
    bot: Bot = await world("ret")
    fake = fake_of(world)
    bot.runtime.settings = dataclasses.replace(bot.runtime.settings, retention_days=2)
    edited = slack_message_changed(
        ts=at(600), new_text="EDITED-TEXT-7781", thread_ts=POST_TS, channel=CHANNEL, user="U1", edit_ts=at(700)
    )
    delivered = [
        slack_thread_reply("FIRST-TEXT-7780", thread_ts=POST_TS, channel=CHANNEL, ts=at(600), user="U1"),
        edited,
        slack_thread_reply("PLAIN-TEXT-7782", thread_ts=POST_TS, channel=CHANNEL, ts=at(800), user="U2"),
    ]
    missed = slack_thread_reply("MISSED-TEXT-7783", thread_ts=POST_TS, channel=CHANNEL, ts=at(900), user="U3")
    slack = SlackWorld()
    for event in delivered:
        await bot.deliver(event)
        slack.apply(event)
    slack.apply(missed)
    slack.publish(fake)
    three_days_on = from_slack_ts(POST_TS) + timedelta(days=3)
    assert (await run_maintenance(bot.runtime, three_days_on)).texts_removed == 2

    result = await bot.reconciler(FixedClock(three_days_on)).run()  # within reconcile_days: the thread is read

    assert (result.replies_added, result.replies_edited, result.posts_failed) == (1, 0, 0)
    assert bot.rows("SELECT member_id, text, edited_at FROM replies ORDER BY created_at") == [
        ("slack:U1", "", to_db(from_slack_ts(at(700)))),
        ("slack:U2", "", None),
        ("slack:U3", "", None),
    ]
    assert bot.summary()["totals"]["replies"] == 3  # every count is kept
    data = file_bytes(Path(bot.runtime.repo.path))
    for text in (b"FIRST-TEXT-7780", b"EDITED-TEXT-7781", b"PLAIN-TEXT-7782", b"MISSED-TEXT-7783"):
        assert text not in data, text
    # A later edit of the old reply does not bring text back either.
    await bot.deliver(
        slack_message_changed(
            ts=at(800), new_text="LATE-EDIT-7784", thread_ts=POST_TS, channel=CHANNEL, user="U2", edit_ts=at(3000)
        )
    )
    assert bot.rows(f"SELECT text FROM replies WHERE message_id = '{at(800)}'") == [("",)]


def test_the_scenario_stays_within_the_week_of_its_post() -> None:
    """The figures compared above are those of one week: every time in the scenario falls in it."""
    tz = Settings().timezone
    stamps = [POST_TS] + [e.get("event_ts") or e["ts"] for e in scenario()]
    assert {IsoWeek.containing(from_slack_ts(ts), tz) for ts in stamps} == {WEEK}
