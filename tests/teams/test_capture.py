"""Install, post and capture: references stored, prompts posted as new threads, replies, reactions, edits and
deletions in a prompt's thread stored, everything else never."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.timeutil import from_db, to_db
from tests.fakes import (
    TEAMS_BOT_ID,
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    TEAMS_TENANT_ID,
    teams_channel_reply,
    teams_edit,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_soft_delete,
    teams_undelete,
)
from tests.teams.harness import OTHER_CHANNEL, Harness, adaptive_content, card_texts


def _ms(moment: datetime) -> datetime:
    """Teams times have millisecond precision."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _message_id(moment: datetime) -> str:
    """A Teams message id: the message's creation time in epoch milliseconds."""
    return str(int(moment.timestamp() * 1000))


# --------------------------------------------------------------------------------------------------------------------
# install, post, capture


async def test_install_stores_references_and_a_post_is_a_new_thread(harness: Harness) -> None:
    assert await harness.send(teams_install_conversation_update(service_url=harness.url)) == 201

    refs = {row["channel_id"]: row for row in harness.rows("SELECT * FROM conversation_refs")}
    assert set(refs) == {TEAMS_TEAM_ID, TEAMS_CHANNEL_ID}  # General (the install) + the team's channel listing
    assert refs[TEAMS_CHANNEL_ID]["service_url"] == harness.url
    assert (refs[TEAMS_CHANNEL_ID]["team_id"], refs[TEAMS_CHANNEL_ID]["tenant_id"]) == (TEAMS_TEAM_ID, TEAMS_TENANT_ID)
    stored = json.loads(refs[TEAMS_TEAM_ID]["reference"])
    assert (stored["conversation"]["id"], stored["serviceUrl"], stored["bot"]["id"]) == (
        TEAMS_TEAM_ID,
        harness.url,
        TEAMS_BOT_ID,
    )
    assert harness.connector.calls_to("get_team_channels")[0]["conversation_id"] == TEAMS_TEAM_ID

    before = datetime.now(UTC)
    post = await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)

    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["isGroup"] is True
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    texts = card_texts(adaptive_content(created["body"]["activity"]))
    assert texts[0] == post.theme
    assert texts[1] == post.prompt
    assert "Reply in this thread" in texts[2]
    assert "**optout**" in texts[3]  # the one-line notice, with inline code shown as bold
    assert created["auth"] is None  # emulator mode: no outbound token
    (row,) = harness.rows("SELECT * FROM posts")
    assert (row["platform"], row["channel_id"], row["message_id"]) == ("teams", TEAMS_CHANNEL_ID, "1732350000001")
    assert before <= from_db(row["posted_at"]) <= datetime.now(UTC)


async def test_replies_reactions_edits_and_deletes_in_the_prompt_thread(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="adapters.teams")  # the per-event lines too
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    reply = teams_channel_reply("Zebra crossings first", root_id=root, activity_id="1732350000500", service_url=url)
    bob: dict[str, Any] = {"user_id": "29:1user-bob", "user_name": "Bob"}

    assert await harness.send(reply) == 201
    assert await harness.send(reply) == 201  # the same delivery again: stored once
    (stored,) = harness.rows("SELECT * FROM replies")
    assert (stored["message_id"], stored["member_id"], stored["text"]) == (
        "1732350000500",
        "teams:29:1user-alice",
        "Zebra crossings first",
    )
    assert from_db(stored["created_at"]) == datetime.fromisoformat(reply["timestamp"].replace("Z", "+00:00"))
    assert harness.rows("SELECT display_name FROM members WHERE member_id = 'teams:29:1user-alice'") == [
        {"display_name": "Alice"}
    ]

    on_post = teams_message_reaction("like", reply_to_id=root, service_url=url, **bob)
    on_reply = teams_message_reaction("heart", reply_to_id="1732350000500", root_id=root, service_url=url, **bob)
    for activity in (on_post, on_post, on_reply):
        assert await harness.send(activity) == 201
    live = "SELECT target_id, name, member_id FROM reactions WHERE removed_at IS NULL ORDER BY name"
    assert harness.rows(live) == [
        {"target_id": "1732350000500", "name": "heart", "member_id": "teams:29:1user-bob"},
        {"target_id": root, "name": "like", "member_id": "teams:29:1user-bob"},
    ]
    later = datetime.now(UTC) + timedelta(seconds=5)
    removed = teams_message_reaction("like", reply_to_id=root, removed=True, service_url=url, timestamp=later, **bob)
    assert await harness.send(removed) == 201
    assert [r["name"] for r in harness.rows(live)] == ["heart"]
    off_reply = teams_message_reaction(
        "heart", reply_to_id="1732350000500", root_id=root, removed=True, service_url=url, timestamp=later, **bob
    )
    assert await harness.send(off_reply) == 201
    assert harness.rows(live) == []
    again = on_reply | {"id": "f:again", "timestamp": (later + timedelta(seconds=1)).isoformat()}
    assert await harness.send(again) == 201
    assert [r["name"] for r in harness.rows(live)] == ["heart"]  # added again after its removal

    edit = teams_edit("Zebra crossings, then prevention", message_id="1732350000500", root_id=root, service_url=url)
    assert await harness.send(edit) == 201
    (edited,) = harness.rows("SELECT text, edited_at FROM replies")
    assert edited["text"] == "Zebra crossings, then prevention"
    assert edited["edited_at"] is not None

    delete = teams_soft_delete(message_id="1732350000500", root_id=root, service_url=url, timestamp=later)
    assert await harness.send(delete) == 201
    assert harness.count("replies") == 0
    assert harness.rows("SELECT name FROM reactions WHERE target_id = '1732350000500'") == []  # gone with the reply
    assert harness.count("deleted_messages") == 1
    assert "teams ReplyPosted" in caplog.text  # each event's DEBUG line
    harness.adapter.log.flush()  # the INFO count of the minute, written at once
    [counted] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("teams events seconds=")]
    # The reply, three reactions, two removals and the edit and deletion stored; the reply and a reaction resent.
    assert counted.endswith(" stored=8 duplicate=2 ignored=0 opted_out=0 before_opt_in=0"), counted
    assert "Zebra" not in caplog.text  # message text never reaches the logs, not even at DEBUG


