"""Teams conversation references: saved from every team activity (on install, for each channel of the team), and
read back to post into a channel proactively.

A reference names the channel and the bot, never a member: botbuilder's ``TurnContext.get_conversation_reference``
copies the sender into ``user`` (id, name, aadObjectId) and their client's ``locale``, which would keep the identity
of whoever happened to be active in the channel, whatever they later opt out of. Only the fields a proactive post
needs are stored."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount, ConversationReference

from adapters.teams.mapping import channel_data, id_of, team_channel_id, team_id_of, tenant_id_of
from adapters.teams.service_urls import ServiceUrls
from bot.errors import AdapterError, NoConversationReference
from bot.events import Platform
from bot.timeutil import utc_now

logger = logging.getLogger(__package__)

__all__ = ["ConversationReferences", "ReferenceStore"]


class ReferenceStore(Protocol):
    """What conversation references need of storage (``storage.repository.Repository`` has it)."""

    def save_conversation_ref(
        self,
        channel_id: str,
        team_id: str | None,
        tenant_id: str | None,
        service_url: str,
        reference_json: str,
        at: datetime,
    ) -> None: ...
    def get_conversation_ref(self, channel_id: str) -> dict[str, Any] | None: ...
    def save_channel_names(self, platform: Platform, names: Mapping[str, str], at: datetime) -> None: ...


class ConversationReferences:
    """How to reach each Teams channel; a reference already stored by this process is not written again."""

    def __init__(self, store: ReferenceStore, urls: ServiceUrls) -> None:
        self.store = store
        self.urls = urls
        self._known_refs: dict[str, str] = {}  # channel id -> service url already stored by this process

    def known(self, channel_id: str, service_url: str) -> bool:
        """Whether this process already stored the channel's reference with this service URL."""
        return self._known_refs.get(channel_id) == service_url

    async def remember(self, turn_context: TurnContext) -> None:
        """Store how to reach the channel of any team activity; on install, every channel of the team."""
        activity = turn_context.activity
        channel = team_channel_id(activity)
        if channel is None or not activity.service_url:
            return
        channels = [channel]
        selected = id_of((channel_data(activity).get("settings") or {}).get("selectedChannel"))
        if selected:
            channels.append(selected)
        if self._bot_installed(activity):
            names = await self._team_channels(turn_context)
            channels += names
            self.store.save_channel_names(Platform.TEAMS, names, utc_now())
        for channel_id in dict.fromkeys(channels):
            self._save_reference(activity, channel_id)

    def _bot_installed(self, activity: Activity) -> bool:
        bot_id = getattr(activity.recipient, "id", None)
        added = activity.members_added or []
        return activity.type == ActivityTypes.conversation_update and any(
            getattr(m, "id", None) == bot_id for m in added
        )

    async def _team_channels(self, turn_context: TurnContext) -> dict[str, str]:
        """The team's channels, id -> name (the General channel, which Teams lists without a name: "General")."""
        team_id = team_id_of(turn_context.activity)
        if team_id is None:
            return {}
        try:
            client = await TeamsInfo.get_teams_connector_client(turn_context)
            result = await asyncio.to_thread(client.teams.get_teams_channels, team_id)  # synchronous client
        except Exception as err:  # the listing is a convenience; the install reference is stored anyway
            logger.warning("teams channel listing failed team=%s error=%s", team_id, type(err).__name__)
            return {}
        listed = getattr(result, "conversations", None) or []
        return {str(c.id): str(getattr(c, "name", None) or "General") for c in listed if getattr(c, "id", None)}

    def _save_reference(self, activity: Activity, channel_id: str) -> None:
        service_url = str(activity.service_url)
        if self._known_refs.get(channel_id) == service_url:
            return
        reference = channel_reference(activity)
        self.store.save_conversation_ref(
            channel_id,
            team_id_of(activity),
            tenant_id_of(activity),
            service_url,
            json.dumps(reference.serialize()),
            utc_now(),
        )
        self._known_refs[channel_id] = service_url
        logger.info("teams conversation reference stored channel=%s", channel_id)

    def reference_for(self, channel_id: str) -> ConversationReference:
        if not channel_id.startswith("19:"):  # a personal (a:…) or group chat: prompts go to team channels only
            raise AdapterError("prompts are posted in team channels: @mention engagebot with `post` in the channel")
        row = self.store.get_conversation_ref(channel_id)
        if row is None:
            raise NoConversationReference(
                f"engagebot does not know Teams channel {channel_id} yet: install the app in its team first "
                "(or @mention the bot in that channel)"
            )
        reference = ConversationReference().deserialize(json.loads(row["reference"]))
        if not self.urls.connector_allowed(str(reference.service_url or "")):  # stored before the URL rules
            raise AdapterError(
                f"the stored reference of Teams channel {channel_id} names a serviceUrl that is not a Bot Framework "
                "connector: @mention the bot in that channel to refresh it"
            )
        return reference


def channel_reference(activity: Activity) -> ConversationReference:
    """How to reach the activity's channel: the bot, the channel's conversation (without the thread suffix), the
    service URL and the tenant; never the member who sent the activity."""
    bot = activity.recipient
    conversation = activity.conversation
    return ConversationReference(
        bot=ChannelAccount(id=getattr(bot, "id", None), name=getattr(bot, "name", None)),
        conversation=ConversationAccount(
            id=str(getattr(conversation, "id", "") or "").partition(";messageid=")[0],
            is_group=getattr(conversation, "is_group", None),
            conversation_type=getattr(conversation, "conversation_type", None),
            tenant_id=getattr(conversation, "tenant_id", None) or tenant_id_of(activity),
        ),
        channel_id=activity.channel_id,
        service_url=activity.service_url,
    )
