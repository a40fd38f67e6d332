"""Teams activities as JSON dicts, shaped as Teams sends them.

Build botbuilder objects from them with ``Activity().deserialize(d)``, never ``Mention(...)`` (PLATFORM_NOTES §2.5).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

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


class Sender(TypedDict, total=False):
    """Who sends an activity, in which tenant, to which bot, and when: keywords every builder takes (defaults: Alice
    in the test tenant, to EngageBot, now)."""

    user_id: str
    user_name: str
    aad_object_id: str
    tenant_id: str
    bot_id: str
    bot_name: str
    timestamp: datetime | None


class InChannel(Sender, total=False):
    """A sender in a team's channel: the builders of channel activities also take the channel and the team."""

    channel_id: str
    team_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Party:
    """``Sender`` and ``InChannel`` keywords with their defaults filled in."""

    user_id: str = "29:1user-alice"
    user_name: str = "Alice"
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c"
    tenant_id: str = TEAMS_TENANT_ID
    bot_id: str = TEAMS_BOT_ID
    bot_name: str = TEAMS_BOT_NAME
    timestamp: datetime | None = None
    channel_id: str = TEAMS_CHANNEL_ID
    team_id: str = TEAMS_TEAM_ID


def _teams_activity(
    activity_type: str,
    party: _Party,
    *,
    service_url: str,
    conversation: dict[str, Any],
    channel_data: dict[str, Any],
    activity_id: str | None,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": activity_type,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": iso_z(party.timestamp),
        "from": {"id": party.user_id, "name": party.user_name, "aadObjectId": party.aad_object_id},
        "recipient": {"id": party.bot_id, "name": party.bot_name},
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "en-US",
    }
    if activity_id is not None:
        activity["id"] = activity_id
    return activity


def _channel_activity(
    activity_type: str,
    party: _Party,
    *,
    service_url: str,
    root_id: str,
    activity_id: str | None,
    event_type: str | None = None,
) -> dict[str, Any]:
    """An activity in the thread of ``root_id`` in a team's channel."""
    return _teams_activity(
        activity_type,
        party,
        service_url=service_url,
        conversation=_channel_conversation(party.channel_id, root_id, party.tenant_id),
        channel_data=_channel_data(party.channel_id, party.team_id, party.tenant_id, event_type),
        activity_id=activity_id,
    )


def _personal_conversation(conversation_id: str, tenant_id: str) -> dict[str, Any]:
    return {"id": conversation_id, "conversationType": "personal", "tenantId": tenant_id}


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
    text: str, *, service_url: str, activity_id: str | None = None, **where: Unpack[InChannel]
) -> dict[str, Any]:
    """A new top-level channel post @mentioning the bot; its conversation id ends in ``;messageid=<its own id>``."""
    activity_id = activity_id or next_teams_message_id()
    return teams_channel_reply(  # a top-level post is the root of its own thread
        text, root_id=activity_id, service_url=service_url, activity_id=activity_id, mention_bot=True, **where
    )


def teams_channel_reply(
    text: str,
    *,
    root_id: str,
    service_url: str,
    activity_id: str | None = None,
    mention_bot: bool = False,
    **where: Unpack[InChannel],
) -> dict[str, Any]:
    """A reply in the thread of ``root_id``. Like a real capture, it has no ``replyToId``: the root is only in the
    ``;messageid=`` suffix. ``mention_bot=False`` is what RSC ``ChannelMessage.Read.Group`` delivers."""
    party = _Party(**where)
    full_text, entities = _mention_text(text, mention_bot, party.bot_id, party.bot_name)
    activity = _channel_activity(
        "message", party, service_url=service_url, root_id=root_id, activity_id=activity_id or next_teams_message_id()
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
    **where: Unpack[InChannel],
) -> dict[str, Any]:
    """``messageReaction`` on message ``reply_to_id`` (in the thread of ``root_id``, default: the message itself)."""
    activity = _channel_activity(
        "messageReaction",
        _Party(**where),
        service_url=service_url,
        root_id=root_id or reply_to_id,
        activity_id=f"f:{next_teams_message_id()}",
    )
    activity["replyToId"] = reply_to_id
    activity["reactionsRemoved" if removed else "reactionsAdded"] = [{"type": reaction}]
    return activity


