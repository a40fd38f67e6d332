"""Fixtures of the Teams adapter tests: no proxy, the fake connector, the harness (see tests/teams/harness.py), and a
local upload target for file-consent answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.fakes import TEAMS_CHANNEL_ID, TEAMS_TEAM_ID, FakeTeamsConnector
from tests.teams.harness import Harness, OneDrive, build_runtime


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def connector() -> Iterator[FakeTeamsConnector]:
    with FakeTeamsConnector() as fake:
        fake.channels[TEAMS_TEAM_ID] = [
            {"id": TEAMS_TEAM_ID, "name": None},
            {"id": TEAMS_CHANNEL_ID, "name": "Policy"},
        ]
        yield fake


@pytest.fixture
async def harness(tmp_path: Path, connector: FakeTeamsConnector) -> AsyncIterator[Harness]:
    runtime = build_runtime(tmp_path)
    async with TestClient(TestServer(runtime.web_app())) as client:
        yield Harness(runtime, client, connector)
    runtime.close()


@pytest.fixture
async def onedrive() -> AsyncIterator[OneDrive]:
    uploads: list[tuple[bytes, str]] = []

    async def sink(request: web.Request) -> web.Response:
        uploads.append((await request.read(), request.headers.get("Content-Range", "")))
        return web.json_response({"id": "file"}, status=201)

    app = web.Application()
    app.router.add_put("/upload/{name}", sink)
    async with TestServer(app, host="127.0.0.1") as server:
        yield OneDrive(server, uploads)
