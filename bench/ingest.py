"""Ingest benchmark: signed Slack events and Teams activities into a real `engagebot serve`, against bare baselines.

`serve` runs as a subprocess on a temporary database that already holds a few prompt posts (written through the
Repository), with Slack configured (signing secret, ``SLACK_API_URL`` at a minimal fake Web API served from a thread
of this process) and Teams in emulator mode (activities carry a ``serviceUrl`` at a local fake connector, which
capture never calls). A load generator in a separate process sends N events at concurrency C and records each
acknowledgement's latency; every acknowledged (2xx) event is then looked up in the database, while `serve` still runs.
The same generator drives a bare aiohttp app (its own process) that only verifies the Slack HMAC and answers 200, and
one that only parses the Teams JSON and answers 201: the ratio to them is the figure that travels between machines.

    python -m bench.ingest [--quick] [-n 20000] [-c 32] [--platform slack|teams|both]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

from bench.common import clean_env, engagebot_command, free_port, machine, ms, print_table, rss_mb

SECRET = "bench-ingest-signing-secret"
FULL_N = 20_000
QUICK_N = 2_000
CONCURRENCY = 32
TARGET_RATIO = 0.5
TARGET_P99 = 0.050
TARGET_RSS_MB = 150.0
START_TIMEOUT = 30.0
CHANNELS = 4  # per platform
POSTS_PER_CHANNEL = 2
MEMBERS = 1_000  # distinct people per platform
SLACK_NAMES = ("+1", "heart", "tada", "eyes", "raised_hands", "clap", "100", "fire")
TEAMS_NAMES = ("like", "heart", "laugh", "surprised", "sad", "angry")
TEAM_ID = "19:team-bench000000000000000000000001@thread.tacv2"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
WORDS = ("we", "tried", "this", "in", "our", "department", "and", "the", "main", "barrier", "was", "time", "staff")

# Event times come from the payload (SPEC §7): recent, increasing, one microsecond step per event. The generator
# process takes the benchmark process's value (see generator_main), so both plan the very same events.
EPOCH = int(time.time()) - 3600


# -- the plan: the same deterministic events in the generator (to send) and here (to verify) --------------------------


def slack_channel(index: int) -> str:
    return f"CBENCH{index:04d}"


def teams_channel(index: int) -> str:
    return f"19:bench{index:028d}@thread.tacv2"


def slack_post_ts(index: int) -> str:
    return f"{EPOCH - 86_400}.{index:06d}"


def teams_post_id(index: int) -> str:
    return str((EPOCH - 86_400) * 1000 + index)


def posts() -> list[tuple[int, int]]:
    """(channel index, post index within all posts) of every prompt post on one platform."""
    return [(c, c * POSTS_PER_CHANNEL + p) for c in range(CHANNELS) for p in range(POSTS_PER_CHANNEL)]


@dataclass(frozen=True, slots=True)
class Event:
    """One planned event: its body, and what must be in the database once it is acknowledged."""

    body: bytes
    table: str  # "replies" or "reactions"
    key: tuple[str, ...]  # replies: (channel, message id); reactions: (channel, target, member, name)


def _text(number: int) -> str:
    return " ".join(WORDS[(number * 7 + k) % len(WORDS)] for k in range(4 + number % 20))


def _reply_numbers(number: int) -> tuple[int, int]:
    """Events alternate reply, reaction: event ``number`` is reply/reaction ``number // 2``."""
    return number // 2, number % 2


