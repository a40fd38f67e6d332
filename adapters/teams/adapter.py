"""Microsoft Teams: Bot Framework activities in, core events out; prompts and replies as Adaptive Cards.

Mounted at ``POST /api/messages`` (SPEC §5). ``TeamsAdapter.handle`` checks the request itself before botbuilder
sees it, so bad input is a 4xx and a bad token a 401, never a 500 (PLATFORM_NOTES §2.7, §4.12).

Blocking (PLATFORM_NOTES §2.8): the JWT check (whose OpenID metadata refresh uses blocking ``requests``) runs in a
worker thread, and so do our own ``TeamsConnectorClient`` calls. What still runs on the event loop: with
``MicrosoftAppId`` set, msrest signs each outbound connector request synchronously, which may call MSAL for a token
(one HTTP round trip when the cached token has expired; Azure/msrest-for-python#264).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import requests
from aiohttp import web
from azure.core.exceptions import DeserializationError
from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext, serializer_helper
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, Attachment, ConversationReference
from botbuilder.schema.teams import FileConsentCard, FileInfoCard
from botbuilder.schema.teams.additional_properties import ContentType
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.commands import CommandContext, CommandReply
from bot.config import TeamsSettings
from bot.errors import AdapterError, NoConversationReference
from bot.events import (
    CaptureEvent,
    Platform,
    ReactionAdded,
    ReactionRemoved,
    ReplyDeleted,
    ReplyEdited,
    ReplyPosted,
)
from bot.ports import Card, PostedMessage
from bot.prompts import Prompt
from bot.timeutil import parse_platform_time, utc_now

if TYPE_CHECKING:
    from adapters.runtime import Runtime

logger = logging.getLogger(__package__)  # "adapters.teams" for every module of the package

MAX_REUSED_CLIENTS = 64
LOCAL_BOT_APP_ID = "engagebot-local"  # send_message_to_teams_channel needs a non-empty id (PLATFORM_NOTES §2.4)
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER = 60.0
PENDING_FILE_TTL = 3600.0
CAPTURED_TYPES = frozenset({"message", "messageReaction", "messageUpdate", "messageDelete"})
_BACKTICKS = re.compile(r"`([^`]+)`")


class BadActivity(Exception):
    """The activity lacks something engagebot needs: answered with 400."""


# --------------------------------------------------------------------------------------------------------------------
# Pure translation: activity -> core event


def thread_root(activity: Activity) -> str | None:
    """A channel message's thread root: the ``;messageid=`` suffix of the conversation id, else ``replyToId``."""
    conversation_id = getattr(activity.conversation, "id", None) or ""
    _, sep, root = conversation_id.partition(";messageid=")
    if sep and root:
        return str(root)
    return activity.reply_to_id or None


def _channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return str(value["id"])
    return None


def team_channel_id(activity: Activity) -> str | None:
    """The Teams channel an activity belongs to (the General channel's id is the team id), None outside a team."""
    data = _channel_data(activity)
    channel = _id_of(data.get("channel"))
    if channel:
        return channel
    if isinstance(data.get("teamsChannelId"), str) and data["teamsChannelId"]:
        return str(data["teamsChannelId"])
    conversation = activity.conversation
    if conversation is not None and conversation.conversation_type == "channel" and conversation.id:
        return str(conversation.id).partition(";messageid=")[0]
    return None


def team_id_of(activity: Activity) -> str | None:
    data = _channel_data(activity)
    team = _id_of(data.get("team"))
    if team:
        return team
    value = data.get("teamsTeamId")
    return value if isinstance(value, str) and value else None


def tenant_id_of(activity: Activity) -> str | None:
    tenant = _id_of(_channel_data(activity).get("tenant"))
    return tenant or getattr(activity.conversation, "tenant_id", None) or None


def occurred_at(activity: Activity) -> datetime | None:
    """The activity's own ``timestamp`` (never the arrival clock); None when missing."""
    value = activity.timestamp
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str) and value:
        try:
            return parse_platform_time(value)
        except ValueError:
            return None
    return None


