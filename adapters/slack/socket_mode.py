"""Socket Mode: Slack's WebSocket, connected without ever holding up or hanging ``serve``.

At start both tokens are checked once (``auth.test``, ``apps.connections.open``), for at most
``START_CHECK_SECONDS``: a token Slack refuses stops ``serve`` before it listens (exit code 2, one line naming the
variable and the fix). Slack being slow or unreachable does not: the server starts, ``/healthz`` shows Slack as not
connected, and the connection is made in the background. Each attempt is bounded by ``ATTEMPT_SECONDS``; a failed
one is tried again after 1 s, 2 s, 4 s, … up to ``MAX_DELAY_SECONDS`` between attempts, for as long as ``serve``
runs. Once connected, slack_sdk's client keeps the connection up (it reconnects by itself). Nothing here waits
on Slack while the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.probe import API_ERRORS, TokenRefused, error_name, open_socket_url, verify_bot_token
from bot.errors import ConfigError

logger = logging.getLogger(__package__)

__all__ = ["SocketMode", "retry_delay"]

START_CHECK_SECONDS = 5.0
ATTEMPT_SECONDS = 15.0
MAX_DELAY_SECONDS = 300.0  # apps.connections.open is in Slack's lowest rate-limit tier (about one call a minute)
CLOSE_SECONDS = 3.0


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, 4, … capped)."""
    return float(min(MAX_DELAY_SECONDS, 2 ** min(attempt - 1, 16)))


class SocketMode:
    """The Socket Mode connection of one Bolt app: ``start``, ``connected``, ``close``."""

    def __init__(self, app: AsyncApp, client: AsyncWebClient, app_token: str) -> None:
        self.app = app
        # The adapter's client, without its retries of dropped connections: here each attempt is one try, and
        # this loop, with its longer delays, does the retrying.
        self.client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
        )
        self.app_token = app_token
        self.fatal: ConfigError | None = None  # a token Slack refused after start: serve stops with it
        self.on_fatal: Callable[[], None] | None = None
        self._bot_token_ok = False
        self._handler: AsyncSocketModeHandler | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check the tokens (bounded), then connect in the background. Raises ConfigError for a refused token."""
        if self._task is not None:
            return
        url: str | None = None
        try:
            url = await asyncio.wait_for(self._open_url(), START_CHECK_SECONDS)
        except TokenRefused as refused:
            raise refused.config_error() from None
        except API_ERRORS as err:  # TimeoutError too: the server starts anyway, the connection follows
            logger.warning(
                "slack socket mode cannot reach Slack yet error=%s; connecting in the background", error_name(err)
            )
        self._task = asyncio.create_task(self._connect(url), name="slack-socket-mode")

    async def connected(self) -> bool:
        if self._handler is None or self._task is None or not self._task.done():
            return False
        return bool(await self._handler.client.is_connected())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._handler is not None:
            try:
                await asyncio.wait_for(self._handler.close_async(), CLOSE_SECONDS)  # type: ignore[no-untyped-call]
            except (TimeoutError, *API_ERRORS) as err:
                logger.warning("slack socket mode close failed error=%s", error_name(err))
            self._handler = None

    async def _open_url(self) -> str:
        if not self._bot_token_ok:
            await verify_bot_token(self.client)
            self._bot_token_ok = True
        return await open_socket_url(self.client, self.app_token)

    async def _connect(self, url: str | None) -> None:
        attempt = 1
        while True:
            try:
                await asyncio.wait_for(self._attempt(url), ATTEMPT_SECONDS)
                logger.info("slack socket mode connected attempt=%d", attempt)
                return
            except TokenRefused as refused:
                self.fatal = refused.config_error()
                logger.error("slack socket mode stopped: %s", self.fatal)
                if self.on_fatal is not None:
                    self.on_fatal()
                return
            except API_ERRORS as err:
                delay = retry_delay(attempt)
                logger.warning(
                    "slack socket mode connect failed attempt=%d error=%s retry_in=%gs", attempt, error_name(err), delay
                )
            url = None  # a WebSocket URL is good for one connection: the next attempt asks for a new one
            attempt += 1
            await asyncio.sleep(delay)

    async def _attempt(self, url: str | None) -> None:
        url = url or await self._open_url()
        if self._handler is None:
            self._handler = AsyncSocketModeHandler(self.app, app_token=self.app_token)
        self._handler.client.wss_uri = url
        await self._handler.client.connect()  # type: ignore[no-untyped-call]