def _reaction_target(k: int, all_posts: list[tuple[int, int]]) -> tuple[int, int | None, int, int]:
    """Reaction k: (channel index, reply number or None for the post itself, post index, member index).

    Four in five react to the reply made just before them, one in five to a post. Keys stay distinct by construction.
    """
    channel, post = all_posts[k % len(all_posts)]
    if k % 5 == 0:
        return channel, None, post, (k // 5 // len(all_posts)) % MEMBERS
    return channel, k, post, (k * 31 + 7) % MEMBERS


def slack_event(number: int) -> Event:
    all_posts = posts()
    k, is_reaction = _reply_numbers(number)
    key: tuple[str, ...]
    stamp = f"{EPOCH + number // 1_000_000}.{number % 1_000_000:06d}"
    if not is_reaction:
        channel, post = all_posts[k % len(all_posts)]
        user = f"UB{(k * 13) % MEMBERS:06d}"
        text = _text(k)
        event: dict[str, Any] = {
            "type": "message",
            "client_msg_id": f"bench-{k}",
            "text": text,
            "user": user,
            "ts": stamp,
            "team": "TBENCH",
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": "b1",
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
                }
            ],
            "channel": slack_channel(channel),
            "event_ts": stamp,
            "channel_type": "channel",
            "thread_ts": slack_post_ts(post),
            "parent_user_id": "UBOT",
        }
        table, key = "replies", (slack_channel(channel), stamp)
    else:
        channel, reply, post, member = _reaction_target(k, all_posts)
        target = slack_post_ts(post) if reply is None else _slack_reply_ts(reply)
        name = SLACK_NAMES[k % len(SLACK_NAMES)]
        user = f"UB{member:06d}"
        event = {
            "type": "reaction_added",
            "user": user,
            "item": {"type": "message", "channel": slack_channel(channel), "ts": target},
            "reaction": name,
            "item_user": "UBOT",
            "event_ts": stamp,
        }
        table, key = "reactions", (slack_channel(channel), target, f"slack:{user}", name)
    envelope = {
        "token": "verification-token",
        "team_id": "TBENCH",
        "context_team_id": "TBENCH",
        "context_enterprise_id": None,
        "api_app_id": "ABENCH",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{number:010d}",
        "event_time": EPOCH,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "TBENCH",
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{event['type']}-TBENCH-{key[0]}",
    }
    return Event(json.dumps(envelope).encode(), table, key)


def _slack_reply_ts(k: int) -> str:
    number = 2 * k
    return f"{EPOCH + number // 1_000_000}.{number % 1_000_000:06d}"


def _teams_id(number: int) -> str:
    return str(EPOCH * 1000 + 10_000 + number)


def _teams_user(member: int) -> str:
    return f"29:1bench-{member:06d}"


def teams_event(number: int, service_url: str) -> Event:
    all_posts = posts()
    k, is_reaction = _reply_numbers(number)
    at = datetime.fromtimestamp(EPOCH, UTC) + timedelta(milliseconds=number)
    stamp = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if not is_reaction:
        channel, post = all_posts[k % len(all_posts)]
        member = (k * 13) % MEMBERS
        root, activity_id = teams_post_id(post), _teams_id(number)
        text = _text(k)
    else:
        channel, reply, post, member = _reaction_target(k, all_posts)
        root = teams_post_id(post)
        activity_id = f"f:{_teams_id(number)}"
    user = _teams_user(member)
    activity: dict[str, Any] = {
        "type": "messageReaction" if is_reaction else "message",
        "id": activity_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": stamp,
        "from": {"id": user, "name": f"Member {member}", "aadObjectId": f"00000000-0000-4000-8000-{member:012d}"},
        "recipient": {"id": "28:engagebot-local", "name": "EngageBot"},
        "conversation": {
            "id": f"{teams_channel(channel)};messageid={root}",
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT_ID,
        },
        "channelData": {
            "teamsChannelId": teams_channel(channel),
            "teamsTeamId": TEAM_ID,
            "channel": {"id": teams_channel(channel)},
            "team": {"id": TEAM_ID},
            "tenant": {"id": TENANT_ID},
        },
        "locale": "en-US",
    }
    if not is_reaction:
        activity.update(
            {
                "text": text,
                "textFormat": "plain",
                "entities": [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}],
                "attachments": [{"contentType": "text/html", "content": f"<p>{text}</p>"}],
            }
        )
        return Event(json.dumps(activity).encode(), "replies", (teams_channel(channel), activity_id))
    target = root if reply is None else _teams_id(2 * reply)
    name = TEAMS_NAMES[k % len(TEAMS_NAMES)]
    activity["replyToId"] = target
    activity["reactionsAdded"] = [{"type": name}]
    return Event(json.dumps(activity).encode(), "reactions", (teams_channel(channel), target, f"teams:{user}", name))


