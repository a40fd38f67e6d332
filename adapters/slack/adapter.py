"""The Slack adapter: Events API and `/engage` over one signed HTTP route (or Socket Mode), Block Kit posting.

Payloads become :mod:`bot.events` through pure ``*_from_slack`` functions; the core decides what is stored.
Bolt runs with ``process_before_response=True``, so each capture is committed to SQLite before Slack gets its 2xx.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.capture import Outcome
from bot.commands import ADMIN, PUBLIC, CommandContext, CommandReply
from bot.config import SlackSettings
from bot.errors import AdapterError, StorageError
from bot.events import (
    CaptureEvent,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
    member_id,
)
from bot.ports import Card, PostedMessage
from bot.prompts import Prompt
from bot.timeutil import from_slack_ts

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from adapters.runtime import Runtime

logger = logging.getLogger(__package__)  # "adapters.slack" for every module of the package

__all__ = [
    "MalformedPayload",
    "SlackAdapter",
    "SlackPoster",
    "card_blocks",
    "card_text",
    "deletion_from_slack",
    "edit_from_slack",
    "event_from_slack",
    "reaction_from_slack",
    "reply_from_slack",
]

REPLY_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})  # every other subtype is not a member's reply
# Answered through response_url after a quick ack: they may take longer than Slack's 3 s, or send a file.
SLOW_COMMANDS = frozenset({"summary", "export", "post", "mydata"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
MAX_FIELDS = 10  # Block Kit: a section holds at most 10 fields
MAX_BLOCKS = 50
# Bolt answers 200 with this text when auth.test fails; for an event that 200 would lose it, so we answer 503.
AUTH_FAILED = "engagebot cannot reach Slack right now (auth.test failed); please try again in a minute."


class MalformedPayload(ValueError):
    """A Slack payload without the keys or types the Events API documents."""


# -- pure mapping: Slack payloads to core events ----------------------------------------------------------------------


def _event(body: Mapping[str, Any]) -> dict[str, Any]:
    event = body.get("event")
    if not isinstance(event, dict):
        raise MalformedPayload("event_callback without an event object")
    return event


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{key} must be a non-empty string")
    return value


def _optional_text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{key} must be a string")
    return value or None


def _ts(obj: Mapping[str, Any], key: str) -> datetime:
    try:
        return from_slack_ts(_text(obj, key))
    except ValueError as err:
        raise MalformedPayload(f"{key} is not a Slack timestamp") from err


def _event_key(body: Mapping[str, Any]) -> str | None:
    return _optional_text(body, "event_id")


def _is_bot(message: Mapping[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message" or bool(message.get("bot_profile"))


def _is_file_only(message: Mapping[str, Any]) -> bool:
    return message.get("subtype") == "file_share" and not (message.get("text") or "").strip()


def reply_from_slack(body: Mapping[str, Any]) -> ReplyPosted | None:
    """A member's message in a thread (incl. ``thread_broadcast``); ``None`` for anything else (SPEC §7)."""
    event = _event(body)
    subtype = event.get("subtype")
    if subtype not in REPLY_SUBTYPES or _is_bot(event) or _is_file_only(event):
        return None
    ts = _text(event, "ts")
    thread_ts = _optional_text(event, "thread_ts")
    if thread_ts is None or thread_ts == ts:
        return None  # a top-level message, or a thread's root
    text = event.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload("text must be a string")
    return ReplyPosted(
        platform=Platform.SLACK,
        channel_id=_text(event, "channel"),
        occurred_at=_ts(event, "ts"),
        event_key=_event_key(body),
        thread_id=thread_ts,
        message_id=ts,
        user_id=_text(event, "user"),
        text=text,
    )


def edit_from_slack(body: Mapping[str, Any]) -> ReplyEdited | None:
    """``message_changed``: keyed on ``event.message.ts``; the thread root's own changes are ignored."""
    event = _event(body)
    message = event.get("message")
    if not isinstance(message, dict):
        raise MalformedPayload("message_changed without a message object")
    if message.get("subtype") not in REPLY_SUBTYPES or _is_bot(message):
        return None
    ts = _text(message, "ts")
    thread_ts = _optional_text(message, "thread_ts")
    if thread_ts is None or thread_ts == ts:
        return None  # a top-level message, or the root updated because its thread grew
    edited = message.get("edited")
    edited_at = _ts(edited, "ts") if isinstance(edited, dict) and edited.get("ts") else _ts(event, "ts")
    text = message.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload("text must be a string")
    return ReplyEdited(
        platform=Platform.SLACK,
        channel_id=_text(event, "channel"),
        occurred_at=edited_at,
        event_key=_event_key(body),
        message_id=ts,
        text=text,
        thread_id=thread_ts,
        original_at=_ts(message, "ts"),
        user_id=_text(message, "user"),
    )


