"""The Slack adapter, driven over HTTP like Slack drives it: signed events and commands into the real aiohttp app,
the Web API faked on 127.0.0.1, and assertions on stored rows, status codes and what the fake received."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import itertools
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

import app as engagebot_app
from adapters.runtime import Runtime
from adapters.slack.adapter import SlackAdapter
from adapters.slack.mapping import (
    deletion_from_slack,
    edit_from_slack,
    event_from_slack,
    reaction_from_slack,
    reply_from_slack,
)
from adapters.slack.render import card_blocks, card_text
from bot.config import load_settings
from bot.events import Platform, ReactionAdded, ReactionRemoved, ReplyDeleted, ReplyEdited, ReplyPosted
from bot.model import PostRecord
from bot.ports import Card
from bot.service import EXPORT_FIELDS
from bot.timeutil import IsoWeek, from_slack_ts, to_db
from tests.fakes import (
    SLACK_BOT_ID,
    SLACK_BOT_USER_ID,
    FakeSlackAPI,
    next_slack_ts,
    sign_slack,
    slack_command_body,
    slack_event_body,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_broadcast,
    slack_thread_reply,
    slack_url_verification_body,
)

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test"
CHANNEL = "C0PROMPT"
ADMIN = "UADMIN"
MEMBER = "U111"

_event_ids = itertools.count(1)


def new_event_id() -> str:
    return f"Ev{next(_event_ids):010d}"


@dataclass
class Rig:
    fake: FakeSlackAPI
    api: TestServer
    runtime: Runtime
    client: TestClient[web.Request, web.Application]

    @property
    def slack(self) -> SlackAdapter:
        assert self.runtime.slack is not None
        return self.runtime.slack

    @property
    def response_url(self) -> str:
        return str(self.api.make_url("/commands/T111/1/abc"))

    async def post_prompt(self, channel: str = CHANNEL) -> PostRecord:
        return await self.runtime.engagement.post_prompt(self.slack.poster, channel)

    async def raw(
        self,
        body: str | bytes,
        *,
        sign: bool = True,
        secret: str = SECRET,
        ts: int | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        data = body.encode() if isinstance(body, str) else body
        sent = {"Content-Type": content_type}
        if sign:
            sent.update(_sign_bytes(data, secret, ts))
        sent.update(headers or {})
        return await self.client.post("/slack/events", data=io.BytesIO(data), headers=sent)

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        response = await self.raw(slack_event_body(event, event_id or new_event_id()), headers=headers)
        assert response.status == 200, await response.text()
        return response

    async def command(self, text: str, user: str = MEMBER, channel: str = CHANNEL) -> dict[str, Any]:
        body = slack_command_body(text, user, channel, self.response_url)
        response = await self.raw(body, content_type="application/x-www-form-urlencoded")
        assert response.status == 200, await response.text()
        ack: dict[str, Any] = await response.json()
        await self.slack.wait_idle()
        return ack

    def rows(self, table: str) -> list[dict[str, Any]]:
        cursor = self.runtime.repo.db.execute(f"SELECT * FROM {table} ORDER BY rowid")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, table: str) -> int:
        return int(self.runtime.repo.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def summary(self, post: PostRecord) -> dict[str, Any]:
        week = IsoWeek.containing(post.posted_at, self.runtime.settings.timezone)
        return self.runtime.engagement.summary(week).as_json()


def _sign_bytes(data: bytes, secret: str, ts: int | None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=data)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def slack_env(api: TestServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": str(api.make_url("/api/")),
        "ENGAGEBOT_DB": str(tmp_path / "e.db"),
        "ENGAGEBOT_ADMINS": f"slack:{ADMIN}",
        **extra,
    }


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        settings = load_settings(slack_env(api, tmp_path), cwd=tmp_path)
        runtime = Runtime.build(settings, with_teams=False)
        try:
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                yield Rig(fake, api, runtime, client)
                assert runtime.slack is not None
                await runtime.slack.wait_idle()
        finally:
            runtime.close()


def ts_at(post: PostRecord, seconds: int) -> str:
    """A message ts ``seconds`` after the post (Slack ts strings, microsecond part kept)."""
    whole, _, frac = post.message_id.partition(".")
    return f"{int(whole) + seconds}.{frac or '000000'}"


# -- capture over HTTP ------------------------------------------------------------------------------------------------


async def test_thread_reply_is_stored_with_payload_times_and_counted(rig: Rig) -> None:
    post = await rig.post_prompt()
    assert rig.fake.calls_to("chat.postMessage")[0]["args"]["channel"] == CHANNEL
    reply_ts = ts_at(post, 600)
    await rig.event(
        slack_thread_reply("Workforce planning matters", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts)
    )

    [reply] = rig.rows("replies")
    assert reply["message_id"] == reply_ts
    assert reply["member_id"] == f"slack:{MEMBER}"
    assert reply["text"] == "Workforce planning matters"
    assert reply["created_at"] == to_db(from_slack_ts(reply_ts))
    assert reply["post_id"] == post.id
    assert post.posted_at == from_slack_ts(post.message_id)
    summary = rig.summary(post)
    assert summary["totals"]["replies"] == 1
    assert summary["totals"]["participants"] == 1
    assert summary["totals"]["median_minutes_to_first_reply"] == 10.0
    assert summary["by_post"][0]["post_id"] == f"slack:{CHANNEL}:{post.message_id}"


async def test_thread_broadcast_counts_as_reply(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_broadcast("also to channel", thread_ts=post.message_id, channel=CHANNEL))
    [reply] = rig.rows("replies")
    assert reply["text"] == "also to channel"
    assert rig.summary(post)["totals"]["replies"] == 1


async def test_edit_updates_text_and_keeps_edit_time(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts, edit_ts = ts_at(post, 60), ts_at(post, 120)
    await rig.event(slack_thread_reply("first", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    await rig.event(
        slack_message_changed(
            ts=reply_ts, new_text="second", thread_ts=post.message_id, channel=CHANNEL, edit_ts=edit_ts
        )
    )
    [reply] = rig.rows("replies")
    assert reply["text"] == "second"
    assert reply["edited_at"] == to_db(from_slack_ts(edit_ts))
    assert reply["created_at"] == to_db(from_slack_ts(reply_ts))
    assert rig.summary(post)["totals"]["replies"] == 1


async def test_edit_before_reply_stores_the_edited_reply(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    await rig.event(slack_message_changed(ts=reply_ts, new_text="edited", thread_ts=post.message_id, channel=CHANNEL))
    await rig.event(slack_thread_reply("original", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    [reply] = rig.rows("replies")
    assert reply["text"] == "edited"
    assert reply["created_at"] == to_db(from_slack_ts(reply_ts))


async def test_delete_removes_reply_and_its_reactions(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    await rig.event(slack_thread_reply("to delete", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    await rig.event(slack_reaction_added("+1", ts=reply_ts, user="U222", channel=CHANNEL))
    assert rig.count("reactions") == 1
    await rig.event(slack_message_deleted(deleted_ts=reply_ts, thread_ts=post.message_id, channel=CHANNEL))
    assert rig.rows("replies") == []
    assert rig.rows("reactions") == []
    assert [r["message_id"] for r in rig.rows("deleted_messages")] == [reply_ts]
    totals = rig.summary(post)["totals"]
    assert (totals["replies"], totals["reactions"]) == (0, 0)
    # The reply delivered late (a retry) is never stored again.
    await rig.event(slack_thread_reply("to delete", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    assert rig.rows("replies") == []


async def test_reactions_on_post_and_reply_added_twice_count_once_and_removed(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    await rig.event(slack_thread_reply("reply", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    await rig.event(
        slack_reaction_added("+1", ts=post.message_id, user="U222", channel=CHANNEL, event_ts=ts_at(post, 70))
    )
    await rig.event(
        slack_reaction_added("+1", ts=post.message_id, user="U222", channel=CHANNEL, event_ts=ts_at(post, 71))
    )
    await rig.event(slack_reaction_added("tada", ts=reply_ts, user="U333", channel=CHANNEL, event_ts=ts_at(post, 80)))
    rows = rig.rows("reactions")
    assert [(r["target_id"], r["name"], r["member_id"]) for r in rows] == [
        (post.message_id, "+1", "slack:U222"),
        (reply_ts, "tada", "slack:U333"),
    ]
    assert rows[1]["created_at"] == to_db(from_slack_ts(ts_at(post, 80)))  # the reaction's event_ts
    assert rows[1]["reply_id"] is not None
    summary = rig.summary(post)
    assert summary["totals"]["reactions"] == 2
    assert summary["totals"]["participants"] == 3
    assert summary["top_reactions"] == [{"name": "+1", "count": 1}, {"name": "tada", "count": 1}]

    await rig.event(slack_reaction_removed("tada", ts=reply_ts, user="U333", channel=CHANNEL, event_ts=ts_at(post, 90)))
    removed = next(r for r in rig.rows("reactions") if r["name"] == "tada")
    assert removed["removed_at"] == to_db(from_slack_ts(ts_at(post, 90)))
    assert rig.summary(post)["totals"]["reactions"] == 1


async def test_reaction_before_its_reply_counts_once_the_reply_arrives(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    await rig.event(slack_reaction_added("heart", ts=reply_ts, user="U222", channel=CHANNEL, event_ts=ts_at(post, 61)))
    [pending] = rig.rows("reactions")
    assert pending["post_id"] is None
    assert rig.summary(post)["totals"]["reactions"] == 0
    await rig.event(slack_thread_reply("late", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    [resolved] = rig.rows("reactions")
    assert resolved["post_id"] == post.id
    assert resolved["reply_id"] == rig.rows("replies")[0]["id"]
    assert rig.summary(post)["totals"]["reactions"] == 1


async def test_parent_message_changed_changes_nothing(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    await rig.event(slack_thread_reply("reply", thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    before = (rig.rows("posts"), rig.rows("replies"), rig.rows("seen_events"))
    parent = slack_message_changed(
        ts=post.message_id, new_text="prompt", thread_ts=post.message_id, channel=CHANNEL, user=SLACK_BOT_USER_ID
    )
    parent["message"].pop("bot_id", None)  # even without bot_id, the root's own change is not a reply
    parent["message"].update({"reply_count": 1, "latest_reply": reply_ts})
    await rig.event(parent)
    assert (rig.rows("posts"), rig.rows("replies"), rig.rows("seen_events")) == before


def _bot_reply(thread_ts: str) -> dict[str, Any]:
    event = slack_thread_reply("from another bot", thread_ts=thread_ts, channel=CHANNEL, user="UOTHER")
    event["bot_id"] = "BOTHER"
    return event


def _bot_message_subtype(thread_ts: str) -> dict[str, Any]:
    event = slack_thread_reply("bot", thread_ts=thread_ts, channel=CHANNEL)
    event.update({"subtype": "bot_message", "bot_id": "BOTHER"})
    del event["user"]
    return event


def _own_reply(thread_ts: str) -> dict[str, Any]:
    event = slack_thread_reply("our own", thread_ts=thread_ts, channel=CHANNEL, user=SLACK_BOT_USER_ID)
    event["bot_id"] = SLACK_BOT_ID
    return event


def _channel_join(thread_ts: str) -> dict[str, Any]:
    event = slack_message("<@U999> has joined the channel", channel=CHANNEL, user="U999")
    event["subtype"] = "channel_join"
    return event


def _file_only(thread_ts: str) -> dict[str, Any]:
    event = slack_thread_reply("", thread_ts=thread_ts, channel=CHANNEL)
    event.update({"subtype": "file_share", "files": [{"id": "F1", "name": "x.png"}]})
    return event


IGNORED_EVENTS = {
    "bot_id": _bot_reply,
    "bot_message": _bot_message_subtype,
    "own_message": _own_reply,
    "top_level": lambda t: slack_message("not in a thread", channel=CHANNEL),
    "thread_root_itself": lambda t: slack_thread_reply("root", thread_ts=t, ts=t, channel=CHANNEL),
    "non_prompt_thread": lambda t: slack_thread_reply("other thread", thread_ts="1732350000.999999", channel=CHANNEL),
    "other_channel": lambda t: slack_thread_reply("same ts, other channel", thread_ts=t, channel="C0OTHER"),
    "channel_join": _channel_join,
    "file_only": _file_only,
    "reaction_on_file": lambda t: {
        "type": "reaction_added",
        "user": MEMBER,
        "reaction": "+1",
        "item": {"type": "file", "file": "F123"},
        "event_ts": next_slack_ts(),
    },
    "unknown_event_type": lambda t: {"type": "app_mention", "user": MEMBER, "text": "hi", "ts": next_slack_ts()},
}


@pytest.mark.parametrize("make", IGNORED_EVENTS.values(), ids=IGNORED_EVENTS.keys())
async def test_ignored_messages_are_never_stored(rig: Rig, make: Any) -> None:
    post = await rig.post_prompt()
    response = await rig.event(make(post.message_id))
    assert response.status == 200
    for table in ("replies", "reactions", "members", "seen_events", "deleted_messages"):
        assert rig.rows(table) == [], table
    assert rig.fake.calls_to("users.info") == []


async def test_retries_and_duplicate_deliveries_store_once(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply = slack_thread_reply("once", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60))
    event_id = new_event_id()
    await rig.event(reply, event_id=event_id)
    await rig.event(
        reply, event_id=event_id, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    await rig.event(reply, event_id=event_id, headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    # The same message under another event id (Slack re-delivering after a reconnect) is still one reply.
    await rig.event(reply, event_id=new_event_id())
    assert len(rig.rows("replies")) == 1
    assert [r["event_key"] for r in rig.rows("seen_events")] == [event_id]
    # A reaction retried after its removal changes nothing either.
    reaction_id = new_event_id()
    added = slack_reaction_added("+1", ts=post.message_id, channel=CHANNEL, event_ts=ts_at(post, 70))
    await rig.event(added, event_id=reaction_id)
    await rig.event(slack_reaction_removed("+1", ts=post.message_id, channel=CHANNEL, event_ts=ts_at(post, 80)))
    await rig.event(added, event_id=reaction_id, headers={"X-Slack-Retry-Num": "3"})
    [reaction] = rig.rows("reactions")
    assert reaction["removed_at"] == to_db(from_slack_ts(ts_at(post, 80)))
    assert rig.summary(post)["totals"]["reactions"] == 0


async def test_optout_erases_and_stops_capture(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("before", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    await rig.event(slack_reaction_added("+1", ts=post.message_id, channel=CHANNEL))
    assert (rig.count("replies"), rig.count("reactions")) == (1, 1)

    ack = await rig.command("optout")
    assert ack["response_type"] == "ephemeral"
    assert ack["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "You have opted out", "emoji": True},
    }
    assert "Erased 1 replies and 1 reactions" in ack["text"]
    assert (rig.count("replies"), rig.count("reactions"), rig.count("members")) == (0, 0, 0)
    assert [r["member_id"] for r in rig.rows("optouts")] == [f"slack:{MEMBER}"]

    await rig.event(slack_thread_reply("after", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 120)))
    await rig.event(slack_reaction_added("tada", ts=post.message_id, channel=CHANNEL))
    assert (rig.count("replies"), rig.count("reactions"), rig.count("members")) == (0, 0, 0)

    ack = await rig.command("optin")
    assert ack["text"].startswith("You have opted in")
    await rig.event(slack_thread_reply("back", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 180)))
    assert [r["text"] for r in rig.rows("replies")] == ["back"]


# -- /engage ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["summary", "summary this", "post", "themes", "schedule", "export", "export last"])
async def test_member_is_refused_admin_commands_and_nothing_changes(rig: Rig, text: str) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("hello", thread_ts=post.message_id, channel=CHANNEL))
    await rig.slack.wait_idle()
    before = {t: rig.rows(t) for t in ("posts", "replies", "reactions", "members", "optouts")}
    calls_before = len(rig.fake.calls)

    ack = await rig.command(text, user=MEMBER)
    assert ack["response_type"] == "ephemeral"
    assert ack["blocks"][0]["text"]["text"] == "Not allowed"
    assert "is for engagebot admins" in ack["text"]
    assert {t: rig.rows(t) for t in before} == before
    assert [c["method"] for c in rig.fake.calls[calls_before:]] == []  # no post, no upload, no DM
    assert rig.fake.responses == []


@pytest.mark.parametrize(("user", "admin_listed"), [(MEMBER, False), (ADMIN, True)])
async def test_help_lists_what_the_caller_may_do(rig: Rig, user: str, admin_listed: bool) -> None:
    for text in ("help", "", "engage help"):
        ack = await rig.command(text, user=user)
        assert ack["blocks"][0]["text"]["text"] == "engagebot commands"
        assert "optout" in ack["text"]
        assert ("summary [this|last|YYYY-Www]" in ack["text"]) is admin_listed


@pytest.mark.parametrize("user", [MEMBER, ADMIN])
async def test_unknown_subcommand_gets_help(rig: Rig, user: str) -> None:
    ack = await rig.command("frobnicate now", user=user)
    assert ack["blocks"][0]["text"]["text"] == "engagebot commands"
    assert "Unknown command 'frobnicate'" in ack["text"]


async def test_privacy_for_anyone(rig: Rig) -> None:
    ack = await rig.command("privacy")
    assert ack["blocks"][0]["text"]["text"] == "Privacy"
    assert "optout" in ack["text"]


async def test_admin_themes_and_schedule_answer_in_the_ack(rig: Rig) -> None:
    ack = await rig.command("themes", user=ADMIN)
    assert ack["blocks"][0]["text"]["text"] == "Themes"
    assert "Workforce" in ack["text"]
    ack = await rig.command("schedule", user=ADMIN)
    assert ack["blocks"][0]["text"]["text"] == "Schedule"
    fields = [f["text"] for f in ack["blocks"][1]["fields"]]
    assert fields[0].startswith("*Next prompt*\n")
    assert fields[1].startswith("*Next summary*\n")


async def test_admin_summary_arrives_through_response_url(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("one", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    await rig.event(slack_reaction_added("+1", ts=post.message_id, user="U222", channel=CHANNEL))
    week = IsoWeek.containing(post.posted_at, rig.runtime.settings.timezone)

    ack = await rig.command(f"summary {week}", user=ADMIN)
    assert ack == {"response_type": "ephemeral", "text": "Working on `summary`…"}
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert reply["blocks"][0]["text"]["text"].startswith(f"Engagement summary {week}")
    facts = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in reply["blocks"][1]["fields"]}
    assert facts["*Posts*"].startswith("1 ")
    assert facts["*Replies*"].startswith("1 ")
    assert facts["*Reactions*"].startswith("1 ")
    assert "Replies: 1" in reply["text"]


async def test_admin_summary_with_a_bad_week_explains(rig: Rig) -> None:
    await rig.command("summary 2026-W99", user=ADMIN)
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "Cannot do that"
    assert "2026-W99" in reply["text"]


async def test_admin_post_posts_in_the_channel_of_the_command(rig: Rig) -> None:
    ack = await rig.command("post Workforce", user=ADMIN, channel="C0HERE")
    assert ack["text"] == "Working on `post`…"
    [call] = rig.fake.calls_to("chat.postMessage")
    assert call["args"]["channel"] == "C0HERE"
    assert call["auth"] == f"Bearer {TOKEN}"
    [post] = rig.rows("posts")
    assert (post["channel_id"], post["theme"], post["message_id"]) == ("C0HERE", "Workforce", "1732350000.000100")
    assert post["posted_at"] == to_db(from_slack_ts("1732350000.000100"))
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "Prompt posted"


async def test_admin_post_failure_is_reported_and_records_nothing(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", error="channel_not_found")
    await rig.command("post", user=ADMIN, channel="C0GONE")
    assert rig.rows("posts") == []
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "The platform refused"
    assert "channel_not_found" in reply["text"]


async def test_admin_export_is_uploaded_privately(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("exported", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 60)))
    week = IsoWeek.containing(post.posted_at, rig.runtime.settings.timezone)

    ack = await rig.command(f"export {week}", user=ADMIN)
    assert ack["text"] == "Working on `export`…"
    [opened] = rig.fake.calls_to("conversations.open")
    assert opened["args"]["users"] == ADMIN
    [upload] = rig.fake.uploads.values()
    assert upload.completed
    assert upload.channel_id == f"D{ADMIN}"
    assert upload.filename == f"engagebot-{week}.csv"
    assert upload.data is not None
    lines = upload.data.decode().splitlines()
    assert lines[0].split(",") == list(EXPORT_FIELDS)
    assert lines[0].startswith("kind,platform,channel,post_id,theme,prompt,message_id,member,display_name,text,")
    assert len(lines) == 2
    assert "exported" in lines[1]
    [reply] = rig.fake.responses
    assert reply["response_type"] == "ephemeral"
    assert f"engagebot-{week}.csv" in reply["text"]
    assert "direct message" in reply["text"]
    # Nothing of the export went to the channel.
    assert [c["args"]["channel"] for c in rig.fake.calls_to("chat.postMessage")] == [CHANNEL]


async def test_mydata_sends_members_their_own_data_privately(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(
        slack_thread_reply("mine", thread_ts=post.message_id, channel=CHANNEL, user=MEMBER, ts=ts_at(post, 60))
    )
    await rig.event(
        slack_thread_reply("theirs", thread_ts=post.message_id, channel=CHANNEL, user="UOTHER", ts=ts_at(post, 61))
    )
    ack = await rig.command("mydata", user=MEMBER)
    assert ack["text"] == "Working on `mydata`…"
    [opened] = rig.fake.calls_to("conversations.open")
    assert opened["args"]["users"] == MEMBER
    [upload] = rig.fake.uploads.values()
    assert upload.channel_id == f"D{MEMBER}"
    assert upload.data is not None
    data = json.loads(upload.data)
    assert data["member_id"] == f"slack:{MEMBER}"
    assert [r["text"] for r in data["replies"]] == ["mine"]
    assert b"UOTHER" not in upload.data
    assert b"theirs" not in upload.data


async def test_export_upload_failure_is_reported(rig: Rig) -> None:
    rig.fake.fail_next("files.getUploadURLExternal", error="not_allowed_token_type")
    await rig.command("export this", user=ADMIN)
    [reply] = rig.fake.responses
    assert reply["blocks"][0]["text"]["text"] == "The platform refused"
    assert "not_allowed_token_type" in reply["text"]
    assert rig.fake.uploads == {}


async def test_interactivity_payload_is_acknowledged_and_ignored(rig: Rig) -> None:
    payload = {"type": "block_actions", "user": {"id": MEMBER}, "actions": [{"action_id": "x", "value": "1"}]}
    body = urlencode({"payload": json.dumps(payload)})
    response = await rig.raw(body, content_type="application/x-www-form-urlencoded")
    assert response.status == 200
    assert rig.count("replies") == 0


# -- display names ----------------------------------------------------------------------------------------------------


async def test_display_name_fetched_once_in_background_and_cached(rig: Rig) -> None:
    rig.fake.display_names["U222"] = "Dr Ada"
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("a", thread_ts=post.message_id, channel=CHANNEL, user="U222"))
    await rig.slack.wait_idle()
    assert [c["args"]["user"] for c in rig.fake.calls_to("users.info")] == ["U222"]
    [member] = rig.rows("members")
    assert (member["member_id"], member["display_name"]) == ("slack:U222", "Dr Ada")
    await rig.event(slack_thread_reply("b", thread_ts=post.message_id, channel=CHANNEL, user="U222"))
    await rig.event(slack_reaction_added("+1", ts=post.message_id, user="U222", channel=CHANNEL))
    await rig.slack.wait_idle()
    assert len(rig.fake.calls_to("users.info")) == 1


async def test_display_name_failure_is_logged_not_raised(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.fake.fail_next("users.info", error="user_not_found")
    post = await rig.post_prompt()
    with caplog.at_level(logging.INFO):
        await rig.event(slack_thread_reply("a", thread_ts=post.message_id, channel=CHANNEL))
        await rig.slack.wait_idle()
    assert rig.count("replies") == 1
    assert rig.rows("members")[0]["display_name"] is None
    assert "slack users.info failed" in caplog.text


# -- posting ----------------------------------------------------------------------------------------------------------


async def test_rate_limited_post_is_retried_and_recorded_once(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=429, retry_after=0)
    post = await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 2
    [row] = rig.rows("posts")
    assert row["message_id"] == post.message_id


async def test_transient_server_error_is_retried(rig: Rig) -> None:
    rig.fake.fail_next("chat.postMessage", status=503)
    await rig.post_prompt()
    assert len(rig.fake.calls_to("chat.postMessage")) == 2
    assert rig.count("posts") == 1


async def test_prompt_and_card_render_as_block_kit(rig: Rig) -> None:
    post = await rig.post_prompt()
    [call] = rig.fake.calls_to("chat.postMessage")
    blocks = call["args"]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert post.prompt in json.dumps(blocks)
    assert post.theme in call["args"]["text"]
    sent = await rig.slack.poster.post_card("C0SUMMARY", Card("Weekly", (("Posts", "3"),), (("Top", "• a"),)))
    assert sent.posted_at == from_slack_ts(sent.message_id)
    card_call = rig.fake.calls_to("chat.postMessage")[-1]
    assert card_call["args"]["channel"] == "C0SUMMARY"
    assert card_call["args"]["text"] == "Weekly\nPosts: 3\nTop\n• a"


# -- request security and malformed input -----------------------------------------------------------------------------


async def _stored_nothing(rig: Rig) -> None:
    for table in ("replies", "reactions", "members", "seen_events", "deleted_messages"):
        assert rig.rows(table) == [], table


@pytest.mark.parametrize(
    "variant", ["forged", "missing_headers", "missing_signature", "stale_301s", "future_301s", "garbage_ts"]
)
async def test_bad_signatures_get_401_and_store_nothing(rig: Rig, variant: str) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    now = int(time.time())
    headers: dict[str, str] = {"Content-Type": "application/json"}
    if variant == "forged":
        headers.update(sign_slack(body, "wrong-secret"))
    elif variant == "missing_signature":
        headers.update({"X-Slack-Request-Timestamp": str(now)})
    elif variant == "stale_301s":
        headers.update(sign_slack(body, SECRET, now - 301))
    elif variant == "future_301s":
        headers.update(sign_slack(body, SECRET, now + 301))
    elif variant == "garbage_ts":
        headers.update({**sign_slack(body, SECRET), "X-Slack-Request-Timestamp": "soon"})
    response = await rig.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    await _stored_nothing(rig)


async def test_signature_within_five_minutes_is_accepted(rig: Rig) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    response = await rig.raw(body, ts=int(time.time()) - 290)
    assert response.status == 200
    assert rig.count("replies") == 1


async def test_signature_covers_the_exact_body(rig: Rig) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
    tampered = body.replace('"x"', '"y"')
    response = await rig.client.post("/slack/events", data=tampered, headers=headers)
    assert response.status == 401
    await _stored_nothing(rig)


MALFORMED = {
    "invalid_json": "{not json",
    "json_list": "[1, 2]",
    "json_string": '"event_callback"',
    "no_type": json.dumps({"event_id": "Ev1", "event": {"type": "message"}}),
    "event_without_event": json.dumps({"type": "event_callback", "event_id": "Ev1"}),
    "event_not_object": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": "message"}),
    "event_type_not_string": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": 5}}),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_bodies_get_4xx(rig: Rig, body: str) -> None:
    await rig.post_prompt()
    response = await rig.raw(body)
    assert 400 <= response.status < 500
    await _stored_nothing(rig)


def _reply_with(post: PostRecord, **changes: Any) -> dict[str, Any]:
    event = slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL)
    for key, value in changes.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    return event


BAD_EVENTS = {
    "ts_is_number": lambda p: _reply_with(p, ts=5),
    "ts_not_a_timestamp": lambda p: _reply_with(p, ts="yesterday"),
    "missing_user": lambda p: _reply_with(p, user=None),
    "user_is_list": lambda p: _reply_with(p, user=["U1"]),
    "missing_channel": lambda p: _reply_with(p, channel=None),
    "text_is_object": lambda p: _reply_with(p, text={"a": 1}),
    "thread_ts_is_number": lambda p: _reply_with(p, thread_ts=1.5),
    "changed_without_message": lambda p: {"type": "message", "subtype": "message_changed", "channel": CHANNEL},
    "deleted_without_ts": lambda p: {"type": "message", "subtype": "message_deleted", "channel": CHANNEL},
    "reaction_without_item": lambda p: {"type": "reaction_added", "user": MEMBER, "reaction": "+1", "event_ts": "1.0"},
    "reaction_bad_event_ts": lambda p: {**slack_reaction_added("+1", ts=p.message_id, channel=CHANNEL), "event_ts": 7},
}


@pytest.mark.parametrize("make", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
async def test_events_of_the_wrong_shape_get_400_never_500(
    rig: Rig, make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    post = await rig.post_prompt()
    with caplog.at_level(logging.INFO):
        response = await rig.raw(slack_event_body(make(post), new_event_id()))
    assert response.status == 400
    await _stored_nothing(rig)
    assert "slack request malformed status=400" in caplog.text


async def test_bad_form_bodies_get_4xx(rig: Rig) -> None:
    for body in ("payload=%7Bnot-json", "payload=%5B1%5D", "command=%2Fengage&text=help"):
        response = await rig.raw(body, content_type="application/x-www-form-urlencoded")
        assert 400 <= response.status < 500, body
    # Not UTF-8, so not a body Slack signs: rejected before anything reads it.
    raw = b"\xff\xfe{}"
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    response = await rig.client.post("/slack/events", data=raw, headers=headers)
    assert 400 <= response.status < 500


async def test_empty_and_oversized_bodies(rig: Rig) -> None:
    assert (await rig.raw("")).status == 400
    assert (await rig.raw("", sign=False)).status == 401
    big = slack_event_body({"type": "message", "text": "x" * (1024 * 1024)}, new_event_id())
    assert (await rig.raw(big)).status == 413
    await _stored_nothing(rig)


async def test_storage_failure_is_503_so_slack_retries(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    post = await rig.post_prompt()

    def locked(event: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(rig.runtime.capture, "apply", locked)
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    response = await rig.raw(body)
    assert response.status == 503
    await _stored_nothing(rig)
    monkeypatch.undo()
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200  # Slack's retry is stored
    assert rig.count("replies") == 1


async def test_auth_test_failure_is_503_and_the_retry_is_stored(rig: Rig) -> None:
    post = await rig.post_prompt()
    rig.fake.fail_next("auth.test", error="service_unavailable")
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    assert (await rig.raw(body)).status == 503
    await _stored_nothing(rig)
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200
    assert rig.count("replies") == 1
    assert len(rig.fake.calls_to("auth.test")) == 2


async def test_url_verification_answers_the_challenge_when_signed(rig: Rig) -> None:
    body = slack_url_verification_body("challenge-abc")
    response = await rig.raw(body)
    assert response.status == 200
    assert await response.json() == {"challenge": "challenge-abc"}
    assert (await rig.raw(body, sign=False)).status == 401


async def test_auth_test_is_called_once(rig: Rig) -> None:
    post = await rig.post_prompt()
    for _ in range(3):
        await rig.event(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL))
    assert len(rig.fake.calls_to("auth.test")) == 1


# Slack's published example ("Verifying requests from Slack"; PLATFORM_NOTES §1.3).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = 1531420618
VECTOR_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
VECTOR_HEADERS = {
    "X-Slack-Request-Timestamp": str(VECTOR_TS),
    "X-Slack-Signature": VECTOR_SIGNATURE,
    "Content-Type": "application/x-www-form-urlencoded",
}


class FixedClock:
    def now(self) -> float:
        return float(VECTOR_TS)


def test_slack_published_signature_example() -> None:
    fixed = SignatureVerifier(VECTOR_SECRET, clock=FixedClock())  # type: ignore[arg-type]
    assert fixed.is_valid(VECTOR_BODY, str(VECTOR_TS), VECTOR_SIGNATURE)
    assert fixed.generate_signature(timestamp=str(VECTOR_TS), body=VECTOR_BODY) == VECTOR_SIGNATURE
    assert not fixed.is_valid(VECTOR_BODY + "x", str(VECTOR_TS), VECTOR_SIGNATURE)
    assert not SignatureVerifier(VECTOR_SECRET).is_valid(VECTOR_BODY, str(VECTOR_TS), VECTOR_SIGNATURE)  # stale now


async def test_adapter_signature_check_accepts_the_published_example(tmp_path: Path) -> None:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        settings = load_settings(slack_env(api, tmp_path, SLACK_SIGNING_SECRET=VECTOR_SECRET), cwd=tmp_path)
        runtime = Runtime.build(settings, with_teams=False)
        try:
            slack = runtime.slack
            assert slack is not None
            assert slack.verifier is not None
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                # With the real clock the example is five years old: rejected.
                assert not slack.verify(VECTOR_BODY, VECTOR_HEADERS)
                response = await client.post("/slack/events", data=VECTOR_BODY, headers=VECTOR_HEADERS)
                assert response.status == 401
                slack.verifier.clock = FixedClock()  # type: ignore[assignment]
                assert slack.verify(VECTOR_BODY, VECTOR_HEADERS)
                assert slack.verify(VECTOR_BODY.encode(), VECTOR_HEADERS)
                assert not slack.verify(VECTOR_BODY.replace("roadrunner", "coyote"), VECTOR_HEADERS)
                response = await client.post("/slack/events", data=VECTOR_BODY, headers=VECTOR_HEADERS)
                assert response.status == 200  # a verified command that is not ours: acknowledged, ignored
                assert fake.responses == []
        finally:
            runtime.close()


# -- logging ----------------------------------------------------------------------------------------------------------


async def test_info_logs_hold_no_text_token_or_secret(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    post = await rig.post_prompt()
    secret_text = "my-confidential-opinion-42"
    with caplog.at_level(logging.DEBUG if False else logging.INFO):
        await rig.event(slack_thread_reply(secret_text, thread_ts=post.message_id, channel=CHANNEL))
        await rig.event(slack_message(secret_text, channel=CHANNEL))
        await rig.raw(slack_event_body(_reply_with(post, text=secret_text, ts=5), new_event_id()))
        await rig.raw(slack_event_body(slack_message(secret_text), new_event_id()), secret="forged")
        await rig.command(f"summary {secret_text}", user=ADMIN)
        await rig.slack.wait_idle()
    assert "slack event type=message subtype=- outcome=stored retry=0" in caplog.text
    assert "slack event type=message subtype=- outcome=ignored" in caplog.text
    for forbidden in (secret_text, TOKEN, SECRET):
        assert forbidden not in caplog.text


# -- pure mapping functions -------------------------------------------------------------------------------------------


def _body(event: dict[str, Any], event_id: str = "EvPURE") -> dict[str, Any]:
    body: dict[str, Any] = json.loads(slack_event_body(event, event_id))
    return body


def test_reply_from_slack_maps_payload_fields() -> None:
    event = slack_thread_reply("hi", thread_ts="1700000000.000100", channel="C1", user="U9", ts="1700000060.000200")
    reply = reply_from_slack(_body(event))
    assert reply == ReplyPosted(
        platform=Platform.SLACK,
        channel_id="C1",
        occurred_at=from_slack_ts("1700000060.000200"),
        event_key="EvPURE",
        thread_id="1700000000.000100",
        message_id="1700000060.000200",
        user_id="U9",
        text="hi",
    )
    assert reply_from_slack(_body(slack_message("top"))) is None
    broadcast = slack_thread_broadcast("b", thread_ts="1700000000.000100", ts="1700000070.000000")
    assert reply_from_slack(_body(broadcast)) is not None


def test_edit_and_delete_from_slack() -> None:
    changed = slack_message_changed(
        ts="1700000060.000200", new_text="new", thread_ts="1700000000.000100", edit_ts="1700000100.000000"
    )
    edit = edit_from_slack(_body(changed))
    assert isinstance(edit, ReplyEdited)
    assert (edit.message_id, edit.thread_id, edit.text, edit.user_id) == (
        "1700000060.000200",
        "1700000000.000100",
        "new",
        "U111",
    )
    assert edit.occurred_at == from_slack_ts("1700000100.000000")
    assert edit.original_at == from_slack_ts("1700000060.000200")
    del changed["message"]["edited"]
    fallback = edit_from_slack(_body(changed))
    assert fallback is not None
    assert fallback.occurred_at == from_slack_ts(changed["ts"])

    deleted = slack_message_deleted(
        deleted_ts="1700000060.000200", thread_ts="1700000000.000100", event_ts="1700000200.0"
    )
    gone = deletion_from_slack(_body(deleted))
    assert gone == ReplyDeleted(
        platform=Platform.SLACK,
        channel_id="C111",
        occurred_at=from_slack_ts("1700000200.0"),
        event_key="EvPURE",
        message_id="1700000060.000200",
        thread_id="1700000000.000100",
    )
    assert deletion_from_slack(_body(slack_message_deleted(deleted_ts="1700000060.000200"))) is None  # top-level


def test_reaction_from_slack() -> None:
    added = reaction_from_slack(_body(slack_reaction_added("+1", ts="1700000000.000100", event_ts="1700000005.000001")))
    assert added == ReactionAdded(
        platform=Platform.SLACK,
        channel_id="C111",
        occurred_at=from_slack_ts("1700000005.000001"),
        event_key="EvPURE",
        target_id="1700000000.000100",
        user_id="U111",
        name="+1",
    )
    removed = reaction_from_slack(_body(slack_reaction_removed("tada", ts="1700000000.000100")))
    assert isinstance(removed, ReactionRemoved)
    assert removed.name == "tada"
    assert event_from_slack(_body({"type": "team_join", "user": {"id": "U1"}})) is None


def test_card_blocks_limits() -> None:
    facts = tuple((f"F{i}", "v" * 3000) for i in range(12))
    card = Card("T" * 200, facts, (("", "body"), ("Head", "text"), ("", "  ")), footer="foot")
    blocks = card_blocks(card)
    assert blocks[0]["text"]["text"] == "T" * 149 + "…"
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 2]
    assert all(len(f["text"]) <= 2000 for b in blocks if "fields" in b for f in b["fields"])
    assert [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b] == ["body", "*Head*\ntext"]
    assert blocks[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "foot"}]}
    assert len(card_text(card)) <= 3000


# -- the "Done when" of issue 3: CLI post, Slack events, CLI summary ------------------------------------------------


async def test_end_to_end_cli_post_events_and_cli_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeSlackAPI()
    post_ts = "1795514400.000100"  # Tue 24 Nov 2026 10:00 UTC, in 2026-W48
    fake.ts_queue.append(post_ts)
    async with fake.serve() as api:
        env = slack_env(api, tmp_path)
        monkeypatch.chdir(tmp_path)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        root_handlers = logging.getLogger().handlers[:]
        try:
            # app.main runs asyncio.run itself, so it runs in a thread while this loop serves the fake.
            code = await asyncio.to_thread(engagebot_app.main, ["post", "--platform", "slack", "--channel", "C0E2E"])
            assert code == 0
            capsys.readouterr()
            [call] = fake.calls_to("chat.postMessage")
            assert call["args"]["channel"] == "C0E2E"

            runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
            try:
                async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:

                    async def send(event: dict[str, Any], event_id: str | None = None) -> None:
                        body = slack_event_body(event, event_id or new_event_id())
                        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
                        response = await client.post("/slack/events", data=body, headers=headers)
                        assert response.status == 200

                    def reply(user: str, minutes: int) -> dict[str, Any]:
                        ts = f"{1795514400 + minutes * 60}.000100"
                        return slack_thread_reply(f"view {user}", thread_ts=post_ts, channel="C0E2E", user=user, ts=ts)

                    def react(name: str, user: str, target: str, minutes: int) -> dict[str, Any]:
                        at = f"{1795514400 + minutes * 60}.000000"
                        return slack_reaction_added(name, ts=target, user=user, channel="C0E2E", event_ts=at)

                    first = reply("UA", 6)  # first reply 6 minutes after the post
                    await send(first, "EvE2E1")
                    await send(first, "EvE2E1")  # a retry
                    await send(reply("UB", 30))
                    await send(reply("UA", 45))
                    await send(slack_thread_reply("top-level", channel="C0E2E", thread_ts="1795514400.999999"))
                    await send(react("+1", "UC", post_ts, 10))
                    await send(react("+1", "UC", post_ts, 11))  # added twice counts once
                    await send(react("tada", "UB", first["ts"], 20))
                    await send(react("eyes", "UD", post_ts, 25))
                    await send(
                        slack_reaction_removed(
                            "eyes", ts=post_ts, user="UD", channel="C0E2E", event_ts=f"{1795514400 + 26 * 60}.0"
                        )
                    )
                    # Next week (2026-W49): not counted in W48.
                    await send(reply("UE", 7 * 24 * 60))
                    assert runtime.slack is not None
                    await runtime.slack.wait_idle()
            finally:
                runtime.close()

            code = await asyncio.to_thread(engagebot_app.main, ["summary", "--week", "2026-W48", "--json"])
        finally:
            logging.getLogger().handlers[:] = root_handlers
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["week"] == "2026-W48"
    # By hand: replies UA(6), UB(30), UA(45) = 3; reactions +1 by UC and tada by UB = 2 (eyes removed);
    # participants UA, UB, UC = 3, all new; first reply 6 minutes after the post.
    assert summary["totals"] == {
        "posts": 1,
        "replies": 3,
        "reactions": 2,
        "participants": 3,
        "new_participants": 3,
        "returning_participants": 0,
        "median_minutes_to_first_reply": 6.0,
    }
    assert summary["by_platform"]["slack"] == {"posts": 1, "replies": 3, "reactions": 2, "participants": 3}
    [by_post] = summary["by_post"]
    assert by_post["post_id"] == f"slack:C0E2E:{post_ts}"
    assert by_post["posted_at"] == "2026-11-24T10:00:00.000100+00:00"
    assert (by_post["replies"], by_post["reactions"], by_post["participants"]) == (3, 2, 3)
    assert summary["top_reactions"] == [{"name": "+1", "count": 1}, {"name": "tada", "count": 1}]


# -- Socket Mode and the manifest -------------------------------------------------------------------------------------


class SocketModeFakeSlackAPI(FakeSlackAPI):
    """Adds ``apps.connections.open``, which hands out the WebSocket URL of a local Socket Mode server."""

    ws_url = ""

    def _answer(self, method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        return super()._answer(method, args, request)


async def test_socket_mode_captures_and_acks_after_commit(tmp_path: Path) -> None:
    fake = SocketModeFakeSlackAPI()
    envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}})

        async def pump() -> None:
            while True:
                await ws.send_json(await envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            async for message in ws:  # ends when the client closes the connection
                if message.type == WSMsgType.TEXT:
                    await acks.put(json.loads(message.data))
        finally:
            sender.cancel()
        return ws

    socket_app = web.Application()
    socket_app.router.add_get("/link", websocket)
    async with fake.serve() as api, TestServer(socket_app, host="127.0.0.1") as socket_server:
        fake.ws_url = str(socket_server.make_url("/link")).replace("http://", "ws://")
        env = slack_env(api, tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")
        runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
        slack = runtime.slack
        assert slack is not None
        try:
            post = await runtime.engagement.post_prompt(slack.poster, CHANNEL)
            await slack.start()
            [opened] = fake.calls_to("apps.connections.open")
            assert opened["auth"] == "Bearer xapp-1-test"
            body = json.loads(
                slack_event_body(slack_thread_reply("via socket", thread_ts=post.message_id, channel=CHANNEL), "EvS1")
            )
            await envelopes.put(
                {
                    "envelope_id": "env-1",
                    "type": "events_api",
                    "payload": body,
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            ack = await asyncio.wait_for(acks.get(), timeout=10)
            assert ack["envelope_id"] == "env-1"
            # Acknowledged means committed: the reply is in SQLite when the ack is sent.
            rows = runtime.repo.db.execute("SELECT text FROM replies").fetchall()
            assert rows == [("via socket",)]
            # Without a signing secret the HTTP endpoint cannot authenticate anything.
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                event = slack_event_body(slack_thread_reply("http", thread_ts=post.message_id, channel=CHANNEL), "E2")
                response = await client.post("/slack/events", data=event, headers=sign_slack(event, SECRET))
                assert response.status == 401
            assert len(fake.calls_to("apps.connections.open")) == 1  # the app's startup did not connect again
        finally:
            await slack.close()
            runtime.close()


def _manifest_list(text: str, key: str) -> list[str]:
    """The items of one YAML block list (``key:`` then ``- item`` lines) from the manifest, comments dropped."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    items = []
    for line in lines[start + 1 :]:
        stripped = line.split("#", 1)[0].strip()
        if not stripped.startswith("- "):
            break
        items.append(stripped[2:].strip())
    return items


def test_manifest_requests_exactly_what_the_adapter_uses() -> None:
    text = (Path(__file__).parent.parent.parent / "adapters" / "manifests" / "slack.yaml").read_text(encoding="utf-8")
    assert sorted(_manifest_list(text, "bot")) == sorted(
        [
            "chat:write",
            "channels:history",
            "groups:history",
            "reactions:read",
            "commands",
            "users:read",
            "files:write",
            "im:write",
        ]
    )
    assert _manifest_list(text, "bot_events") == [
        "message.channels",
        "message.groups",
        "reaction_added",
        "reaction_removed",
    ]
    urls = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith(("url:", "request_url:"))
    ]
    assert urls == ["https://YOUR-HOST/slack/events"] * 3
    assert "command: /engage" in text
    assert "is_enabled: true" in text
