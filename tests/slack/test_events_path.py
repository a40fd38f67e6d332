"""The Events API capture path without Bolt's dispatch (adapters/slack/events.py): the signature is checked before
anything parses the body, the body is parsed once, bad input is an exact 4xx with nothing stored or asked of Slack,
a storage failure is a 503 with nothing half-written, the bot's own events are ignored as Bolt ignores them, and
Bolt and this path share one auth.test."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import pytest

from tests.fakes import sign_slack, slack_event_body, slack_reaction_added, slack_thread_reply
from tests.fakes.ids import SLACK_BOT_ID, SLACK_BOT_USER_ID
from tests.slack.rig import CHANNEL, SECRET, Rig, new_event_id

TABLES = ("replies", "reactions", "members", "seen_events", "deleted_messages")


def stored_nothing(rig: Rig) -> None:
    for table in TABLES:
        assert rig.rows(table) == [], table


async def no_bolt(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a captured event reached Bolt's dispatch")


async def test_captured_events_never_reach_bolt_and_are_committed_before_the_200(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await rig.post_prompt()
    monkeypatch.setattr(rig.slack.app, "async_dispatch", no_bolt)
    reply = slack_thread_reply("fast", thread_ts=post.message_id, channel=CHANNEL, user="U222")
    response = await rig.raw(slack_event_body(reply, new_event_id()))
    assert response.status == 200
    assert await response.read() == b""  # as Bolt's ack answers
    with sqlite3.connect(rig.runtime.repo.path) as other:  # committed: another connection sees it
        assert other.execute("SELECT text FROM replies").fetchall() == [("fast",)]
    reaction = slack_reaction_added("tada", ts=post.message_id, channel=CHANNEL, user="U222")
    assert (await rig.raw(slack_event_body(reaction, new_event_id()))).status == 200
    assert [r["name"] for r in rig.rows("reactions")] == ["tada"]


async def test_a_forged_or_stale_signature_is_401_before_the_body_is_parsed(rig: Rig) -> None:
    await rig.post_prompt()
    for body, secret, ts in (
        ("{not json", "wrong-secret", None),  # forged: 401, not the 400 the body would get
        ("{not json", SECRET, int(time.time()) - 301),  # stale
        (slack_event_body({"type": "message", "subtype": ["x"]}, "Ev1"), "wrong-secret", None),
    ):
        response = await rig.raw(body, secret=secret, ts=ts)
        assert response.status == 401
    stored_nothing(rig)
    assert rig.fake.calls_to("auth.test") == []  # nothing was asked of Slack either


BAD = {
    "malformed_json": "{not json",
    "nested_too_deep": '{"type": "event_callback", "event": {"type": "message", "x": ' + "[" * 70 + "]" * 70 + "}}",
    "huge_number": '{"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "ts": 1e999999}}',
    "event_type_is_a_list": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": ["message"]}}),
    "event_type_is_an_object": json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": {}}}),
    "subtype_is_a_list": json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "subtype": ["x"], "ts": "1.1"}}
    ),
    "user_is_a_number": json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "reaction_added", "user": 7}}
    ),
    "message_is_a_list": json.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "message": [1]}}
    ),
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
async def test_bad_signed_bodies_are_exactly_400_and_nothing_is_stored(rig: Rig, body: str) -> None:
    await rig.post_prompt()
    response = await rig.raw(body)
    assert response.status == 400
    stored_nothing(rig)
    assert rig.fake.calls_to("users.info") == []


async def test_a_storage_failure_is_503_with_nothing_half_written_and_the_retry_is_stored(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await rig.post_prompt()
    repo = rig.runtime.repo

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")  # after the member row was written in the same unit

    monkeypatch.setattr(repo, "insert_reply", fails)
    event_id = new_event_id()
    body = slack_event_body(slack_thread_reply("once", thread_ts=post.message_id, channel=CHANNEL), event_id)
    assert (await rig.raw(body)).status == 503
    stored_nothing(rig)  # no member row, no dedupe key: the unit's savepoint was rolled back
    monkeypatch.undo()
    assert (await rig.raw(body, headers={"X-Slack-Retry-Num": "1"})).status == 200
    assert [r["text"] for r in rig.rows("replies")] == ["once"]
    assert [r["event_key"] for r in rig.rows("seen_events")] == [event_id]


async def test_the_bots_own_events_are_ignored_as_bolt_ignores_them(rig: Rig) -> None:
    post = await rig.post_prompt()
    own_reply = slack_thread_reply("mine", thread_ts=post.message_id, channel=CHANNEL, user=SLACK_BOT_USER_ID)
    own_reaction = slack_reaction_added("eyes", ts=post.message_id, channel=CHANNEL, user=SLACK_BOT_USER_ID)
    by_bot_id = {**slack_thread_reply("app", thread_ts=post.message_id, channel=CHANNEL), "bot_id": SLACK_BOT_ID}
    for event in (own_reply, own_reaction, by_bot_id):
        response = await rig.raw(slack_event_body(event, new_event_id()))
        assert response.status == 200
    stored_nothing(rig)
    assert rig.fake.calls_to("users.info") == []


async def test_auth_test_is_asked_once_for_this_path_and_bolts_commands(rig: Rig) -> None:
    post = await rig.post_prompt()
    await rig.event(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL))
    await rig.command("help")  # through Bolt, whose authorization keeps the same auth.test result
    await rig.event(slack_reaction_added("+1", ts=post.message_id, channel=CHANNEL))
    assert len(rig.fake.calls_to("auth.test")) == 1


async def test_an_unsigned_request_with_a_valid_event_is_401(rig: Rig) -> None:
    post = await rig.post_prompt()
    body = slack_event_body(slack_thread_reply("x", thread_ts=post.message_id, channel=CHANNEL), new_event_id())
    headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
    del headers["X-Slack-Signature"]
    response = await rig.client.post("/slack/events", data=body, headers=headers)
    assert response.status == 401
    stored_nothing(rig)
