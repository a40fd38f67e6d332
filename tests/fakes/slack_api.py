"""Fake Slack Web API (aiohttp, 127.0.0.1): methods, the upload URLs of ``files_upload_v2``, response URLs and a
Socket Mode WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from tests.fakes.ids import MICROS, SLACK_APP_ID, SLACK_BOT_ID, SLACK_BOT_USER_ID, SLACK_TEAM_ID, format_ts

__all__ = ["FakeSlackAPI", "SlackCall", "UploadedFile"]


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


@dataclass(frozen=True, slots=True)
class _AfterAccept:
    status: int  # the answer once the call took effect; 0: the connection is dropped without an answer


@dataclass
class FakeSlackAPI:
    """Fake Slack Web API: ``GET``/``POST /api/{method}``, the upload URLs of ``files_upload_v2`` and response URLs.

    ``AsyncWebClient`` sends ``chat.*`` as JSON, ``auth.test`` and ``files.*`` as query strings, and ``users.info``,
    ``conversations.replies``, ``conversations.history`` and ``reactions.get`` as **GET** requests, so all of these
    are parsed into ``args``. Top-level messages posted with ``chat.postMessage`` (and their ``metadata``) land in
    ``history``, which ``conversations.history`` reads; ``posted(channel)`` is what the channel's members see, and
    ``fail_after_accept`` makes a call take effect and then answer 500 or drop the connection.
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
    channel_names: dict[str, str] = field(default_factory=dict)  # channel id -> name (its id lower-cased if unset)
    replies: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (channel, thread_ts) -> msgs
    reactions: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (channel, ts) -> reactions
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> conversations.info fields to override
    missing_channels: set[str] = field(default_factory=set)  # ids conversations.info answers channel_not_found for
    calls: list[SlackCall] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # JSON bodies POSTed to /commands/...
    uploads: dict[str, UploadedFile] = field(default_factory=dict)  # file id -> upload
    delays: dict[str, float] = field(default_factory=dict)  # method -> seconds to wait before answering
    # channel -> its top-level messages, oldest first (chat.postMessage without thread_ts), for conversations.history
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # called with each call that took effect, before the answer (e.g. to kill the caller between post and record)
    on_accept: Callable[[SlackCall], Awaitable[None] | None] | None = None
    hang: set[str] = field(default_factory=set)  # methods ("*": all) never answered while the fake runs
    refuse: set[str] = field(default_factory=set)  # methods ("*": all) whose connection is dropped unanswered
    ws_url: str = ""  # apps.connections.open's URL; default: this fake's own Socket Mode WebSocket
    envelopes: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)  # sent over Socket Mode
    acks: list[dict[str, Any]] = field(default_factory=list)  # what Socket Mode clients sent back
    sockets: int = 0  # Socket Mode connections opened so far
    _failures: dict[str, deque[_SlackFailure]] = field(default_factory=dict, init=False, repr=False)
    _after_accept: dict[str, deque[_AfterAccept]] = field(default_factory=dict, init=False, repr=False)
    _ts_counter: int = field(default=0, init=False, repr=False)
    _released: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _open_sockets: set[web.WebSocketResponse] = field(default_factory=set, init=False, repr=False)
    _file_counter: int = field(default=0, init=False, repr=False)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/api/{method}", self._api)
        app.router.add_route("POST", "/api/{method}", self._api)
        app.router.add_post("/upload/v1/{file_id}", self._upload)
        app.router.add_post("/commands/{tail:.*}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.on_shutdown.append(self._release)
        return app

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[TestServer]:
        server = TestServer(self.app(), host="127.0.0.1")
        await server.start_server()
        try:
            yield server
        finally:
            self._released.set()  # let hanging calls end, so the server closes at once
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

    def fail_after_accept(self, method: str, *, status: int = 500, drop: bool = False, times: int = 1) -> None:
        """Let the next ``times`` calls of ``method`` take effect (a message is posted), then answer ``status`` with
        a plain-text body, or with ``drop=True`` close the connection without any answer."""
        self._after_accept.setdefault(method, deque()).extend([_AfterAccept(0 if drop else status)] * times)

    def release_hanging(self) -> None:
        """Let the calls hanging now end (with a 503); remove the method from ``hang`` first."""
        self._released.set()

    def posted(self, channel: str) -> list[dict[str, Any]]:
        """The top-level messages in ``channel``: what its members see, whatever the poster was told."""
        return list(self.history.get(channel, []))

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call["method"] == method]

    def next_ts(self) -> str:
        if self.ts_queue:
            return self.ts_queue.pop(0)
        micros = round(self.ts_start * MICROS) + self._ts_counter * round(self.ts_step * MICROS)
        self._ts_counter += 1
        return format_ts(micros)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _slack_request_args(request)
        self.calls.append({"method": method, "args": args, "auth": request.headers.get("Authorization")})
        if self.refuse & {method, "*"} and request.transport is not None:
            request.transport.close()  # the client sees the connection dropped, as with a broken network
            return web.Response(status=503)
        if self.hang & {method, "*"}:
            await self._released.wait()
            return web.Response(status=503)
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        queued = self._failures.get(method)
        if queued:
            return _slack_failure_response(queued.popleft())
        answer = self._answer(method, args, request)
        if answer.get("ok") and self.on_accept is not None:
            pending = self.on_accept(self.calls[-1])
            if pending is not None:
                await pending
        after = self._after_accept.get(method)
        if answer.get("ok") and after:
            failure = after.popleft()
            if failure.status == 0:
                assert request.transport is not None
                request.transport.abort()  # the call took effect; the caller never hears back
            return web.Response(status=failure.status or 500, text="Internal Server Error", content_type="text/plain")
        return web.json_response(answer)

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
            elif args.get("metadata"):
                metadata = args["metadata"]
                message["metadata"] = json.loads(metadata) if isinstance(metadata, str) else metadata
            if not args.get("thread_ts"):
                self.history.setdefault(str(args.get("channel")), []).append(message)
            return {"ok": True, "channel": args.get("channel"), "ts": ts, "message": message}
        if method == "conversations.history":
            return self._history(args)
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url or str(request.url.with_scheme("ws").with_path("/socket"))}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}  # Slack names it message_ts here, not ts
        if method == "conversations.info":
            channel_id = str(args.get("channel", ""))
            if channel_id in self.missing_channels:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": self._channel(channel_id)}
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

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first, between ``oldest`` and ``latest`` (bounds only with ``inclusive``), metadata only with
        ``include_all_metadata``, ``limit`` per page (default 100) and an opaque cursor, as Slack answers."""
        channel = str(args.get("channel"))
        inclusive = _flag(args.get("inclusive"))
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or 9e12)

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        messages = [dict(m) for m in reversed(self.history.get(channel, [])) if within(float(m["ts"]))]
        if not _flag(args.get("include_all_metadata")):
            for message in messages:
                message.pop("metadata", None)
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page, more = messages[start : start + limit], start + limit < len(messages)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _channel(self, channel_id: str) -> dict[str, Any]:
        """A channel as conversations.info shows it to the bot, a member of it; ``channels[id]`` overrides any field."""
        given = self.channels.get(channel_id, {})
        private = bool(given.get("is_private", False))
        return {
            "id": channel_id,
            "name": self.channel_names.get(channel_id, channel_id.lower()),
            "is_channel": not private,
            "is_group": private,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "created": 1700000000,
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "creator": "UCREATOR",
            "is_member": True,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            **given,
        }

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

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: ``hello``, then each of ``envelopes``; what the client sends back goes to ``acks``."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets += 1
        self._open_sockets.add(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": SLACK_APP_ID}})

        async def pump() -> None:
            while True:
                await ws.send_json(await self.envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            async for message in ws:  # ends when the client closes the connection (or the fake shuts down)
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
        finally:
            sender.cancel()
            self._open_sockets.discard(ws)
        return ws

    async def _release(self, app: web.Application) -> None:
        self._released.set()
        for ws in list(self._open_sockets):
            await ws.close()

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


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _slack_failure_response(failure: _SlackFailure) -> web.Response:
    headers = {}
    if failure.status == 429:
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        return web.json_response({"ok": False, "error": failure.error or "ratelimited"}, status=429, headers=headers)
    if failure.status >= 500 and failure.error is None:
        return web.Response(status=failure.status, text="Service Unavailable", content_type="text/plain")
    return web.json_response({"ok": False, "error": failure.error or "fatal_error"}, status=failure.status)
