"""`engagebot serve` as a real process: exactly one post per slot across SIGKILL and restart; clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes import FakeSlackAPI

ROOT = Path(__file__).resolve().parent.parent
SECRET = "serve-process-secret"

CONFIG = """
[schedule]
prompts = "* * * * *"
summary = "0 9 1 1 *"
[[channels]]
platform = "slack"
id = "CPROC"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    def __init__(self, tmp_path: Path, api_url: str) -> None:
        (tmp_path / "engagebot.toml").write_text(CONFIG)
        self.tmp_path = tmp_path
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "ENGAGEBOT_CONFIG": str(tmp_path / "engagebot.toml"),
            "ENGAGEBOT_DB": str(tmp_path / "engagement.db"),
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.tmp_path / "serve.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "serve"],
                cwd=self.tmp_path,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    async def wait_healthy(self, limit: float = 20) -> None:
        deadline = asyncio.get_running_loop().time() + limit
        async with aiohttp.ClientSession() as session:
            while asyncio.get_running_loop().time() < deadline:
                assert self.proc is not None
                assert self.proc.poll() is None, self.log()
                try:
                    async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("serve did not become healthy:\n" + self.log())

    def log(self) -> str:
        path = self.tmp_path / "serve.log"
        return path.read_text() if path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)

    def runs(self) -> list[tuple[str, str]]:
        with sqlite3.connect(self.tmp_path / "engagement.db") as conn:
            return conn.execute("SELECT slot, status FROM schedule_runs WHERE kind = 'prompt' ORDER BY slot").fetchall()


async def wait_for(predicate, limit: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture
async def slack_fake() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def posts(fake: FakeSlackAPI) -> list[str]:
    return [c["args"]["channel"] for c in fake.calls_to("chat.postMessage")]


async def test_one_post_per_slot_across_sigkill_and_restart(tmp_path, slack_fake):
    fake, url = slack_fake
    serve = ServeProcess(tmp_path, url)
    serve.start()
    await serve.wait_healthy()
    # On start, the current minute's slot is less than six hours late: it is posted once.
    await wait_for(lambda: len(posts(fake)) >= 1)
    assert serve.kill() == -signal.SIGKILL
    serve.start()
    await serve.wait_healthy()
    await asyncio.sleep(1.5)  # the restarted scheduler's first tick has run
    assert serve.kill(signal.SIGTERM) == 0
    runs = serve.runs()
    done = [slot for slot, status in runs if status == "done"]
    assert len(set(done)) == len(done)
    assert len(posts(fake)) == len(done)  # one post per slot; a restart within a slot posts nothing more
    assert 1 <= len(done) <= 2  # two only if the test crossed a minute boundary


async def test_a_kill_during_the_post_never_leads_to_a_second_post(tmp_path, slack_fake):
    fake, url = slack_fake
    fake.delays["chat.postMessage"] = 3.0  # the post is in flight when the process dies
    serve = ServeProcess(tmp_path, url)
    serve.start()
    await serve.wait_healthy()
    await wait_for(lambda: len(posts(fake)) >= 1)
    serve.kill()
    first_slot = serve.runs()[0]
    assert first_slot[1] == "claimed"  # claimed, never recorded
    fake.delays.clear()
    serve.start()
    await serve.wait_healthy()
    await asyncio.sleep(1.5)
    serve.kill(signal.SIGTERM)
    runs = dict(serve.runs())
    assert runs[first_slot[0]] == "claimed"  # in doubt: not posted again
    later = [slot for slot in runs if slot != first_slot[0]]
    assert len(posts(fake)) == 1 + len(later)


async def test_sigterm_stops_cleanly_with_the_database_intact(tmp_path, slack_fake):
    _, url = slack_fake
    serve = ServeProcess(tmp_path, url)
    serve.start()
    await serve.wait_healthy()
    assert serve.kill(signal.SIGTERM) == 0
    assert "stopped; database closed" in serve.log()
    with sqlite3.connect(tmp_path / "engagement.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