def mentions_bot(activity: Activity) -> bool:
    bot_id = getattr(activity.recipient, "id", None)
    return any(bot_id and entity_id == bot_id for entity_id, _ in _mentions(activity))


def _mentions(activity: Activity) -> list[tuple[str, str]]:
    """(mentioned id, mention text) of each well-formed mention entity."""
    found = []
    for entity in activity.entities or []:
        if getattr(entity, "type", None) != "mention":
            continue
        extra = getattr(entity, "additional_properties", None) or {}
        mentioned = extra.get("mentioned")
        text = extra.get("text")
        if isinstance(mentioned, dict) and isinstance(mentioned.get("id"), str):
            found.append((mentioned["id"], text if isinstance(text, str) else ""))
    return found


def command_text(activity: Activity) -> str:
    """The message text without the bot's @mention. (``remove_recipient_mention`` mutates the activity, leaves a
    leading space and raises on malformed entities, so it is done here.)"""
    text = activity.text if isinstance(activity.text, str) else ""
    bot_id = getattr(activity.recipient, "id", None)
    for entity_id, mention in _mentions(activity):
        if entity_id == bot_id and mention:
            text = text.replace(mention, " ")
    text = re.sub(r"<at>[^<]*</at>", " ", text) if "<at>" in text else text
    return " ".join(text.split())


def _sender(activity: Activity) -> tuple[str, str | None] | None:
    sender = activity.from_property
    user_id = getattr(sender, "id", None)
    if not isinstance(user_id, str) or not user_id:
        return None
    name = getattr(sender, "name", None)
    return user_id, name if isinstance(name, str) and name else None


def reply_from_teams(activity: Activity) -> ReplyPosted | None:
    """A channel message in a thread (not the root itself); None for anything the core should not see."""
    channel = team_channel_id(activity)
    root = thread_root(activity)
    sender = _sender(activity)
    at = occurred_at(activity)
    if channel is None or root is None or sender is None or at is None or not activity.id or root == activity.id:
        return None
    return ReplyPosted(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:message:{channel}:{activity.id}",
        thread_id=root,
        message_id=str(activity.id),
        user_id=sender[0],
        display_name=sender[1],
        text=activity.text if isinstance(activity.text, str) else "",
    )


def reactions_from_teams(activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
    channel = team_channel_id(activity)
    target = activity.reply_to_id
    sender = _sender(activity)
    at = occurred_at(activity)
    if channel is None or not target or sender is None or at is None:
        return []
    delivery = activity.id or f"{target}:{sender[0]}:{at.isoformat()}"
    events: list[ReactionAdded | ReactionRemoved] = []
    for reaction in activity.reactions_added or []:
        if getattr(reaction, "type", None):
            events.append(
                ReactionAdded(
                    platform=Platform.TEAMS,
                    channel_id=channel,
                    occurred_at=at,
                    event_key=f"teams:reaction:{channel}:{delivery}:added:{reaction.type}",
                    target_id=str(target),
                    user_id=sender[0],
                    name=str(reaction.type),
                    display_name=sender[1],
                )
            )
    for reaction in activity.reactions_removed or []:
        if getattr(reaction, "type", None):
            events.append(
                ReactionRemoved(
                    platform=Platform.TEAMS,
                    channel_id=channel,
                    occurred_at=at,
                    event_key=f"teams:reaction:{channel}:{delivery}:removed:{reaction.type}",
                    target_id=str(target),
                    user_id=sender[0],
                    name=str(reaction.type),
                )
            )
    return events


def edit_from_teams(activity: Activity) -> ReplyEdited | None:
    channel = team_channel_id(activity)
    sender = _sender(activity)
    at = occurred_at(activity)
    if channel is None or not activity.id or at is None:
        return None
    root = thread_root(activity)
    return ReplyEdited(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:edit:{channel}:{activity.id}:{at.isoformat()}",
        message_id=str(activity.id),
        text=activity.text if isinstance(activity.text, str) else "",
        thread_id=root if root != activity.id else None,
        user_id=sender[0] if sender else None,
        display_name=sender[1] if sender else None,
    )


def delete_from_teams(activity: Activity) -> ReplyDeleted | None:
    channel = team_channel_id(activity)
    at = occurred_at(activity)
    if channel is None or not activity.id or at is None:
        return None
    root = thread_root(activity)
    return ReplyDeleted(
        platform=Platform.TEAMS,
        channel_id=channel,
        occurred_at=at,
        event_key=f"teams:delete:{channel}:{activity.id}",
        message_id=str(activity.id),
        thread_id=root if root != activity.id else None,
    )


# --------------------------------------------------------------------------------------------------------------------
# Adaptive Cards


def _teams_markdown(text: str) -> str:
    """Adaptive Card markdown has no inline code: show `x` as **x**."""
    return _BACKTICKS.sub(r"**\1**", text)


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": _teams_markdown(text), "wrap": True, **style}


def _lines(text: str, **style: Any) -> list[dict[str, Any]]:
    """One TextBlock per line: a single newline inside a TextBlock does not break the line in Teams."""
    blocks = [_text_block(line, spacing="None", **style) for line in text.splitlines() if line.strip()]
    if blocks:
        blocks[0].pop("spacing")
    return blocks


def _adaptive_card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
    }


