"""`/engage whoami` on both platforms, through the real adapters: anyone learns the id admins list them by."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.signature import SignatureVerifier

from adapters.runtime import Runtime
from bot.config import load_settings
from tests.fakes import FakeSlackAPI, FakeTeamsConnector, slack_command_body, teams_personal_message

SECRET = "whoami-signing-secret"
NOTE = "To make someone an admin, add their id to `admins` in engagebot.toml (or to ENGAGEBOT_ADMINS) and restart"


@pytest.fixture
def connector() -> Iterator[FakeTeamsConnector]:
    with FakeTeamsConnector() as fake:
        yield fake


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-whoami",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": str(api.make_url("/api/")),
            "ENGAGEBOT_DB": str(tmp_path / "e.db"),
            "ENGAGEBOT_ADMINS": "slack:U0ADMIN,teams:29:1admin",
            "ENGAGEBOT_TEAMS_EMULATOR": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        runtime = Runtime.build(load_settings(env, cwd=tmp_path))
        try:
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as test_client:
                yield test_client
        finally:
            runtime.close()


async def slack_command(client: TestClient[Any, Any], text: str, user: str) -> dict[str, Any]:
    body = slack_command_body(text, user, "C0PROMPT", "http://127.0.0.1:9/unused").encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    headers |= {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}
    async with client.post("/slack/events", data=io.BytesIO(body), headers=headers) as response:
        assert response.status == 200, await response.text()
        ack: dict[str, Any] = await response.json()
        return ack


@pytest.mark.parametrize(
    ("user", "text", "role"),
    [
        ("U0MEMBER1", "whoami", "You are not an engagebot admin."),
        ("U0ADMIN", "engage WHOAMI", "You are an engagebot admin."),
    ],
)
async def test_slack_whoami_answers_privately_with_the_member_id(
    client: TestClient[Any, Any], user: str, text: str, role: str
) -> None:
    ack = await slack_command(client, text, user)
    assert ack["response_type"] == "ephemeral"
    assert ack["blocks"][0]["text"]["text"] == "Your member id"
    assert f"`slack:{user}`\n{role} {NOTE}" in ack["text"]


async def test_slack_help_lists_whoami_for_members(client: TestClient[Any, Any]) -> None:
    ack = await slack_command(client, "help", "U0MEMBER1")
    assert "whoami: your member id, as admins list it in the configuration" in ack["text"]


async def test_slack_whoami_with_a_bad_signature_is_401(client: TestClient[Any, Any]) -> None:
    body = slack_command_body("whoami", "U0MEMBER1", "C0PROMPT", "http://127.0.0.1:9/unused")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    async with client.post("/slack/events", data=body, headers=headers) as response:
        assert response.status == 401
        assert "slack:U0MEMBER1" not in await response.text()


async def test_teams_whoami_in_personal_chat(client: TestClient[Any, Any], connector: FakeTeamsConnector) -> None:
    for user, role in (("29:1member", "You are not an engagebot admin."), ("29:1admin", "You are an engagebot admin.")):
        activity = teams_personal_message("whoami", service_url=connector.url, user_id=user)
        async with client.post(
            "/api/messages", data=json.dumps(activity), headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 201
        reply = connector.calls_to("reply_to_activity")[-1]
        (attachment,) = reply["body"]["attachments"]
        texts = [block["text"] for block in attachment["content"]["body"] if block["type"] == "TextBlock"]
        teams_note = NOTE.replace("`admins`", "**admins**")  # Teams cards show code spans in bold
        assert texts == ["Your member id", f"**teams:{user}**", f"{role} {teams_note} engagebot."]
    assert len(connector.calls_to("reply_to_activity")) == 2
