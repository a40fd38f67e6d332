"""The pure mapping from Slack payloads to core events, and Block Kit's limits, without a server."""

from __future__ import annotations

import json
from typing import Any

from adapters.slack.mapping import (
    deletion_from_slack,
    edit_from_slack,
    event_from_slack,
    reaction_from_slack,
    reply_from_slack,
)
from adapters.slack.render import card_blocks, card_text
from bot.events import Platform, ReactionAdded, ReactionRemoved, ReplyDeleted, ReplyEdited, ReplyPosted
from bot.ports import Card
from bot.timeutil import from_slack_ts
from tests.fakes import (
    SLACK_BOT_USER_ID,
    slack_event_body,
    slack_message,
    slack_message_changed,
    slack_message_deleted,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_broadcast,
    slack_thread_reply,
)

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
    # Without ``edited`` Slack changed the message itself (an unfurl): exactly what the reply itself maps to.
    del changed["message"]["edited"]
    reply = slack_thread_reply("new", thread_ts="1700000000.000100", ts="1700000060.000200")
    assert edit_from_slack(_body(changed)) == reply_from_slack(_body(reply)) is not None

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
        target_user_id=SLACK_BOT_USER_ID,  # who wrote the message reacted to (the fake's default: the bot)
        target_at=from_slack_ts("1700000000.000100"),
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