def deletion_from_slack(body: Mapping[str, Any]) -> ReplyDeleted | None:
    """``message_deleted``: the reply ``deleted_ts`` is gone; top-level and root deletions are ignored."""
    event = _event(body)
    deleted_ts = _text(event, "deleted_ts")
    previous = event.get("previous_message")
    thread_ts: str | None = None
    if previous is not None:
        if not isinstance(previous, dict):
            raise MalformedPayload("previous_message must be an object")
        thread_ts = _optional_text(previous, "thread_ts")
        if thread_ts is None or thread_ts == deleted_ts:
            return None  # a top-level message or a thread's root: never stored
    at_key = "event_ts" if event.get("event_ts") else "ts"
    return ReplyDeleted(
        platform=Platform.SLACK,
        channel_id=_text(event, "channel"),
        occurred_at=_ts(event, at_key),
        event_key=_event_key(body),
        message_id=deleted_ts,
        thread_id=thread_ts,
    )


def reaction_from_slack(body: Mapping[str, Any]) -> ReactionAdded | ReactionRemoved | None:
    """``reaction_added`` / ``reaction_removed`` on a message (not a file); the time is ``event_ts``."""
    event = _event(body)
    item = event.get("item")
    if not isinstance(item, dict):
        raise MalformedPayload("reaction without an item object")
    if item.get("type") != "message":
        return None  # reactions on files and file comments are not engagement with a prompt
    common: dict[str, Any] = {
        "platform": Platform.SLACK,
        "channel_id": _text(item, "channel"),
        "occurred_at": _ts(event, "event_ts"),
        "event_key": _event_key(body),
        "target_id": _text(item, "ts"),
        "user_id": _text(event, "user"),
        "name": _text(event, "reaction"),
    }
    kind = event.get("type")
    if kind == "reaction_added":
        return ReactionAdded(**common)
    if kind == "reaction_removed":
        return ReactionRemoved(**common)
    return None


def event_from_slack(body: Mapping[str, Any]) -> CaptureEvent | None:
    """Any ``event_callback`` body to its core event, or ``None`` when engagebot ignores it."""
    event = _event(body)
    kind = event.get("type")
    if kind == "message":
        subtype = event.get("subtype")
        if subtype == "message_changed":
            return edit_from_slack(body)
        if subtype == "message_deleted":
            return deletion_from_slack(body)
        return reply_from_slack(body)
    if kind in ("reaction_added", "reaction_removed"):
        return reaction_from_slack(body)
    return None


# -- Block Kit rendering ----------------------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_text(card: Card) -> str:
    """The notification / screen-reader fallback of a card."""
    parts = [card.title]
    parts += [f"{label}: {value}" for label, value in card.facts]
    parts += [f"{heading}\n{body}" if heading else body for heading, body in card.sections]
    if card.footer:
        parts.append(card.footer)
    return _clip("\n".join(parts), 3000)


