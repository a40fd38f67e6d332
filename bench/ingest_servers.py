"""The processes the ingest benchmark drives: `engagebot serve`, the bare aiohttp floor, and the local fakes.

- :class:`Serve`: the installed `engagebot serve` on a temporary database holding the prompt posts, Slack configured
  with ``SLACK_API_URL`` at :class:`FakeServer`, Teams in emulator mode (``ENGAGEBOT_TEAMS_EMULATOR=1`` on loopback).
- :class:`Floor`: a bare aiohttp app in its own process that does only what any endpoint must: for Slack it verifies
  the signature (slack_sdk's ``SignatureVerifier``, the check engagebot uses) and parses the JSON, answering 200; for
  Teams it parses the JSON and answers 201.
- :class:`FakeServer`: the Slack Web API (``auth.test``, ``users.info``, ...) and the Teams connector, served from
  threads of the benchmark process. ``users.info`` answers after 20-50 ms, as the real one does, so the cost of
  learning first-time members' display names shows up in what `serve` does.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from bench.common import clean_env, engagebot_command, free_port, healthy
from bench.ingest_plan import POSTS, SECRET, slack_channel, slack_post_ts, teams_channel, teams_post_id

START_TIMEOUT = 30.0
USERS_INFO_LATENCY = (0.020, 0.050)  # seconds, uniformly drawn per call


# -- the fake Slack Web API and Teams connector (threads of this process) ---------------------------------------------


class FakeHandler(BaseHTTPRequestHandler):
    """auth.test, chat.postMessage and users.info as Slack answers them; anything else an empty success."""

    protocol_version = "HTTP/1.1"
    calls: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()
    jitter = random.Random(17)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        method = self.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            self.calls[method] = self.calls.get(method, 0) + 1
            delay = self.jitter.uniform(*USERS_INFO_LATENCY)
        body: dict[str, Any]
        if method == "auth.test":
            body = {"ok": True, "url": "https://bench.slack.com/", "team": "Bench", "user": "engagebot"}
            body.update({"team_id": "TBENCH", "user_id": "UBOT", "bot_id": "BBOT", "is_enterprise_install": False})
        elif method == "users.info":
            time.sleep(delay)
            body = {"ok": True, "user": {"id": "U", "real_name": "Bench Member", "profile": {"display_name": "bench"}}}
        elif method == "chat.postMessage":
            body = {"ok": True, "channel": "CBENCH0000", "ts": f"{time.time():.6f}"}
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


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (serve stopping with a lookup in flight) is not worth a traceback."""


class FakeServer:
    def __init__(self) -> None:
        handler: type[FakeHandler] = type("Handler", (FakeHandler,), {"calls": {}})
        self.handler = handler
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def calls(self) -> dict[str, int]:
        with self.handler.lock:
            return dict(self.handler.calls)

    def settle(self, method: str, quiet: float = 0.5, limit: float = 30.0) -> None:
        """Wait until no call of ``method`` arrived for ``quiet`` seconds (background lookups have finished)."""
        began = time.perf_counter()
        seen = -1
        while time.perf_counter() - began < limit:
            now = self.calls.get(method, 0)
            if now == seen:
                return
            seen = now
            time.sleep(quiet)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- processes -------------------------------------------------------------------------------------------------------


def wait_healthy(port: int, alive: Callable[[], bool]) -> None:
    began = time.perf_counter()
    while not healthy(port):
        if not alive():
            raise RuntimeError("the server exited before it was healthy")
        if time.perf_counter() - began > START_TIMEOUT:
            raise RuntimeError(f"server not healthy after {START_TIMEOUT:.0f} s")
        time.sleep(0.02)


def prepare_database(path: Path, epoch: int) -> None:
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
        posted = datetime.fromtimestamp(epoch - 86_400, UTC)
        for channel, post in POSTS:
            prompt = prompts[post % len(prompts)]
            ts = slack_post_ts(epoch, post)
            repo.record_post(Platform.SLACK, slack_channel(channel), ts, prompt, from_slack_ts(ts))
            repo.record_post(Platform.TEAMS, teams_channel(channel), teams_post_id(epoch, post), prompt, posted)
    finally:
        repo.close()


@dataclass
class Serve:
    """`engagebot serve` as a subprocess (the installed console script, a clean environment, INFO logs to a file)."""

    workdir: Path
    api_url: str

    def __post_init__(self) -> None:
        self.port = free_port()
        self.database = self.workdir / "ingest.db"
        self.log = self.workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        (self.workdir / "engagebot.toml").write_text('timezone = "Europe/London"\nreconcile_days = 0\n')
        env = clean_env(
            PORT=str(self.port),
            HOST="127.0.0.1",
            ENGAGEBOT_DB=str(self.database),
            ENGAGEBOT_CONFIG=str(self.workdir / "engagebot.toml"),
            ENGAGEBOT_TEAMS_EMULATOR="1",  # Teams without MicrosoftAppId, on loopback only
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=self.api_url + "/api/",
            NO_PROXY="127.0.0.1,localhost",
        )
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*engagebot_command(), "serve"], cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        wait_healthy(self.port, lambda: self.process is not None and self.process.poll() is None)

    def log_tail(self, lines: int = 5) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]

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


def floor_main(port: int) -> None:
    """Only what any endpoint must do: Slack, verify the signature and parse the JSON (200); Teams, parse it (201)."""
    from aiohttp import web
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SECRET)

    async def slack(request: web.Request) -> web.Response:
        body = await request.read()
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401)
        json.loads(body)
        return web.Response(status=200)

    async def teams(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.Response(status=201)

    async def ok(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", ok)
    app.router.add_post("/slack/events", slack)
    app.router.add_post("/api/messages", teams)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


class Floor:
    """The bare aiohttp floor in its own process (spawned), for the life of a ``with`` block."""

    def __init__(self) -> None:
        self.port = free_port()
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=floor_main, args=(self.port,), name="ingest-floor")

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def __enter__(self) -> Floor:
        self.process.start()
        wait_healthy(self.port, self.process.is_alive)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=10)
