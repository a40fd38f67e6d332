"""Teams activities as JSON dicts, shaped as Teams sends them.

Build botbuilder objects from them with ``Activity().deserialize(d)``, never ``Mention(...)`` (PLATFORM_NOTES §2.5).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.fakes.ids import TEAMS_BOT_ID, TEAMS_BOT_NAME, TEAMS_CHANNEL_ID, TEAMS_TEAM_ID, TEAMS_TENANT_ID, iso_z

__all__ = [
    "next_teams_message_id",
    "teams_channel_mention",
    "teams_channel_reply",
    "teams_edit",
    "teams_file_consent_invoke",
    "teams_install_conversation_update",
    "teams_message_reaction",
    "teams_personal_message",
    "teams_soft_delete",
    "teams_undelete",
]

_teams_ids = itertools.count(1732350100001)


def next_teams_message_id() -> str:
    """A fresh, increasing Teams message id (epoch milliseconds, as Teams uses)."""
    return str(next(_teams_ids))


@dataclass(frozen=True, slots=True, kw_only=True)
class _TeamsSender:
    user_id: str
    user_name: str
    aad_object_id: str


def _teams_activity(
    activity_type: str,
    *,
    service_url: str,
    conversation: dict[str, Any],
    channel_data: dict[str, Any],
    sender: _TeamsSender,
    timestamp: datetime | None,
    activity_id: str | None,
    bot_id: str,
    bot_name: str,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": activity_type,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": iso_z(timestamp),
        "from": {"id": sender.user_id, "name": sender.user_name, "aadObjectId": sender.aad_object_id},
        "recipient": {"id": bot_id, "name": bot_name},
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "en-US",
    }
    if activity_id is not None:
        activity["id"] = activity_id
    return activity


def _channel_conversation(channel_id: str, root_id: str, tenant_id: str) -> dict[str, Any]:
    return {
        "id": f"{channel_id};messageid={root_id}",
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": tenant_id,
    }


def _channel_data(channel_id: str, team_id: str, tenant_id: str, event_type: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "teamsChannelId": channel_id,
        "teamsTeamId": team_id,
        "channel": {"id": channel_id},
        "team": {"id": team_id},
        "tenant": {"id": tenant_id},
    }
    if event_type is not None:
        data["eventType"] = event_type
    return data


def _mention_text(text: str, mention_bot: bool, bot_id: str, bot_name: str) -> tuple[str, list[dict[str, Any]]]:
    entities: list[dict[str, Any]] = []
    if mention_bot:
        tag = f"<at>{bot_name}</at>"
        text = f"{tag} {text}"
        entities.append({"type": "mention", "text": tag, "mentioned": {"id": bot_id, "name": bot_name}})
    entities.append(
        {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "America/Los_Angeles"}
    )
    return text, entities


def teams_channel_mention(
    text: str,
    *,
    service_url: str,
    activity_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A new top-level channel post @mentioning the bot; its conversation id ends in ``;messageid=<its own id>``."""
    activity_id = activity_id or next_teams_message_id()
    return teams_channel_reply(
        text,
        root_id=activity_id,  # a top-level post is the root of its own thread
        service_url=service_url,
        activity_id=activity_id,
        mention_bot=True,
        channel_id=channel_id,
        team_id=team_id,
        tenant_id=tenant_id,
        user_id=user_id,
        user_name=user_name,
        aad_object_id=aad_object_id,
        bot_id=bot_id,
        bot_name=bot_name,
        timestamp=timestamp,
    )


