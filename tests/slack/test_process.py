"""`engagebot serve` with Slack as a real process, against the fake Slack API."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes import FakeSlackAPI
from tests.serving import Serve

SOCKET_MODE = {"SLACK_APP_TOKEN": "xapp-1-process", "SLACK_SIGNING_SECRET": ""}
BOLT_TOKEN_WARNING = "will be unused"


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


@pytest.fixture
def processes() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        serve.stop()


async def eventually(predicate: Callable[[], bool], limit: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def health(serve: Serve) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{serve.url}/healthz") as response:
        return response.status, await response.json()


def error_lines(serve: Serve) -> list[str]:
    """What `engagebot` itself printed (log lines start with a timestamp)."""
    return [line for line in serve.log().splitlines() if line.startswith("engagebot:")]


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_start_prints_no_warning_about_an_unused_token(
    tmp_path: Path, slack: tuple[FakeSlackAPI, str], processes: list[Serve], mode: str
) -> None:
    _, url = slack
    serve = Serve(tmp_path, url, **(SOCKET_MODE if mode == "socket" else {}))  # SLACK_BOT_TOKEN is in its environment
    processes.append(serve)
    serve.start()
    await serve.wait_healthy()
    serve.signal(signal.SIGTERM)
    assert await serve.wait() == 0
    log = serve.log()
    assert "listening" in log
    assert BOLT_TOKEN_WARNING not in log
    assert "level=WARNING" not in log
