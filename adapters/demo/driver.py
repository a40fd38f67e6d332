"""`engagebot demo`: several weeks of simulated members on Slack and Teams, through the real adapters.

The bot runs in-process on 127.0.0.1 with local stand-ins for Slack's Web API and the Bot Framework
connector. Prompts go out through the scheduler's code path on a simulated clock; members' replies,
reactions, edits and deletions arrive as signed Slack events and Bot Framework activities over HTTP.
No credentials and no network are needed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import ChannelConfig, Settings, SlackSettings, TeamsSettings
from bot.demo import DemoMember, ThreadPlan, make_members, plan_thread
from bot.errors import UsageError
from bot.events import Platform
from bot.model import PostRecord
from bot.scheduler import Scheduler
from bot.summary import render_text
from bot.timeutil import IsoWeek, utc_now

SLACK_CHANNEL = "C0DEMOPROMPTS"
SLACK_WORKFORCE = "C0DEMOWORKFORCE"
WORKFORCE_THEMES = ("Workforce", "IPEM's leadership and voice")
SLACK_ADMIN_CHANNEL = "C0DEMOADMINS"
TEAMS_TEAM = "19:demoteam@thread.tacv2"
TEAMS_CHANNEL = "19:demo-healthcare-science@thread.tacv2"
TEAMS_TENANT = "00000000-0000-4000-8000-0000000de300"
BOT_ID = "28:engagebot-demo"


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


@dataclass(frozen=True, slots=True)
class Expected:
    """One reply or reaction the simulation expects to be counted (after edits and deletions)."""

    platform: Platform
    member_id: str
    at: datetime
    reaction: str | None  # None for a reply


@dataclass
class DemoTotals:
    """What the simulation sent, for the closing lines, and what it expects counted (for the tests)."""

    posts: int = 0
    slack_events: int = 0
    teams_activities: int = 0
    expected: list[Expected] = field(default_factory=list)

    def expect(self, plan: ThreadPlan) -> None:
        deleted = {reply.message_id for reply, _ in plan.deletions}
        for reply in plan.replies:
            if reply.message_id not in deleted:
                self.expected.append(Expected(reply.member.platform, _member(reply.member), reply.at, None))
        seen: set[tuple[str, str, str]] = set()
        for reaction in plan.reactions:
            key = (reaction.member.user_id, reaction.target_id, reaction.name)
            if reaction.target_id in deleted or key in seen:
                continue
            seen.add(key)
            self.expected.append(
                Expected(reaction.member.platform, _member(reaction.member), reaction.at, reaction.name)
            )


def _member(member: DemoMember) -> str:
    return f"{member.platform.value}:{member.user_id}"


def demo_settings(settings: Settings, db: Path, slack_api: str, secret: str) -> Settings:
    return replace(
        settings,
        database=str(db),
        admins=frozenset({"slack:UDEMOADMIN", "teams:29:1demoadmin"}),
        channels=(
            ChannelConfig(Platform.SLACK, SLACK_CHANNEL),
            ChannelConfig(Platform.SLACK, SLACK_WORKFORCE, WORKFORCE_THEMES),
            ChannelConfig(Platform.TEAMS, TEAMS_CHANNEL),
        ),
        summary_channels=(ChannelConfig(Platform.SLACK, SLACK_ADMIN_CHANNEL),),
        slack=SlackSettings(bot_token="xoxb-demo", signing_secret=secret, app_token="", api_url=slack_api),
        teams=TeamsSettings(app_id="", app_password="", app_type="MultiTenant", tenant_id=""),
    )


def check_demo_file(db: Path) -> None:
    """Refuse to overwrite a file that holds anything but demo data."""
    if not db.exists():
        return
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT DISTINCT channel_id FROM posts").fetchall()
    except sqlite3.DatabaseError:
        rows = [("?",)]
    if {r[0] for r in rows} - {SLACK_CHANNEL, SLACK_WORKFORCE, TEAMS_CHANNEL}:
        raise UsageError(f"{db} holds data that is not from the demo; choose another file with --db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


class Simulation:
    def __init__(
        self,
        runtime: Runtime,
        client: TestClient[web.Request, web.Application],
        secret: str,
        service_url: str,
        clock: DemoClock,
    ) -> None:
        self.runtime = runtime
        self.client = client
        self.secret = secret
        self.service_url = service_url
        self.clock = clock
        self.totals = DemoTotals()
        self.serial = 0

    async def slack(self, event: dict[str, Any]) -> None:
        self.serial += 1
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "TDEMO",
                "api_app_id": "ADEMO",
                "event": event,
                "event_id": f"EvDEMO{self.serial:08d}",
                "event_time": int(self.clock.now().timestamp()),
            }
        )
        stamp = str(int(time.time()))
        signature = "v0=" + hmac.new(self.secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        response = await self.client.post(
            "/slack/events",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
            },
        )
        if response.status != 200:
            raise RuntimeError(f"demo Slack event refused: HTTP {response.status}")
        self.totals.slack_events += 1

    async def teams(self, activity: dict[str, Any]) -> None:
        activity = {
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "recipient": {"id": BOT_ID, "name": "engagebot"},
            **activity,
        }
        response = await self.client.post("/api/messages", json=activity)
        if response.status >= 300:
            raise RuntimeError(f"demo Teams activity refused: HTTP {response.status}")
        self.totals.teams_activities += 1

    def _teams_channel(self, root: str | None = None) -> dict[str, Any]:
        conversation = {
            "id": f"{TEAMS_CHANNEL};messageid={root}" if root else TEAMS_CHANNEL,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TEAMS_TENANT,
        }
        return {
            "conversation": conversation,
            "channelData": {
                "teamsChannelId": TEAMS_CHANNEL,
                "teamsTeamId": TEAMS_TEAM,
                "channel": {"id": TEAMS_CHANNEL},
                "team": {"id": TEAMS_TEAM},
                "tenant": {"id": TEAMS_TENANT},
            },
        }

    async def install_teams(self) -> None:
        self.serial += 1
        await self.teams(
            {
                "type": "conversationUpdate",
                "id": f"install-{self.serial}",
                "timestamp": self.clock.now().isoformat(),
                "from": {"id": "29:1demoadmin"},
                "membersAdded": [{"id": BOT_ID}],
                **self._teams_channel(),
            }
        )

    async def play_slack(self, plan: ThreadPlan, post_ts: str, channel: str) -> None:
        for reply in plan.replies:
            event = {
                "type": "message",
                "channel": channel,
                "user": reply.member.user_id,
                "text": reply.text,
                "ts": reply.message_id,
                "thread_ts": post_ts,
                "parent_user_id": "UDEMOBOT",
                "event_ts": reply.message_id,
                "channel_type": "channel",
            }
            await self.slack(event)
        for reaction in plan.reactions:
            await self.slack(
                {
                    "type": "reaction_added",
                    "user": reaction.member.user_id,
                    "reaction": reaction.name,
                    "item": {"type": "message", "channel": channel, "ts": reaction.target_id},
                    "event_ts": slack_ts(reaction.at),
                }
            )
        for reply, at, text in plan.edits:
            await self.slack(
                {
                    "type": "message",
                    "subtype": "message_changed",
                    "hidden": True,
                    "channel": channel,
                    "ts": slack_ts(at),
                    "event_ts": slack_ts(at),
                    "message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "text": text,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                        "edited": {"user": reply.member.user_id, "ts": slack_ts(at)},
                    },
                    "previous_message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                    },
                }
            )
        for reply, at in plan.deletions:
            await self.slack(
                {
                    "type": "message",
                    "subtype": "message_deleted",
                    "hidden": True,
                    "channel": channel,
                    "ts": slack_ts(at),
                    "event_ts": slack_ts(at),
                    "deleted_ts": reply.message_id,
                    "previous_message": {
                        "type": "message",
                        "user": reply.member.user_id,
                        "ts": reply.message_id,
                        "thread_ts": post_ts,
                    },
                }
            )

    async def play_teams(self, plan: ThreadPlan, post_id: str) -> None:
        def sender(member: DemoMember) -> dict[str, Any]:
            return {"from": {"id": member.user_id, "name": member.name, "aadObjectId": f"aad-{member.user_id[-4:]}"}}

        for reply in plan.replies:
            await self.teams(
                {
                    "type": "message",
                    "id": reply.message_id,
                    "timestamp": reply.at.isoformat(),
                    "text": reply.text,
                    "textFormat": "plain",
                    **sender(reply.member),
                    **self._teams_channel(post_id),
                }
            )
        for reaction in plan.reactions:
            self.serial += 1
            await self.teams(
                {
                    "type": "messageReaction",
                    "id": f"reaction-{self.serial}",
                    "timestamp": reaction.at.isoformat(),
                    "replyToId": reaction.target_id,
                    "reactionsAdded": [{"type": reaction.name}],
                    **sender(reaction.member),
                    **self._teams_channel(post_id),
                }
            )
        for reply, at, text in plan.edits:
            channel = self._teams_channel(post_id)
            channel["channelData"]["eventType"] = "editMessage"
            self.serial += 1
            await self.teams(
                {
                    "type": "messageUpdate",
                    "id": reply.message_id,
                    "timestamp": at.isoformat(),
                    "text": text,
                    **sender(reply.member),
                    **channel,
                }
            )
        for reply, at in plan.deletions:
            channel = self._teams_channel(post_id)
            channel["channelData"]["eventType"] = "softDeleteMessage"
            await self.teams(
                {
                    "type": "messageDelete",
                    "id": reply.message_id,
                    "timestamp": at.isoformat(),
                    **sender(reply.member),
                    **channel,
                }
            )


async def simulate(
    settings: Settings, db: Path, *, weeks: int, seed: int, now: datetime | None = None
) -> tuple[Runtime, IsoWeek, DemoTotals]:
    """Run the simulation into ``db``; returns the (open) runtime, the last full week and what was sent."""
    check_demo_file(db)
    rng = random.Random(seed)
    tz = settings.timezone
    current_week = IsoWeek.containing(now or utc_now(), tz)
    first = current_week
    for _ in range(weeks):
        first = first.previous()
    clock = DemoClock(first.bounds(tz)[0])
    slack_api = SlackStandIn(clock)
    teams_api = TeamsStandIn(clock)
    secret = secrets.token_hex(16)
    slack_members = make_members(rng, Platform.SLACK, 30)
    teams_members = make_members(rng, Platform.TEAMS, 20)
    slack_api.names.update({m.user_id: m.name for m in slack_members})

    async with TestServer(slack_api.app(), host="127.0.0.1") as slack_server:
        with teams_api.running() as service_url:
            config = demo_settings(settings, db, str(slack_server.make_url("/api/")), secret)
            # The demo posts its prompts on Tuesdays 10:00 and its summaries on Mondays 09:00 (the defaults).
            runtime = Runtime.build(config)
            if runtime.teams is not None:
                runtime.teams.poster.now = clock.now
            scheduler = Scheduler(runtime.engagement, runtime.posters, runtime.repo, clock)
            client: TestClient[web.Request, web.Application] = TestClient(
                TestServer(runtime.web_app(), host="127.0.0.1")
            )
            await client.start_server()
            try:
                sim = Simulation(runtime, client, secret, service_url, clock)
                await sim.install_teams()
                week = first
                for index in range(weeks):
                    week_start = week.bounds(tz)[0]
                    # Monday 09:00: the weekly summary; Tuesday 10:00: the prompts.
                    for day, hour in ((0, 9), (1, 10)):
                        clock.current = (week_start + timedelta(days=day, hours=hour)).astimezone(UTC)
                        await scheduler.tick()
                    factor = 0.7 + 0.6 * rng.random() + 0.05 * index  # engagement grows a little each week
                    posts = runtime.repo.posts_between(*week.bounds(tz))
                    for post in posts:
                        members = slack_members if post.platform is Platform.SLACK else teams_members
                        plan = plan_thread(rng, members, post.message_id, post.posted_at, _id_maker(post), factor)
                        if post.platform is Platform.SLACK:
                            await sim.play_slack(plan, post.message_id, post.channel_id)
                        else:
                            await sim.play_teams(plan, post.message_id)
                        sim.totals.posts += 1
                        sim.totals.expect(plan)
                    week = _next_week(week)
            finally:
                await client.close()
    return runtime, current_week.previous(), sim.totals


def _id_maker(post: PostRecord) -> Callable[[datetime], str]:
    """Message ids for one thread: the platform's id for a time, made unique by a serial."""
    serial = itertools.count(1)
    make = slack_ts if post.platform is Platform.SLACK else teams_id
    return lambda at: make(at, next(serial))


def _next_week(week: IsoWeek) -> IsoWeek:
    year, number, _ = (week.monday() + timedelta(days=7)).isocalendar()
    return IsoWeek(year, number)


async def run_demo(settings: Settings, db: Path, *, weeks: int, seed: int) -> int:
    started = time.monotonic()
    runtime, last_week, totals = await simulate(settings, db, weeks=weeks, seed=seed)
    try:
        print(render_text(runtime.engagement.summary(last_week)))
    finally:
        runtime.close()
    print(
        f"\nSimulated {weeks} weeks: {totals.posts} prompts posted by the scheduler, "
        f"{totals.slack_events} signed Slack events and {totals.teams_activities} Teams activities "
        f"sent through the adapters "
        f"({time.monotonic() - started:.1f} s).\n"
        f"\nLook at the data:\n"
        f"  ENGAGEBOT_DB={db} .venv/bin/engagebot summary --week {last_week} --json\n"
        f"  ENGAGEBOT_DB={db} .venv/bin/engagebot export --week {last_week}\n"
        f"  .venv/bin/pip install datasette && .venv/bin/datasette {db}"
    )
    return 0
