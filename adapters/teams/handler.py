"""The activity handler: every activity's channel remembered, replies and reactions captured, commands answered.

Which channel message is a command: in personal chat, every message; in a channel, one that @mentions the bot,
except in a prompt's thread, where Teams (without the RSC permission) delivers *only* @mentions: there a message
is a command only when its first word after the mention is a known command (``@engagebot help``, ``@engagebot
engage summary``); anything else is a member's reply, captured without the mention.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Protocol

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity

from adapters.teams.commands import TeamsCommands
from adapters.teams.files import FileConsents
from adapters.teams.mapping import (
    delete_from_teams,
    edit_from_teams,
    reactions_from_teams,
    reply_from_teams,
    restore_from_teams,
    team_channel_id,
    thread_root,
)
from adapters.teams.references import ConversationReferences
from adapters.teams.text import command_text, mentions_bot
from bot.capture import Capture
from bot.commands import command_name
from bot.events import CaptureEvent, Platform, ReactionAdded, ReactionRemoved
from bot.ingest_log import IngestLog
from bot.model import PostRecord

logger = logging.getLogger(__package__)

__all__ = ["PostLookup", "TeamsBot"]


class PostLookup(Protocol):
    """What the handler asks storage: is this thread a prompt's? (``storage.repository.Repository`` has it.)"""

    def find_post(self, platform: Platform, channel_id: str, message_id: str) -> PostRecord | None: ...


class TeamsBot(TeamsActivityHandler):
    """Routes activities: references are remembered, replies and reactions captured, commands answered."""

    def __init__(
        self,
        *,
        capture: Capture,
        commands: TeamsCommands,
        posts: PostLookup,
        references: ConversationReferences,
        files: FileConsents,
        log: IngestLog,
    ) -> None:
        super().__init__()
        self.log = log
        self.capture = capture
        self.commands = commands
        self.posts = posts
        self.references = references
        self.files = files

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self.references.remember(turn_context)
        await super().on_turn(turn_context)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Nothing beyond the reference ``on_turn`` stores: botbuilder's member lookups here are not needed."""

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "fileConsent/invoke":
            return await super().on_invoke_activity(turn_context)
        # botbuilder answers 501 to invokes it does not know; an unexpected payload is a 4xx here (SPEC §11)
        return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST), body={"error": "unsupported invoke"})

    async def _capture(self, event: CaptureEvent | None) -> None:
        if event is not None:
            outcome = await self.capture.apply_async(event)
            self.log.event(outcome, "teams %s channel=%s outcome=%s", type(event).__name__, event.channel_id, outcome)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if getattr(activity.from_property, "id", None) == getattr(activity.recipient, "id", None):
            return  # our own message echoed back
        conversation_type = getattr(activity.conversation, "conversation_type", None)
        if conversation_type == "personal":
            await self.commands.answer(turn_context, str(activity.conversation.id), personal=True)
        elif mentions_bot(activity) and not self._reply_in_prompt_thread(activity):
            channel = team_channel_id(activity) or str(activity.conversation.id).partition(";messageid=")[0]
            await self.commands.answer(turn_context, channel, personal=False)
        else:
            await self._capture(reply_from_teams(activity))  # Capture ignores messages outside prompt threads

    def _reply_in_prompt_thread(self, activity: Activity) -> bool:
        """An @mention in a prompt's thread that does not start with a command is a reply to the prompt."""
        channel, root = team_channel_id(activity), thread_root(activity)
        if channel is None or root is None or root == activity.id:
            return False
        if command_name(command_text(activity)) is not None:
            return False
        return self.posts.find_post(Platform.TEAMS, channel, root) is not None

    async def on_reactions_added(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionAdded):
                await self._capture(event)

    async def on_reactions_removed(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionRemoved):
                await self._capture(event)

    def _reactions(self, activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
        return reactions_from_teams(activity)  # one in a thread that is not a prompt's: the capture rules drop it

    async def on_teams_message_edit(self, turn_context: TurnContext) -> None:
        await self._capture(edit_from_teams(turn_context.activity))

    async def on_teams_message_soft_delete(self, turn_context: TurnContext) -> None:
        await self._capture(delete_from_teams(turn_context.activity))

    async def on_teams_message_undelete(self, turn_context: TurnContext) -> None:
        await self._capture(restore_from_teams(turn_context.activity))

    # -- exports -------------------------------------------------------------------------------------------------

    async def on_teams_file_consent_accept(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        await self.files.accept(turn_context, file_consent_card_response)

    async def on_teams_file_consent_decline(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        await self.files.decline(turn_context, file_consent_card_response)
