"""Posting into Slack: the Web API client with its retries, and ``SlackPoster`` (``bot.ports.Poster``)."""

from __future__ import annotations

import logging
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
from bot.errors import AdapterError
from bot.events import Platform
from bot.ports import Card, PostedMessage
from bot.prompts import Prompt
from bot.timeutil import from_slack_ts

logger = logging.getLogger(__package__)

__all__ = ["AsyncTransientErrorRetryHandler", "SlackPoster", "adapter_error", "build_client"]

TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


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


def build_client(settings: SlackSettings) -> AsyncWebClient:
    """The Web API client: 429 honours Retry-After; connection failures and 5xx retry with backoff."""
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncTransientErrorRetryHandler(max_retry_count=2),
        ],
    )


def adapter_error(method: str, err: Exception) -> AdapterError:
    if isinstance(err, SlackApiError):
        code = err.response.get("error") if isinstance(err.response.data, dict) else None
        logger.warning("slack call failed method=%s error=%s status=%s", method, code, err.response.status_code)
        return AdapterError(f"Slack {method} failed: {code or err.response.status_code}")
    logger.warning("slack call failed method=%s error=%s", method, type(err).__name__)
    return AdapterError(f"Slack {method} failed: {type(err).__name__}")


class SlackPoster:
    """Posts prompts and summaries with ``chat.postMessage`` (implements :class:`bot.ports.Poster`)."""

    platform = Platform.SLACK

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post_prompt(self, channel_id: str, prompt: Prompt, notice: str) -> PostedMessage:
        text = f"Discussion prompt ({prompt.theme}): {prompt.text}"
        return await self._post(channel_id, clip(text, 3000), prompt_blocks(prompt, notice))

    async def post_card(self, channel_id: str, card: Card) -> PostedMessage:
        return await self._post(channel_id, card_text(card), card_blocks(card))

    async def _post(self, channel_id: str, text: str, blocks: list[dict[str, Any]]) -> PostedMessage:
        try:
            response = await self.client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            raise adapter_error("chat.postMessage", err) from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise AdapterError("Slack chat.postMessage returned no ts")
        # The post's time is Slack's ts, never our clock (SPEC §7).
        return PostedMessage(message_id=ts, posted_at=from_slack_ts(ts))
