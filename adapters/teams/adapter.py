"""Microsoft Teams: Bot Framework activities in, core events out; prompts and replies as Adaptive Cards.

Mounted at ``POST /api/messages`` (SPEC §5) only when Teams is configured: with ``MicrosoftAppId`` every request
needs a valid Bot Framework token; emulator mode (``ENGAGEBOT_TEAMS_EMULATOR=1``, loopback ``HOST`` only) checks
none. ``TeamsAdapter.handle`` checks the request itself before botbuilder sees it, so bad input is a 4xx and a bad
token a 401, never a 500 (PLATFORM_NOTES §2.7, §4.12), and an activity naming a ``serviceUrl`` that is not a Bot
Framework connector (:mod:`adapters.teams.service_urls`) is refused before anything is stored or sent. Channel
replies, reactions, edits and deletions take the light path (:mod:`adapters.teams.light`: no msrest, no turn);
everything else, and anything unusual, the full botbuilder path.

Blocking (PLATFORM_NOTES §2.8): the JWT check (whose OpenID metadata refresh uses blocking ``requests``) runs in a
worker thread, and so do our own ``TeamsConnectorClient`` calls. What still runs on the event loop: with
``MicrosoftAppId`` set, msrest signs each outbound connector request synchronously, which may call MSAL for a token
(one HTTP round trip when the cached token has expired; Azure/msrest-for-python#264).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any, Protocol

import requests
from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity

from adapters.teams.auth import ReusingAuthentication
from adapters.teams.commands import CommandLog, TeamsCommands
from adapters.teams.files import FileConsents
from adapters.teams.handler import PostLookup, TeamsBot
from adapters.teams.light import LightCapture
from adapters.teams.mapping import CAPTURED_TYPES, BadActivity, parse_activity
from adapters.teams.poster import TeamsPoster
from adapters.teams.references import ConversationReferences, ReferenceStore
from adapters.teams.service_urls import ServiceUrls
from bot.capture import Capture
from bot.commands import Commands
from bot.config import TeamsSettings
from bot.ingest_log import IngestLog
from bot.jsonbody import MalformedJSON, loads

logger = logging.getLogger(__package__)  # "adapters.teams" for every module of the package

__all__ = ["TeamsAdapter", "TeamsStore"]

LOCAL_BOT_APP_ID = "engagebot-local"  # send_message_to_teams_channel needs a non-empty id (PLATFORM_NOTES §2.4)


class TeamsStore(ReferenceStore, PostLookup, CommandLog, Protocol):
    """What the Teams adapter needs of storage (``storage.repository.Repository`` has it)."""


def _error(status: HTTPStatus, message: str) -> web.Response:
    return web.json_response({"error": message}, status=int(status))


class TeamsAdapter:
    """The Teams side of engagebot: ``handle`` serves ``POST /api/messages``; ``poster`` posts into channels."""

    def __init__(
        self,
        settings: TeamsSettings,
        *,
        capture: Capture,
        commands: Commands,
        store: TeamsStore,
        credentials_factory: Any = None,
        also_trusted_connectors: Iterable[str] = (),
    ) -> None:
        if settings.mode is None:
            raise ValueError("Teams is not configured: set MicrosoftAppId (or ENGAGEBOT_TEAMS_EMULATOR=1 locally)")
        self.settings = settings
        self.mode: str = settings.mode
        cfg = SimpleNamespace(
            APP_ID=settings.app_id,
            APP_PASSWORD=settings.app_password,
            APP_TYPE=settings.app_type,
            APP_TENANTID=settings.tenant_id,
        )
        self.auth = ReusingAuthentication(cfg, credentials_factory=credentials_factory)
        self.cloud = CloudAdapter(self.auth)
        self.bot_app_id = settings.app_id or LOCAL_BOT_APP_ID
        self.urls = ServiceUrls(emulator=self.mode == "emulator", also_trusted=also_trusted_connectors)
        self.references = ConversationReferences(store, self.urls)
        self.files = FileConsents(self.urls)
        self.commands = TeamsCommands(commands, store, self.files, self.cloud, app_id=settings.app_id)
        self.log = IngestLog(logger, "teams")  # a DEBUG line per captured event, an INFO count a minute
        self.bot = TeamsBot(
            capture=capture,
            commands=self.commands,
            posts=store,
            references=self.references,
            files=self.files,
            log=self.log,
        )
        self.poster = TeamsPoster(self.cloud, self.references, app_id=settings.app_id, bot_app_id=self.bot_app_id)
        self.light = LightCapture(
            capture=capture,
            check_service_url=self._service_url_refused,
            references=self.references,
            check_token=self._refused,
            auth_enabled=settings.auth_enabled,
            log=self.log,
        )

    def start(self) -> None:
        """At server start: say loudly when nothing authenticates the Teams endpoint."""
        if self.mode == "emulator":
            logger.warning(
                "TEAMS EMULATOR MODE: /api/messages accepts requests WITHOUT any Bot Framework token "
                "(ENGAGEBOT_TEAMS_EMULATOR=1); for local testing only, never on a reachable address"
            )

    # -- HTTP -------------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
        try:
            body = loads(await request.read())
        except MalformedJSON as err:
            return _error(HTTPStatus.BAD_REQUEST, str(err))
        header = request.headers.get("Authorization", "")
        if isinstance(body, dict) and isinstance(kind := body.get("type"), str) and kind in CAPTURED_TYPES:
            answered = await self.light.handle(body, header)  # replies and reactions: no msrest, no turn
            if answered is not None:
                return answered
        try:
            activity = parse_activity(body)
        except BadActivity as err:
            return _error(HTTPStatus.BAD_REQUEST, str(err))
        refused = self._service_url_refused(str(activity.service_url), str(activity.type))
        if refused is not None:
            return refused
        authenticated, refused = await self._token(activity, header)
        if refused is not None:
            return refused
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

    def _service_url_refused(self, service_url: str, kind: str) -> web.Response | None:
        """403 (logged) when ``service_url`` is not a Bot Framework connector's (:mod:`adapters.teams.service_urls`),
        else None: the one check of both paths, full and light."""
        if self.urls.connector_allowed(service_url):
            return None
        logger.info("teams request refused status=403 reason=service_url type=%s", kind)
        return _error(HTTPStatus.FORBIDDEN, "serviceUrl is not a Bot Framework connector")

    async def _token(self, activity: Activity, header: str) -> tuple[Any, web.Response | None]:
        """The Bot Framework token check (botbuilder reads only the header and the activity's type, channel and
        serviceUrl): (claims, None), or (None, the answer: 401, or 503 when OpenID metadata cannot be fetched)."""
        try:
            return await self._authenticate(activity, header), None
        except requests.RequestException as err:  # OpenID metadata unreachable: let the channel retry
            logger.warning("teams auth metadata unavailable error=%s", type(err).__name__)
            return None, _error(HTTPStatus.SERVICE_UNAVAILABLE, "cannot validate tokens right now")
        except Exception as err:  # PermissionError, PyJWT errors, unknown key id, unendorsed channel: all 401
            logger.info("teams request rejected: not authenticated reason=%s", type(err).__name__)
            return None, _error(HTTPStatus.UNAUTHORIZED, "a valid Bot Framework token is required")

    async def _refused(self, activity: Activity, header: str) -> web.Response | None:
        return (await self._token(activity, header))[1]

    async def _authenticate(self, activity: Activity, header: str) -> Any:
        if not header and not self.settings.auth_enabled:
            return await self.auth.authenticate_request(activity, header)  # emulator mode: no I/O
        # botbuilder fetches OpenID metadata with blocking requests.get: keep it off the event loop.
        return await asyncio.to_thread(asyncio.run, self.auth.authenticate_request(activity, header))

    async def close(self) -> None:
        await self.files.close()
        self.log.flush()