async def test_messages_outside_prompt_threads_are_never_stored(harness: Harness) -> None:
    post = await harness.install_and_post()
    url = harness.url
    activities = [
        # a new top-level channel message: its conversation id ends in its own id
        teams_channel_reply("lunch?", root_id="1732350000900", activity_id="1732350000900", service_url=url),
        # a reply in a thread that is not a prompt
        teams_channel_reply("sure", root_id="1732350000900", activity_id="1732350000901", service_url=url),
        # the right thread id, but another channel
        teams_channel_reply("hm", root_id=post.message_id, channel_id=OTHER_CHANNEL, service_url=url),
        teams_edit("lunch!", message_id="1732350000900", service_url=url),
        teams_message_reaction("like", reply_to_id="1732350000901", root_id="1732350000900", service_url=url),
    ]
    for activity in activities:
        assert await harness.send(activity) == 201
    assert (harness.count("replies"), harness.count("members")) == (0, 0)
    assert harness.count("reactions") == 0  # a thread that is not a prompt's: dropped, not kept unresolved
    assert harness.rows("SELECT 1 FROM replies WHERE text LIKE '%lunch%'") == []


# --------------------------------------------------------------------------------------------------------------------
# edits whose text is only in the HTML body; replies named by their conversation id alone


async def test_an_edit_with_its_text_only_in_the_html_body(harness: Harness) -> None:
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    reply = teams_channel_reply("Zebra crossings first", root_id=root, activity_id="1732350000500", service_url=url)
    assert await harness.send(reply) == 201
    base = _ms(datetime.now(UTC))

    def edit(seconds: int, text: str, html: str | None) -> dict[str, Any]:
        activity = teams_edit(
            text, message_id="1732350000500", root_id=root, service_url=url, timestamp=base + timedelta(seconds=seconds)
        )
        if html is not None:
            activity["attachments"] = [{"contentType": "text/html", "content": html}]
        return activity

    html = (
        '<div><p>Zebra crossings, <b>then</b> prevention &amp;&nbsp;screening</p><p>and <at id="0">Bob</at></p></div>'
    )
    assert await harness.send(edit(1, "", html)) == 201
    (row,) = harness.rows("SELECT text, edited_at FROM replies")
    assert row["text"] == "Zebra crossings, then prevention & screening\nand <at>Bob</at>"
    assert from_db(row["edited_at"]) == base + timedelta(seconds=1)

    # no text anywhere (or only markup): the stored text is never replaced by nothing
    for seconds, text, body in ((2, "", None), (3, "   ", "<p> </p>"), (4, "", "<p><br></p>")):
        assert await harness.send(edit(seconds, text, body)) == 201
    assert harness.rows("SELECT text, edited_at FROM replies") == [row]


