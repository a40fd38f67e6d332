"""Bot Framework activities to core events: pure functions, no I/O. ``None`` (or ``[]``) means "ignore it".

``parse_activity`` checks a request body before botbuilder sees it; what it refuses is a :class:`BadActivity`,
which the adapter answers with 400.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.schema import Activity

from bot.events import (
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
)
from bot.timeutil import parse_platform_time

__all__ = [
    "BadActivity",
    "channel_data",
    "command_text",
    "delete_from_teams",
    "edit_from_teams",
    "id_of",
    "mentions_bot",
    "occurred_at",
    "parse_activity",
    "reactions_from_teams",
    "reply_from_teams",
    "sender_of",
    "team_channel_id",
    "team_id_of",
    "tenant_id_of",
    "thread_root",
]

CAPTURED_TYPES = frozenset({"message", "messageReaction", "messageUpdate", "messageDelete"})


class BadActivity(Exception):
    """The activity lacks something engagebot needs: answered with 400."""


def thread_root(activity: Activity) -> str | None:
    """A channel message's thread root: the ``;messageid=`` suffix of the conversation id, else ``replyToId``."""
    conversation_id = getattr(activity.conversation, "id", None) or ""
    _, sep, root = conversation_id.partition(";messageid=")
    if sep and root:
        return str(root)
    return activity.reply_to_id or None


def channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def id_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def team_channel_id(activity: Activity) -> str | None:
    """The Teams channel an activity belongs to (the General channel's id is the team id), None outside a team."""
    data = channel_data(activity)
    channel = id_of(data.get("channel"))
    if channel:
        return channel
    if isinstance(data.get("teamsChannelId"), str) and data["teamsChannelId"]:
        return str(data["teamsChannelId"])
    conversation = activity.conversation
    if conversation is not None and conversation.conversation_type == "channel" and conversation.id:
        return str(conversation.id).partition(";messageid=")[0]
    return None


def team_id_of(activity: Activity) -> str | None:
    data = channel_data(activity)
    team = id_of(data.get("team"))
    if team:
        return team
    value = data.get("teamsTeamId")
    return value if isinstance(value, str) and value else None


def tenant_id_of(activity: Activity) -> str | None:
    tenant = id_of(channel_data(activity).get("tenant"))
    return tenant or getattr(activity.conversation, "tenant_id", None) or None


def occurred_at(activity: Activity) -> datetime | None:
    """The activity's own ``timestamp`` (never the arrival clock); None when missing."""
    value = activity.timestamp
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value:
        try:
            return parse_platform_time(value)
        except ValueError:
            return None
    return None


def mentions_bot(activity: Activity) -> bool:
    bot_id = getattr(activity.recipient, "id", None)
    return any(bot_id and entity_id == bot_id for entity_id, _ in _mentions(activity))


def _mentions(activity: Activity) -> list[tuple[str, str]]:
    """(mentioned id, mention text) of each well-formed mention entity."""
    found = []
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        extra = getattr(entity, "additional_properties", None) or {}
        mentioned = extra.get("mentioned")
        text = extra.get("text")
        if isinstance(mentioned, dict) and isinstance(mentioned.get("id"), str):
            found.append((mentioned["id"], text if isinstance(text, str) else ""))
    return found


def command_text(activity: Activity) -> str:
    """The message text without the bot's @mention. (``remove_recipient_mention`` mutates the activity, leaves a
    leading space and raises on malformed entities, so it is done here.)"""
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = getattr(activity.recipient, "id", None)
    for entity_id, mention in _mentions(activity):
        if entity_id == bot_id and mention:
            text = text.replace(mention, " ")
    text = re.sub(r"<at>[^<]*</at>", " ", text) if "<at>" in text else text
    return " ".join(text.split())


def sender_of(activity: Activity) -> tuple[str, str | None] | None:
    sender = activity.from_property
    user_id = getattr(sender, "id", None)
    if not isinstance(user_id, str) or not user_id:
        return None
    name = getattr(sender, "name", None)
    return user_id, name if isinstance(name, str) and name else None


