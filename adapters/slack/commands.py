"""`/engage` in Slack: quick commands answered in the ack, slow ones through ``response_url``, files into a DM."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.background import Background
from adapters.slack.mapping import MalformedPayload
from adapters.slack.poster import adapter_error
from adapters.slack.render import card_blocks, card_text
from bot.commands import ADMIN, PUBLIC, CommandContext, CommandReply, Commands
from bot.errors import AdapterError
from bot.events import Platform
from bot.ports import Card

logger = logging.getLogger(__package__)

__all__ = ["SLOW_COMMANDS", "SlackCommands", "command_name"]

# Answered through response_url after a quick ack: they may take longer than Slack's 3 s, or send a file.
SLOW_COMMANDS = frozenset({"summary", "export", "report", "post", "mydata"})


def command_name(text: str) -> str:
    """The command asked for; "unknown" for anything else (logged: a member's free text must not reach the logs)."""
    words = text.strip().split()
    if words and words[0].lower().lstrip("/") == "engage":
        words = words[1:]
    name = words[0].lower() if words else "help"
    return name if name in PUBLIC or name in ADMIN else "unknown"


class SlackCommands:
    """The ``/engage`` listener: the core's :class:`bot.commands.Commands` answers, this delivers the answer."""

    def __init__(
        self,
        client: AsyncWebClient,
        commands: Commands,
        is_admin: Callable[[str], bool],
        background: Background,
    ) -> None:
        self.client = client
        self.commands = commands
        self.is_admin = is_admin
        self.background = background

    async def on_engage(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        user_id, channel_id = command.get("user_id"), command.get("channel_id")
        text = command.get("text") or ""
        if not isinstance(user_id, str) or not user_id or not isinstance(channel_id, str) or not isinstance(text, str):
            raise MalformedPayload("slash command without user_id or channel_id")
        ctx = CommandContext(Platform.SLACK, user_id, channel_id)
        name = command_name(text)
        if name in SLOW_COMMANDS and (name in PUBLIC or self.is_admin(ctx.member)):
            # Slack wants the ack within 3 s; these may take longer (Web API calls, a week's figures), so the reply
            # follows through response_url.
            await ack(response_type="ephemeral", text=f"Working on `{name}`…")
            self.background.spawn(self._slow_command(ctx, text, name, respond))
            return
        reply = await self.commands.handle(ctx, text)
        logger.info("slack command name=%s outcome=answered", name)
        await ack(response_type="ephemeral", text=card_text(reply.card), blocks=card_blocks(reply.card))

    async def _slow_command(self, ctx: CommandContext, text: str, name: str, respond: AsyncRespond) -> None:
        try:
            reply = await self.commands.handle(ctx, text)
            if reply.attachment is not None:
                try:
                    reply = await self._deliver_attachment(ctx, reply)
                except AdapterError as err:
                    reply = CommandReply(Card("The platform refused", sections=(("", str(err)),)))
            await respond(
                text=card_text(reply.card),
                blocks=card_blocks(reply.card),
                response_type="ephemeral",
                replace_original=False,
            )
            logger.info("slack command name=%s outcome=answered", name)
        except Exception as err:  # a failed reply must not kill the server; tell the person if we still can
            logger.warning("slack command failed name=%s error=%s", name, type(err).__name__)
            try:
                await respond(text=f"Sorry, `{name}` failed ({type(err).__name__}).", response_type="ephemeral")
            except Exception as again:  # response_url expired or unreachable: nothing more to do
                logger.warning("slack command reply failed name=%s error=%s", name, type(again).__name__)

    async def _deliver_attachment(self, ctx: CommandContext, reply: CommandReply) -> CommandReply:
        """Exports are private: upload the file into the requester's direct message with the bot."""
        attachment = reply.attachment
        assert attachment is not None
        try:
            opened = await self.client.conversations_open(users=ctx.user_id)
            channel = opened.get("channel") or {}
            dm = channel.get("id") if isinstance(channel, dict) else None
            if not isinstance(dm, str) or not dm:
                raise AdapterError("Slack conversations.open returned no channel")
            await self.client.files_upload_v2(
                channel=dm,
                filename=attachment.filename,
                title=attachment.filename,
                content=attachment.content,
                initial_comment=card_text(reply.card),
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            raise adapter_error("files.upload", err) from None
        card = reply.card
        sections = (*card.sections, ("", f"Sent to you as a direct message: `{attachment.filename}`."))
        return CommandReply(Card(card.title, card.facts, sections, card.footer))
