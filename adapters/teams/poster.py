"""Posting into Teams channels: each prompt or card a new thread, through the channel's stored reference.

A post is retried only when the connector cannot have received it (a 429, a connection never opened). Anything
after the request may have reached the connector is ``PostInDoubt``; and since the Bot Framework connector has no
way to read a channel's messages, a post in doubt cannot be checked (``find_post`` raises ``PostUnverifiable``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import requests
from azure.core.exceptions import DeserializationError
from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ConversationReference
from msrest.exceptions import ClientRequestError, HttpOperationError
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from adapters.teams.references import ConversationReferences
from adapters.teams.render import card_activity, card_to_adaptive, prompt_to_adaptive
from bot.errors import AdapterError, PostInDoubt, PostUnverifiable
from bot.events import Platform
from bot.ports import Card, Marker, PostedMessage
from bot.prompts import Prompt
from bot.timeutil import utc_now

logger = logging.getLogger(__package__)

__all__ = ["TeamsPoster"]

MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 60.0


def _in_doubt(channel_id: str, why: str) -> PostInDoubt:
    logger.warning("teams post in doubt channel=%s error=%s", channel_id, why)
    return PostInDoubt(f"Teams may have posted to channel {channel_id} ({why}): it is not posted again blindly")


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what it wraps: msrest's inner exception, requests' and urllib3's reasons, causes and contexts."""
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [getattr(current, "inner_exception", None), getattr(current, "reason", None), current.__cause__]
        linked += [current.__context__, *current.args]
        todo += [e for e in linked if isinstance(e, BaseException)]


def _never_sent(err: BaseException) -> bool:
    """True when the connection to the connector could not even be opened (refused, unresolvable, connect timeout)."""
    return any(isinstance(e, (NewConnectionError, ConnectTimeoutError, requests.ConnectTimeout)) for e in _chain(err))


def _cause_name(err: ClientRequestError) -> str:
    inner = getattr(err, "inner_exception", None)
    return type(inner).__name__ if isinstance(inner, BaseException) else type(err).__name__


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    try:
        value = float(str(headers.get("Retry-After")))
    except (TypeError, ValueError):
        return None
    return max(0.0, min(value, MAX_RETRY_AFTER))


class TeamsPoster:
    """Posts prompts and cards as new threads in Teams channels, through stored conversation references."""

    platform = Platform.TEAMS
    base_delay = 1.0  # seconds; doubled on each retry unless the connector sends Retry-After

    def __init__(
        self,
        cloud: CloudAdapter,
        references: ConversationReferences,
        *,
        app_id: str,
        bot_app_id: str,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.cloud = cloud
        self.references = references
        self.app_id = app_id  # MicrosoftAppId ("" in local mode), which continue_conversation is given
        self.bot_app_id = bot_app_id  # never empty: send_message_to_teams_channel needs one
        self.now = now  # the clock that stamps a post's accepted time (the demo swaps in its simulated clock)

    async def post_prompt(
        self, channel_id: str, prompt: Prompt, notice: str, *, marker: Marker | None = None
    ) -> PostedMessage:
        return await self._post(channel_id, prompt_to_adaptive(prompt, notice), f"{prompt.theme}: {prompt.text}")

    async def post_card(self, channel_id: str, card: Card, *, marker: Marker | None = None) -> PostedMessage:
        return await self._post(channel_id, card_to_adaptive(card), card.title)

    async def find_post(
        self, channel_id: str, marker: Marker, *, since: datetime, until: datetime
    ) -> PostedMessage | None:
        """The Bot Framework connector cannot list a channel's messages (only Direct Line can): Teams cannot tell."""
        raise PostUnverifiable(f"Teams does not let a bot read channel {channel_id}, so the post cannot be checked")

    async def _post(self, channel_id: str, content: dict[str, Any], summary: str) -> PostedMessage:
        """One post, retried only when the connector cannot have received it: a 429 (refused) after Retry-After, or
        a connection that could not be opened. A timeout, a reset or a 5xx after sending is ``PostInDoubt``."""
        reference = self.references.reference_for(channel_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            last = attempt == MAX_ATTEMPTS
            try:
                message_id = await self._send_once(reference, channel_id, card_activity(content, summary))
            except HttpOperationError as err:
                status = getattr(err.response, "status_code", None)
                logger.warning(
                    "teams post failed channel=%s status=%s attempt=%d/%d", channel_id, status, attempt, MAX_ATTEMPTS
                )
                refused = isinstance(status, int) and status < 500 and status != 408  # nothing was posted
                if not refused:
                    raise _in_doubt(channel_id, f"HTTP {status}") from err
                if status != 429 or last:
                    raise AdapterError(f"Teams refused the post to channel {channel_id} (HTTP {status})") from err
                delay = _retry_after(err.response)
            except ClientRequestError as err:  # the connector's own HTTP exchange failed
                if not _never_sent(err):
                    raise _in_doubt(channel_id, _cause_name(err)) from err
                logger.warning(
                    "teams post failed channel=%s error=%s attempt=%d/%d",
                    channel_id,
                    _cause_name(err),
                    attempt,
                    MAX_ATTEMPTS,
                )
                if last:
                    raise AdapterError(f"cannot reach Teams to post to channel {channel_id}") from err
                delay = None
            except DeserializationError as err:  # the connector answered, so it took the post
                raise _in_doubt(channel_id, "unreadable answer") from err
            except (requests.RequestException, OSError) as err:  # the token, fetched before the post is sent
                logger.warning(
                    "teams post failed channel=%s error=%s attempt=%d/%d",
                    channel_id,
                    type(err).__name__,
                    attempt,
                    MAX_ATTEMPTS,
                )
                if last:
                    raise AdapterError(f"cannot reach Teams to post to channel {channel_id}") from err
                delay = None
            except AdapterError:
                raise
            except Exception as err:  # botbuilder or credential failures: the core only sees AdapterError
                logger.warning("teams post failed channel=%s error=%s", channel_id, type(err).__name__)
                raise AdapterError(f"posting to Teams channel {channel_id} failed ({type(err).__name__})") from err
            else:
                return PostedMessage(message_id=message_id, posted_at=self.now())
            await asyncio.sleep(self.base_delay * 2 ** (attempt - 1) if delay is None else delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, reference: ConversationReference, channel_id: str, activity: Activity) -> str:
        sent: list[tuple[Any, str]] = []

        async def callback(turn_context: TurnContext) -> None:
            sent.append(
                await TeamsInfo.send_message_to_teams_channel(
                    turn_context, activity, channel_id, bot_app_id=self.bot_app_id
                )
            )

        await self.cloud.continue_conversation(reference, callback, self.app_id)
        new_reference, activity_id = sent[0]
        if not activity_id:  # the new thread's root id is also the ;messageid= suffix of its conversation id
            activity_id = str(getattr(new_reference.conversation, "id", "")).partition(";messageid=")[2]
        if not activity_id:
            raise _in_doubt(channel_id, "accepted without a message id")
        return str(activity_id)
