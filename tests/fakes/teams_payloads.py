"""Offline platform fakes: Slack Web API, Bot Framework connector, payload builders and Bot Framework JWT tooling.

Everything binds 127.0.0.1 on a free port and needs no network:

- ``FakeSlackAPI``: aiohttp app for ``AsyncWebClient(base_url=...)``, response URLs and ``files_upload_v2``.
- ``FakeTeamsConnector``: the Bot Framework connector (``serviceUrl``) in its own thread, because botbuilder calls it
  through ``requests``, partly synchronously (PLATFORM_NOTES §2.3, §2.8).
- ``sign_slack`` and ``slack_*`` builders: signed, realistically shaped Slack requests (PLATFORM_NOTES §1.3-§1.6).
- ``teams_*`` builders: Teams activities as JSON dicts (PLATFORM_NOTES §2.5).
- ``OpenIdMetadataServer``, ``mint_token``, ``use_offline_openid`` and ``OfflineCredentialFactory``: inbound JWT
  validation and outbound tokens with a Microsoft app id set (PLATFORM_NOTES §2.7).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, NotRequired, Self, TypedDict, cast
from urllib.parse import unquote, urlencode, urlsplit

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from botframework.connector.auth import (
    AuthenticationConstants,
    ChannelValidation,
    GovernmentChannelValidation,
    GovernmentConstants,
    JwtTokenExtractor,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from botframework.connector.auth.jwt_token_extractor import _OpenIdMetadata
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = [
    "BOT_FRAMEWORK_ISSUER",
    "DEFAULT_KID",
    "SLACK_BOT_ID",
    "SLACK_BOT_USER_ID",
    "SLACK_TEAM_ID",
    "TEAMS_BOT_ID",
    "TEAMS_BOT_NAME",
    "TEAMS_CHANNEL_ID",
    "TEAMS_TEAM_ID",
    "TEAMS_TENANT_ID",
    "TEST_APP_ID",
    "ConnectorCall",
    "FakeSlackAPI",
    "FakeTeamsConnector",
    "OfflineCredentialFactory",
    "OpenIdMetadataServer",
    "SlackCall",
    "StaticTokenCredentials",
    "UploadedFile",
    "default_signing_key",
    "mint_token",
    "next_slack_ts",
    "next_teams_message_id",
    "sign_slack",
    "slack_command_body",
    "slack_event_body",
    "slack_message",
    "slack_message_changed",
    "slack_message_deleted",
    "slack_reaction_added",
    "slack_reaction_removed",
    "slack_thread_broadcast",
    "slack_thread_reply",
    "slack_url_verification_body",
    "teams_channel_mention",
    "teams_channel_reply",
    "teams_edit",
    "teams_install_conversation_update",
    "teams_message_reaction",
    "teams_personal_message",
    "teams_soft_delete",
    "use_offline_openid",
]

SLACK_TEAM_ID = "T111"
SLACK_BOT_USER_ID = "UBOT"
SLACK_BOT_ID = "BBOT"
SLACK_APP_ID = "A111"

TEAMS_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAMS_TEAM_ID = "19:team-engage0000000000000000000001@thread.tacv2"
TEAMS_CHANNEL_ID = "19:channel-engage000000000000000001@thread.tacv2"
TEST_APP_ID = "00000000-0000-4000-8000-0000000000b0"
TEAMS_BOT_ID = f"28:{TEST_APP_ID}"
TEAMS_BOT_NAME = "EngageBot"

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
DEFAULT_KID = "engagebot-test-key"

_MICROS = 1_000_000


def _format_ts(micros: int) -> str:
    return f"{micros // _MICROS}.{micros % _MICROS:06d}"


def _iso_z(moment: datetime | None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------------------------
# Slack Web API fake


class SlackCall(TypedDict):
    """One Web API call as the fake received it: query string, form or JSON body merged into ``args``."""

    method: str
    args: dict[str, Any]
    auth: str | None


@dataclass(slots=True, kw_only=True)
class UploadedFile:
    """A file sent through ``files_upload_v2``: declared in step 1, bytes in step 2, shared in step 3."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None = None
    snippet_type: str | None = None
    data: bytes | None = None
    title: str | None = None
    completed: bool = False
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True)
class _SlackFailure:
    status: int
    error: str | None
    retry_after: int | None