def plan(platform: str, first: int, count: int, service_url: str) -> Iterator[Event]:
    for number in range(first, first + count):
        yield slack_event(number) if platform == "slack" else teams_event(number, service_url)


# -- the load generator (runs in its own process) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    url: str
    platform: str
    first: int
    count: int
    concurrency: int
    service_url: str
    epoch: int = EPOCH


def slack_headers(body: bytes) -> dict[str, str]:
    """Signed as Slack signs: at send time, ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


async def _drive(load: Load) -> tuple[list[tuple[int, int, float]], float]:
    import aiohttp

    bodies = [event.body for event in plan(load.platform, load.first, load.count, load.service_url)]
    results: list[tuple[int, int, float]] = []
    cursor = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=load.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    json_headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            for index in cursor:
                body = bodies[index]
                headers = slack_headers(body) if load.platform == "slack" else json_headers
                began = time.perf_counter()
                try:
                    async with session.post(load.url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                results.append((index, status, time.perf_counter() - began))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(load.concurrency)))
        elapsed = time.perf_counter() - began
    return results, elapsed


def generator_main(load: Load, pipe: Connection) -> None:
    """Entry point of the generator process: sends the events, returns (index, status, latency) and the wall time."""
    global EPOCH
    EPOCH = load.epoch
    pipe.send(asyncio.run(_drive(load)))
    pipe.close()


def generate(load: Load) -> tuple[list[tuple[int, int, float]], float]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=generator_main, args=(load, sender), name="ingest-load")
    process.start()
    sender.close()
    results: tuple[list[tuple[int, int, float]], float] = receiver.recv()
    process.join()
    return results


# -- the bare baselines (each in its own process) ---------------------------------------------------------------------


def baseline_main(platform: str, port: int) -> None:
    """Only what any Slack (Teams) endpoint must do: verify the HMAC and answer 200 (parse the JSON, answer 201)."""
    from aiohttp import web
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SECRET)

    async def slack(request: web.Request) -> web.Response:
        body = await request.read()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401)
        return web.Response(status=200)

    async def teams(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.Response(status=201)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", lambda request: _ok())
    app.router.add_post("/slack/events", slack)
    app.router.add_post("/api/messages", teams)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def _ok() -> Any:
    from aiohttp import web

    return web.Response(status=200)


# -- the fake Slack Web API and Teams connector (threads of this process) ---------------------------------------------


class FakeHandler(BaseHTTPRequestHandler):
    """auth.test, chat.postMessage and users.info as Slack answers them; anything else an empty success."""

    protocol_version = "HTTP/1.1"
    calls: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        method = path.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
        body: dict[str, Any]
        if method == "auth.test":
            body = {"ok": True, "url": "https://bench.slack.com/", "team": "Bench", "user": "engagebot"}
            body.update({"team_id": "TBENCH", "user_id": "UBOT", "bot_id": "BBOT", "is_enterprise_install": False})
        elif method == "chat.postMessage":
            body = {"ok": True, "channel": "CBENCH0000", "ts": f"{time.time():.6f}"}
        elif method == "users.info":
            body = {"ok": True, "user": {"id": "U", "real_name": "Bench Member", "profile": {"display_name": "bench"}}}
        elif method == "conversations.replies":
            body = {"ok": True, "messages": [], "has_more": False}
        else:
            body = {"ok": True}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer
    do_PUT = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeServer:
    def __init__(self) -> None:
        handler: type[FakeHandler] = type("Handler", (FakeHandler,), {"calls": {}})
        self.handler = handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def calls(self) -> dict[str, int]:
        return dict(self.handler.calls)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- processes -------------------------------------------------------------------------------------------------------


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_healthy(port: int, alive: Any) -> None:
    began = time.perf_counter()
    while not healthy(port):
        if not alive():
            raise RuntimeError("the server exited before it was healthy")
        if time.perf_counter() - began > START_TIMEOUT:
            raise RuntimeError(f"server not healthy after {START_TIMEOUT:.0f} s")
        time.sleep(0.02)


def prepare_database(path: Path) -> None:
    """A migrated database with the prompt posts the events reply to (a day old: reconciliation has nothing to do)."""
    from bot.config import DEFAULT_PROMPT_LIBRARY
    from bot.events import Platform
    from bot.prompts import load_library
    from bot.timeutil import from_slack_ts
    from storage.repository import Repository

    repo = Repository.open(path)
    try:
        library = load_library(DEFAULT_PROMPT_LIBRARY)
        repo.sync_prompts(library)
        prompts = library.prompts
        for channel, post in posts():
            prompt = prompts[post % len(prompts)]
            ts = slack_post_ts(post)
            repo.record_post(Platform.SLACK, slack_channel(channel), ts, prompt, from_slack_ts(ts))
            posted = datetime.fromtimestamp(EPOCH - 86_400, UTC)
            repo.record_post(Platform.TEAMS, teams_channel(channel), teams_post_id(post), prompt, posted)
    finally:
        repo.close()


@dataclass
class Serve:
    workdir: Path
    api_url: str

    def __post_init__(self) -> None:
        self.port = free_port()
        self.database = self.workdir / "ingest.db"
        self.log = self.workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.workdir / "engagebot.toml").write_text('timezone = "Europe/London"\nreconcile_days = 0\n')
        env = clean_env(
            PORT=str(self.port),
            HOST="127.0.0.1",
            ENGAGEBOT_DB=str(self.database),
            ENGAGEBOT_CONFIG=str(self.workdir / "engagebot.toml"),
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=self.api_url + "/api/",
            ENGAGEBOT_TEAMS_EMULATOR="1",  # Teams without credentials, against the local fake connector
            NO_PROXY="127.0.0.1,localhost",
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*engagebot_command(), "serve"], cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        wait_healthy(self.port, lambda: self.process is not None and self.process.poll() is None)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


class Baseline:
    def __init__(self, platform: str) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=baseline_main, args=(platform, self.port), name=f"baseline-{platform}")

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def __enter__(self) -> Baseline:
        self.process.start()
        wait_healthy(self.port, self.process.is_alive)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


# -- measuring -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    sent: int
    acked: int
    errors: dict[int, int]
    seconds: float
    latencies: list[float]
    server_cpu: float  # seconds of the server process's CPU time during the run

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(load: Load, server_pid: int) -> tuple[Run, set[int]]:
    cpu_before = cpu_seconds(server_pid)
    results, seconds = generate(load)
    cpu = cpu_seconds(server_pid) - cpu_before
    acked = {index for index, status, _ in results if 200 <= status < 300}
    errors: dict[int, int] = {}
    for _, status, _ in results:
        if not 200 <= status < 300:
            errors[status] = errors.get(status, 0) + 1
    latencies = [latency for _, status, latency in results if 200 <= status < 300]
    run = Run(len(results), len(acked), errors, seconds, latencies, cpu)
    return run, {load.first + index for index in acked}


def lost_events(database: Path, platform: str, numbers: set[int], service_url: str) -> int:
    """How many acknowledged events are not in the database (read by another connection: committed data only)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        replies = set(
            conn.execute("SELECT channel_id, message_id FROM replies WHERE platform = ?", [platform]).fetchall()
        )
        reactions = set(
            conn.execute(
                """SELECT channel_id, target_id, member_id, name FROM reactions
                   WHERE platform = ? AND removed_at IS NULL""",
                [platform],
            ).fetchall()
        )
    finally:
        conn.close()
    lost = 0
    for number in sorted(numbers):
        event = slack_event(number) if platform == "slack" else teams_event(number, service_url)
        if event.key not in (replies if event.table == "replies" else reactions):
            lost += 1
    return lost