def card_blocks(card: Card) -> list[dict[str, Any]]:
    """A card as Block Kit: a header, the facts as section fields, one section per paragraph, a context footer."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(card.title, 150), "emoji": True}}
    ]
    facts = list(card.facts)
    for start in range(0, len(facts), MAX_FIELDS):
        fields = [
            {"type": "mrkdwn", "text": _clip(f"*{label}*\n{value}", 2000)}
            for label, value in facts[start : start + MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    for heading, body in card.sections:
        text = f"*{heading}*\n{body}" if heading else body
        if text.strip():
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}})
    if card.footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(card.footer, 2000)}]})
    return blocks[:MAX_BLOCKS]


def prompt_blocks(prompt: Prompt, notice: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(f"*Discussion prompt · {prompt.theme}*", 2000)}],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(prompt.text, 3000)}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(f":speech_balloon: Reply in this thread to share your view. {notice}", 2000),
                }
            ],
        },
    ]


# -- posting ----------------------------------------------------------------------------------------------------------


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


def _adapter_error(method: str, err: Exception) -> AdapterError:
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
        return await self._post(channel_id, _clip(text, 3000), prompt_blocks(prompt, notice))

    async def post_card(self, channel_id: str, card: Card) -> PostedMessage:
        return await self._post(channel_id, card_text(card), card_blocks(card))

    async def _post(self, channel_id: str, text: str, blocks: list[dict[str, Any]]) -> PostedMessage:
        try:
            response = await self.client.chat_postMessage(channel=channel_id, text=text, blocks=blocks)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
            raise _adapter_error("chat.postMessage", err) from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise AdapterError("Slack chat.postMessage returned no ts")
        # The post's time is Slack's ts, never our clock (SPEC §7).
        return PostedMessage(message_id=ts, posted_at=from_slack_ts(ts))


# -- the adapter ------------------------------------------------------------------------------------------------------


def _valid_shape(body: Any) -> bool:
    """What Bolt may dispatch: an Events API envelope, a slash command, an interactivity payload or ssl_check."""
    if not isinstance(body, dict):
        return False
    if "command" in body or "ssl_check" in body:
        return isinstance(body.get("command", ""), str)
    kind = body.get("type")
    if not isinstance(kind, str):
        return False
    if kind == "event_callback":
        event = body.get("event")
        return isinstance(event, dict) and isinstance(event.get("type"), str)
    return True


def _command_name(text: str) -> str:
    """The command asked for; "unknown" for anything else (logged: a member's free text must not reach the logs)."""
    words = text.strip().split()
    if words and words[0].lower().lstrip("/") == "engage":
        words = words[1:]
    name = words[0].lower() if words else "help"
    return name if name in PUBLIC or name in ADMIN else "unknown"


class SlackAdapter:
    """Bolt app, routes and background work for one Slack workspace."""

    def __init__(self, settings: SlackSettings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client = build_client(settings)
        self.poster = SlackPoster(self.client)
        # We verify signatures ourselves, before anything parses the body (an unsigned malformed body is then a 401,
        # not a parse error); slack_sdk's SignatureVerifier is the very check Bolt would run.
        self.verifier: SignatureVerifier | None = (
            SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret or "unused",  # Bolt's own check is off: see self.verifier
            request_verification_enabled=False,
            process_before_response=True,  # commit to SQLite before the 2xx (SPEC §11)
            user_facing_authorize_error_message=AUTH_FAILED,
            logger=logging.getLogger("slack_bolt.engagebot"),
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._naming: set[str] = set()
        self._socket: AsyncSocketModeHandler | None = None
        self._register()

    # -- HTTP -------------------------------------------------------------------------------------------------------

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature and the 5-minute timestamp window; any malformed header is simply invalid."""
        if self.verifier is None:
            return False  # Socket Mode only: the HTTP endpoint cannot authenticate anything
        try:
            return self.verifier.is_valid_request(body, dict(headers))
        except (ValueError, TypeError, OverflowError):
            return False

    async def handle(self, request: web.Request) -> web.Response:
        """POST /slack/events: Events API, slash commands and interactivity."""
        raw = await request.read()  # aiohttp answers 413 beyond client_max_size (1 MiB)
        if not self.verify(raw, request.headers):
            logger.info("slack request rejected status=401 reason=signature retry=%s", _retry(request.headers))
            return web.json_response({"error": "invalid request"}, status=401)
        if not raw.strip():
            return _bad_request("empty body")
        try:
            raw.decode("utf-8")
            bolt_request = await to_bolt_request(request)
        except Exception:  # Bolt parses JSON and form bodies here: any failure is the sender's
            return _bad_request("unparsable body")
        if not _valid_shape(bolt_request.body):
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
        """Connect Socket Mode when an app-level token is configured (no public Request URL needed then)."""
        if not self.settings.app_token or self._socket is not None:
            return  # HTTP mode, or already connected
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._socket = AsyncSocketModeHandler(self.app, app_token=self.settings.app_token)
        await self._socket.connect_async()  # type: ignore[no-untyped-call]
        logger.info("slack socket mode connected")

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        await self.wait_idle()

    async def wait_idle(self) -> None:
        """Wait for background work (display names, slow command replies) to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- Bolt listeners ---------------------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.error(self._on_error)
        app.event("message")(self._on_capture)
        app.event("reaction_added")(self._on_capture)
        app.event("reaction_removed")(self._on_capture)
        app.command("/engage")(self._on_engage)
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
        if isinstance(error, StorageError | sqlite3.Error | SlackApiError | aiohttp.ClientError | TimeoutError):
            # Storage or Slack itself failed and nothing was committed: 503 makes Slack retry the delivery later.
            logger.error("slack request failed status=503 kind=%s error=%s", kind, type(error).__name__)
            return BoltResponse(status=503, body="")
        # The payload did not have the documented shape. The error text may quote the payload, so only its type.
        logger.warning("slack request malformed status=400 kind=%s error=%s", kind, type(error).__name__)
        return BoltResponse(status=400, body="")

    async def _on_other(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        event = body.get("event")
        name = event.get("type") if isinstance(event, dict) else body.get("type") or body.get("command")
        logger.info("slack request kind=%s outcome=ignored", name)

    async def _on_capture(self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest) -> None:
        event = event_from_slack(body)
        outcome = Outcome.IGNORED if event is None else await self.runtime.capture.apply_async(event)
        raw_event = _event(body)
        logger.info(
            "slack event type=%s subtype=%s outcome=%s retry=%s",
            raw_event.get("type"),
            raw_event.get("subtype") or "-",
            outcome,
            _retry(request.headers),
        )
        await ack()
        if outcome is Outcome.STORED and isinstance(event, ReplyPosted | ReplyEdited | ReactionAdded) and event.user_id:
            self._learn_name(event.user_id)

    # -- display names ----------------------------------------------------------------------------------------------

    def _learn_name(self, user_id: str) -> None:
        member = member_id(Platform.SLACK, user_id)
        if member in self._naming or self.runtime.repo.member_has_name(member):
            return
        self._naming.add(member)
        self._spawn(self._fetch_name(member, user_id))

    async def _fetch_name(self, member: str, user_id: str) -> None:
        try:
            response = await self.client.users_info(user=user_id)
            user = response.get("user") or {}
            profile = user.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            if isinstance(name, str) and name.strip():
                self.runtime.repo.set_display_name(member, name.strip())
        except Exception as err:  # a missing name must never break capture: it is fetched again next time
            logger.warning("slack users.info failed error=%s", type(err).__name__)
        finally:
            self._naming.discard(member)

    # -- /engage ----------------------------------------------------------------------------------------------------

    async def _on_engage(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        user_id, channel_id = command.get("user_id"), command.get("channel_id")
        text = command.get("text") or ""
        if not isinstance(user_id, str) or not user_id or not isinstance(channel_id, str) or not isinstance(text, str):
            raise MalformedPayload("slash command without user_id or channel_id")
        ctx = CommandContext(Platform.SLACK, user_id, channel_id)
        name = _command_name(text)
        if name in SLOW_COMMANDS and (name in PUBLIC or self.runtime.settings.is_admin(ctx.member)):
            # Slack wants the ack within 3 s; these may take longer (Web API calls, a week's figures), so the reply
            # follows through response_url.
            await ack(response_type="ephemeral", text=f"Working on `{name}`…")
            self._spawn(self._slow_command(ctx, text, name, respond))
            return
        reply = await self.runtime.commands.handle(ctx, text)
        logger.info("slack command name=%s outcome=answered", name)
        await ack(response_type="ephemeral", text=card_text(reply.card), blocks=card_blocks(reply.card))

    async def _slow_command(self, ctx: CommandContext, text: str, name: str, respond: AsyncRespond) -> None:
        try:
            reply = await self.runtime.commands.handle(ctx, text)
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
            raise _adapter_error("files.upload", err) from None
        card = reply.card
        sections = (*card.sections, ("", f"Sent to you as a direct message: `{attachment.filename}`."))
        return CommandReply(Card(card.title, card.facts, sections, card.footer))


def _retry(headers: Mapping[str, Any]) -> str:
    value = headers.get("x-slack-retry-num") or headers.get("X-Slack-Retry-Num")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value else "0"


def _bad_request(reason: str) -> web.Response:
    logger.info("slack request rejected status=400 reason=%s", reason.replace(" ", "_"))
    return web.json_response({"error": reason}, status=400)
