"""The Slack adapter: Events API and `/engage` over one signed HTTP route (or Socket Mode).

``SlackAdapter.handle`` checks each request's signature on the raw bytes, then parses the body once. The deliveries
engagebot captures (messages and reactions, the hot path) are answered by :mod:`adapters.slack.events` without
Bolt's dispatch; everything else (URL verification, other events, ``/engage``, interactivity) goes to the Bolt app
and its listeners. Payloads become :mod:`bot.events` through :mod:`adapters.slack.mapping`; the core decides what is
stored, and each capture is committed to SQLite before Slack gets its 2xx (Bolt runs with
``process_before_response=True`` for the same reason).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier

from adapters.slack.background import Background
from adapters.slack.commands import SlackCommands
from adapters.slack.events import BotIdentity, SlackEvents, captured_event, failure_status, retry_number
from adapters.slack.mapping import valid_shape
from adapters.slack.names import NameStore, SlackNames
from adapters.slack.poster import SlackPoster, build_client
from adapters.slack.socket_mode import SocketMode
from bot.capture import Capture
from bot.commands import Commands
from bot.config import SlackSettings
from bot.errors import ConfigError
from bot.jsonbody import MalformedJSON, check_body, loads

logger = logging.getLogger(__package__)  # "adapters.slack" for every module of the package

__all__ = ["AUTH_FAILED", "SlackAdapter"]

# Bolt answers 200 with this text when auth.test fails; for an event that 200 would lose it, so we answer 503.
AUTH_FAILED = "engagebot cannot reach Slack right now (auth.test failed); please try again in a minute."


class SlackAdapter:
    """Bolt app, routes and background work for one Slack workspace."""

    def __init__(
        self,
        settings: SlackSettings,
        *,
        capture: Capture,
        commands: Commands,
        names: NameStore,
        is_admin: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.capture = capture
        # Bolt makes its client from the token. Given a client of ours instead, it also reads SLACK_BOT_TOKEN from
        # the process environment and warns at every start that this token "will be unused".
        self.app = AsyncApp(
            token=settings.bot_token,
            signing_secret=settings.signing_secret or "unused",  # Bolt's own check is off: see self.verifier
            request_verification_enabled=False,
            process_before_response=True,  # commit to SQLite before the 2xx (SPEC §11)
            user_facing_authorize_error_message=AUTH_FAILED,
            logger=logging.getLogger("slack_bolt.engagebot"),
        )
        self.client = build_client(settings, self.app.client)  # the API URL; the retries of reads and replies
        self.poster = SlackPoster(self.client)
        self.background = Background()
        self.names = SlackNames(self.client, names)
        self.commands = SlackCommands(self.client, commands, is_admin, self.background)
        # We verify signatures ourselves, before anything parses the body (an unsigned malformed body is then a 401,
        # not a parse error); slack_sdk's SignatureVerifier is the very check Bolt would run.
        self.verifier: SignatureVerifier | None = (
            SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        )
        self.socket = SocketMode(self.app, self.client, settings.app_token) if settings.app_token else None
        self.events = SlackEvents(BotIdentity(self.app, self.client), capture, self.names)
        self._register()

    # -- HTTP -------------------------------------------------------------------------------------------------------

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature and the 5-minute timestamp window; any malformed header is simply invalid."""
        if self.verifier is None:
            return False  # Socket Mode only: the HTTP endpoint cannot authenticate anything
        if not isinstance(headers, CIMultiDictProxy | CIMultiDict):  # any other mapping: names in any case
            headers = CIMultiDict(headers)
        try:  # is_valid_request without copying and lower-casing every header of every request first
            return self.verifier.is_valid(
                body, headers.get("X-Slack-Request-Timestamp"), headers.get("X-Slack-Signature")
            )
        except (ValueError, TypeError, OverflowError):
            return False

    async def handle(self, request: web.Request) -> web.Response:
        """POST /slack/events: Events API, slash commands and interactivity."""
        raw = await request.read()  # aiohttp answers 413 beyond client_max_size (1 MiB)
        if not self.verify(raw, request.headers):
            logger.info("slack request rejected status=401 reason=signature retry=%s", retry_number(request.headers))
            return web.json_response({"error": "invalid request"}, status=401)
        if not raw.strip():
            return _bad_request("empty body")
        if request.content_type == "application/json":
            try:
                body = loads(raw.decode("utf-8"))  # hostile JSON (too deep, huge numbers) is a 400, not a 500
            except (UnicodeDecodeError, MalformedJSON):
                return _bad_request("unparsable body")
            if captured_event(body):
                return await self.events.handle(body, request.headers)  # the hot path: no Bolt dispatch
        else:
            try:  # any other body: UTF-8, and Slack interactivity's JSON ``payload`` held to the JSON body's limits
                raw.decode("utf-8")
                check_body(raw, request.content_type)
            except Exception:
                return _bad_request("unparsable body")
        try:
            bolt_request = await to_bolt_request(request)
        except Exception:  # Bolt parses JSON and form bodies here: any failure is the sender's
            return _bad_request("unparsable body")
        if not valid_shape(bolt_request.body):
            return _bad_request("unexpected payload shape")
        response = await self.app.async_dispatch(bolt_request)
        if (
            response.status == 200
            and response.body == AUTH_FAILED
            and bolt_request.body.get("type") == "event_callback"
        ):
            logger.warning("slack request failed status=503 reason=auth_test")
            return web.Response(status=503)  # nothing was stored: Slack retries
        if response.status == 404:  # verified, but nothing engagebot handles (e.g. an action without an id)
            logger.info("slack request kind=%s outcome=ignored", bolt_request.body.get("type") or "?")
            return web.Response(status=200)
        if bolt_request.body.get("type") == "url_verification" or "ssl_check" in bolt_request.body:
            # Answered by Bolt's built-in middleware, before any listener (which logs the other kinds).
            kind = "ssl_check" if "ssl_check" in bolt_request.body else "url_verification"
            logger.info("slack request kind=%s outcome=answered status=%s", kind, response.status)
        return await to_aiohttp_response(response)

    # -- lifecycle --------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect Socket Mode when an app-level token is configured (see :mod:`adapters.slack.socket_mode`).

        Raises ConfigError when Slack refuses a token; never waits long for Slack.
        """
        if self.socket is not None:
            await self.socket.start()

    @property
    def fatal(self) -> ConfigError | None:
        """A token Slack refused after start (Socket Mode): ``serve`` stops with this error."""
        return self.socket.fatal if self.socket is not None else None

    def on_fatal(self, stop: Callable[[], None]) -> None:
        """Call ``stop`` when :attr:`fatal` is set."""
        if self.socket is not None:
            self.socket.on_fatal = stop

    async def health(self) -> dict[str, Any]:
        """The ``slack`` object of ``/healthz``: Socket Mode reports whether its connection is up."""
        if self.socket is None:
            return {"enabled": True, "mode": "http", "connected": None}
        return {"enabled": True, "mode": "socket", "connected": await self.socket.connected()}

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.background.wait_idle()
        await self.names.close()
        self.events.log.flush()

    async def wait_idle(self) -> None:
        """Wait for background work (slow command replies, display names looked up and stored) to finish."""
        await self.background.wait_idle()
        await self.names.wait_idle()

    # -- Bolt listeners ---------------------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.error(self._on_error)
        app.event("message")(self._on_capture)
        app.event("reaction_added")(self._on_capture)
        app.event("reaction_removed")(self._on_capture)
        app.command("/engage")(self.commands.on_engage)
        # Everything else Slack may send to this Request URL is acknowledged and ignored (unknown events must be 200,
        # and Bolt would otherwise log the unhandled body, which can hold message text).
        anything = re.compile(".*")
        app.event(anything)(self._on_other)
        app.command(anything)(self._on_other)
        app.action(anything)(self._on_other)
        app.view(anything)(self._on_other)
        app.shortcut(anything)(self._on_other)
        app.options(anything)(self._on_other)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse:
        kind = body.get("type") or ("command" if "command" in body else "?")
        return BoltResponse(status=failure_status(error, kind), body="")

    async def _on_other(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event")
        name = event.get("type") if isinstance(event, dict) else body.get("type") or body.get("command")
        logger.info("slack request kind=%s outcome=ignored", name)

    async def _on_capture(self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        """Captured events through Bolt: Socket Mode (HTTP deliveries take :meth:`SlackEvents.handle`)."""
        await self.events.apply(body, retry_number(request.headers))
        await ack()


def _bad_request(reason: str) -> web.Response:
    logger.info("slack request rejected status=400 reason=%s", reason.replace(" ", "_"))
    return web.json_response({"error": reason}, status=400)