@dataclass
class FakeSlackAPI:
    """Fake Slack Web API: ``GET``/``POST /api/{method}``, the upload URLs of ``files_upload_v2`` and response URLs.

    ``AsyncWebClient`` sends ``chat.*`` as JSON, ``auth.test`` and ``files.*`` as query strings, and ``users.info``,
    ``conversations.replies`` and ``reactions.get`` as **GET** requests, so all of these are parsed into ``args``.
    Serve it with ``TestServer(fake.app())`` or ``async with fake.serve() as server``; point the client at
    ``server.make_url("/api/")`` and set ``response_url`` to ``server.make_url("/commands/T111/1/abc")``.
    """

    team_id: str = SLACK_TEAM_ID
    bot_user_id: str = SLACK_BOT_USER_ID
    bot_id: str = SLACK_BOT_ID
    ts_start: float = 1732350000.0001
    ts_step: float = 1.0
    ts_queue: list[str] = field(default_factory=list)  # explicit ts values, used first, in order
    display_names: dict[str, str] = field(default_factory=dict)  # user id -> display name ("Member <id>" if unset)
    replies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (channel, thread_ts) -> msgs
    reactions: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (channel, ts) -> reactions
    calls: list[SlackCall] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # JSON bodies POSTed to /commands/...
    uploads: dict[str, UploadedFile] = field(default_factory=dict)  # file id -> upload
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds to wait before answering
    _failures: dict[str, deque[_SlackFailure]] = field(default_factory=dict, init=False, repr=False)
    _ts_counter: int = field(default=0, init=False, repr=False)
    _file_counter: int = field(default=0, init=False, repr=False)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/api/{method}", self._api)
        app.router.add_route("POST", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/commands/{tail:.*}", self._response_url)
        return app

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[TestServer]:
        server = TestServer(self.app(), host="127.0.0.1")
        await server.start_server()
        try:
            yield server
        finally:
            await server.close()

    def fail_next(
        self, method: str, *, status: int = 200, error: str | None = None, retry_after: int | None = 0, times: int = 1
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (they are still recorded in ``calls``).

        ``status=429`` answers ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After: <retry_after>``;
        ``error="channel_not_found"`` answers HTTP 200 ``{"ok": false, "error": ...}``; ``status=500``/``503`` answers
        a plain-text body, or the JSON error when ``error`` is given.
        """
        failure = _SlackFailure(status=status, error=error, retry_after=retry_after)
        self._failures.setdefault(method, deque()).extend([failure] * times)

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call["method"] == method]

    def next_ts(self) -> str:
        if self.ts_queue:
            return self.ts_queue.pop(0)
        micros = round(self.ts_start * _MICROS) + self._ts_counter * round(self.ts_step * _MICROS)
        self._ts_counter += 1
        return _format_ts(micros)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _slack_request_args(request)
        self.calls.append({"method": method, "args": args, "auth": request.headers.get("Authorization")})
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        queued = self._failures.get(method)
        if queued:
            return _slack_failure_response(queued.popleft())
        return web.json_response(self._answer(method, args, request))

    def _answer(self, method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://engage-test.slack.com/",
                "team": "Engage Test",
                "user": "engagebot",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            ts = self.next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "text": args.get("text", ""),
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "app_id": SLACK_APP_ID,
                "team": self.team_id,
                "ts": ts,
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}  # Slack names it message_ts here, not ts
        if method == "conversations.open":  # the DM with a user; Slack answers with its channel id
            return {"ok": True, "channel": {"id": f"D{args.get('users')}"}}
        if method in ("chat.update", "chat.delete"):
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts"), "text": args.get("text", "")}
        if method == "users.info":
            return {"ok": True, "user": self._user(str(args.get("user", "")))}
        if method == "conversations.replies":
            key = (str(args.get("channel")), str(args.get("ts")))
            if key not in self.replies:
                return {"ok": False, "error": "thread_not_found"}
            return {
                "ok": True,
                "messages": self.replies[key],
                "has_more": False,
                "response_metadata": {"next_cursor": ""},
            }
        if method == "reactions.get":
            channel, ts = str(args.get("channel")), str(args.get("timestamp"))
            got: dict[str, Any] = {"type": "message", "ts": ts}
            if self.reactions.get((channel, ts)):
                got["reactions"] = self.reactions[(channel, ts)]
            return {"ok": True, "type": "message", "channel": channel, "message": got}
        if method == "files.getUploadURLExternal":
            self._file_counter += 1
            file_id = f"F{self._file_counter:010d}"
            self.uploads[file_id] = UploadedFile(
                file_id=file_id,
                filename=str(args.get("filename")),
                length=int(args.get("length", 0)),
                alt_txt=args.get("alt_txt"),
                snippet_type=args.get("snippet_type"),
            )
            upload_url = request.url.with_path(f"/upload/v1/{file_id}").with_query(None)
            return {"ok": True, "upload_url": str(upload_url), "file_id": file_id}
        if method == "files.completeUploadExternal":
            return self._complete_upload(args)
        return {"ok": True}

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self.display_names.get(user_id, f"Member {user_id}")
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "real_name": name,
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "tz": "Europe/London",
            "profile": {
                "display_name": name,
                "display_name_normalized": name,
                "real_name": name,
                "real_name_normalized": name,
            },
        }

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args["files"]) if isinstance(args.get("files"), str) else args.get("files", [])
        shared = []
        for item in files:
            upload = self.uploads.get(item["id"])
            if upload is None or upload.data is None:
                return {"ok": False, "error": "file_not_found"}
            upload.title = item.get("title")
            upload.completed = True
            upload.channel_id = args.get("channel_id") or args.get("channels")
            upload.initial_comment = args.get("initial_comment")
            upload.thread_ts = args.get("thread_ts")
            shared.append(
                {
                    "id": upload.file_id,
                    "name": upload.filename,
                    "title": upload.title,
                    "size": len(upload.data),
                    "mimetype": "text/plain",
                }
            )
        return {"ok": True, "files": shared}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="file_not_found")
        if request.content_type == "multipart/form-data":  # browsers and curl send multipart; slack_sdk sends raw bytes
            form = await request.post()
            parts = [value for value in form.values() if isinstance(value, web.FileField)]
            data = parts[0].file.read() if parts else b""
        else:
            data = await request.read()
        upload.data = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _response_url(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok", content_type="text/plain")


async def _slack_request_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.text()
        if raw:
            args.update(json.loads(raw))
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                args[key] = {"filename": value.filename, "content_type": value.content_type, "data": value.file.read()}
            else:
                args[key] = value
    return args


def _slack_failure_response(failure: _SlackFailure) -> web.Response:
    headers = {}
    if failure.status == 429:
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return web.json_response({"ok": False, "error": failure.error or "ratelimited"}, status=429, headers=headers)
    if failure.status >= 500 and failure.error is None:
        return web.Response(status=failure.status, text="Service Unavailable", content_type="text/plain")
    return web.json_response({"ok": False, "error": failure.error or "fatal_error"}, status=failure.status)


# --------------------------------------------------------------------------------------------------------------------
# Bot Framework connector fake


class ConnectorCall(TypedDict):
    """One connector request. Team operations put the team id in ``conversation_id``."""

    op: str
    conversation_id: str | None
    activity_id: str | None
    body: Any
    auth: str | None
    member_id: NotRequired[str]


@dataclass(frozen=True, slots=True)
class _ConnectorFailure:
    status: int
    retry_after: str | None
    code: str


class _ConnectorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeTeamsConnector) -> None:
        super().__init__(("127.0.0.1", 0), _ConnectorHandler)
        self.fake = fake


class _ConnectorHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        # msrest quotes path arguments with safe="", so splitting before unquoting keeps "/" inside ids intact.
        segments = [unquote(part) for part in urlsplit(self.path).path.split("/") if part]
        fake = cast(_ConnectorHTTPServer, self.server).fake
        status, payload, headers = fake._handle(verb, segments, body, self.headers.get("Authorization"))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _ThreadedServer:
    """Runs an ``http.server`` in its own thread (botbuilder calls these fakes with blocking ``requests``)."""

    thread_name = "fake-server"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def _port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    def start(self) -> Self:
        if self._server is None:
            self._server = self._make_server()
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class FakeTeamsConnector(_ThreadedServer):
    """Fake Bot Framework connector (the ``serviceUrl``), served from its own thread by ``http.server``.

    botbuilder sends through ``requests`` in a thread pool, and ``TeamsConnectorClient`` calls block the event loop, so
    a fake on the test's loop would deadlock (PLATFORM_NOTES §2.8). Use ``with FakeTeamsConnector() as connector:``
    (or ``start()``/``stop()``) and put ``connector.url`` into each activity's ``serviceUrl``.

    Ops recorded in ``calls``: create_conversation, send_to_conversation, reply_to_activity, update_activity,
    delete_activity, get_team_channels, get_team_details, get_conversation_members, get_conversation_member, unknown.
    New message ids increase from ``first_id + 1`` ("1732350000001", ...).
    """

    def __init__(self, *, first_id: int = 1732350000000, tenant_id: str = TEAMS_TENANT_ID) -> None:
        self.tenant_id = tenant_id
        self.channels: dict[str, list[dict[str, Any]]] = {}  # team id -> get_team_channels result
        self.members: dict[str, dict[str, Any]] = {}  # member id -> ChannelAccount JSON
        self._ids = itertools.count(first_id + 1)
        self._calls: list[ConnectorCall] = []
        self._failures: dict[str, deque[_ConnectorFailure]] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port()}/"

    @property
    def calls(self) -> list[ConnectorCall]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, op: str) -> list[ConnectorCall]:
        return [call for call in self.calls if call["op"] == op]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def fail_next(
        self, op: str, *, status: int = 429, retry_after: str | None = "0", code: str | None = None, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests of ``op`` with ``status`` and a Bot Framework ``ErrorResponse``."""
        failure = _ConnectorFailure(
            status=status, retry_after=retry_after, code=code or ("Throttled" if status == 429 else "ServiceError")
        )
        with self._lock:
            self._failures.setdefault(op, deque()).extend([failure] * times)

    thread_name = "fake-teams-connector"

    def _make_server(self) -> ThreadingHTTPServer:
        return _ConnectorHTTPServer(self)

    def _new_id(self) -> str:
        with self._lock:
            return str(next(self._ids))

    def _handle(self, verb: str, seg: list[str], body: Any, auth: str | None) -> tuple[int, Any, dict[str, str]]:
        op, conversation_id, activity_id, member_id = _route(verb, seg)
        call: ConnectorCall = {
            "op": op,
            "conversation_id": conversation_id,
            "activity_id": activity_id,
            "body": body,
            "auth": auth,
        }
        if member_id is not None:
            call["member_id"] = member_id
        with self._lock:
            self._calls.append(call)
            queued = self._failures.get(op)
            failure = queued.popleft() if queued else None
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            error = {"error": {"code": failure.code, "message": f"fake connector: HTTP {failure.status}"}}
            return failure.status, error, headers
        return self._answer(op, conversation_id, activity_id, member_id, body)

    def _answer(
        self, op: str, conversation_id: str | None, activity_id: str | None, member_id: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if op == "create_conversation":
            new_id = self._new_id()
            channel = ((body or {}).get("channelData") or {}).get("channel") or {}
            conv_id = f"{channel['id']};messageid={new_id}" if channel.get("id") else f"a:1fake-personal-{new_id}"
            result: dict[str, Any] = {"id": conv_id}
            if (body or {}).get("activity"):
                result["activityId"] = new_id
            return 201, result, {}
        if op in ("send_to_conversation", "reply_to_activity"):
            return 201, {"id": self._new_id()}, {}
        if op == "update_activity":
            return 200, {"id": activity_id}, {}
        if op == "delete_activity":
            return 200, None, {}
        if op == "get_team_channels":
            team_id = conversation_id or ""
            # Teams returns the General channel with the team's id and name null.
            return 200, {"conversations": self.channels.get(team_id, [{"id": team_id, "name": None}])}, {}
        if op == "get_team_details":
            return (
                200,
                {"id": conversation_id, "name": "Engage Team", "aadGroupId": "00000000-0000-4000-8000-00000000a001"},
                {},
            )
        if op == "get_conversation_members":
            return 200, list(self.members.values()), {}
        if op == "get_conversation_member" and member_id is not None:
            return 200, self.members.get(member_id, self._default_member(member_id)), {}
        return 404, {"error": {"code": "NotFound", "message": "fake connector: unknown route"}}, {}

    def _default_member(self, member_id: str) -> dict[str, Any]:
        return {
            "id": member_id,
            "name": f"Member {member_id}",
            "aadObjectId": "00000000-0000-4000-8000-00000000c001",
            "userPrincipalName": "member@example.com",
            "tenantId": self.tenant_id,
            "userRole": "user",
        }


def _route(verb: str, seg: list[str]) -> tuple[str, str | None, str | None, str | None]:
    """Map a connector request to (op, conversation_id, activity_id, member_id)."""
    if len(seg) >= 2 and seg[:2] == ["v3", "teams"]:
        if verb == "GET" and len(seg) == 4 and seg[3] == "conversations":
            return "get_team_channels", seg[2], None, None
        if verb == "GET" and len(seg) == 3:
            return "get_team_details", seg[2], None, None
    if len(seg) >= 2 and seg[:2] == ["v3", "conversations"]:
        if len(seg) == 2 and verb == "POST":
            return "create_conversation", None, None, None
        conv = seg[2] if len(seg) > 2 else None
        if len(seg) == 4 and seg[3] == "activities" and verb == "POST":
            return "send_to_conversation", conv, None, None
        if len(seg) == 5 and seg[3] == "activities":
            op = {"POST": "reply_to_activity", "PUT": "update_activity", "DELETE": "delete_activity"}.get(verb)
            if op:
                return op, conv, seg[4], None
        if len(seg) == 4 and seg[3] == "members" and verb == "GET":
            return "get_conversation_members", conv, None, None
        if len(seg) == 5 and seg[3] == "members" and verb == "GET":
            return "get_conversation_member", conv, None, seg[4]
    return "unknown", "/".join(seg), None, None


# --------------------------------------------------------------------------------------------------------------------
# Slack signing and payload builders

_slack_ts_counter = itertools.count(1)
_SLACK_TS_BASE = 1732350000_000000


def next_slack_ts() -> str:
    """A fresh, increasing Slack ``ts`` ("1732350600.000100", ...) for event payloads."""
    n = next(_slack_ts_counter)
    return _format_ts(_SLACK_TS_BASE + 600 * _MICROS + n * (_MICROS + 100))


def sign_slack(body: str, secret: str, ts: int | None = None) -> dict[str, str]:
    """Headers Slack sends: ``v0=`` + hex HMAC-SHA256(secret, ``v0:{timestamp}:{body}``)."""
    timestamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def slack_event_body(
    event: dict[str, Any],
    event_id: str,
    *,
    team_id: str = SLACK_TEAM_ID,
    api_app_id: str = SLACK_APP_ID,
    event_time: int | None = None,
) -> str:
    """The Events API ``event_callback`` envelope as JSON text (sign exactly this string)."""
    if event_time is None:
        event_ts = event.get("event_ts") or event.get("ts")
        event_time = int(float(event_ts)) if event_ts else int(time.time())
    envelope = {
        "token": "verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": SLACK_BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event.get('type', 'event')}-{team_id}-{event.get('channel', '')}",
    }
    return json.dumps(envelope)


def slack_url_verification_body(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> str:
    return json.dumps({"token": "verification-token", "challenge": challenge, "type": "url_verification"})


def slack_command_body(
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    *,
    command: str = "/engage",
    team_id: str = SLACK_TEAM_ID,
    user_name: str | None = None,
    channel_name: str = "general",
    trigger_id: str = "1732350000.111.abcdef0123456789",
) -> str:
    """A slash command exactly as Slack POSTs it: ``application/x-www-form-urlencoded``."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "engage-test",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": SLACK_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "rich_text",
            "block_id": "b1",
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def slack_message(
    text: str,
    *,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    team: str = SLACK_TEAM_ID,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A top-level channel message (no subtype)."""
    ts = ts or next_slack_ts()
    return {
        "type": "message",
        "client_msg_id": f"msg-{ts}",
        "text": text,
        "user": user,
        "ts": ts,
        "team": team,
        "blocks": _rich_text(text),
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }


def slack_thread_reply(
    text: str,
    *,
    thread_ts: str,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    parent_user_id: str = SLACK_BOT_USER_ID,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """A thread reply as the Events API delivers it: no subtype, ``thread_ts`` != ``ts``."""
    event = slack_message(text, user=user, channel=channel, ts=ts, team=team)
    event.update({"thread_ts": thread_ts, "parent_user_id": parent_user_id})
    return event


def slack_thread_broadcast(
    text: str,
    *,
    thread_ts: str,
    user: str = "U111",
    channel: str = "C111",
    ts: str | None = None,
    root_user: str = SLACK_BOT_USER_ID,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """A reply also sent to the channel (``subtype: thread_broadcast``, with ``root``)."""
    event = slack_message(text, user=user, channel=channel, ts=ts, team=team)
    event.update(
        {
            "subtype": "thread_broadcast",
            "thread_ts": thread_ts,
            "root": {
                "type": "message",
                "text": "root",
                "user": root_user,
                "ts": thread_ts,
                "team": team,
                "thread_ts": thread_ts,
                "reply_count": 1,
                "reply_users_count": 1,
                "latest_reply": event["ts"],
                "reply_users": [user],
                "is_locked": False,
            },
        }
    )
    return event


def slack_message_changed(
    *,
    ts: str,
    new_text: str,
    old_text: str = "original",
    user: str = "U111",
    channel: str = "C111",
    thread_ts: str | None = None,
    edit_ts: str | None = None,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    """An edit: the new version in ``message`` (``ts`` = the original ts), the old one in ``previous_message``."""
    edit_ts = edit_ts or next_slack_ts()
    message: dict[str, Any] = {
        "type": "message",
        "text": new_text,
        "user": user,
        "team": team,
        "ts": ts,
        "edited": {"user": user, "ts": edit_ts},
        "blocks": _rich_text(new_text),
    }
    previous: dict[str, Any] = {
        "type": "message",
        "text": old_text,
        "user": user,
        "team": team,
        "ts": ts,
        "blocks": _rich_text(old_text),
    }
    if thread_ts:
        message["thread_ts"] = previous["thread_ts"] = thread_ts
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": message,
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "ts": edit_ts,
        "event_ts": edit_ts,
        "channel_type": "channel",
    }


def slack_message_deleted(
    *,
    deleted_ts: str,
    user: str = "U111",
    channel: str = "C111",
    old_text: str = "original",
    thread_ts: str | None = None,
    event_ts: str | None = None,
    team: str = SLACK_TEAM_ID,
) -> dict[str, Any]:
    event_ts = event_ts or next_slack_ts()
    previous: dict[str, Any] = {"type": "message", "text": old_text, "user": user, "team": team, "ts": deleted_ts}
    if thread_ts:
        previous["thread_ts"] = thread_ts
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": previous,
        "channel": channel,
        "hidden": True,
        "deleted_ts": deleted_ts,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": "channel",
    }


def _reaction(
    kind: str, reaction: str, user: str, channel: str, ts: str, item_user: str, event_ts: str | None
) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": reaction,
        "item_user": item_user,
        "event_ts": event_ts or next_slack_ts(),
    }


def slack_reaction_added(
    reaction: str,
    *,
    ts: str,
    user: str = "U111",
    channel: str = "C111",
    item_user: str = SLACK_BOT_USER_ID,
    event_ts: str | None = None,
) -> dict[str, Any]:
    return _reaction("reaction_added", reaction, user, channel, ts, item_user, event_ts)


def slack_reaction_removed(
    reaction: str,
    *,
    ts: str,
    user: str = "U111",
    channel: str = "C111",
    item_user: str = SLACK_BOT_USER_ID,
    event_ts: str | None = None,
) -> dict[str, Any]:
    return _reaction("reaction_removed", reaction, user, channel, ts, item_user, event_ts)


# --------------------------------------------------------------------------------------------------------------------
# Teams activity builders (build botbuilder objects with Activity().deserialize(d), never Mention(...); §2.5)

_teams_ids = itertools.count(1732350100001)


def next_teams_message_id() -> str:
    """A fresh, increasing Teams message id (epoch milliseconds, as Teams uses)."""
    return str(next(_teams_ids))


@dataclass(frozen=True, slots=True, kw_only=True)
class _TeamsSender:
    user_id: str
    user_name: str
    aad_object_id: str


def _teams_activity(
    activity_type: str,
    *,
    service_url: str,
    conversation: dict[str, Any],
    channel_data: dict[str, Any],
    sender: _TeamsSender,
    timestamp: datetime | None,
    activity_id: str | None,
    bot_id: str,
    bot_name: str,
) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "type": activity_type,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": _iso_z(timestamp),
        "from": {"id": sender.user_id, "name": sender.user_name, "aadObjectId": sender.aad_object_id},
        "recipient": {"id": bot_id, "name": bot_name},
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "en-US",
    }
    if activity_id is not None:
        activity["id"] = activity_id
    return activity


def _channel_conversation(channel_id: str, root_id: str, tenant_id: str) -> dict[str, Any]:
    return {
        "id": f"{channel_id};messageid={root_id}",
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": tenant_id,
    }


def _channel_data(channel_id: str, team_id: str, tenant_id: str, event_type: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "teamsChannelId": channel_id,
        "teamsTeamId": team_id,
        "channel": {"id": channel_id},
        "team": {"id": team_id},
        "tenant": {"id": tenant_id},
    }
    if event_type is not None:
        data["eventType"] = event_type
    return data


def _mention_text(text: str, mention_bot: bool, bot_id: str, bot_name: str) -> tuple[str, list[dict[str, Any]]]:
    entities: list[dict[str, Any]] = []
    if mention_bot:
        tag = f"<at>{bot_name}</at>"
        text = f"{tag} {text}"
        entities.append({"type": "mention", "text": tag, "mentioned": {"id": bot_id, "name": bot_name}})
    entities.append(
        {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web", "timezone": "America/Los_Angeles"}
    )
    return text, entities


def teams_channel_mention(
    text: str,
    *,
    service_url: str,
    activity_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A new top-level channel post @mentioning the bot; its conversation id ends in ``;messageid=<its own id>``."""
    activity_id = activity_id or next_teams_message_id()
    return teams_channel_reply(
        text,
        root_id=activity_id,  # a top-level post is the root of its own thread
        service_url=service_url,
        activity_id=activity_id,
        mention_bot=True,
        channel_id=channel_id,
        team_id=team_id,
        tenant_id=tenant_id,
        user_id=user_id,
        user_name=user_name,
        aad_object_id=aad_object_id,
        bot_id=bot_id,
        bot_name=bot_name,
        timestamp=timestamp,
    )


def teams_channel_reply(
    text: str,
    *,
    root_id: str,
    service_url: str,
    activity_id: str | None = None,
    mention_bot: bool = False,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A reply in the thread of ``root_id``. Like a real capture, it has no ``replyToId``: the root is only in the
    ``;messageid=`` suffix. ``mention_bot=False`` is what RSC ``ChannelMessage.Read.Group`` delivers."""
    activity_id = activity_id or next_teams_message_id()
    full_text, entities = _mention_text(text, mention_bot, bot_id, bot_name)
    activity = _teams_activity(
        "message",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=activity_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity.update(
        {
            "text": full_text,
            "textFormat": "plain",
            "entities": entities,
            "attachments": [{"contentType": "text/html", "content": f"<p>{full_text}</p>"}],
        }
    )
    return activity


def teams_message_reaction(
    reaction: str = "like",
    *,
    reply_to_id: str,
    service_url: str,
    root_id: str | None = None,
    removed: bool = False,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageReaction`` on message ``reply_to_id`` (in the thread of ``root_id``, default: the message itself)."""
    activity = _teams_activity(
        "messageReaction",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or reply_to_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity["replyToId"] = reply_to_id
    activity["reactionsRemoved" if removed else "reactionsAdded"] = [{"type": reaction}]
    return activity


def teams_edit(
    text: str,
    *,
    message_id: str,
    service_url: str,
    root_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageUpdate`` + ``editMessage``: ``id`` is the edited message (``on_teams_message_edit``)."""
    activity = _teams_activity(
        "messageUpdate",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or message_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id, "editMessage"),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=message_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity.update({"text": text, "textFormat": "plain"})
    return activity


def teams_soft_delete(
    *,
    message_id: str,
    service_url: str,
    root_id: str | None = None,
    channel_id: str = TEAMS_CHANNEL_ID,
    team_id: str = TEAMS_TEAM_ID,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``messageDelete`` + ``softDeleteMessage``: ``id`` is the deleted message (``on_teams_message_soft_delete``)."""
    return _teams_activity(
        "messageDelete",
        service_url=service_url,
        conversation=_channel_conversation(channel_id, root_id or message_id, tenant_id),
        channel_data=_channel_data(channel_id, team_id, tenant_id, "softDeleteMessage"),
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=message_id,
        bot_id=bot_id,
        bot_name=bot_name,
    )


def teams_install_conversation_update(
    *,
    service_url: str,
    team_id: str = TEAMS_TEAM_ID,
    team_name: str = "Engage Team",
    channel_id: str | None = None,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The bot being added to a team: ``conversationUpdate`` + ``teamMemberAdded`` with the bot in ``membersAdded``.

    The conversation is the team's General channel, whose id equals the team id; ``channel_id`` becomes
    ``settings.selectedChannel``.
    """
    channel_data: dict[str, Any] = {
        "team": {"id": team_id, "name": team_name, "aadGroupId": "00000000-0000-4000-8000-00000000a001"},
        "eventType": "teamMemberAdded",
        "tenant": {"id": tenant_id},
        "settings": {"selectedChannel": {"id": channel_id or team_id}},
    }
    activity = _teams_activity(
        "conversationUpdate",
        service_url=service_url,
        conversation={"id": team_id, "isGroup": True, "conversationType": "channel", "tenantId": tenant_id},
        channel_data=channel_data,
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    activity["membersAdded"] = [{"id": bot_id}]
    return activity


def teams_personal_message(
    text: str,
    *,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    activity_id: str | None = None,
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """A 1:1 chat message to the bot (no mention, ``conversationType: personal``)."""
    activity = _teams_activity(
        "message",
        service_url=service_url,
        conversation={"id": conversation_id, "conversationType": "personal", "tenantId": tenant_id},
        channel_data={"tenant": {"id": tenant_id}},
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=activity_id or next_teams_message_id(),
        bot_id=bot_id,
        bot_name=bot_name,
    )
    _, entities = _mention_text(text, False, bot_id, bot_name)
    activity.update({"text": text, "textFormat": "plain", "entities": entities})
    return activity


# --------------------------------------------------------------------------------------------------------------------
# Bot Framework JWT: OpenID metadata, token minting, outbound credentials


@functools.cache
def default_signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per test process (generation is slow), published by ``OpenIdMetadataServer`` as ``DEFAULT_KID``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mint_token(
    app_id: str,
    service_url: str,
    *,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    expires_in: int = 3600,
    key: rsa.RSAPrivateKey | None = None,
    kid: str = DEFAULT_KID,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A Bot Framework channel token (RS256) with the claims Teams sends: ``iss``, ``aud``, ``serviceurl``, times.

    botbuilder allows 5 minutes of clock skew, so an *expired* token needs ``expires_in`` below -300.
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "serviceurl": service_url,
        "nbf": now - 5,
        "exp": now + expires_in,
        "iss": issuer,
        "aud": app_id,
        **(extra_claims or {}),
    }
    return jwt.encode(claims, key or default_signing_key(), algorithm="RS256", headers={"kid": kid})


class _OpenIdHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: OpenIdMetadataServer) -> None:
        super().__init__(("127.0.0.1", 0), _OpenIdHandler)
        self.owner = owner


class _OpenIdHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        owner = cast(_OpenIdHTTPServer, self.server).owner
        path = urlsplit(self.path).path
        owner._record(path)
        payload: dict[str, Any] | None = None
        if path == OpenIdMetadataServer.METADATA_PATH:
            payload = {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": owner.base_url + OpenIdMetadataServer.KEYS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        elif path == OpenIdMetadataServer.KEYS_PATH:
            payload = {"keys": owner.jwks()}
        data = json.dumps(payload).encode() if payload is not None else b"{}"
        self.send_response(200 if payload is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class OpenIdMetadataServer(_ThreadedServer):
    """The Bot Framework OpenID configuration and JWKS, served from a thread (botbuilder fetches them with blocking
    ``requests.get``). Keys carry ``kid`` and ``endorsements`` (the channel ids they may sign for).

    Use it with ``use_offline_openid(server)``; ``requested`` lists the paths fetched, to assert caching.
    """

    METADATA_PATH = "/v1/.well-known/openidconfiguration"
    KEYS_PATH = "/v1/.well-known/keys"

    def __init__(
        self, keys: Mapping[str, rsa.RSAPrivateKey] | None = None, endorsements: Sequence[str] = ("msteams",)
    ) -> None:
        self.keys = dict(keys) if keys is not None else {DEFAULT_KID: default_signing_key()}
        self.endorsements = list(endorsements)
        self.requested: list[str] = []
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port()}"

    @property
    def metadata_url(self) -> str:
        return self.base_url + self.METADATA_PATH

    def jwks(self) -> list[dict[str, Any]]:
        published = []
        for kid, key in self.keys.items():
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            published.append({**jwk, "kid": kid, "use": "sig", "endorsements": self.endorsements})
        return published

    def _record(self, path: str) -> None:
        with self._lock:
            self.requested.append(path)

    thread_name = "fake-openid"

    def _make_server(self) -> ThreadingHTTPServer:
        return _OpenIdHTTPServer(self)


@contextmanager
def use_offline_openid(server: OpenIdMetadataServer) -> Iterator[None]:
    """Point botbuilder's inbound JWT validation at ``server`` for the duration of the block, then restore it.

    Where botbuilder 4.17.1 reads OpenID metadata URLs (``botframework/connector/auth``):

    - ``ChannelValidation.open_id_metadata_endpoint`` (class attribute, default ``None`` = the public
      ``login.botframework.com`` URL). This is the one that matters: ``CloudAdapter`` with
      ``ConfigurationBotFrameworkAuthentication`` and no ``CHANNEL_SERVICE`` builds
      ``_PublicCloudBotFrameworkAuthentication``, which goes ``JwtTokenValidation.validate_auth_header`` ->
      ``ChannelValidation.authenticate_channel_token_with_service_url``.
      ``EnterpriseChannelValidation`` reads the same attribute.
    - ``GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT`` (upper case!) for ``CHANNEL_SERVICE`` = US Gov.
    - ``EmulatorValidation`` and ``SkillValidation`` use the *constants*
      ``AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL`` (and the Government one) with no override.
      A token whose ``iss`` is an emulator/AAD issuer takes that path, so those URLs are pre-seeded in the cache below
      to keep such tests offline.
    - ``JwtTokenExtractor.metadataCache`` is a process-wide dict: metadata URL -> ``_OpenIdMetadata``, whose keys are
      kept for a day, and which only refetches on an unknown ``kid`` if the last fetch is over an hour old. A stale
      entry for a reused port would serve old keys, so entries for ``server`` are evicted on entry and exit.
    - Alternative without patching: ``cfg.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL`` (plus
      ``TO_BOT_FROM_CHANNEL_TOKEN_ISSUER`` etc.) switches to ``_ParameterizedBotFrameworkAuthentication``, a different
      code path from production, so it is not used here.
    """
    fixed_urls = [
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    ]
    cache = JwtTokenExtractor.metadataCache
    saved_channel = ChannelValidation.open_id_metadata_endpoint
    saved_gov = GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT
    saved_cache = {url: cache.get(url) for url in fixed_urls}
    cache.pop(server.metadata_url, None)
    ChannelValidation.open_id_metadata_endpoint = server.metadata_url
    GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT = server.metadata_url
    for url in fixed_urls:
        cache[url] = _OpenIdMetadata(server.metadata_url)
    try:
        yield
    finally:
        ChannelValidation.open_id_metadata_endpoint = saved_channel
        GovernmentChannelValidation.OPEN_ID_METADATA_ENDPOINT = saved_gov
        cache.pop(server.metadata_url, None)
        for url, previous in saved_cache.items():
            if previous is None:
                cache.pop(url, None)
            else:
                cache[url] = previous


# botbuilder ships no type information: at type-check time these bases are `object`, so no `Any` is subclassed.
if TYPE_CHECKING:
    _AppCredentialsBase = object
    _CredentialsFactoryBase = object
else:
    _AppCredentialsBase = MicrosoftAppCredentials
    _CredentialsFactoryBase = ServiceClientCredentialsFactory


class StaticTokenCredentials(_AppCredentialsBase):
    """``MicrosoftAppCredentials`` that never calls MSAL: every connector request gets ``Bearer <token>``."""

    def __init__(self, app_id: str, token: str) -> None:
        MicrosoftAppCredentials.__init__(self, app_id, "")
        self.token = token

    def get_access_token(self, force_refresh: bool = False) -> str:
        return self.token


class OfflineCredentialFactory(_CredentialsFactoryBase):
    """A ``ServiceClientCredentialsFactory`` with auth *enabled* for ``app_id`` and a static outbound token.

    ``ConfigurationBotFrameworkAuthentication(cfg, credentials_factory=OfflineCredentialFactory())``: inbound tokens
    must have ``aud == app_id``; outbound connector calls carry ``Authorization: Bearer fake-outbound-token``.
    """

    def __init__(self, app_id: str = TEST_APP_ID, token: str = "fake-outbound-token") -> None:
        self.app_id = app_id
        self.token = token

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> StaticTokenCredentials:
        if app_id != self.app_id:
            raise PermissionError(f"Invalid app_id {app_id!r}")
        return StaticTokenCredentials(app_id, self.token)


def teams_file_consent_invoke(
    action: str,
    *,
    context: dict[str, Any],
    upload_url: str,
    service_url: str,
    conversation_id: str = "a:1fake-personal-chat-alice",
    tenant_id: str = TEAMS_TENANT_ID,
    user_id: str = "29:1user-alice",
    user_name: str = "Alice",
    aad_object_id: str = "00000000-0000-4000-8000-00000000a11c",
    bot_id: str = TEAMS_BOT_ID,
    bot_name: str = TEAMS_BOT_NAME,
    filename: str = "export.csv",
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """``invoke`` ``fileConsent/invoke``: the user accepted or declined a FileConsentCard in personal chat.

    On accept Teams gives an upload session URL (OneDrive) in ``value.uploadInfo.uploadUrl``.
    """
    activity = _teams_activity(
        "invoke",
        service_url=service_url,
        conversation={"id": conversation_id, "conversationType": "personal", "tenantId": tenant_id},
        channel_data={"tenant": {"id": tenant_id}, "source": {"name": "message"}},
        sender=_TeamsSender(user_id=user_id, user_name=user_name, aad_object_id=aad_object_id),
        timestamp=timestamp,
        activity_id=f"f:{next_teams_message_id()}",
        bot_id=bot_id,
        bot_name=bot_name,
    )
    value: dict[str, Any] = {"type": "fileUpload", "action": action, "context": context}
    if action == "accept":
        value["uploadInfo"] = {
            "contentUrl": f"https://contoso.sharepoint.com/personal/alice/Documents/Applications/{filename}",
            "name": filename,
            "uploadUrl": upload_url,
            "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C",
            "fileType": "csv",
        }
    activity.update({"name": "fileConsent/invoke", "value": value})
    return activity