def teams_channel_reply(
    text: str,
    *,
    root_id: str,
    service_url: str,
    activity_id: str | None = None,
    mention_bot: bool = False,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A reply in the thread of ``root_id``. Like a real capture, it has no ``replyToId``: the root is only in the
    ``;messageid=`` suffix. ``mention_bot=False`` is what RSC ``ChannelMessage.Read.Group`` delivers."""
    activity_id = activity_id or next_teams_message_id()
    full_text, entities = _mention_text(text, mention_bot, bot_id, bot_name)
    activity = _teams_activity(
        "message",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=activity_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity.update(
        {
            "text": full_text,
            "textFormat": "plain",
            "entities": entities,
            "attachments": [{"contentType": "text/html", "content": f"<p>{full_text}</p>"}],
        }
    )
    return activity


def teams_message_reaction(
    reaction: str = "like",
    *,
    reply_to_id: str,
    service_url: str,
    root_id: str | None = None,
    removed: bool = False,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageReaction`` on message ``reply_to_id`` (in the thread of ``root_id``, default: the message itself)."""
    activity = _teams_activity(
        "messageReaction",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or reply_to_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity["replyToId"] = reply_to_id
    activity["reactionsRemoved" if removed else "reactionsAdded"] = [{"type": reaction}]
    return activity


def teams_edit(
    text: str,
    *,
    message_id: str,
    service_url: str,
    root_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageUpdate`` + ``editMessage``: ``id`` is the edited message (``on_teams_message_edit``)."""
    activity = _teams_activity(
        "messageUpdate",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or message_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id, "editMessage"),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=message_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity.update({"text": text, "textFormat": "plain"})
    return activity


def teams_undelete(text: str | None = None, *, message_id: str, service_url: str, **fields: Any) -> dict[str, Any]:
    """``messageUpdate`` + ``undeleteMessage``: ``id`` is the restored message (``on_teams_message_undelete``); the
    other keywords are :func:`teams_edit`'s. Microsoft's documented example carries no text (``text=None``); a text
    is the restored message's, as an edit carries it."""
    activity = teams_edit(text or "", message_id=message_id, service_url=service_url, **fields)
    activity["channelData"]["eventType"] = "undeleteMessage"
    if text is None:
        del activity["text"], activity["textFormat"]
    return activity


def teams_soft_delete(
    *,
    message_id: str,
    service_url: str,
    root_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageDelete`` + ``softDeleteMessage``: ``id`` is the deleted message (``on_teams_message_soft_delete``)."""
    return _teams_activity(
        "messageDelete",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or message_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id, "softDeleteMessage"),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=message_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )


def teams_install_conversation_update(
    *,
    service_url: str,
    team_id: str = TEAMS_TEAM_ID,
    team_name: str = "Engage Team",
    channel_id: str | None = None,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The bot being added to a team: ``conversationUpdate`` + ``teamMemberAdded`` with the bot in ``membersAdded``.

    The conversation is the team's General channel, whose id equals the team id; ``channel_id`` becomes
    ``settings.selectedChannel``.
    """
    channel_data: dict[str, Any] = {
        "team": {"id": team_id, "name": team_name, "aadGroupId": "00000000-0000-4000-8000-00000000a001"},
        "eventType": "teamMemberAdded",
        "tenant": {"id": tenant_id},
        "settings": {"selectedChannel": {"id": channel_id or team_id}},
    }
    activity = _teams_activity(
        "conversationUpdate",
        service_url=service_url,
        conversation={"id": team_id, "isGroup": True, "conversationType": "channel", "tenantId": tenant_id},
        channel_data=channel_data,
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity["membersAdded"] = [{"id": bot_id}]
    return activity


def teams_personal_message(
    text: str,
    *,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    activity_id: str | None = None,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A 1:1 chat message to the bot (no mention, ``conversationType: personal``)."""
    activity = _teams_activity(
        "message",
        service_url=service_url,
        conversation={"id": conversation_id, "conversationType": "personal", "tenantId": tenant_id},
        channel_data={"tenant": {"id": tenant_id}},
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=activity_id or next_teams_message_id(),
        bot_id=bot_id,
        bot_name=bot_name,
    )
    _, entities = _mention_text(text, False, bot_id, bot_name)
    activity.update({"text": text, "textFormat": "plain", "entities": entities})
    return activity


def teams_file_consent_invoke(
    action: str,
    *,
    context: dict[str, Any],
    upload_url: str,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    filename: str = "export.csv",
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``invoke`` ``fileConsent/invoke``: the user accepted or declined a FileConsentCard in personal chat.

    On accept Teams gives an upload session URL (OneDrive) in ``value.uploadInfo.uploadUrl``.
    """
    activity = _teams_activity(
        "invoke",
        service_url=service_url,
        conversation={"id": conversation_id, "conversationType": "personal", "tenantId": tenant_id},
        channel_data={"tenant": {"id": tenant_id}, "source": {"name": "message"}},
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
    if action == "accept":
        value["uploadInfo"] = {
            "contentUrl": f"https://contoso.sharepoint.com/personal/alice/Documents/Applications/{filename}",
            "name": filename,
            "uploadUrl": upload_url,
            "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C",
            "fileType": "csv",
        }
    activity.update({"name": "fileConsent/invoke", "value": value})
    return activity
