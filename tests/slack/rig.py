"""The Slack test rig: engagebot's aiohttp app with only the Slack adapter, on a temp database, against the fake
Slack Web API; signed requests in, stored rows and what the fake received out."""

from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.runtime import Runtime
from adapters.slack.adapter import SlackAdapter
from bot.model import PostRecord
from bot.timeutil import IsoWeek
from tests.fakes import FakeSlackAPI, slack_command_body, slack_event_body

SECRET = "test-signing-secret-0123456789"
TOKEN = "xoxb-test"
CHANNEL = "C0PROMPT"
ADMIN = "UADMIN"
MEMBER = "U111"

_event_ids = itertools.count(1)


def new_event_id() -> str:
    return f"Ev{next(_event_ids):010d}"


@dataclass
class Rig:
    fake: FakeSlackAPI
    api: TestServer
    runtime: Runtime
    client: TestClient[web.Request, web.Application]

    @property
    def slack(self) -> SlackAdapter:
        assert self.runtime.slack is not None
        return self.runtime.slack

    @property
    def response_url(self) -> str:
        return str(self.api.make_url("/commands/T111/1/abc"))

    async def post_prompt(self, channel: str = CHANNEL) -> PostRecord:
        return await self.runtime.engagement.post_prompt(self.slack.poster, channel)

    async def raw(
        self,
        body: str | bytes,
        *,
        sign: bool = True,
        secret: str = SECRET,
        ts: int | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        data = body.encode() if isinstance(body, str) else body
        sent = {"Content-Type": content_type}
        if sign:
            sent.update(sign_bytes(data, secret, ts))
        sent.update(headers or {})
        return await self.client.post("/slack/events", data=io.BytesIO(data), headers=sent)

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        response = await self.raw(slack_event_body(event, event_id or new_event_id()), headers=headers)
        assert response.status == 200, await response.text()
        return response

    async def command(self, text: str, user: str = MEMBER, channel: str = CHANNEL) -> dict[str, Any]:
        body = slack_command_body(text, user, channel, self.response_url)
        response = await self.raw(body, content_type="application/x-www-form-urlencoded")
        assert response.status == 200, await response.text()
        ack: dict[str, Any] = await response.json()
        await self.slack.wait_idle()
        return ack

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Committed rows, read as the event loop reads: on its own read-only connection."""
        return self.runtime.repo._rows(f"SELECT * FROM {table} ORDER BY rowid")

    def count(self, table: str) -> int:
        return int(self.runtime.repo._one(f"SELECT count(*) FROM {table}"))

    def summary(self, post: PostRecord) -> dict[str, Any]:
        week = IsoWeek.containing(post.posted_at, self.runtime.settings.timezone)
        return self.runtime.engagement.summary(week).as_json()


def sign_bytes(data: bytes, secret: str, ts: int | None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=data)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def slack_env(api: TestServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": str(api.make_url("/api/")),
        "ENGAGEBOT_DB": str(tmp_path / "e.db"),
        "ENGAGEBOT_ADMINS": f"slack:{ADMIN}",
        **extra,
    }


def ts_at(post: PostRecord, seconds: int) -> str:
    """A message ts ``seconds`` after the post (Slack ts strings, microsecond part kept)."""
    whole, _, frac = post.message_id.partition(".")
    return f"{int(whole) + seconds}.{frac or '000000'}"
