"""A read-only view of an activity's JSON, for the pure mapping functions, without msrest.

``Activity().deserialize`` (msrest) was a third of ``serve``'s CPU on Teams captures. The mapping functions of
:mod:`adapters.teams.mapping` and :mod:`adapters.teams.text` read a handful of attributes; :func:`activity_view`
builds exactly those from the JSON, with the names and shapes msrest gives them (``from_property``, ``reply_to_id``,
entities' extra keys in ``additional_properties``). It returns None for anything unusual (a key of an unexpected
type, a missing id, keys it does not know how a channel message carries): the caller then takes the full
botbuilder path, which checks and answers as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ActivityView", "activity_view"]

_STRINGS = ("id", "replyToId", "text", "timestamp", "channelId")
# Keys that change what botbuilder does with an activity (replies expected back, a channel chosen on install, …):
# an activity carrying one takes the full path.
_UNUSUAL = frozenset({"deliveryMode", "membersAdded", "membersRemoved", "value", "name", "expiration", "callerId"})
# The keys of Teams channel data that its schema reads as objects (botbuilder's Teams handlers deserialize it):
# channel data holding anything else there takes the full path, which refuses it. Channel data with ``settings`` or
# ``onBehalfOf`` is not what a channel reply or reaction carries: the full path too.
_CHANNEL_DATA_OBJECTS = ("channel", "team", "notification", "tenant", "meeting")
_CHANNEL_DATA_UNUSUAL = frozenset({"settings", "onBehalfOf"})


@dataclass(slots=True)
class Account:
    id: str | None
    name: str | None = None


@dataclass(slots=True)
class Conversation:
    id: str
    conversation_type: str | None
    tenant_id: str | None
    is_group: bool | None


@dataclass(slots=True)
class Entity:
    type: str | None
    additional_properties: dict[str, Any]


@dataclass(slots=True)
class Attachment:
    content_type: str | None
    content: Any


@dataclass(slots=True)
class Reaction:
    type: str | None


@dataclass(slots=True)
class ActivityView:
    """The attributes of ``botbuilder.schema.Activity`` that the mapping functions read."""

    type: str
    id: str | None
    channel_id: str | None
    service_url: str
    timestamp: str | None
    conversation: Conversation
    from_property: Account
    recipient: Account
    reply_to_id: str | None
    text: str | None
    channel_data: dict[str, Any] | None
    entities: list[Entity] | None
    attachments: list[Attachment] | None
    reactions_added: list[Reaction] | None
    reactions_removed: list[Reaction] | None


def activity_view(body: dict[str, Any]) -> ActivityView | None:
    """The view of a captured activity's JSON, or None when the full path should handle it. (A read-only view by
    convention: its classes are not frozen, because frozen dataclasses are several times slower to build.)"""
    kind, service_url = body.get("type"), body.get("serviceUrl")
    if not isinstance(kind, str) or not isinstance(service_url, str):
        return None
    if not service_url.startswith(("https://", "http://")) or not _UNUSUAL.isdisjoint(body):
        return None
    for key in _STRINGS:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            return None
    conversation, sender, recipient = body.get("conversation"), body.get("from"), body.get("recipient")
    data = body.get("channelData")
    if not isinstance(conversation, dict) or not isinstance(sender, dict) or not isinstance(recipient, dict):
        return None
    if data is not None and (
        not isinstance(data, dict)
        or not _CHANNEL_DATA_UNUSUAL.isdisjoint(data)
        or any(not isinstance(data.get(key), dict | None) for key in _CHANNEL_DATA_OBJECTS)
    ):
        return None
    try:
        entities, attachments = _list(body, "entities"), _list(body, "attachments")
        added, removed = _list(body, "reactionsAdded"), _list(body, "reactionsRemoved")
    except _Unusual:
        return None
    conversation_view, sender_view, recipient_view = _conversation(conversation), _account(sender), _account(recipient)
    if conversation_view is None or sender_view is None or recipient_view is None or not sender_view.id:
        return None
    return ActivityView(
        type=kind,
        id=body.get("id"),
        channel_id=body.get("channelId"),
        service_url=service_url,
        timestamp=body.get("timestamp"),
        conversation=conversation_view,
        from_property=sender_view,
        recipient=recipient_view,
        reply_to_id=body.get("replyToId"),
        text=body.get("text"),
        channel_data=data,
        entities=None if entities is None else [Entity(e.get("type"), e) for e in entities],
        attachments=None
        if attachments is None
        else [Attachment(a.get("contentType"), a.get("content")) for a in attachments],
        reactions_added=None if added is None else [Reaction(r.get("type")) for r in added],
        reactions_removed=None if removed is None else [Reaction(r.get("type")) for r in removed],
    )


class _Unusual(Exception):
    pass


def _list(body: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    """The list of objects under ``key`` (each ``type`` a string if any); None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Unusual(key)
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("type", ""), str | None):
            raise _Unusual(key)
    return value


def _account(value: dict[str, Any]) -> Account | None:
    account_id, name = value.get("id"), value.get("name")
    if (account_id is not None and not isinstance(account_id, str)) or (name is not None and not isinstance(name, str)):
        return None
    return Account(account_id, name)


def _conversation(value: dict[str, Any]) -> Conversation | None:
    conversation_id, kind, tenant, group = (
        value.get("id"),
        value.get("conversationType"),
        value.get("tenantId"),
        value.get("isGroup"),
    )
    if not isinstance(conversation_id, str) or not conversation_id:
        return None
    if not isinstance(kind, str | None) or not isinstance(tenant, str | None) or not isinstance(group, bool | None):
        return None
    return Conversation(conversation_id, kind, tenant, group)
