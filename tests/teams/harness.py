"""The Teams test harness: engagebot's aiohttp app with the Teams adapter, on a temp database, against the fake
Bot Framework connector; activities in, stored rows and connector calls out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import BaseTestServer, TestClient

from adapters.runtime import Runtime
from adapters.teams.adapter import TeamsAdapter
from bot.config import load_settings
from bot.events import Platform
from bot.model import PostRecord
from tests.fakes import TEAMS_CHANNEL_ID, FakeTeamsConnector, teams_install_conversation_update

ADMIN = "29:admin"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
OTHER_CHANNEL = "19:channel-other0000000000000000002@thread.tacv2"


@dataclass
class Harness:
    runtime: Runtime
    client: TestClient[Any, Any]
    connector: FakeTeamsConnector

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def adapter(self) -> TeamsAdapter:
        assert self.runtime.teams is not None
        return self.runtime.teams

    async def send(self, activity: Any, *, auth: str | None = None) -> int:
        headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})
        async with self.client.post("/api/messages", data=json.dumps(activity), headers=headers) as response:
            await response.read()
            return response.status

    def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return self.runtime.repo._rows(sql, list(params))

    def count(self, table: str) -> int:
        return int(self.runtime.repo._one(f"SELECT count(*) FROM {table}"))

    async def install_and_post(self, channel: str = TEAMS_CHANNEL_ID) -> PostRecord:
        assert await self.send(teams_install_conversation_update(service_url=self.url)) in range(200, 300)
        return await self.runtime.engagement.post_prompt(self.adapter.poster, channel)


EMULATOR = {"ENGAGEBOT_TEAMS_EMULATOR": "1"}


@dataclass
class OneDrive:
    """A local stand-in for the OneDrive upload sessions that file-consent answers name: records each PUT."""

    server: BaseTestServer
    uploads: list[tuple[bytes, str]]  # (the body, its Content-Range header)

    def url(self, name: str) -> str:
        return str(self.server.make_url(f"/upload/{name}"))

    @property
    def files(self) -> list[bytes]:
        return [body for body, _ in self.uploads]


def build_runtime(
    tmp_path: Path, env: dict[str, str] | None = None, *, credentials: Any = None, connector_url: str = ""
) -> Runtime:
    """The runtime with Teams in emulator mode, or (``credentials``: MicrosoftAppId set in ``env``) authenticated,
    then trusting the local fake connector at ``connector_url`` besides the Bot Framework's own hosts."""
    env = env if env is not None else EMULATOR
    settings = load_settings(
        {"ENGAGEBOT_DB": str(tmp_path / "e.db"), "ENGAGEBOT_ADMINS": f"teams:{ADMIN}", **env}, cwd=tmp_path
    )
    if credentials is None:
        runtime = Runtime.build(settings)
    else:
        runtime = Runtime.build(settings, with_teams=False)
        runtime.teams = TeamsAdapter(
            settings.teams,
            capture=runtime.capture,
            commands=runtime.commands,
            store=runtime.repo,
            credentials_factory=credentials,
            also_trusted_connectors=[connector_url] if connector_url else [],
        )
        runtime.posters[Platform.TEAMS] = runtime.teams.poster
    assert runtime.teams is not None
    runtime.teams.poster.base_delay = 0.0
    return runtime


def card_texts(content: dict[str, Any]) -> list[str]:
    texts = [block["text"] for block in content["body"] if block["type"] == "TextBlock"]
    for block in content["body"]:
        if block["type"] == "FactSet":
            texts += [f"{fact['title']}: {fact['value']}" for fact in block["facts"]]
    return texts


def adaptive_content(body: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == ADAPTIVE
    content: dict[str, Any] = attachment["content"]
    assert content["type"] == "AdaptiveCard"
    return content
