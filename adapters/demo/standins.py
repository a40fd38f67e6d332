"""The demo's local stand-ins for Slack's Web API and the Bot Framework connector, the simulated clock they share,
and the ids of the workspace, team and channels they stand in for."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

SLACK_CHANNEL = "C0DEMOPROMPTS"
SLACK_WORKFORCE = "C0DEMOWORKFORCE"
WORKFORCE_THEMES = ("Workforce", "IPEM's leadership and voice")
SLACK_ADMIN_CHANNEL = "C0DEMOADMINS"
TEAMS_TEAM = "19:demoteam@thread.tacv2"
TEAMS_CHANNEL = "19:demo-healthcare-science@thread.tacv2"
TEAMS_TENANT = "00000000-0000-4000-8000-0000000de300"
BOT_ID = "28:engagebot-demo"
SLACK_CHANNEL_NAMES = {
    SLACK_CHANNEL: "nhs-10-year-plan",
    SLACK_WORKFORCE: "workforce-voices",
    SLACK_ADMIN_CHANNEL: "admins",
}


@dataclass
class DemoClock:
    """The simulated time the scheduler and the stand-in APIs share."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def slack_ts(at: datetime, serial: int = 0) -> str:
    micros = int(at.timestamp()) * 1_000_000 + at.microsecond + serial
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def teams_id(at: datetime, serial: int = 0) -> str:
    return str(int(at.timestamp() * 1000) + serial)


@dataclass
class SlackStandIn:
    """Slack's Web API, as far as the demo needs it."""

    clock: DemoClock
    names: dict[str, str] = field(default_factory=dict)
    serial: int = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self.api)
        return app

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        args: dict[str, Any] = dict(request.query)
        if raw:
            args.update(json.loads(raw) if request.content_type == "application/json" else dict(parse_qsl(raw)))
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "UDEMOBOT", "bot_id": "BDEMOBOT", "team_id": "TDEMO"})
        if method == "chat.postMessage":
            self.serial += 1
            return web.json_response(
                {"ok": True, "channel": args.get("channel"), "ts": slack_ts(self.clock.now(), self.serial)}
            )
        if method == "conversations.info":
            channel = str(args.get("channel", ""))
            return web.json_response({"ok": True, "channel": {"id": channel, "name": SLACK_CHANNEL_NAMES.get(channel)}})
        if method == "users.info":
            user = str(args.get("user", ""))
            name = self.names.get(user, user)
            return web.json_response(
                {
                    "ok": True,
                    "user": {
                        "id": user,
                        "name": name,
                        "real_name": name,
                        "profile": {"display_name": name, "real_name": name},
                    },
                }
            )
        return web.json_response({"ok": True})


class _ConnectorHandler(BaseHTTPRequestHandler):
    server: _ConnectorServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        stand_in = self.server.stand_in
        stand_in.serial += 1
        new_id = teams_id(stand_in.clock.now(), stand_in.serial)
        if self.path.rstrip("/") == "/v3/conversations":
            channel = ((body.get("channelData") or {}).get("channel") or {}).get("id", "a:personal")
            payload = {"id": f"{channel};messageid={new_id}", "activityId": new_id}
        else:
            payload = {"id": new_id}
        data = json.dumps(payload).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # the team's channel list, asked for at install
        payload = {
            "conversations": [{"id": TEAMS_TEAM, "name": None}, {"id": TEAMS_CHANNEL, "name": "Healthcare science"}]
        }
        data = json.dumps(payload if self.path.endswith("/conversations") else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ConnectorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stand_in: TeamsStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _ConnectorHandler)
        self.stand_in = stand_in


@dataclass
class TeamsStandIn:
    """The Bot Framework connector, in its own thread: botbuilder calls it through blocking `requests`."""

    clock: DemoClock
    serial: int = 0

    @contextmanager
    def running(self) -> Iterator[str]:
        server = _ConnectorServer(self)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            server.server_close()
