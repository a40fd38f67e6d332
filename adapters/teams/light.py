"""The light path of ``/api/messages``: a channel reply, reaction, edit or soft delete captured straight from the
activity's JSON, without msrest and without a botbuilder turn (the hot path of the Teams endpoint).

It applies the checks the full path applies, in the same order and with the same answers: the ``serviceUrl``
allow-list (403), then, when ``MicrosoftAppId`` is set or a token is sent, the Bot Framework token (401, or 503
when the OpenID metadata cannot be fetched) before anything is captured. The events of one activity are one unit
of work (all committed, or none) and the answer, 201, follows their commit; a storage failure is a 503.

Anything else takes the full path (``handle`` returns None), which answers exactly as it always did: an activity
:func:`adapters.teams.view.activity_view` finds unusual, a personal or group chat, a message that @mentions the bot
(a command, or a reply in a prompt's thread that only the full path tells apart), a channel whose conversation
reference this process has not stored yet (the full path stores it first), a restore (``undeleteMessage``), a
channel other than ``msteams``, and a timestamp this path cannot read.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from botbuilder.schema import Activity

from adapters.teams.mapping import (
    delete_from_teams,
    edit_from_teams,
    occurred_at,
    reactions_from_teams,
    reply_from_teams,
    team_channel_id,
)
from adapters.teams.references import ConversationReferences
from adapters.teams.text import mentions_bot
from adapters.teams.view import ActivityView, activity_view
from bot.capture import Capture
from bot.errors import StorageError
from bot.events import CaptureEvent
from bot.ingest_log import IngestLog

logger = logging.getLogger(__package__)

__all__ = ["LightCapture"]

Check = Callable[[Activity, str], Awaitable[web.Response | None]]  # the token check: None when it passes
UrlCheck = Callable[[str, str], web.Response | None]  # the serviceUrl check (url, activity type): None when it passes


class LightCapture:
    """Captured activity types from their JSON; None from :meth:`handle` means "take the full path"."""

    def __init__(
        self,
        *,
        capture: Capture,
        check_service_url: UrlCheck,
        references: ConversationReferences,
        check_token: Check,
        auth_enabled: bool,
        log: IngestLog,
    ) -> None:
        self.log = log
        self.capture = capture
        self.check_service_url = check_service_url
        self.references = references
        self.check_token = check_token
        self.auth_enabled = auth_enabled

    async def handle(self, body: dict[str, Any], header: str) -> web.Response | None:
        view = activity_view(body)
        if view is None or view.channel_id != "msteams":
            return None
        refused = self.check_service_url(view.service_url, view.type)
        if refused is not None:
            return refused
        channel = team_channel_id(view)
        if channel is None or not self.references.known(channel, view.service_url):
            return None
        if view.timestamp is not None and occurred_at(view) is None:
            return None
        try:
            events = _events(view)
        except Exception:  # a mapping function met something odd: the full path checks it and answers
            return None
        if events is None:
            return None
        if header or self.auth_enabled:  # the token first, before anything is captured
            minimal = Activity(type=view.type, channel_id=view.channel_id, service_url=view.service_url)
            refused = await self.check_token(minimal, header)
            if refused is not None:
                return refused
        if events:
            try:
                outcomes = await self.capture.apply_all_async(events)
            except (StorageError, sqlite3.Error) as err:  # nothing was committed: the channel redelivers
                logger.error("teams activity failed status=503 type=%s error=%s", view.type, type(err).__name__)
                return web.json_response(
                    {"error": "storage is unavailable"}, status=int(HTTPStatus.SERVICE_UNAVAILABLE)
                )
            for event, outcome in zip(events, outcomes, strict=True):
                self.log.event(
                    outcome, "teams %s channel=%s outcome=%s", type(event).__name__, event.channel_id, outcome
                )
        return web.Response(status=201)  # what the full path answers


def _events(view: ActivityView) -> list[CaptureEvent] | None:
    """The capture events of a channel activity, [] for one to acknowledge and ignore, None for the full path."""
    kind = view.type
    event_type = (view.channel_data or {}).get("eventType")
    found: list[CaptureEvent | None]
    if kind == "message":
        if view.from_property.id == view.recipient.id:
            return []  # our own message echoed back
        if view.conversation.conversation_type != "channel" or mentions_bot(view):
            return None  # a chat, or a command: the full path answers it
        found = [reply_from_teams(view)]
    elif kind == "messageReaction":
        found = list(reactions_from_teams(view))
    elif kind == "messageUpdate" and event_type == "editMessage":
        found = [edit_from_teams(view)]
    elif kind == "messageDelete" and event_type == "softDeleteMessage":
        found = [delete_from_teams(view)]
    else:
        return None
    return [event for event in found if event is not None]
