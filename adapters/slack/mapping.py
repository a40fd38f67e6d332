"""Slack payloads to core events: pure functions, no I/O (SPEC §7). ``None`` means "not engagement, ignore it".

Each ``*_from_slack`` takes an Events API ``event_callback`` body; a body without the documented keys or types
raises :class:`MalformedPayload`, which the adapter answers with 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.events import (
    CaptureEvent,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
)
from bot.timeutil import from_slack_ts

__all__ = [
    "MalformedPayload",
    "deletion_from_slack",
    "edit_from_slack",
    "event_from_slack",
    "event_object",
    "reaction_from_slack",
    "reply_from_slack",
    "valid_shape",
]

REPLY_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})  # every other subtype is not a member's reply


class MalformedPayload(ValueError):
    """A Slack payload without the keys or types the Events API documents."""


def event_object(body: Mapping[str, Any]) -> dict[str, Any]:
    event = body.get("event")
    if not isinstance(event, dict):
        raise MalformedPayload("event_callback without an event object")
    return event


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{key} must be a non-empty string")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{key} must be a string")
    return value or None


def _ts(obj: Mapping[str, Any], key: str) -> datetime:
    try:
        return from_slack_ts(_text(obj, key))
    except ValueError as err:
        raise MalformedPayload(f"{key} is not a Slack timestamp") from err


def _ts_or_none(value: str) -> datetime | None:
    try:
        return from_slack_ts(value)
    except ValueError:
        return None


def _event_key(body: Mapping[str, Any]) -> str | None:
    return _optional_text(body, "event_id")


def _is_bot(message: Mapping[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message" or bool(message.get("bot_profile"))


def _is_file_only(message: Mapping[str, Any]) -> bool:
    return message.get("subtype") == "file_share" and not (message.get("text") or "").strip()


def reply_from_slack(body: Mapping[str, Any]) -> ReplyPosted | None:
    """A member's message in a thread (incl. ``thread_broadcast``); ``None`` for anything else (SPEC §7)."""
    event = event_object(body)
    subtype = event.get("subtype")
    if subtype not in REPLY_SUBTYPES or _is_bot(event) or _is_file_only(event):
        return None
    ts = _text(event, "ts")
    thread_ts = _optional_text(event, "thread_ts")
    if thread_ts is None or thread_ts == ts:
        return None  # a top-level message, or a thread's root
    text = event.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload("text must be a string")
    return ReplyPosted(
        platform=Platform.SLACK,
        channel_id=_text(event, "channel"),
        occurred_at=_ts(event, "ts"),
        event_key=_event_key(body),
        thread_id=thread_ts,
        message_id=ts,
        user_id=_text(event, "user"),
        text=text,
    )


def edit_from_slack(body: Mapping[str, Any]) -> ReplyEdited | ReplyPosted | None:
    """``message_changed``: keyed on ``event.message.ts``; the thread root's own changes are ignored.

    Only a message carrying ``edited`` was changed by its author (at ``edited.ts``). Slack also sends
    ``message_changed`` without ``edited`` when it changes a message itself: a link preview (unfurl) or file preview
    added as ``attachments``, the copy that follows a reply also sent to the channel, language detection. The text
    stays the member's, so that is no edit: it maps to the :class:`ReplyPosted` of the message as it stands, which
    stores a reply whose own event was missed or is still on its way, and changes nothing that is stored.
    """
    event = event_object(body)
    message = event.get("message")
    if not isinstance(message, dict):
        raise MalformedPayload("message_changed without a message object")
    if message.get("subtype") not in REPLY_SUBTYPES or _is_bot(message):
        return None
    ts = _text(message, "ts")
    thread_ts = _optional_text(message, "thread_ts")
    if thread_ts is None or thread_ts == ts:
        return None  # a top-level message, or the root updated because its thread grew
    text = message.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload("text must be a string")
    common: dict[str, Any] = {
        "platform": Platform.SLACK,
        "channel_id": _text(event, "channel"),
        "event_key": _event_key(body),
        "message_id": ts,
        "text": text,
        "thread_id": thread_ts,
        "user_id": _text(message, "user"),
    }
    edited = message.get("edited")
    if edited is None:
        return ReplyPosted(occurred_at=_ts(message, "ts"), **common)
    if not isinstance(edited, dict):
        raise MalformedPayload("edited must be an object")
    edited_at = _ts(edited, "ts") if edited.get("ts") else _ts(event, "ts")
    return ReplyEdited(occurred_at=edited_at, original_at=_ts(message, "ts"), **common)


def deletion_from_slack(body: Mapping[str, Any]) -> ReplyDeleted | None:
    """``message_deleted``: the reply ``deleted_ts`` is gone; top-level and root deletions are ignored."""
    event = event_object(body)
    deleted_ts = _text(event, "deleted_ts")
    previous = event.get("previous_message")
    thread_ts: str | None = None
    if previous is not None:
        if not isinstance(previous, dict):
            raise MalformedPayload("previous_message must be an object")
        thread_ts = _optional_text(previous, "thread_ts")
        if thread_ts is None or thread_ts == deleted_ts:
            return None  # a top-level message or a thread's root: never stored
    at_key = "event_ts" if event.get("event_ts") else "ts"
    return ReplyDeleted(
        platform=Platform.SLACK,
        channel_id=_text(event, "channel"),
        occurred_at=_ts(event, at_key),
        event_key=_event_key(body),
        message_id=deleted_ts,
        thread_id=thread_ts,
    )


def reaction_from_slack(body: Mapping[str, Any]) -> ReactionAdded | ReactionRemoved | None:
    """``reaction_added`` / ``reaction_removed`` on a message (not a file); the time is ``event_ts``."""
    event = event_object(body)
    item = event.get("item")
    if not isinstance(item, dict):
        raise MalformedPayload("reaction without an item object")
    if item.get("type") != "message":
        return None  # reactions on files and file comments are not engagement with a prompt
    common: dict[str, Any] = {
        "platform": Platform.SLACK,
        "channel_id": _text(item, "channel"),
        "occurred_at": _ts(event, "event_ts"),
        "event_key": _event_key(body),
        "target_id": _text(item, "ts"),
        "user_id": _text(event, "user"),
        "name": _text(event, "reaction"),
        # Hints for the capture rules: who wrote the message reacted to, and when (its ts)
        "target_user_id": author if isinstance(author := event.get("item_user"), str) and author else None,
        "target_at": _ts_or_none(item["ts"]),
    }
    kind = event.get("type")
    if kind == "reaction_added":
        return ReactionAdded(**common)
    if kind == "reaction_removed":
        return ReactionRemoved(**common)
    return None


def event_from_slack(body: Mapping[str, Any]) -> CaptureEvent | None:
    """Any ``event_callback`` body to its core event, or ``None`` when engagebot ignores it."""
    event = event_object(body)
    kind = event.get("type")
    if kind == "message":
        subtype = event.get("subtype")
        if subtype == "message_changed":
            return edit_from_slack(body)
        if subtype == "message_deleted":
            return deletion_from_slack(body)
        return reply_from_slack(body)
    if kind in ("reaction_added", "reaction_removed"):
        return reaction_from_slack(body)
    return None


def valid_shape(body: Any) -> bool:
    """What Bolt may dispatch: an Events API envelope, a slash command, an interactivity payload or ssl_check."""
    if not isinstance(body, dict):
        return False
    if "command" in body or "ssl_check" in body:
        return isinstance(body.get("command", ""), str)
    kind = body.get("type")
    if not isinstance(kind, str):
        return False
    if kind == "event_callback":
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    return True
