"""Commands in Teams: each delivery answered once, and answered where only the caller sees it.

In personal chat the answer is the reply. A command @mentioned in a channel is answered in a 1:1 chat with the
caller (the bot opens it with ``create_conversation`` when needed; exports and ``mydata`` files are offered there
with a file-consent card), and the channel sees at most one neutral line that names no command: the same for
``optout`` as for ``help``. The one exception is ``summary`` asked in a channel, answered in the channel's thread
with the card the channel gets on Mondays (figures about small groups withheld), never the admin's exact card.

**Redelivery.** The Bot Framework connector redelivers an activity it saw no answer to in time. A command's delivery
is recorded in ``seen_events`` (key ``teams:command:sha256-<hex>``, a SHA-256 of the conversation and activity ids:
a personal chat's id is linkable to the member) and committed *before* the command runs: a redelivery, even one
arriving while the first is still running, finds it and does nothing. The order is chosen for what a crash loses:
between the record and the command's effect, the command is lost (the caller sees no answer and asks again),
whereas recording after the effect could run an admin's ``post`` twice, a duplicate the channel sees and nobody can
take back.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import ChannelAccount, ConversationParameters
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.teams.files import FileConsents
from adapters.teams.keys import hashed
from adapters.teams.mapping import BadActivity, sender_of, tenant_id_of
from adapters.teams.render import card_activity, card_to_adaptive
from adapters.teams.text import command_text
from bot.commands import CommandContext, CommandReply, Commands
from bot.events import Platform

logger = logging.getLogger(__package__)

__all__ = ["ANSWERED_PRIVATELY", "NO_PRIVATE_CHAT", "CommandLog", "TeamsCommands", "command_key"]

ANSWERED_PRIVATELY = "I've replied to you in a private chat."
NO_PRIVATE_CHAT = "I couldn't open a private chat with you: message me in a personal chat and ask there."


def command_key(conversation_id: str, activity_id: str) -> str:
    """A command delivery's key in ``seen_events``: a personal chat's conversation id is linkable to the member, so
    it is never kept in clear."""
    return "teams:command:" + hashed(conversation_id, activity_id)


class CommandLog(Protocol):
    """Which command deliveries were seen (``storage.repository.Repository`` has it)."""

    def claim_event(self, event_key: str, platform: Platform) -> bool: ...


class TeamsCommands:
    """Runs the commands of Teams messages and routes each answer (see the module docstring)."""

    def __init__(
        self, commands: Commands, log: CommandLog, files: FileConsents, cloud: CloudAdapter, *, app_id: str
    ) -> None:
        self.commands = commands
        self.log = log
        self.files = files
        self.cloud = cloud
        self.app_id = app_id  # MicrosoftAppId ("" in emulator mode): the identity create_conversation acts as

    async def answer(self, turn_context: TurnContext, channel_id: str, *, personal: bool) -> None:
        activity = turn_context.activity
        sender = sender_of(activity)
        if sender is None:
            raise BadActivity("a message without from.id")
        if activity.id and not self.log.claim_event(command_key(channel_id, activity.id), Platform.TEAMS):
            logger.info("teams command redelivered outcome=duplicate")
            return
        ctx = CommandContext(
            Platform.TEAMS, user_id=sender[0], channel_id=channel_id, display_name=sender[1], public=not personal
        )
        reply = await self.commands.handle(ctx, command_text(activity))
        if personal or reply.public:
            await self._deliver(turn_context, sender[0], reply)
        elif await self._in_private_chat(turn_context, sender[0], reply):
            await turn_context.send_activity(ANSWERED_PRIVATELY)
        else:
            await turn_context.send_activity(NO_PRIVATE_CHAT)

    async def _deliver(self, turn_context: TurnContext, user_id: str, reply: CommandReply) -> None:
        await turn_context.send_activity(card_activity(card_to_adaptive(reply.card), reply.card.title))
        if reply.attachment is not None:
            await self.files.offer(turn_context, user_id, reply)

    async def _in_private_chat(self, turn_context: TurnContext, user_id: str, reply: CommandReply) -> bool:
        """Answer in the 1:1 chat of the bot and the caller, which Teams creates or returns; False if it cannot."""
        activity = turn_context.activity
        tenant = tenant_id_of(activity)
        bot = activity.recipient
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=getattr(bot, "id", None), name=getattr(bot, "name", None)),
            members=[ChannelAccount(id=user_id)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )

        async def deliver(chat: TurnContext) -> None:
            chat.activity.id = None  # a new message in the chat, not a reply to the synthetic id (PLATFORM_NOTES §2.4)
            await self._deliver(chat, user_id, reply)

        try:
            await self.cloud.create_conversation(
                self.app_id, deliver, parameters, channel_id=activity.channel_id, service_url=activity.service_url
            )
        except (HttpOperationError, ClientRequestError, requests.RequestException, OSError) as err:
            logger.warning("teams private chat failed error=%s", type(err).__name__)
            return False
        return True
