"""The Events API deliveries engagebot captures (``message``, ``reaction_added``, ``reaction_removed``), answered
without Bolt's dispatch: the hot path of the Slack endpoint.

``SlackEvents.handle`` takes a body whose signature was checked and which was parsed once (``SlackAdapter.handle``)
and does what Bolt would: the bot's identity from one ``auth.test`` (the very result Bolt's own authorization keeps,
so both make one call in all; a failure is not kept and answers 503), Bolt's rule for the bot's own events
(``IgnoringSelfEvents``: 200, nothing stored), then maps the event (any error is the sender's: 400), applies the
capture rules (committed before the answer; a storage failure is 503, so Slack retries), logs (a DEBUG line, and
the event counted in the INFO line of the minute: :mod:`bot.ingest_log`) and answers 200 with an empty body; the
member's display name is learnt afterwards, in the background. Socket Mode deliveries still come through Bolt's
listener, which calls :meth:`SlackEvents.apply`: both transports share one path.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import AsyncSingleTeamAuthorization
from slack_bolt.request.internals import extract_user_id
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.mapping import event_from_slack
from adapters.slack.names import SlackNames
from bot.capture import Capture, Outcome
from bot.errors import StorageError
from bot.events import ReactionAdded, ReplyEdited, ReplyPosted
from bot.ingest_log import IngestLog

logger = logging.getLogger(__package__)

__all__ = ["CAPTURED_EVENTS", "BotIdentity", "SlackEvents", "captured_event", "failure_status", "retry_number"]

CAPTURED_EVENTS = frozenset({"message", "reaction_added", "reaction_removed"})
# Storage or Slack itself failed and nothing was committed: 503 makes Slack retry the delivery later.
UNAVAILABLE = (StorageError, sqlite3.Error, SlackApiError, aiohttp.ClientError, TimeoutError)


def captured_event(body: Any) -> bool:
    """Whether a parsed body is an ``event_callback`` of a type engagebot captures (a string type, nothing odd)."""
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return False
    event = body.get("event")
    return isinstance(event, dict) and isinstance(kind := event.get("type"), str) and kind in CAPTURED_EVENTS


def failure_status(error: Exception, kind: str) -> int:
    """The answer to a request whose handling raised ``error``, logged: 503 when storage or Slack failed (Slack
    retries), else 400 (the payload did not have the documented shape). Only the error's type is logged: its text
    may quote the payload."""
    if isinstance(error, UNAVAILABLE):
        logger.error("slack request failed status=503 kind=%s error=%s", kind, type(error).__name__)
        return 503
    logger.warning("slack request malformed status=400 kind=%s error=%s", kind, type(error).__name__)
    return 400


def retry_number(headers: Mapping[str, Any]) -> str:
    value = headers.get("x-slack-retry-num") or headers.get("X-Slack-Retry-Num")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value else "0"


class BotIdentity:
    """The bot's user id and bot id, from the ``auth.test`` result Bolt's single-workspace authorization keeps: asked
    once for both (one call at a time); a failure is not kept, so the next delivery asks again."""

    def __init__(self, app: AsyncApp, client: AsyncWebClient) -> None:
        found = [m for m in app._async_middleware_list if isinstance(m, AsyncSingleTeamAuthorization)]
        self._bolt = found[0] if found else AsyncSingleTeamAuthorization()
        self._client = client
        self._asking = asyncio.Lock()

    async def get(self) -> tuple[str | None, str | None] | None:
        """(bot user id, bot id), or None when Slack cannot be asked right now."""
        result = self._bolt.auth_test_result
        if result is None:
            async with self._asking:
                result = self._bolt.auth_test_result or await self._ask()
        if result is None:
            return None
        return result.get("user_id"), result.get("bot_id")

    async def _ask(self) -> AsyncSlackResponse | None:
        try:
            result = await self._client.auth_test()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            logger.warning("slack auth.test failed error=%s", type(err).__name__)
            return None
        self._bolt.auth_test_result = result
        return result


class SlackEvents:
    """Captured Events API deliveries: ``handle`` (HTTP, instead of Bolt's dispatch) and ``apply`` (shared)."""

    def __init__(self, identity: BotIdentity, capture: Capture, names: SlackNames) -> None:
        self.identity = identity
        self.capture = capture
        self.names = names
        self.log = IngestLog(logger, "slack")  # a DEBUG line per event, an INFO count a minute

    async def handle(self, body: dict[str, Any], headers: Mapping[str, str]) -> web.Response:
        """Answer one signed, parsed ``event_callback`` whose ``event.type`` is in :data:`CAPTURED_EVENTS`."""
        retry = retry_number(headers)
        identity = await self.identity.get()
        if identity is None:
            logger.warning("slack request failed status=503 reason=auth_test")
            return web.Response(status=503)  # nothing was stored: Slack retries
        event: dict[str, Any] = body["event"]
        try:
            user = extract_user_id(body)
        except Exception as err:  # Bolt would fail to build its context on the same body
            return web.Response(status=failure_status(err, "event_callback"))
        bot_user, bot_id = identity
        if (user is not None and user == bot_user) or (event.get("bot_id") is not None and event["bot_id"] == bot_id):
            subtype = event.get("subtype") or "-"
            self.log.event(
                "ignored",
                "slack event type=%s subtype=%s outcome=ignored reason=self retry=%s",
                event["type"],
                subtype,
                retry,
            )
            return web.Response(status=200)  # the bot's own message or reaction
        try:
            await self.apply(body, retry)
        except Exception as err:
            return web.Response(status=failure_status(err, "event_callback"))
        return web.Response(status=200)

    async def apply(self, body: Mapping[str, Any], retry: str) -> None:
        """Map, capture (committed when this returns), log, then queue the member's display name. Raises what
        :func:`failure_status` answers: a mapping error (400) or a storage failure (503)."""
        captured = event_from_slack(body)
        outcome = Outcome.IGNORED if captured is None else await self.capture.apply_async(captured)
        event = body["event"]
        self.log.event(
            outcome,
            "slack event type=%s subtype=%s outcome=%s retry=%s",
            event.get("type"),
            event.get("subtype") or "-",
            outcome,
            retry,
        )
        if outcome is Outcome.STORED and isinstance(captured, ReplyPosted | ReplyEdited | ReactionAdded):
            self.names.learn(captured.user_id)