def reply_from_teams(activity: Activity) -> ReplyPosted | None:
    """A channel message in a thread (not the root itself); None for anything the core should not see."""
    channel = team_channel_id(activity)
    root = thread_root(activity)
    sender = sender_of(activity)
    at = occurred_at(activity)
    if channel is None or root is None or sender is None or at is None or not activity.id or root == activity.id:
        return None
    return ReplyPosted(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:message:{channel}:{activity.id}",
        thread_id=root,
        message_id=str(activity.id),
        user_id=sender[0],
        display_name=sender[1],
        text=activity.text if isinstance(activity.text, str) else "",
    )


def reactions_from_teams(activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
    channel = team_channel_id(activity)
    target = activity.reply_to_id
    sender = sender_of(activity)
    at = occurred_at(activity)
    if channel is None or not target or sender is None or at is None:
        return []
    delivery = activity.id or f"{target}:{sender[0]}:{at.isoformat()}"
    events: list[ReactionAdded | ReactionRemoved] = []
    for reaction in activity.reactions_added or []:
        if getattr(reaction, "type", None):
            events.append(
                ReactionAdded(
                    platform=Platform.TEAMS,
                    channel_id=channel,
                    occurred_at=at,
                    event_key=f"teams:reaction:{channel}:{delivery}:added:{reaction.type}",
                    target_id=str(target),
                    user_id=sender[0],
                    name=str(reaction.type),
                    display_name=sender[1],
                )
            )
    for reaction in activity.reactions_removed or []:
        if getattr(reaction, "type", None):
            events.append(
                ReactionRemoved(
                    platform=Platform.TEAMS,
                    channel_id=channel,
                    occurred_at=at,
                    event_key=f"teams:reaction:{channel}:{delivery}:removed:{reaction.type}",
                    target_id=str(target),
                    user_id=sender[0],
                    name=str(reaction.type),
                )
            )
    return events


def edit_from_teams(activity: Activity) -> ReplyEdited | None:
    channel = team_channel_id(activity)
    sender = sender_of(activity)
    at = occurred_at(activity)
    if channel is None or not activity.id or at is None:
        return None
    root = thread_root(activity)
    return ReplyEdited(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:edit:{channel}:{activity.id}:{at.isoformat()}",
        message_id=str(activity.id),
        text=activity.text if isinstance(activity.text, str) else "",
        thread_id=root if root != activity.id else None,
        user_id=sender[0] if sender else None,
        display_name=sender[1] if sender else None,
    )


def delete_from_teams(activity: Activity) -> ReplyDeleted | None:
    channel = team_channel_id(activity)
    at = occurred_at(activity)
    if channel is None or not activity.id or at is None:
        return None
    root = thread_root(activity)
    return ReplyDeleted(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:delete:{channel}:{activity.id}",
        message_id=str(activity.id),
        thread_id=root if root != activity.id else None,
    )


def parse_activity(body: Any) -> Activity:
    """Check and deserialize an activity; BadActivity names what is wrong."""
    if not isinstance(body, dict):
        raise BadActivity("an activity must be a JSON object")
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise BadActivity("activity.type is missing")
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith(("https://", "http://")):
        raise BadActivity("activity.serviceUrl is missing or not a URL")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        raise BadActivity("activity.conversation.id is missing")
    for key in ("from", "recipient"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise BadActivity(f"activity.{key} must be an object")
    if body["type"] in CAPTURED_TYPES or body["type"] == "invoke":
        sender = body.get("from") or {}
        if not isinstance(sender.get("id"), str) or not sender["id"]:
            raise BadActivity("activity.from.id is missing")
    if body["type"] == "invoke" and body.get("name") == "fileConsent/invoke":
        value = body.get("value")
        if not isinstance(value, dict) or not isinstance(value.get("action"), str):
            raise BadActivity("fileConsent/invoke needs value.action")
    try:
        activity = Activity().deserialize(body)
    except (DeserializationError, ValueError, TypeError, AttributeError, KeyError) as err:
        raise BadActivity(f"activity does not match the Bot Framework schema ({type(err).__name__})") from None
    if body["type"] in CAPTURED_TYPES and occurred_at(activity) is None and body.get("timestamp") is not None:
        raise BadActivity("activity.timestamp is not an ISO-8601 time")
    return activity