async def test_a_thread_reply_named_only_by_its_conversation_id_is_captured(harness: Harness) -> None:
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    reply = teams_channel_reply("From the conversation id", root_id=root, activity_id="1732350000600", service_url=url)
    del reply["channelData"]
    reply["conversation"] = {"id": f"{TEAMS_CHANNEL_ID};messageid={root}"}  # no conversationType, no tenant
    assert await harness.send(reply) == 201
    (row,) = harness.rows("SELECT channel_id, message_id, text FROM replies")
    assert row == {"channel_id": TEAMS_CHANNEL_ID, "message_id": "1732350000600", "text": "From the conversation id"}

    # a group chat's id has no thread: still nothing
    chat = teams_channel_reply("in a group chat", root_id=root, service_url=url)
    del chat["channelData"]
    chat["conversation"] = {"id": "19:groupchat0000000000000000000001@thread.v2"}
    assert await harness.send(chat) == 201
    assert harness.count("replies") == 1


# --------------------------------------------------------------------------------------------------------------------
# undeleteMessage: a restored reply may be captured again


async def test_a_restored_reply_is_captured_again(harness: Harness) -> None:
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    t0 = _ms(post.posted_at + timedelta(minutes=10))
    mid = _message_id(t0)
    reply = teams_channel_reply("Prevention first", root_id=root, activity_id=mid, service_url=url, timestamp=t0)
    assert await harness.send(reply) == 201
    like = teams_message_reaction("like", reply_to_id=mid, root_id=root, service_url=url, user_id="29:1user-bob")
    assert await harness.send(like) == 201
    deleted = teams_soft_delete(message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=1))
    assert await harness.send(deleted) == 201
    assert (harness.count("replies"), harness.count("reactions"), harness.count("deleted_messages")) == (0, 0, 1)

    # restored without its text (as Microsoft's example): the tombstone goes, the next edit stores the reply
    restored = teams_undelete(message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=2))
    assert await harness.send(restored) == 201
    assert (harness.count("replies"), harness.count("deleted_messages")) == (0, 0)
    edited = teams_edit(
        "Prevention, then workforce", message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=3)
    )
    assert await harness.send(edited) == 201
    (row,) = harness.rows("SELECT message_id, member_id, text, created_at, edited_at FROM replies")
    assert row == {
        "message_id": mid,
        "member_id": "teams:29:1user-alice",
        "text": "Prevention, then workforce",
        "created_at": to_db(t0),
        "edited_at": to_db(t0 + timedelta(minutes=3)),
    }
    # deleted again after the restore: erased again, and a late copy of the earlier restore does not revive it
    again = teams_soft_delete(message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=4))
    assert await harness.send(again) == 201
    assert (harness.count("replies"), harness.count("deleted_messages")) == (0, 1)
    late = teams_undelete(
        "Prevention first",
        message_id=mid,
        root_id=root,
        service_url=url,
        timestamp=t0 + timedelta(minutes=2, seconds=30),
    )
    assert await harness.send(late) == 201
    assert (harness.count("replies"), harness.count("deleted_messages")) == (0, 1)
    assert harness.rows("SELECT 1 FROM replies WHERE text LIKE 'Prevention%'") == []


async def test_a_restore_with_its_text_stores_the_reply_whatever_the_order(harness: Harness) -> None:
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    t0 = _ms(post.posted_at + timedelta(minutes=10))
    mid = _message_id(t0)
    reply = teams_channel_reply("Genomics", root_id=root, activity_id=mid, service_url=url, timestamp=t0)
    deleted = teams_soft_delete(message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=1))
    restored = teams_undelete(
        "Genomics", message_id=mid, root_id=root, service_url=url, timestamp=t0 + timedelta(minutes=2)
    )

    # the restore arrives before the deletion it undoes: the late deletion is older, the reply stays
    for activity in (reply, restored, deleted, restored):  # and the restore is delivered twice
        assert await harness.send(activity) == 201
    (row,) = harness.rows("SELECT message_id, text FROM replies")
    assert row == {"message_id": mid, "text": "Genomics"}
    assert harness.count("deleted_messages") == 0

    # only the deletion and the restore arrive (the reply itself was missed): the restored payload stores it
    t1 = t0 + timedelta(minutes=5)
    other = _message_id(t1)
    gone = teams_soft_delete(message_id=other, root_id=root, service_url=url, timestamp=t1 + timedelta(minutes=1))
    back = teams_undelete(
        "Workforce", message_id=other, root_id=root, service_url=url, timestamp=t1 + timedelta(minutes=2)
    )
    second_back = teams_undelete(
        "Workforce", message_id=other, root_id=root, service_url=url, timestamp=t1 + timedelta(minutes=3)
    )
    for activity in (back, gone, second_back):
        assert await harness.send(activity) == 201
    rows = harness.rows("SELECT message_id, text, created_at FROM replies ORDER BY message_id")
    assert [(r["message_id"], r["text"]) for r in rows] == [(mid, "Genomics"), (other, "Workforce")]
    assert from_db(rows[1]["created_at"]) == datetime.fromtimestamp(int(other) / 1000, UTC)  # its own time
    assert harness.count("deleted_messages") == 0
