"""`engagebot serve` as a real subprocess for tests: free ports, start, health, signals, logs."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.timeutil import utc_now
from storage.repository import Repository
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
SECRET = "crash-signing-secret-0123456789"
TOKEN = "xoxb-crash"

CONFIG = """
[schedule]
prompts = "0 9 1 1 *"
summary = "0 9 1 1 *"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Serve:
    """`engagebot serve` as a subprocess on a temp database, against the fake Slack Web API."""

    def __init__(self, tmp_path: Path, api_url: str, config: str = CONFIG, **env: str) -> None:
        (tmp_path / "engagebot.toml").write_text(config)
        self.tmp_path = tmp_path
        self.db = tmp_path / "engagement.db"
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "ENGAGEBOT_CONFIG": str(tmp_path / "engagebot.toml"),
            "ENGAGEBOT_DB": str(self.db),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": api_url,
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            "NO_PROXY": "127.0.0.1,localhost",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def installed(self, ago: timedelta = timedelta(days=7)) -> None:
        """Record the install's first start ``ago`` (an install that has run before: the current slot is due)."""
        repo = Repository.open(self.db)
        try:
            repo.record_first_start(utc_now() - ago)
        finally:
            repo.close()

    def start(self) -> None:
        with open(self.tmp_path / "serve.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "serve"],
                cwd=self.tmp_path,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    async def wait_healthy(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        async with aiohttp.ClientSession() as session:
            while loop.time() < deadline:
                assert self.proc is not None
                assert self.proc.poll() is None, self.log()
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("serve did not become healthy:\n" + self.log())

    async def health(self) -> tuple[int, dict[str, Any]]:
        """``GET /healthz``: the status and the JSON body."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/healthz") as response:
            return response.status, await response.json()

    async def scheduler_ticked(self) -> None:
        """Until ``/healthz`` says the scheduler has finished a tick since it started (``running`` or ``retrying``)."""

        async def ticked() -> bool:
            _, body = await self.health()
            return body["scheduler"]["state"] in ("running", "retrying")

        await eventually(ticked)

    def log(self) -> str:
        path = self.tmp_path / "serve.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self) -> int:
        """Wait in a thread: the fake Slack API the process may still call runs on this event loop."""
        assert self.proc is not None
        return await asyncio.to_thread(self.proc.wait, 30)

    def stop(self) -> None:
        """Make sure the process is gone (test teardown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