def card_to_adaptive(card: Card) -> dict[str, Any]:
    """A core ``Card`` as an Adaptive Card: the title, a FactSet, then the sections."""
    body: list[dict[str, Any]] = [_text_block(card.title, weight="Bolder", size="Medium")]
    if card.facts:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in card.facts]})
    for heading, text in card.sections:
        if heading:
            body.append(_text_block(heading, weight="Bolder", spacing="Medium"))
        body.extend(_lines(text))
    if card.footer:
        body.extend(_lines(card.footer, isSubtle=True, size="Small"))
    return _adaptive_card(body)


def prompt_to_adaptive(prompt: Prompt, notice: str) -> dict[str, Any]:
    """A discussion prompt: the theme, the prompt, an invitation to reply in the thread, and the notice."""
    body = [
        _text_block(prompt.theme, weight="Bolder", color="Accent", size="Small"),
        _text_block(prompt.text, size="Large", weight="Bolder"),
        _text_block("Reply in this thread to share your view; reactions count too."),
    ]
    if notice:
        body.append(_text_block(notice, isSubtle=True, size="Small", spacing="Medium"))
    return _adaptive_card(body)


def _card_activity(content: dict[str, Any], summary: str) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(content))
    activity.summary = summary[:200]  # the notification preview
    return activity


