"""Fake Bot Framework connector (the activity's ``serviceUrl``), served from its own thread."""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NotRequired, TypedDict, cast
from urllib.parse import unquote, urlsplit

from tests.fakes.ids import TEAMS_TENANT_ID
from tests.fakes.servers import ThreadedServer

__all__ = ["ConnectorCall", "FakeTeamsConnector"]


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
        if status == 0:  # the request took effect; the connection is dropped without an answer
            self.close_connection = True
            return
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeTeamsConnector(ThreadedServer):
    """Fake Bot Framework connector (the ``serviceUrl``), served from its own thread by ``http.server``.

    botbuilder sends through ``requests`` in a thread pool, and ``TeamsConnectorClient`` calls block the event loop, so
    a fake on the test's loop would deadlock (PLATFORM_NOTES §2.8). Use ``with FakeTeamsConnector() as connector:``
    (or ``start()``/``stop()``) and put ``connector.url`` into each activity's ``serviceUrl``.

    Ops recorded in ``calls``: create_conversation, send_to_conversation, reply_to_activity, update_activity,
    delete_activity, get_team_channels, get_team_details, get_conversation_members, get_conversation_member, unknown.
    New message ids increase from ``first_id + 1`` ("1732350000001", ...). ``threads`` lists the channel posts the
    connector accepted; ``fail_after_accept`` makes a request take effect and then answer 500 or drop the connection.
    ``create_conversation`` without a channel is a 1:1 chat (``members`` = the one user, a tenant required, as Teams
    requires it): the same user always gets the same chat id (``personal_chats``: member id -> conversation id).
    """

    def __init__(self, *, first_id: int = 1732350000000, tenant_id: str = TEAMS_TENANT_ID) -> None:
        self.tenant_id = tenant_id
        self.channels: dict[str, list[dict[str, Any]]] = {}  # team id -> get_team_channels result
        self.members: dict[str, dict[str, Any]] = {}  # member id -> ChannelAccount JSON
        self.personal_chats: dict[str, str] = {}  # member id -> 1:1 conversation id created for them
        self._ids = itertools.count(first_id + 1)
        self._calls: list[ConnectorCall] = []
        self._failures: dict[str, deque[_ConnectorFailure]] = {}
        self._after_accept: dict[str, deque[int]] = {}
        self._threads: list[dict[str, Any]] = []
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

    def fail_after_accept(self, op: str, *, status: int = 500, drop: bool = False, times: int = 1) -> None:
        """Let the next ``times`` requests of ``op`` take effect (a thread is created), then answer ``status``, or
        with ``drop=True`` close the connection without any answer."""
        with self._lock:
            self._after_accept.setdefault(op, deque()).extend([0 if drop else status] * times)

    @property
    def threads(self) -> list[dict[str, Any]]:
        """The new threads (channel posts) the connector accepted: what the channel's members see."""
        with self._lock:
            return list(self._threads)

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
        answer = self._answer(op, conversation_id, activity_id, member_id, body)
        with self._lock:
            if op == "create_conversation" and answer[0] == 201 and answer[1]["id"] not in self.personal_chats.values():
                self._threads.append({"id": answer[1]["id"], "body": body})  # a channel post, not a 1:1 chat
            after = self._after_accept.get(op)
            status = after.popleft() if after else None
        if status is not None:
            error = {"error": {"code": "ServiceError", "message": f"fake connector: HTTP {status}"}}
            return status, None if status == 0 else error, {}
        return answer

    def _answer(
        self, op: str, conversation_id: str | None, activity_id: str | None, member_id: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if op == "create_conversation":
            new_id = self._new_id()
            channel = ((body or {}).get("channelData") or {}).get("channel") or {}
            if channel.get("id"):
                conv_id = f"{channel['id']};messageid={new_id}"
            else:
                members = [m.get("id") for m in (body or {}).get("members") or [] if isinstance(m, dict)]
                # botbuilder-python sends "tenantID"; Teams documents channelData.tenant.id
                tenant_data = ((body or {}).get("channelData") or {}).get("tenant") or {}
                tenant = (body or {}).get("tenantId") or (body or {}).get("tenantID") or tenant_data.get("id")
                if len(members) != 1 or not members[0] or not tenant:
                    error = {"error": {"code": "BadArgument", "message": "fake connector: one member and a tenant"}}
                    return 400, error, {}
                with self._lock:
                    conv_id = self.personal_chats.setdefault(members[0], f"a:1fake-personal-{new_id}")
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
