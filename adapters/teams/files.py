"""Exports in Teams: offered in personal chat with a FileConsentCard, held in memory until the member accepts,
then uploaded to the OneDrive session Teams gives."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.schema import Attachment
from botbuilder.schema.teams import FileConsentCard, FileInfoCard
from botbuilder.schema.teams.additional_properties import ContentType

from adapters.teams.mapping import BadActivity
from adapters.teams.service_urls import ServiceUrls
from bot.commands import CommandReply

logger = logging.getLogger(__package__)

__all__ = ["FileConsents", "PendingFile"]

PENDING_FILE_TTL = 3600.0


@dataclass(frozen=True, slots=True)
class PendingFile:
    """An export waiting for the user's file consent. Kept in memory only: a restart loses it."""

    user_id: str
    filename: str
    content: bytes
    created: float


class FileConsents:
    """The exports waiting for consent, and the upload once it is given."""

    def __init__(self, urls: ServiceUrls) -> None:
        self.urls = urls  # upload URLs: https; in emulator mode also http on loopback (tests, the demo)
        self._pending: dict[str, PendingFile] = {}
        self._session: aiohttp.ClientSession | None = None

    def hold_file(self, user_id: str, filename: str, content: bytes) -> str:
        now = time.monotonic()
        for token in [t for t, p in self._pending.items() if now - p.created > PENDING_FILE_TTL]:
            del self._pending[token]
        token = secrets.token_urlsafe(16)
        self._pending[token] = PendingFile(user_id, filename, content, now)
        return token

    def take_file(self, turn_context: TurnContext, response: Any) -> PendingFile | None:
        context = getattr(response, "context", None)
        token = context.get("token") if isinstance(context, dict) else None
        pending = self._pending.get(token) if isinstance(token, str) else None
        user_id = getattr(turn_context.activity.from_property, "id", None)
        if pending is None or pending.user_id != user_id:
            return None
        if time.monotonic() - pending.created > PENDING_FILE_TTL:
            del self._pending[str(token)]
            return None
        del self._pending[str(token)]
        return pending

    async def upload(self, url: str, content: bytes) -> None:
        """PUT the bytes to the OneDrive upload session Teams gave us (one range, whole file)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        headers = {"Content-Length": str(len(content)), "Content-Range": f"bytes 0-{len(content) - 1}/{len(content)}"}
        async with self._session.put(url, data=content, headers=headers) as response:
            response.raise_for_status()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def offer(self, turn_context: TurnContext, user_id: str, reply: CommandReply) -> None:
        attachment = reply.attachment
        assert attachment is not None
        token = self.hold_file(user_id, attachment.filename, attachment.content)
        consent = FileConsentCard(
            description=f"engagebot: {attachment.filename}",
            size_in_bytes=len(attachment.content),
            accept_context={"token": token},
            decline_context={"token": token},
        )
        await turn_context.send_activity(
            MessageFactory.attachment(
                Attachment(
                    content=consent.serialize(), content_type=ContentType.FILE_CONSENT_CARD, name=attachment.filename
                )
            )
        )

    async def accept(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        info = file_consent_card_response.upload_info
        upload_url = getattr(info, "upload_url", None)
        if not isinstance(upload_url, str) or not self.urls.upload_allowed(upload_url):
            raise BadActivity("file consent without an https uploadInfo.uploadUrl")
        pending = self.take_file(turn_context, file_consent_card_response)
        if pending is None:
            await turn_context.send_activity("That export has expired (or engagebot restarted): ask for it again.")
            return
        try:
            await self.upload(upload_url, pending.content)
        except (aiohttp.ClientError, TimeoutError) as err:
            logger.warning("teams export upload failed error=%s", type(err).__name__)
            await turn_context.send_activity("The upload to your OneDrive failed; ask for the export again.")
            return
        logger.info("teams export uploaded bytes=%d", len(pending.content))
        file_card = FileInfoCard(unique_id=info.unique_id, file_type=info.file_type)
        await turn_context.send_activity(
            MessageFactory.attachment(
                Attachment(
                    content=file_card.serialize(),
                    content_type=ContentType.FILE_INFO_CARD,
                    name=info.name or pending.filename,
                    content_url=info.content_url,
                )
            )
        )

    async def decline(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        self.take_file(turn_context, file_consent_card_response)
        await turn_context.send_activity("Export declined: nothing was sent.")
