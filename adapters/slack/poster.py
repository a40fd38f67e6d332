"""Posting into Slack: the Web API clients with their retries, and ``SlackPoster`` (``bot.ports.Poster``).

A post is retried only when Slack cannot have received it: a 429 (Slack refused it) and a connection that could
not be opened. A timeout, a dropped connection, a 5xx or one of Slack's "it's possible some aspect of the
operation succeeded" errors makes it ``PostInDoubt``. Scheduled posts carry their slot in the message metadata
(``event_type`` ``engagebot_slot``), which ``find_post`` looks for in ``conversations.history``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import card_blocks, card_text, clip, prompt_blocks
from bot.config import SlackSettings
from bot.errors import AdapterError, PostInDoubt
from bot.events import Platform
from bot.ports import Card, Marker, PostedMessage
from bot.prompts import Prompt
from bot.timeutil import from_slack_ts, to_slack_ts

logger = logging.getLogger(__package__)

__all__ = [
    "SLOT_EVENT",
    "AsyncTransientErrorRetryHandler",
    "RetryAfterHandler",
    "SlackPoster",
    "adapter_error",
    "build_client",
]

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
SLOT_EVENT = "engagebot_slot"  # the metadata event_type of scheduled posts
# Slack documents these as "it's possible some aspect of the operation succeeded" (or as an unfinished request).
MAYBE_POSTED_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})
HISTORY_PAGE = 15  # conversations.history's largest page for apps outside the Marketplace; any app accepts it
HISTORY_PAGES = 40  # a window of a quarter of an hour never holds more than 600 top-level messages


class AsyncTransientErrorRetryHandler(AsyncRetryHandler):
    """Retries 500/502/503/504 with exponential backoff (slack_sdk's own handler covers only 500 and 503)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in TRANSIENT_STATUSES


class RetryAfterHandler(AsyncRateLimitErrorRetryHandler):
    """A 429 waits for Slack's ``Retry-After`` (whole seconds; 1 s without one), plus up to a second of jitter, as
    slack_sdk's own handler does; the wait goes through ``sleep``, which a test may replace to see it."""

    def __init__(self, max_retry_count: int, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error or RuntimeError("a rate-limit retry without a response")
        state.next_attempt_requested = True
        await self.sleep(retry_after(response) + random.random())
        state.increment_current_attempt()


def retry_after(response: HttpResponse) -> int:
    """The whole seconds of a response's ``Retry-After`` header; 1 when it is missing or not a number."""
    for name, values in response.headers.items():
        value = values[0] if isinstance(values, list) and values else values
        if name.lower() == "retry-after" and isinstance(value, str) and value.strip().isdigit():
            return int(value)
    return 1


def build_client(settings: SlackSettings, client: AsyncWebClient | None = None) -> AsyncWebClient:
    """The Web API client for reads and replies: 429 honours Retry-After; connection failures and 5xx retry.

    ``client`` (Bolt's own, made from the same token) is pointed at the API URL and given these retries instead of
    making a new one.
    """
    client = client or AsyncWebClient(token=settings.bot_token)
    client.base_url = settings.api_url
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        RetryAfterHandler(max_retry_count=3),
        AsyncTransientErrorRetryHandler(max_retry_count=2),
    ]
    return client


def posting_client(client: AsyncWebClient) -> AsyncWebClient:
    """``client`` for ``chat.postMessage``: retries only what Slack cannot have received (a 429, which Slack
    refused, after Retry-After; a connection that could not be opened), never a timeout, a reset or a 5xx."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        headers=client.headers,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2, error_types=[aiohttp.ClientConnectorError]),
            RetryAfterHandler(max_retry_count=3),
        ],
    )


def adapter_error(method: str, err: Exception) -> AdapterError:
    if isinstance(err, SlackApiError):
        code = err.response.get("error") if isinstance(err.response.data, dict) else None
        logger.warning("slack call failed method=%s error=%s status=%s", method, code, err.response.status_code)
        return AdapterError(f"Slack {method} failed: {code or err.response.status_code}")
    logger.warning("slack call failed method=%s error=%s", method, type(err).__name__)
    return AdapterError(f"Slack {method} failed: {type(err).__name__}")


def _maybe_posted(err: SlackApiError) -> bool:
    data = err.response.data
    if err.response.status_code >= 500 or err.response.status_code == 408 or not isinstance(data, dict):
        return True
    return data.get("error") in MAYBE_POSTED_ERRORS


def _in_doubt(channel_id: str, why: str) -> PostInDoubt:
    logger.warning("slack post in doubt method=chat.postMessage channel=%s error=%s", channel_id, why)
    return PostInDoubt(f"Slack may have posted to {channel_id} ({why}): it is not posted again blindly")


class SlackPoster:
    """Posts prompts and summaries with ``chat.postMessage`` (implements :class:`bot.ports.Poster`)."""

    platform = Platform.SLACK

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client  # reads (conversations.history): retried freely
        self.posting = posting_client(client)

    async def post_prompt(
        self, channel_id: str, prompt: Prompt, notice: str, *, marker: Marker | None = None
    ) -> PostedMessage:
        text = f"Discussion prompt ({prompt.theme}): {prompt.text}"
        return await self._post(channel_id, clip(text, 3000), prompt_blocks(prompt, notice), marker)

    async def post_card(self, channel_id: str, card: Card, *, marker: Marker | None = None) -> PostedMessage:
        return await self._post(channel_id, card_text(card), card_blocks(card), marker)

    async def channel_name(self, channel_id: str) -> str | None:
        """The channel's name (``conversations.info``; needs ``channels:read``/``groups:read``), for the report."""
        try:
            response = await self.client.conversations_info(channel=channel_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            raise adapter_error("conversations.info", err) from None
        channel = response.get("channel")
        name = channel.get("name") if isinstance(channel, dict) else None
        return name if isinstance(name, str) and name else None

    async def _post(
        self, channel_id: str, text: str, blocks: list[dict[str, Any]], marker: Marker | None
    ) -> PostedMessage:
        extra: dict[str, Any] = {}
        if marker is not None:
            extra["metadata"] = {"event_type": SLOT_EVENT, "event_payload": dict(marker)}
        try:
            response = await self.posting.chat_postMessage(channel=channel_id, text=text, blocks=blocks, **extra)
        except SlackApiError as err:
            if _maybe_posted(err):
                code = err.response.get("error") if isinstance(err.response.data, dict) else None
                raise _in_doubt(channel_id, code or f"HTTP {err.response.status_code}") from None
            raise adapter_error("chat.postMessage", err) from None
        except aiohttp.ClientConnectorError as err:  # the connection was never opened: nothing was sent
            raise adapter_error("chat.postMessage", err) from None
        except (aiohttp.ClientError, TimeoutError) as err:  # sent, and no answer: Slack may have posted it
            raise _in_doubt(channel_id, type(err).__name__) from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise _in_doubt(channel_id, "accepted without a ts")
        # The post's time is Slack's ts, never our clock (SPEC §7).
        return PostedMessage(message_id=ts, posted_at=from_slack_ts(ts))

    async def find_post(
        self, channel_id: str, marker: Marker, *, since: datetime, until: datetime
    ) -> PostedMessage | None:
        """The top-level message of ``channel_id`` between ``since`` and ``until`` that carries ``marker`` in its
        metadata, from ``conversations.history`` (which returns metadata only with ``include_all_metadata``)."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                response = await self.client.conversations_history(
                    channel=channel_id,
                    oldest=to_slack_ts(since),
                    latest=to_slack_ts(until),
                    inclusive=True,
                    include_all_metadata=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                )
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
                raise adapter_error("conversations.history", err) from None
            for message in response.get("messages") or []:
                if _carries(message, marker) and isinstance(message.get("ts"), str):
                    return PostedMessage(message_id=message["ts"], posted_at=from_slack_ts(message["ts"]))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or cursor is None:
                return None
        raise AdapterError(f"Slack conversations.history: more than {HISTORY_PAGES} pages to check in {channel_id}")


def _carries(message: Any, marker: Marker) -> bool:
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != SLOT_EVENT:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and all(payload.get(k) == v for k, v in marker.items())