# --------------------------------------------------------------------------------------------------------------------
# Posting


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

    def __init__(self, adapter: TeamsAdapter, now: Callable[[], datetime] = utc_now) -> None:
        self._adapter = adapter
        self.now = now  # the clock that stamps a post's accepted time (the demo swaps in its simulated clock)

    async def post_prompt(self, channel_id: str, prompt: Prompt, notice: str) -> PostedMessage:
        return await self._post(channel_id, prompt_to_adaptive(prompt, notice), f"{prompt.theme}: {prompt.text}")

    async def post_card(self, channel_id: str, card: Card) -> PostedMessage:
        return await self._post(channel_id, card_to_adaptive(card), card.title)

    async def _post(self, channel_id: str, content: dict[str, Any], summary: str) -> PostedMessage:
        reference = self._adapter.reference_for(channel_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                message_id = await self._send_once(reference, channel_id, _card_activity(content, summary))
            except HttpOperationError as err:
                status = getattr(err.response, "status_code", None)
                transient = status == 429 or (isinstance(status, int) and status >= 500)
                logger.warning(
                    "teams post failed channel=%s status=%s attempt=%d/%d", channel_id, status, attempt, MAX_ATTEMPTS
                )
                if not transient or attempt == MAX_ATTEMPTS:
                    raise AdapterError(f"Teams refused the post to channel {channel_id} (HTTP {status})") from err
                delay = _retry_after(err.response)
            except (ClientRequestError, requests.RequestException, OSError) as err:
                logger.warning(
                    "teams post failed channel=%s error=%s attempt=%d/%d",
                    channel_id,
                    type(err).__name__,
                    attempt,
                    MAX_ATTEMPTS,
                )
                if attempt == MAX_ATTEMPTS:
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
        adapter = self._adapter
        sent: list[tuple[Any, str]] = []

        async def callback(turn_context: TurnContext) -> None:
            sent.append(
                await TeamsInfo.send_message_to_teams_channel(
                    turn_context, activity, channel_id, bot_app_id=adapter.bot_app_id
                )
            )

        await adapter.cloud.continue_conversation(reference, callback, adapter.settings.app_id)
        new_reference, activity_id = sent[0]
        if not activity_id:  # the new thread's root id is also the ;messageid= suffix of its conversation id
            activity_id = str(getattr(new_reference.conversation, "id", "")).partition(";messageid=")[2]
        if not activity_id:
            raise AdapterError(f"Teams accepted the post to channel {channel_id} but returned no message id")
        return str(activity_id)


# --------------------------------------------------------------------------------------------------------------------
# The activity handler


@dataclass(frozen=True, slots=True)
class PendingFile:
    """An export waiting for the user's file consent. Kept in memory only: a restart loses it."""

    user_id: str
    filename: str
    content: bytes
    created: float


class TeamsBot(TeamsActivityHandler):
    """Routes activities: references are remembered, replies and reactions captured, commands answered."""

    def __init__(self, adapter: TeamsAdapter) -> None:
        super().__init__()
        self.adapter = adapter
        self.runtime = adapter.runtime

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self.adapter.remember(turn_context)
        await super().on_turn(turn_context)

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        """Nothing beyond the reference ``on_turn`` stores: botbuilder's member lookups here are not needed."""

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name == "fileConsent/invoke":
            return await super().on_invoke_activity(turn_context)
        # botbuilder answers 501 to invokes it does not know; an unexpected payload is a 4xx here (SPEC §11)
        return InvokeResponse(status=int(HTTPStatus.BAD_REQUEST), body={"error": "unsupported invoke"})

    async def _capture(self, event: CaptureEvent | None) -> None:
        if event is not None:
            outcome = await self.runtime.capture.apply_async(event)
            logger.info("teams %s channel=%s outcome=%s", type(event).__name__, event.channel_id, outcome)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if getattr(activity.from_property, "id", None) == getattr(activity.recipient, "id", None):
            return  # our own message echoed back
        conversation_type = getattr(activity.conversation, "conversation_type", None)
        if conversation_type == "personal":
            await self._command(turn_context, str(activity.conversation.id), personal=True)
        elif mentions_bot(activity):
            channel = team_channel_id(activity) or str(activity.conversation.id).partition(";messageid=")[0]
            await self._command(turn_context, channel, personal=False)
        else:
            await self._capture(reply_from_teams(activity))  # Capture ignores messages outside prompt threads

    async def on_reactions_added(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionAdded):
                await self._capture(event)

    async def on_reactions_removed(self, message_reactions: list[Any], turn_context: TurnContext) -> None:
        for event in self._reactions(turn_context.activity):
            if isinstance(event, ReactionRemoved):
                await self._capture(event)

    def _reactions(self, activity: Activity) -> list[ReactionAdded | ReactionRemoved]:
        events = reactions_from_teams(activity)
        # Teams names the thread in the conversation id: a reaction in a thread that is not a prompt's is dropped
        # here, instead of being kept as "target not known yet" by the capture rules.
        _, sep, root = str(getattr(activity.conversation, "id", "") or "").partition(";messageid=")
        if events and sep and root and self.runtime.repo.find_post(Platform.TEAMS, events[0].channel_id, root) is None:
            return []
        return events

    async def on_teams_message_edit(self, turn_context: TurnContext) -> None:
        await self._capture(edit_from_teams(turn_context.activity))

    async def on_teams_message_soft_delete(self, turn_context: TurnContext) -> None:
        await self._capture(delete_from_teams(turn_context.activity))

    # -- commands --------------------------------------------------------------------------------------------

    async def _command(self, turn_context: TurnContext, channel_id: str, *, personal: bool) -> None:
        activity = turn_context.activity
        sender = _sender(activity)
        if sender is None:
            raise BadActivity("a message without from.id")
        ctx = CommandContext(Platform.TEAMS, user_id=sender[0], channel_id=channel_id, display_name=sender[1])
        reply = await self.runtime.commands.handle(ctx, command_text(activity))
        await self._send_card(turn_context, reply.card)
        if reply.attachment is not None:
            if personal:
                await self._offer_file(turn_context, sender[0], reply)
            else:
                await turn_context.send_activity(
                    "Files are sent in personal chat: message me `export` there to download the CSV."
                )

    async def _send_card(self, turn_context: TurnContext, card: Card) -> None:
        await turn_context.send_activity(_card_activity(card_to_adaptive(card), card.title))

    async def _offer_file(self, turn_context: TurnContext, user_id: str, reply: CommandReply) -> None:
        attachment = reply.attachment
        assert attachment is not None
        token = self.adapter.hold_file(user_id, attachment.filename, attachment.content)
        consent = FileConsentCard(
            description=f"engagebot export {attachment.filename}",
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

    async def on_teams_file_consent_accept(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        info = file_consent_card_response.upload_info
        upload_url = getattr(info, "upload_url", None)
        if not isinstance(upload_url, str) or (not upload_url.startswith("https://") and not self.adapter.local):
            raise BadActivity("file consent without an https uploadInfo.uploadUrl")
        pending = self.adapter.take_file(turn_context, file_consent_card_response)
        if pending is None:
            await turn_context.send_activity("That export has expired (or engagebot restarted): ask for it again.")
            return
        try:
            await self.adapter.upload(upload_url, pending.content)
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

    async def on_teams_file_consent_decline(self, turn_context: TurnContext, file_consent_card_response: Any) -> None:
        self.adapter.take_file(turn_context, file_consent_card_response)
        await turn_context.send_activity("Export declined: nothing was sent.")


# --------------------------------------------------------------------------------------------------------------------
# Reused Bot Framework clients


class _ReusingConnectorFactory(ConnectorFactory):
    """One ConnectorClient per (app id, service URL, audience), as BotFrameworkAdapter kept them, instead of a new one
    per activity: each costs about 1 ms of CPU in msrest/requests configuration (docs/PERFORMANCE.md, "Ingest")."""

    def __init__(self, inner: ConnectorFactory, cache: dict[tuple[Any, ...], Any]) -> None:
        self._inner = inner
        self._cache = cache

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (getattr(self._inner, "_app_id", None), service_url, audience)
        client = self._cache.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            if len(self._cache) >= MAX_REUSED_CLIENTS:
                self._cache.clear()
            self._cache[key] = client
        return client


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):
    """``CloudAdapter.process_activity`` builds a ConnectorClient and a UserTokenClient for every activity; both
    depend only on the app id (and the service URL and audience), so they are built once and reused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connectors: dict[tuple[Any, ...], Any] = {}
        self._token_clients: dict[tuple[Any, ...], UserTokenClient] = {}

    async def authenticate_request(self, activity: Activity, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None and hasattr(result.connector_factory, "_app_id"):
            result.connector_factory = _ReusingConnectorFactory(result.connector_factory, self._connectors)
        return result

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        key = (
            claims_identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM),
            claims_identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM),
        )
        client = self._token_clients.get(key)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            if len(self._token_clients) >= MAX_REUSED_CLIENTS:
                self._token_clients.clear()
            self._token_clients[key] = client
        return client


# --------------------------------------------------------------------------------------------------------------------
# The adapter: HTTP endpoint, references, pending files


def _error(status: HTTPStatus, message: str) -> web.Response:
    return web.json_response({"error": message}, status=int(status))


class TeamsAdapter:
    """The Teams side of engagebot: ``handle`` serves ``POST /api/messages``; ``poster`` posts into channels."""

    def __init__(self, settings: TeamsSettings, runtime: Runtime, *, credentials_factory: Any = None) -> None:
        self.settings = settings
        self.runtime = runtime
        cfg = SimpleNamespace(
            APP_ID=settings.app_id,
            APP_PASSWORD=settings.app_password,
            APP_TYPE=settings.app_type,
            APP_TENANTID=settings.tenant_id,
        )
        self.auth = ReusingAuthentication(cfg, credentials_factory=credentials_factory)
        self.cloud = CloudAdapter(self.auth)
        self.bot_app_id = settings.app_id or LOCAL_BOT_APP_ID
        self.local = not settings.auth_enabled  # emulator mode: local http URLs are allowed (tests, the demo)
        self.bot = TeamsBot(self)
        self.poster = TeamsPoster(self)
        self._known_refs: dict[str, str] = {}  # channel id -> service url already stored by this process
        self._pending: dict[str, PendingFile] = {}
        self._session: aiohttp.ClientSession | None = None

    # -- HTTP -------------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(HTTPStatus.BAD_REQUEST, "body is not valid JSON")
        try:
            activity = parse_activity(body)
        except BadActivity as err:
            return _error(HTTPStatus.BAD_REQUEST, str(err))
        try:
            authenticated = await self._authenticate(activity, request.headers.get("Authorization", ""))
        except requests.RequestException as err:  # OpenID metadata unreachable: let the channel retry
            logger.warning("teams auth metadata unavailable error=%s", type(err).__name__)
            return _error(HTTPStatus.SERVICE_UNAVAILABLE, "cannot validate tokens right now")
        except Exception as err:  # PermissionError, PyJWT errors, unknown key id, unendorsed channel: all 401
            logger.info("teams request rejected: not authenticated reason=%s", type(err).__name__)
            return _error(HTTPStatus.UNAUTHORIZED, "a valid Bot Framework token is required")
        try:
            invoke = await self.cloud.process_activity(authenticated, activity, self.bot.on_turn)
        except BadActivity as err:
            return _error(HTTPStatus.BAD_REQUEST, str(err))
        except Exception:  # not acknowledged, so the channel redelivers; nothing half-written (one transaction)
            logger.exception("teams activity failed type=%s", activity.type)
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR, "the activity could not be processed")
        if invoke is not None:
            body = invoke.body
            if body is not None and not isinstance(body, dict | list | str | int | float):
                body = serializer_helper(body)  # an msrest model
            return web.json_response(body, status=invoke.status)
        return web.Response(status=201)  # what CloudAdapter.process answers

    async def _authenticate(self, activity: Activity, header: str) -> Any:
        if not header and not self.settings.auth_enabled:
            return await self.auth.authenticate_request(activity, header)  # emulator mode: no I/O
        # botbuilder fetches OpenID metadata with blocking requests.get: keep it off the event loop.
        return await asyncio.to_thread(asyncio.run, self.auth.authenticate_request(activity, header))

    # -- conversation references -------------------------------------------------------------------------------

    async def remember(self, turn_context: TurnContext) -> None:
        """Store how to reach the channel of any team activity; on install, every channel of the team."""
        activity = turn_context.activity
        channel = team_channel_id(activity)
        if channel is None or not activity.service_url:
            return
        channels = [channel]
        selected = _id_of((_channel_data(activity).get("settings") or {}).get("selectedChannel"))
        if selected:
            channels.append(selected)
        if self._bot_installed(activity):
            channels += await self._team_channels(turn_context)
        for channel_id in dict.fromkeys(channels):
            self._save_reference(activity, channel_id)

    def _bot_installed(self, activity: Activity) -> bool:
        bot_id = getattr(activity.recipient, "id", None)
        added = activity.members_added or []
        return activity.type == ActivityTypes.conversation_update and any(
            getattr(m, "id", None) == bot_id for m in added
        )

    async def _team_channels(self, turn_context: TurnContext) -> list[str]:
        team_id = team_id_of(turn_context.activity)
        if team_id is None:
            return []
        try:
            client = await TeamsInfo.get_teams_connector_client(turn_context)
            result = await asyncio.to_thread(client.teams.get_teams_channels, team_id)  # synchronous client
        except Exception as err:  # the listing is a convenience; the install reference is stored anyway
            logger.warning("teams channel listing failed team=%s error=%s", team_id, type(err).__name__)
            return []
        return [str(c.id) for c in getattr(result, "conversations", None) or [] if getattr(c, "id", None)]

    def _save_reference(self, activity: Activity, channel_id: str) -> None:
        service_url = str(activity.service_url)
        if self._known_refs.get(channel_id) == service_url:
            return
        reference = TurnContext.get_conversation_reference(activity)
        reference.activity_id = None
        if reference.conversation is not None and reference.conversation.id:
            reference.conversation.id = str(reference.conversation.id).partition(";messageid=")[0]
        self.runtime.repo.save_conversation_ref(
            channel_id,
            team_id_of(activity),
            tenant_id_of(activity),
            service_url,
            json.dumps(reference.serialize()),
            utc_now(),
        )
        self._known_refs[channel_id] = service_url
        logger.info("teams conversation reference stored channel=%s", channel_id)

    def reference_for(self, channel_id: str) -> ConversationReference:
        if not channel_id.startswith("19:"):  # a personal (a:…) or group chat: prompts go to team channels only
            raise AdapterError("prompts are posted in team channels: @mention engagebot with `post` in the channel")
        row = self.runtime.repo.get_conversation_ref(channel_id)
        if row is None:
            raise NoConversationReference(
                f"engagebot does not know Teams channel {channel_id} yet: install the app in its team first "
                "(or @mention the bot in that channel)"
            )
        return ConversationReference().deserialize(json.loads(row["reference"]))

    # -- pending file consents -----------------------------------------------------------------------------------

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


def parse_activity(body: Any) -> Activity:
    """Check and deserialize an activity; BadActivity names what is wrong."""
    if not isinstance(body, dict):
        raise BadActivity("an activity must be a JSON object")
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise BadActivity("activity.type is missing")
    if not isinstance(body.get("serviceUrl"), str) or not body["serviceUrl"].startswith(("https://", "http://")):
        raise BadActivity("activity.serviceUrl is missing or not a URL")
    conversation = body.get("conversation")
    if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str) or not conversation["id"]:
        raise BadActivity("activity.conversation.id is missing")
    for key in ("from", "recipient"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            raise BadActivity(f"activity.{key} must be an object")
    if body["type"] in CAPTURED_TYPES or body["type"] == "invoke":
        sender = body.get("from") or {}
        if not isinstance(sender.get("id"), str) or not sender["id"]:
            raise BadActivity("activity.from.id is missing")
    if body["type"] == "invoke" and body.get("name") == "fileConsent/invoke":
        value = body.get("value")
        if not isinstance(value, dict) or not isinstance(value.get("action"), str):
            raise BadActivity("fileConsent/invoke needs value.action")
    try:
        activity = Activity().deserialize(body)
    except (DeserializationError, ValueError, TypeError, AttributeError, KeyError) as err:
        raise BadActivity(f"activity does not match the Bot Framework schema ({type(err).__name__})") from None
    if body["type"] in CAPTURED_TYPES and occurred_at(activity) is None and body.get("timestamp") is not None:
        raise BadActivity("activity.timestamp is not an ISO-8601 time")
    return activity
