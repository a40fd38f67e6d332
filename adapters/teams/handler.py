"""The activity handler: every activity's channel remembered, replies and reactions captured, commands answered."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Protocol

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity

from adapters.teams.files import FileConsents
from adapters.teams.mapping import (
    BadActivity,
    command_text,
    delete_from_teams,
    edit_from_teams,
    mentions_bot,
    reactions_from_teams,
    reply_from_teams,
    sender_of,
    team_channel_id,
)
from adapters.teams.references import ConversationReferences
from adapters.teams.render import card_activity, card_to_adaptive
from bot.capture import Capture
from bot.commands import CommandContext, Commands
from bot.events import CaptureEvent, Platform, ReactionAdded, ReactionRemoved
from bot.model import PostRecord
from bot.ports import Card

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
        commands: Commands,
        posts: PostLookup,
        references: ConversationReferences,
        files: FileConsents,
    ) -> None:
        super().__init__()
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
            logger.info("teams %s channel=%s outcome=%s", type(event).__name__, event.channel_id, outcome)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if getattr(activity.from_property, "id", None) == getattr(activity.recipient, "id", None):
            return  # our own message echoed back
        conversation_type = getattr(activity.conversation, "conversation_type", None)
        if conversation_type == "personal":
            await self._command(turn_context, str(activity.conversation.id), personal=True)
        elif mentions_bot(activity):
            channel = team_channel_id(activity) or str(activity.conversation.id).partition(";messageid=")[0]
            await self._command(turn_context, channel, personal=False)
        else:
            await self._capture(reply_from_teams(activity))  # Capture ignores messages outside prompt threads

    async def on_reactions_added(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionAdded):
                await self._capture(event)

    async def on_reactions_removed(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionRemoved):
                await self._capture(event)

    def _reactions(self, activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
        events = reactions_from_teams(activity)
        # Teams names the thread in the conversation id: a reaction in a thread that is not a prompt's is dropped
        # here, instead of being kept as "target not known yet" by the capture rules.
        _, sep, root = str(getattr(activity.conversation, "id", "") or "").partition(";messageid=")
        if events and sep and root and self.posts.find_post(Platform.TEAMS, events[0].channel_id, root) is None:
            return []
        return events

    async def on_teams_message_edit(self, turn_context: TurnContext) -> None:
        await self._capture(edit_from_teams(turn_context.activity))

    async def on_teams_message_soft_delete(self, turn_context: TurnContext) -> None:
        await self._capture(delete_from_teams(turn_context.activity))

    # -- commands --------------------------------------------------------------------------------------------

    async def _command(self, turn_context: TurnContext, channel_id: str, *, personal: bool) -> None:
        activity = turn_context.activity
        sender = sender_of(activity)
        if sender is None:
            raise BadActivity("a message without from.id")
        ctx = CommandContext(Platform.TEAMS, user_id=sender[0], channel_id=channel_id, display_name=sender[1])
        reply = await self.commands.handle(ctx, command_text(activity))
        await self._send_card(turn_context, reply.card)
        if reply.attachment is not None:
            if personal:
                await self.files.offer(turn_context, sender[0], reply)
            else:
                await turn_context.send_activity(
                    "Files are sent in personal chat: message me `export` there to download the CSV."
                )

    async def _send_card(self, turn_context: TurnContext, card: Card) -> None:
        await turn_context.send_activity(card_activity(card_to_adaptive(card), card.title))

    async def on_teams_file_consent_accept(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        await self.files.accept(turn_context, file_consent_card_response)

    async def on_teams_file_consent_decline(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        await self.files.decline(turn_context, file_consent_card_response)