def _status_text(errors: dict[int, int]) -> str:
    return ", ".join(f"{count} x {status or 'connection error'}" for status, count in sorted(errors.items())) or "none"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"N={QUICK_N:,} (smoke run)")
    parser.add_argument("-n", "--events", type=int, help=f"events per platform (default {FULL_N:,})")
    parser.add_argument("-c", "--concurrency", type=int, default=CONCURRENCY, help="concurrent connections (32)")
    parser.add_argument("--platform", choices=("slack", "teams", "both"), default="both")
    args = parser.parse_args(argv)
    count = args.events or (QUICK_N if args.quick else FULL_N)
    warmup = max(50, count // 20)
    platforms = ("slack", "teams") if args.platform == "both" else (args.platform,)

    print(f"ingest benchmark: {machine()}; load generator and servers share the machine", flush=True)
    print(f"{count:,} events per platform (half thread replies, half reactions), concurrency {args.concurrency}")
    rows: list[tuple[str, ...]] = []
    failed = False
    with (
        tempfile.TemporaryDirectory(prefix="engagebot-ingest-") as tmp,
        FakeServer() as slack_api,
        FakeServer() as connector,
    ):
        workdir = Path(tmp)
        prepare_database(workdir / "ingest.db")
        serve = Serve(workdir, slack_api.url)
        serve.start()
        assert serve.process is not None
        rss_after = 0.0
        try:
            rss_start = rss_mb(serve.process.pid)
            for platform in platforms:
                path = "/slack/events" if platform == "slack" else "/api/messages"
                service = connector.url + "/"
                with Baseline(platform) as baseline:
                    generate(Load(f"http://127.0.0.1:{baseline.port}{path}", platform, 0, warmup, 8, service))
                    base_load = Load(
                        f"http://127.0.0.1:{baseline.port}{path}", platform, 0, count, args.concurrency, service
                    )
                    base, _ = measure(base_load, baseline.pid)
                url = f"http://127.0.0.1:{serve.port}{path}"
                warm_run, warm_acked = measure(Load(url, platform, 0, warmup, 8, service), serve.process.pid)
                run, acked = measure(Load(url, platform, warmup, count, args.concurrency, service), serve.process.pid)
                lost = lost_events(serve.database, platform, warm_acked | acked, service)
                if lost:
                    tail = serve.log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
                    print(
                        f"{platform}: {lost} acknowledged events not in the database; serve log ends:", *tail, sep="\n"
                    )
                ratio = run.rate / base.rate if base.rate else 0.0
                p99 = run.percentile(0.99)
                ok = ratio >= TARGET_RATIO and p99 <= TARGET_P99 and lost == 0 and run.acked == run.sent
                failed |= not ok
                for name, result in (("bare aiohttp", base), ("engagebot serve", run)):
                    rows.append(
                        (
                            platform,
                            name,
                            f"{result.rate:,.0f}/s",
                            ms(result.percentile(0.5)),
                            ms(result.percentile(0.99)),
                            ms(max(result.latencies, default=float("nan"))),
                            f"{result.server_cpu / max(result.sent, 1) * 1e6:.0f} µs",
                            f"{result.acked:,}/{result.sent:,}",
                            _status_text(result.errors),
                        )
                    )
                rows.append(
                    (
                        platform,
                        f"ratio {ratio:.2f} (>= {TARGET_RATIO}); p99 {'<=' if p99 <= TARGET_P99 else '>'} 50 ms",
                        "",
                        "",
                        "",
                        "",
                        "",
                        f"lost {lost}",
                        "met" if ok else "MISSED",
                    )
                )
                print(f"{platform}: done ({warm_run.acked} warm-up events first)", flush=True)
            rss_after = rss_mb(serve.process.pid)
        finally:
            code = serve.stop()
        counts = sqlite3.connect(serve.database).execute("SELECT count(*) FROM replies").fetchone()[0]
    print_table(
        "ingest: acknowledgement latency per request, throughput = acknowledged events / wall time",
        ("platform", "server", "events/s", "p50", "p99", "max", "server CPU/event", "acked", "non-2xx"),
        rows,
    )
    print(
        f"\nserve RSS: {rss_start:.1f} MiB after start, {rss_after:.1f} MiB after the ingest run "
        f"(target <= {TARGET_RSS_MB:.0f} MiB: {'met' if rss_after <= TARGET_RSS_MB else 'MISSED'}); "
        f"{counts:,} replies stored; serve exit code {code} after SIGTERM"
    )
    print(f"fake Slack Web API calls: {slack_api.calls}; fake Teams connector calls: {connector.calls or 'none'}")
    if failed:
        print("ingest targets: MISSED (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
