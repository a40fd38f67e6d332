"""The Teams test harness: engagebot's aiohttp app with the Teams adapter, on a temp database, against the fake
Bot Framework connector; activities in, stored rows and connector calls out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

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


def build_runtime(tmp_path: Path, env: dict[str, str] | None = None, *, credentials: Any = None) -> Runtime:
    settings = load_settings(
        {"ENGAGEBOT_DB": str(tmp_path / "e.db"), "ENGAGEBOT_ADMINS": f"teams:{ADMIN}", **(env or {})}, cwd=tmp_path
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
