"""Capture over HTTP: signed events become stored replies, edits, deletions and reactions, exactly once;
the display names of the members who wrote them are fetched in the background."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from bot.timeutil import from_slack_ts, to_db
from tests.fakes import (
    SLACK_BOT_ID,
    SLACK_BOT_USER_ID,
    next_slack_ts,
    slack_link_unfurled,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_broadcast,
    slack_thread_reply,
)
from tests.slack.rig import CHANNEL, MEMBER, Rig, new_event_id, ts_at

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


async def test_link_unfurl_is_not_an_edit_by_the_member(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    text = "Our workforce plan: <https://www.ipem.ac.uk/|ipem.ac.uk>"
    await rig.event(slack_thread_reply(text, thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    unfurl_id = new_event_id()
    await rig.event(
        slack_link_unfurled(
            ts=reply_ts, text=text, thread_ts=post.message_id, channel=CHANNEL, event_ts=ts_at(post, 63)
        ),
        event_id=unfurl_id,
    )
    [reply] = rig.rows("replies")
    assert (reply["text"], reply["edited_at"]) == (text, None)
    assert reply["created_at"] == to_db(from_slack_ts(reply_ts))
    assert unfurl_id not in [r["event_key"] for r in rig.rows("seen_events")]  # nothing was stored for it
    # The member's own edit afterwards is still an edit, at its own time.
    await rig.event(
        slack_message_changed(
            ts=reply_ts, new_text="edited", thread_ts=post.message_id, channel=CHANNEL, edit_ts=ts_at(post, 90)
        )
    )
    [reply] = rig.rows("replies")
    assert (reply["text"], reply["edited_at"]) == ("edited", to_db(from_slack_ts(ts_at(post, 90))))


async def test_the_copy_slack_sends_after_a_broadcast_reply_is_not_an_edit(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    text = "also to the channel"
    await rig.event(slack_thread_broadcast(text, thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    await rig.event(
        slack_link_unfurled(
            ts=reply_ts, text=text, thread_ts=post.message_id, channel=CHANNEL, subtype="thread_broadcast"
        )
    )
    [reply] = rig.rows("replies")
    assert (reply["text"], reply["edited_at"]) == (text, None)


async def test_unfurl_before_its_reply_stores_the_reply_unedited(rig: Rig) -> None:
    post = await rig.post_prompt()
    reply_ts = ts_at(post, 60)
    text = "See <https://www.ipem.ac.uk/|ipem.ac.uk>"
    await rig.event(slack_link_unfurled(ts=reply_ts, text=text, thread_ts=post.message_id, channel=CHANNEL))
    await rig.event(slack_thread_reply(text, thread_ts=post.message_id, channel=CHANNEL, ts=reply_ts))
    [reply] = rig.rows("replies")
    assert (reply["text"], reply["edited_at"]) == (text, None)
    assert reply["created_at"] == to_db(from_slack_ts(reply_ts))
    assert rig.summary(post)["totals"]["replies"] == 1


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
    # One reply and one reaction read in the singular ("1 reaction." would also match "1 reactions" without the stop).
    assert "Erased 1 reply and 1 reaction. Use `optin`" in ack["text"]
    assert "dashboard" not in ack["text"]  # a member, not an admin: no sign-ins to speak of
    assert (rig.count("replies"), rig.count("reactions"), rig.count("members")) == (0, 0, 0)
    assert [r["member_id"] for r in rig.rows("optouts")] == [f"slack:{MEMBER}"]

    await rig.event(slack_thread_reply("after", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 120)))
    await rig.event(slack_reaction_added("tada", ts=post.message_id, channel=CHANNEL))
    assert (rig.count("replies"), rig.count("reactions"), rig.count("members")) == (0, 0, 0)

    ack = await rig.command("optin")
    assert ack["text"].startswith("You have opted in")
    # Written before the optin (Slack still shows it; a retry or reconciliation may bring it): never stored.
    await rig.event(slack_thread_reply("old", thread_ts=post.message_id, channel=CHANNEL, ts=ts_at(post, 150)))
    after_optin = f"{int(time.time()) + 5}.000100"
    await rig.event(slack_thread_reply("back", thread_ts=post.message_id, channel=CHANNEL, ts=after_optin))
    assert [r["text"] for r in rig.rows("replies")] == ["back"]


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
