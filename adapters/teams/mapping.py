"""Bot Framework activities to core events: pure functions, no I/O. ``None`` (or ``[]``) means "ignore it".

``parse_activity`` checks a request body before botbuilder sees it; what it refuses is a :class:`BadActivity`,
which the adapter answers with 400.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import DeserializationError
from botbuilder.schema import Activity
from botbuilder.schema.teams import TeamsChannelData

from adapters.teams.keys import hashed
from adapters.teams.text import message_text
from bot.events import (
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
    ReplyRestored,
)
from bot.timeutil import parse_platform_time

__all__ = [
    "BadActivity",
    "channel_data",
    "delete_from_teams",
    "edit_from_teams",
    "id_of",
    "message_created_at",
    "occurred_at",
    "parse_activity",
    "reactions_from_teams",
    "reply_from_teams",
    "restore_from_teams",
    "sender_of",
    "team_channel_id",
    "team_id_of",
    "tenant_id_of",
    "thread_root",
]

CAPTURED_TYPES = frozenset({"message", "messageReaction", "messageUpdate", "messageDelete"})
# Types whose botbuilder Teams handler deserializes channelData as Teams channel data: another shape raises there.
CHANNEL_DATA_READERS = frozenset({"messageUpdate", "messageDelete"})
MESSAGE_ID_SKEW = timedelta(minutes=5)


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
    conversation_id = str(getattr(conversation, "id", None) or "")
    conversation_type = getattr(conversation, "conversation_type", None)
    if conversation_type == "channel" and conversation_id:
        return conversation_id.partition(";messageid=")[0]
    # Without channelData or conversationType, a channel thread's conversation id alone names the channel and the
    # thread: "19:…@thread.tacv2;messageid=<root>" (chats have no ";messageid=" threads).
    channel, sep, root = conversation_id.partition(";messageid=")
    if conversation_type is None and sep and root and channel.startswith("19:") and "@thread." in channel:
        return channel
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


def message_created_at(activity: Activity, at: datetime) -> datetime | None:
    """When the message an update or delete names was first posted: Teams message ids are its creation time in
    epoch milliseconds. None for an id of another form, or one later than the activity itself."""
    message_id = str(activity.id or "")
    if len(message_id) != 13 or not message_id.isdigit():
        return None
    created = datetime.fromtimestamp(int(message_id) / 1000, UTC)
    return created if created <= at + MESSAGE_ID_SKEW else None


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
        text=message_text(activity),
    )


def reactions_from_teams(activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
    channel = team_channel_id(activity)
    target = activity.reply_to_id
    sender = sender_of(activity)
    at = occurred_at(activity)
    if channel is None or not target or sender is None or at is None:
        return []
    delivery = activity.id or hashed(str(target), sender[0], at.isoformat())  # no member id in clear in the key
    # Teams names the thread in the conversation id: the capture rules drop a reaction in a thread that is not a
    # prompt's (instead of keeping it as "target not known yet").
    _, sep, root = str(getattr(activity.conversation, "id", "") or "").partition(";messageid=")
    shared: dict[str, Any] = {
        "platform": Platform.TEAMS,
        "channel_id": channel,
        "occurred_at": at,
        "target_id": str(target),
        "user_id": sender[0],
        "thread_id": root if sep and root else None,
    }
    events: list[ReactionAdded | ReactionRemoved] = []
    for change, reactions in (("added", activity.reactions_added), ("removed", activity.reactions_removed)):
        for name in (str(r.type) for r in reactions or [] if getattr(r, "type", None)):
            key = f"teams:reaction:{channel}:{delivery}:{change}:{name}"
            if change == "added":
                events.append(ReactionAdded(**shared, event_key=key, name=name, display_name=sender[1]))
            else:
                events.append(ReactionRemoved(**shared, event_key=key, name=name))
    return events


def _change(activity: Activity, kind: str) -> dict[str, Any] | None:
    """What an edit, deletion or restore of a channel message shares: where, when, which message, in which thread.
    The key holds the time: one message may be deleted, restored and deleted again."""
    channel = team_channel_id(activity)
    at = occurred_at(activity)
    if channel is None or not activity.id or at is None:
        return None
    root = thread_root(activity)
    return {
        "platform": Platform.TEAMS,
        "channel_id": channel,
        "occurred_at": at,
        "event_key": f"teams:{kind}:{channel}:{activity.id}:{at.isoformat()}",
        "message_id": str(activity.id),
        "thread_id": root if root != activity.id else None,
    }


def _author(activity: Activity, at: datetime) -> dict[str, Any]:
    """Who wrote the message an update names, and when: enough to store it if its reply was never seen."""
    sender = sender_of(activity)
    return {
        "original_at": message_created_at(activity, at),
        "user_id": sender[0] if sender else None,
        "display_name": sender[1] if sender else None,
    }


def edit_from_teams(activity: Activity) -> ReplyEdited | None:
    """An edit; None without any text (stored text is never replaced by nothing)."""
    change = _change(activity, "edit")
    text = message_text(activity)
    if change is None or not text:
        return None
    return ReplyEdited(**change, text=text, **_author(activity, change["occurred_at"]))


def restore_from_teams(activity: Activity) -> ReplyRestored | None:
    """``undeleteMessage``: the message may be captured again; with its text when the activity carries it."""
    change = _change(activity, "undelete")
    if change is None:
        return None
    return ReplyRestored(**change, text=message_text(activity) or None, **_author(activity, change["occurred_at"]))


def delete_from_teams(activity: Activity) -> ReplyDeleted | None:
    change = _change(activity, "delete")
    return None if change is None else ReplyDeleted(**change)


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
        if body["type"] in CHANNEL_DATA_READERS and body.get("channelData") is not None:
            TeamsChannelData().deserialize(body["channelData"])  # as botbuilder's Teams handler will
    except (DeserializationError, ValueError, TypeError, AttributeError, KeyError) as err:
        raise BadActivity(f"activity does not match the Bot Framework schema ({type(err).__name__})") from None
    if body["type"] in CAPTURED_TYPES and occurred_at(activity) is None and body.get("timestamp") is not None:
        raise BadActivity("activity.timestamp is not an ISO-8601 time")
    return activity