def teams_edit(
    text: str, *, message_id: str, service_url: str, root_id: str | None = None, **where: Unpack[InChannel]
) -> dict[str, Any]:
    """``messageUpdate`` + ``editMessage``: ``id`` is the edited message (``on_teams_message_edit``)."""
    activity = _channel_activity(
        "messageUpdate",
        _Party(**where),
        service_url=service_url,
        root_id=root_id or message_id,
        activity_id=message_id,
        event_type="editMessage",
    )
    activity.update({"text": text, "textFormat": "plain"})
    return activity


def teams_undelete(
    text: str | None = None,
    *,
    message_id: str,
    service_url: str,
    root_id: str | None = None,
    **where: Unpack[InChannel],
) -> dict[str, Any]:
    """``messageUpdate`` + ``undeleteMessage``: ``id`` is the restored message (``on_teams_message_undelete``).
    Microsoft's documented example carries no text (``text=None``); a text is the restored message's, as an edit
    carries it."""
    activity = teams_edit(text or "", message_id=message_id, service_url=service_url, root_id=root_id, **where)
    activity["channelData"]["eventType"] = "undeleteMessage"
    if text is None:
        del activity["text"], activity["textFormat"]
    return activity


def teams_soft_delete(
    *, message_id: str, service_url: str, root_id: str | None = None, **where: Unpack[InChannel]
) -> dict[str, Any]:
    """``messageDelete`` + ``softDeleteMessage``: ``id`` is the deleted message (``on_teams_message_soft_delete``)."""
    return _channel_activity(
        "messageDelete",
        _Party(**where),
        service_url=service_url,
        root_id=root_id or message_id,
        activity_id=message_id,
        event_type="softDeleteMessage",
    )


def teams_install_conversation_update(
    *,
    service_url: str,
    team_id: str = TEAMS_TEAM_ID,
    team_name: str = "Engage Team",
    channel_id: str | None = None,
    **who: Unpack[Sender],
) -> dict[str, Any]:
    """The bot being added to a team: ``conversationUpdate`` + ``teamMemberAdded`` with the bot in ``membersAdded``.

    The conversation is the team's General channel, whose id equals the team id; ``channel_id`` becomes
    ``settings.selectedChannel``.
    """
    party = _Party(**who)
    channel_data: dict[str, Any] = {
        "team": {"id": team_id, "name": team_name, "aadGroupId": "00000000-0000-4000-8000-00000000a001"},
        "eventType": "teamMemberAdded",
        "tenant": {"id": party.tenant_id},
        "settings": {"selectedChannel": {"id": channel_id or team_id}},
    }
    activity = _teams_activity(
        "conversationUpdate",
        party,
        service_url=service_url,
        conversation={"id": team_id, "isGroup": True, "conversationType": "channel", "tenantId": party.tenant_id},
        channel_data=channel_data,
        activity_id=f"f:{next_teams_message_id()}",
    )
    activity["membersAdded"] = [{"id": party.bot_id}]
    return activity


def teams_personal_message(
    text: str,
    *,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    activity_id: str | None = None,
    **who: Unpack[Sender],
) -> dict[str, Any]:
    """A 1:1 chat message to the bot (no mention, ``conversationType: personal``)."""
    party = _Party(**who)
    activity = _teams_activity(
        "message",
        party,
        service_url=service_url,
        conversation=_personal_conversation(conversation_id, party.tenant_id),
        channel_data={"tenant": {"id": party.tenant_id}},
        activity_id=activity_id or next_teams_message_id(),
    )
    _, entities = _mention_text(text, False, party.bot_id, party.bot_name)
    activity.update({"text": text, "textFormat": "plain", "entities": entities})
    return activity


def teams_file_consent_invoke(
    action: str,
    *,
    context: dict[str, Any],
    upload_url: str,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    filename: str = "export.csv",
    **who: Unpack[Sender],
) -> dict[str, Any]:
    """``invoke`` ``fileConsent/invoke``: the user accepted or declined a FileConsentCard in personal chat.

    On accept Teams gives an upload session URL (OneDrive) in ``value.uploadInfo.uploadUrl``.
    """
    party = _Party(**who)
    activity = _teams_activity(
        "invoke",
        party,
        service_url=service_url,
        conversation=_personal_conversation(conversation_id, party.tenant_id),
        channel_data={"tenant": {"id": party.tenant_id}, "source": {"name": "message"}},
        activity_id=f"f:{next_teams_message_id()}",
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
