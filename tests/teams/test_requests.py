"""The Teams adapter over HTTP through the real app: Bot Framework activities in, rows and connector calls out."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

import app
from adapters.runtime import Runtime
from adapters.teams.adapter import TeamsAdapter
from adapters.teams.mapping import command_text, parse_activity
from adapters.teams.render import card_to_adaptive
from adapters.teams_package import build_package
from bot.config import load_settings
from bot.errors import AdapterError, NoConversationReference, UsageError
from bot.events import Platform
from bot.model import PostRecord
from bot.ports import Card
from bot.timeutil import IsoWeek, from_db
from tests.fakes import (
    TEAMS_BOT_ID,
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    TEAMS_TENANT_ID,
    TEST_APP_ID,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    teams_channel_mention,
    teams_channel_reply,
    teams_edit,
    teams_file_consent_invoke,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    teams_soft_delete,
    use_offline_openid,
)

ADMIN = "29:admin"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
OTHER_CHANNEL = "19:channel-other0000000000000000002@thread.tacv2"


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


@pytest.fixture
async def harness(tmp_path: Path, connector: FakeTeamsConnector) -> AsyncIterator[Harness]:
    runtime = build_runtime(tmp_path)
    async with TestClient(TestServer(runtime.web_app())) as client:
        yield Harness(runtime, client, connector)
    runtime.close()


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


# --------------------------------------------------------------------------------------------------------------------
# install, post, capture


async def test_install_stores_references_and_a_post_is_a_new_thread(harness: Harness) -> None:
    assert await harness.send(teams_install_conversation_update(service_url=harness.url)) == 201

    refs = {row["channel_id"]: row for row in harness.rows("SELECT * FROM conversation_refs")}
    assert set(refs) == {TEAMS_TEAM_ID, TEAMS_CHANNEL_ID}  # General (the install) + the team's channel listing
    assert refs[TEAMS_CHANNEL_ID]["service_url"] == harness.url
    assert (refs[TEAMS_CHANNEL_ID]["team_id"], refs[TEAMS_CHANNEL_ID]["tenant_id"]) == (TEAMS_TEAM_ID, TEAMS_TENANT_ID)
    stored = json.loads(refs[TEAMS_TEAM_ID]["reference"])
    assert (stored["conversation"]["id"], stored["serviceUrl"], stored["bot"]["id"]) == (
        TEAMS_TEAM_ID,
        harness.url,
        TEAMS_BOT_ID,
    )
    assert harness.connector.calls_to("get_team_channels")[0]["conversation_id"] == TEAMS_TEAM_ID

    before = datetime.now(UTC)
    post = await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)

    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["isGroup"] is True
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    texts = card_texts(adaptive_content(created["body"]["activity"]))
    assert texts[0] == post.theme
    assert texts[1] == post.prompt
    assert "Reply in this thread" in texts[2]
    assert "**optout**" in texts[3]  # the one-line notice, with inline code shown as bold
    assert created["auth"] is None  # emulator mode: no outbound token
    (row,) = harness.rows("SELECT * FROM posts")
    assert (row["platform"], row["channel_id"], row["message_id"]) == ("teams", TEAMS_CHANNEL_ID, "1732350000001")
    assert before <= from_db(row["posted_at"]) <= datetime.now(UTC)


async def test_replies_reactions_edits_and_deletes_in_the_prompt_thread(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    post = await harness.install_and_post()
    url, root = harness.url, post.message_id
    reply = teams_channel_reply("Zebra crossings first", root_id=root, activity_id="1732350000500", service_url=url)
    bob: dict[str, Any] = {"user_id": "29:1user-bob", "user_name": "Bob"}

    assert await harness.send(reply) == 201
    assert await harness.send(reply) == 201  # the same delivery again: stored once
    (stored,) = harness.rows("SELECT * FROM replies")
    assert (stored["message_id"], stored["member_id"], stored["text"]) == (
        "1732350000500",
        "teams:29:1user-alice",
        "Zebra crossings first",
    )
    assert from_db(stored["created_at"]) == datetime.fromisoformat(reply["timestamp"].replace("Z", "+00:00"))
    assert harness.rows("SELECT display_name FROM members WHERE member_id = 'teams:29:1user-alice'") == [
        {"display_name": "Alice"}
    ]

    on_post = teams_message_reaction("like", reply_to_id=root, service_url=url, **bob)
    on_reply = teams_message_reaction("heart", reply_to_id="1732350000500", root_id=root, service_url=url, **bob)
    for activity in (on_post, on_post, on_reply):
        assert await harness.send(activity) == 201
    live = "SELECT target_id, name, member_id FROM reactions WHERE removed_at IS NULL ORDER BY name"
    assert harness.rows(live) == [
        {"target_id": "1732350000500", "name": "heart", "member_id": "teams:29:1user-bob"},
        {"target_id": root, "name": "like", "member_id": "teams:29:1user-bob"},
    ]
    later = datetime.now(UTC) + timedelta(seconds=5)
    removed = teams_message_reaction("like", reply_to_id=root, removed=True, service_url=url, timestamp=later, **bob)
    assert await harness.send(removed) == 201
    assert [r["name"] for r in harness.rows(live)] == ["heart"]
    off_reply = teams_message_reaction(
        "heart", reply_to_id="1732350000500", root_id=root, removed=True, service_url=url, timestamp=later, **bob
    )
    assert await harness.send(off_reply) == 201
    assert harness.rows(live) == []
    assert await harness.send(on_reply | {"id": "f:again", "timestamp": (later + timedelta(seconds=1)).isoformat()})
    assert [r["name"] for r in harness.rows(live)] == ["heart"]  # added again after its removal

    edit = teams_edit("Zebra crossings, then prevention", message_id="1732350000500", root_id=root, service_url=url)
    assert await harness.send(edit) == 201
    (edited,) = harness.rows("SELECT text, edited_at FROM replies")
    assert edited["text"] == "Zebra crossings, then prevention"
    assert edited["edited_at"] is not None

    delete = teams_soft_delete(message_id="1732350000500", root_id=root, service_url=url, timestamp=later)
    assert await harness.send(delete) == 201
    assert harness.count("replies") == 0
    assert harness.rows("SELECT name FROM reactions WHERE target_id = '1732350000500'") == []  # gone with the reply
    assert harness.count("deleted_messages") == 1
    assert "Zebra" not in caplog.text  # message text never reaches the logs at INFO
    assert "teams ReplyPosted" in caplog.text


async def test_messages_outside_prompt_threads_are_never_stored(harness: Harness) -> None:
    post = await harness.install_and_post()
    url = harness.url
    activities = [
        # a new top-level channel message: its conversation id ends in its own id
        teams_channel_reply("lunch?", root_id="1732350000900", activity_id="1732350000900", service_url=url),
        # a reply in a thread that is not a prompt
        teams_channel_reply("sure", root_id="1732350000900", activity_id="1732350000901", service_url=url),
        # the right thread id, but another channel
        teams_channel_reply("hm", root_id=post.message_id, channel_id=OTHER_CHANNEL, service_url=url),
        teams_edit("lunch!", message_id="1732350000900", service_url=url),
        teams_message_reaction("like", reply_to_id="1732350000901", root_id="1732350000900", service_url=url),
    ]
    for activity in activities:
        assert await harness.send(activity) == 201
    assert (harness.count("replies"), harness.count("members")) == (0, 0)
    assert harness.rows("SELECT post_id FROM reactions") in ([], [{"post_id": None}])  # unresolved, never counted
    assert harness.rows("SELECT 1 FROM replies WHERE text LIKE '%lunch%'") == []


# --------------------------------------------------------------------------------------------------------------------
# commands


async def test_commands_in_personal_chat(harness: Harness) -> None:
    url = harness.url
    chat = "a:1fake-personal-chat-admin"
    assert await harness.send(teams_personal_message("engage summary this", service_url=url)) == 201
    assert await harness.send(teams_personal_message("summary", service_url=url, user_id=ADMIN, conversation_id=chat))
    assert await harness.send(teams_personal_message("frobnicate", service_url=url)) == 201

    refused, summary, unknown = harness.connector.calls_to("reply_to_activity")
    assert refused["conversation_id"] == "a:1fake-personal-chat-alice"
    assert card_texts(adaptive_content(refused["body"]))[0] == "Not allowed"
    assert summary["conversation_id"] == chat
    texts = card_texts(adaptive_content(summary["body"]))
    assert texts[0].startswith("Engagement summary ")
    assert any(text.startswith("Posts: 0") for text in texts)
    assert "Unknown command 'frobnicate'." in card_texts(adaptive_content(unknown["body"]))
    assert harness.count("conversation_refs") == 0  # personal chats are not channels

    assert await harness.send(teams_personal_message("post", service_url=url, user_id=ADMIN, conversation_id=chat))
    texts = card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))
    assert any("team channels" in text for text in texts)
    assert (harness.connector.calls_to("create_conversation"), harness.count("posts")) == ([], 0)


async def test_mention_commands_in_a_channel(harness: Harness) -> None:
    url = harness.url
    refused = teams_channel_mention("post", service_url=url)
    assert await harness.send(refused) == 201
    assert harness.connector.calls_to("create_conversation") == []
    assert harness.count("posts") == 0
    (reply,) = harness.connector.calls_to("reply_to_activity")
    assert reply["conversation_id"] == f"{TEAMS_CHANNEL_ID};messageid={refused['id']}"  # answered in its thread
    assert card_texts(adaptive_content(reply["body"]))[0] == "Not allowed"

    # the mention itself stored the channel's reference, so the admin's post can go out
    assert await harness.send(teams_channel_mention("engage post Workforce", service_url=url, user_id=ADMIN)) == 201
    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID
    (post,) = harness.rows("SELECT theme, channel_id FROM posts")
    assert post == {"theme": "Workforce", "channel_id": TEAMS_CHANNEL_ID}
    assert card_texts(adaptive_content(harness.connector.calls_to("reply_to_activity")[-1]["body"]))[0] == (
        "Prompt posted"
    )
    # a command in a prompt thread is a command, not a reply
    root = harness.rows("SELECT message_id FROM posts")[0]["message_id"]
    mention_reply = teams_channel_reply("help", root_id=root, mention_bot=True, service_url=url)
    assert await harness.send(mention_reply) == 201
    assert harness.count("replies") == 0


async def test_export_goes_through_file_consent(harness: Harness) -> None:
    uploads: list[tuple[bytes, str]] = []

    async def sink(request: web.Request) -> web.Response:
        uploads.append((await request.read(), request.headers["Content-Range"]))
        return web.json_response({"id": "file"}, status=201)

    storage = web.Application()
    storage.router.add_put("/upload/{name}", sink)
    async with TestServer(storage, host="127.0.0.1") as onedrive:
        url = harness.url
        assert await harness.send(teams_personal_message("export this", service_url=url, user_id=ADMIN)) == 201
        card, consent = harness.connector.calls_to("reply_to_activity")
        assert card_texts(adaptive_content(card["body"]))[0].startswith("Export ")
        (attachment,) = consent["body"]["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        assert attachment["name"].endswith(".csv")
        context = attachment["content"]["acceptContext"]

        upload_url = str(onedrive.make_url("/upload/export.csv"))
        stranger = teams_file_consent_invoke(
            "accept", context=context, upload_url=upload_url, service_url=url, user_id="29:someone-else"
        )
        assert await harness.send(stranger) == 200
        assert uploads == []
        accept = teams_file_consent_invoke("accept", context=context, upload_url=upload_url, service_url=url)
        accept["from"]["id"] = ADMIN
        assert await harness.send(accept) == 200
        ((data, content_range),) = uploads
        assert data.decode().startswith("kind,platform,channel,post_id")
        assert content_range == f"bytes 0-{len(data) - 1}/{len(data)}"
        info = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]
        assert info["contentType"] == "application/vnd.microsoft.teams.card.file.info"
        assert info["content"]["uniqueId"] == "1150D938-8870-4044-9F2C-5BBDEBA70C8C"

        assert await harness.send(accept) == 200  # a second accept finds nothing pending
        assert len(uploads) == 1
        assert "expired" in harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"]

    assert await harness.send(teams_personal_message("export", service_url=url, user_id=ADMIN)) == 201
    context = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]["content"]["acceptContext"]
    decline = teams_file_consent_invoke("decline", context=context, upload_url="", service_url=url, user_id=ADMIN)
    assert await harness.send(decline) == 200
    assert harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"] == "Export declined: nothing was sent."

    assert await harness.send(teams_channel_mention("export", service_url=url, user_id=ADMIN)) == 201
    assert "personal chat" in harness.connector.calls_to("reply_to_activity")[-1]["body"]["text"]


async def test_mydata_is_offered_to_a_member_through_file_consent(harness: Harness) -> None:
    uploads: list[bytes] = []

    async def sink(request: web.Request) -> web.Response:
        uploads.append(await request.read())
        return web.json_response({"id": "file"}, status=201)

    storage = web.Application()
    storage.router.add_put("/upload/{name}", sink)
    async with TestServer(storage, host="127.0.0.1") as onedrive:
        url = harness.url
        member = "29:1member-mydata"
        assert await harness.send(teams_personal_message("mydata", service_url=url, user_id=member)) == 201
        consent = harness.connector.calls_to("reply_to_activity")[-1]
        (attachment,) = consent["body"]["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        assert attachment["name"] == "engagebot-mydata-teams.json"
        accept = teams_file_consent_invoke(
            "accept",
            context=attachment["content"]["acceptContext"],
            upload_url=str(onedrive.make_url("/upload/mydata.json")),
            service_url=url,
            user_id=member,
        )
        assert await harness.send(accept) == 200
    (data,) = uploads
    assert json.loads(data)["member_id"] == f"teams:{member}"


# --------------------------------------------------------------------------------------------------------------------
# posting failures


async def test_429_and_5xx_are_retried_and_the_post_stored_once(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    harness.connector.fail_next("create_conversation", status=429, retry_after="0")
    post = await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 2
    assert harness.rows("SELECT message_id FROM posts") == [{"message_id": post.message_id}]

    harness.connector.clear()
    harness.connector.fail_next("create_conversation", status=503, times=2)
    await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 3
    assert harness.count("posts") == 2


async def test_permanent_failures_raise_adapter_error_and_store_nothing(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    harness.connector.fail_next("create_conversation", status=429, times=3)
    with pytest.raises(AdapterError, match="HTTP 429"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 3

    harness.connector.clear()
    harness.connector.fail_next("create_conversation", status=403, code="BotNotInConversationRoster")
    with pytest.raises(AdapterError, match="HTTP 403"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert len(harness.connector.calls_to("create_conversation")) == 1  # not retried
    assert harness.count("posts") == 0


@pytest.mark.long  # msrest retries each connection itself (about 20 s in all)
async def test_unreachable_connector_is_retried_then_an_adapter_error(harness: Harness) -> None:
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens
    assert await harness.send(teams_install_conversation_update(service_url=dead)) == 201  # channel listing failed
    assert [r["channel_id"] for r in harness.rows("SELECT channel_id FROM conversation_refs")] == [TEAMS_TEAM_ID]
    with pytest.raises(AdapterError, match="cannot reach Teams"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_TEAM_ID)
    assert harness.count("posts") == 0


async def test_channel_without_reference_fails_clearly_and_others_still_post(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    with pytest.raises(NoConversationReference, match="install the app"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, OTHER_CHANNEL)
    assert harness.connector.calls_to("create_conversation") == []
    await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert [r["channel_id"] for r in harness.rows("SELECT channel_id FROM posts")] == [TEAMS_CHANNEL_ID]


async def test_summary_card_is_an_adaptive_card_thread(harness: Harness) -> None:
    await harness.send(teams_install_conversation_update(service_url=harness.url))
    card = Card(title="Weekly", facts=(("Posts", "1"),), sections=(("Top", "• a\n• b"),), footer="fine print")
    sent = await harness.adapter.poster.post_card(TEAMS_TEAM_ID, card)
    (created,) = harness.connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_TEAM_ID
    assert card_texts(adaptive_content(created["body"]["activity"])) == [
        "Weekly",
        "Top",
        "• a",
        "• b",
        "fine print",
        "Posts: 1",
    ]
    assert sent.message_id == "1732350000001"


# --------------------------------------------------------------------------------------------------------------------
# bad input


def _activity(connector_url: str, **changes: Any) -> dict[str, Any]:
    activity = teams_channel_reply("x", root_id="1732350000001", service_url=connector_url)
    for key, value in changes.items():
        if value is None:
            activity.pop(key, None)
        else:
            activity[key] = value
    return activity


async def test_malformed_requests_get_4xx_never_5xx(harness: Harness) -> None:
    post = await harness.install_and_post()
    url = harness.url
    cases: dict[str, tuple[bytes, dict[str, str]]] = {}
    json_header = {"Content-Type": "application/json"}

    def add(name: str, body: Any, headers: dict[str, str] = json_header) -> None:
        cases[name] = (body if isinstance(body, bytes) else json.dumps(body).encode(), headers)

    good = _activity(url)
    add("bad json", b"{not json", json_header)
    add("not utf-8", b"\xff\xfe{}", json_header)
    add("no content type", good, {})
    add("text/plain", good, {"Content-Type": "text/plain"})
    add("a list", [good])
    add("a string", "message")
    add("missing type", _activity(url, type=None))
    add("empty type", _activity(url, type=""))
    add("type not a string", _activity(url, type=5))
    add("missing serviceUrl", _activity(url, serviceUrl=None))
    add("serviceUrl not a URL", _activity(url, serviceUrl="javascript:1"))
    add("missing conversation", _activity(url, conversation=None))
    add("conversation a string", _activity(url, conversation="19:x"))
    add("from a string", _activity(url, **{"from": "29:1user-alice"}))
    add("no from id", _activity(url, **{"from": {"name": "x"}}))
    add("garbled timestamp", _activity(url, timestamp="yesterday"))
    add("entities a string", _activity(url, entities="mention"))
    add("reactions a string", {**_activity(url, type="messageReaction"), "reactionsAdded": "like"})
    add("membersAdded a number", {**_activity(url, type="conversationUpdate"), "membersAdded": 3})
    invoke = teams_file_consent_invoke(
        "accept", context={"token": "t"}, upload_url="http://127.0.0.1:1/", service_url=url
    )
    add("consent without value", {k: v for k, v in invoke.items() if k != "value"})
    add("consent value a string", {**invoke, "value": "accept"})
    add("consent unknown action", {**invoke, "value": {"action": "maybe", "context": {}}})
    add("unknown invoke", {**invoke, "name": "adaptiveCard/action", "value": {"action": {"type": "Action.Execute"}}})
    statuses = {}
    for name, (body, headers) in cases.items():
        async with harness.client.post(
            "/api/messages", data=body, headers=headers, skip_auto_headers=["Content-Type"]
        ) as response:
            statuses[name] = response.status
    assert {name: status for name, status in statuses.items() if not 400 <= status < 500} == {}
    assert statuses["no content type"] == statuses["text/plain"] == 415
    assert harness.count("replies") == 0

    # the same reply, well formed, is stored: the rejections above were about the payloads
    assert await harness.send(teams_channel_reply("ok", root_id=post.message_id, service_url=url)) == 201
    assert harness.count("replies") == 1


async def test_odd_but_valid_activities_are_acknowledged(harness: Harness) -> None:
    url = harness.url
    odd = [
        {**_activity(url), "timestamp": None},  # no timestamp: not captured, still acknowledged
        _activity(url, type="typing"),
        _activity(url, type="somethingNew"),
        {**_activity(url, type="messageReaction"), "reactionsAdded": [{"type": "like"}]},  # no replyToId
        teams_personal_message("", service_url=url),
        {**teams_channel_mention("help", service_url=url), "entities": [{"type": "mention"}]},  # no `mentioned`
        {**_activity(url), "channelData": [1]},
        {**_activity(url), "channelData": {"channel": "x", "team": 5}},
        {**teams_install_conversation_update(service_url=url), "membersAdded": [{"id": "29:1user-new"}]},
        {**teams_message_reaction("like", reply_to_id="1", service_url=url), "reactionsAdded": [{}]},
        {**teams_personal_message("x", service_url=url), "text": 5},
    ]
    statuses = [await harness.send({k: v for k, v in a.items() if v is not None}) for a in odd]
    assert all(200 <= status < 300 for status in statuses), statuses
    assert harness.count("replies") == 0


def test_command_text_strips_the_mention() -> None:
    activity = parse_activity(teams_channel_mention("  summary   2026-W48 ", service_url="http://127.0.0.1:1/"))
    assert command_text(activity) == "summary 2026-W48"
    assert activity.text.startswith("<at>")  # not mutated


def test_card_to_adaptive_turns_code_into_bold() -> None:
    content = card_to_adaptive(Card(title="t", sections=(("", "use `optout`"),)))
    assert content["body"][1]["text"] == "use **optout**"


# --------------------------------------------------------------------------------------------------------------------
# Bot Framework tokens (MicrosoftAppId set)


@pytest.fixture
def openid() -> Iterator[OpenIdMetadataServer]:
    with OpenIdMetadataServer() as server, use_offline_openid(server):
        yield server


async def test_jwt_is_required_and_every_bad_token_is_401(
    tmp_path: Path, connector: FakeTeamsConnector, openid: OpenIdMetadataServer, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"MicrosoftAppId": TEST_APP_ID, "MicrosoftAppPassword": "not-used-offline", "MicrosoftAppType": "MultiTenant"}
    caplog.set_level(logging.DEBUG, logger="adapters")
    runtime = build_runtime(tmp_path, env, credentials=OfflineCredentialFactory())
    url = connector.url
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "wrong audience": mint_token("someone-else", url),
        "wrong issuer": mint_token(TEST_APP_ID, url, issuer="https://evil.example.com"),
        "wrong serviceUrl": mint_token(TEST_APP_ID, "https://smba.trafficmanager.net/amer/"),
        "expired": mint_token(TEST_APP_ID, url, expires_in=-301),
        "garbled": "not-a-jwt",
        "wrong key": mint_token(TEST_APP_ID, url, key=other_key),
        "unknown kid": mint_token(TEST_APP_ID, url, kid="rotated-away"),
        "not bearer": "Basic dXNlcjpwYXNz",
    }
    try:
        async with TestClient(TestServer(runtime.web_app())) as client:
            harness = Harness(runtime, client, connector)
            statuses = {
                name: await harness.send(teams_install_conversation_update(service_url=url), auth=f"Bearer {token}")
                for name, token in cases.items()
            }
            statuses["no header"] = await harness.send(teams_install_conversation_update(service_url=url))
            assert statuses == dict.fromkeys(statuses, 401)
            assert harness.count("conversation_refs") == 0
            assert connector.calls == []

            token = f"Bearer {mint_token(TEST_APP_ID, url)}"
            assert await harness.send(teams_install_conversation_update(service_url=url), auth=token) == 201
            assert harness.count("conversation_refs") == 2
            post = await runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
            reply = teams_channel_reply("yes", root_id=post.message_id, service_url=url)
            assert await harness.send(reply, auth=token) == 201
            assert await harness.send(teams_personal_message("help", service_url=url), auth=token) == 201
            assert harness.count("replies") == 1
            assert "not authenticated reason=" in caplog.text
            assert token.split()[1] not in caplog.text
            assert "fake-outbound-token" not in caplog.text
    finally:
        runtime.close()
    (created,) = connector.calls_to("create_conversation")
    assert created["auth"] == "Bearer fake-outbound-token"
    assert connector.calls_to("reply_to_activity")[0]["auth"] == "Bearer fake-outbound-token"


# --------------------------------------------------------------------------------------------------------------------
# Done when: install, post, capture, then the CLI summary


async def test_cli_summary_counts_teams_activity_exactly(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    post = await harness.install_and_post()
    url, root, at = harness.url, post.message_id, post.posted_at
    people: dict[str, dict[str, Any]] = {
        name: {"user_id": f"29:1user-{name}", "user_name": name.title()}
        for name in ("alice", "bob", "carol", "dave", "eve")
    }

    def minutes(n: float) -> datetime:
        return at + timedelta(minutes=n)

    activities = [
        teams_channel_reply(
            "a1", root_id=root, activity_id="9001", service_url=url, timestamp=minutes(12), **people["alice"]
        ),
        teams_channel_reply(
            "b1", root_id=root, activity_id="9002", service_url=url, timestamp=minutes(14), **people["bob"]
        ),
        teams_channel_reply(
            "a2", root_id=root, activity_id="9003", service_url=url, timestamp=minutes(15), **people["alice"]
        ),
        teams_channel_reply(
            "c1", root_id=root, activity_id="9004", service_url=url, timestamp=minutes(16), **people["carol"]
        ),
        teams_soft_delete(message_id="9004", root_id=root, service_url=url, timestamp=minutes(17), **people["carol"]),
        teams_edit("a1!", message_id="9001", root_id=root, service_url=url, timestamp=minutes(18), **people["alice"]),
        teams_message_reaction("like", reply_to_id=root, service_url=url, timestamp=minutes(19), **people["alice"]),
        teams_message_reaction("like", reply_to_id=root, service_url=url, timestamp=minutes(20), **people["alice"]),
        teams_message_reaction("heart", reply_to_id=root, service_url=url, timestamp=minutes(21), **people["dave"]),
        teams_message_reaction(
            "like", reply_to_id="9001", root_id=root, service_url=url, timestamp=minutes(22), **people["bob"]
        ),
        teams_message_reaction(
            "laugh", reply_to_id="9003", root_id=root, service_url=url, timestamp=minutes(23), **people["eve"]
        ),
        teams_message_reaction(
            "laugh",
            reply_to_id="9003",
            root_id=root,
            service_url=url,
            timestamp=minutes(24),
            removed=True,
            **people["eve"],
        ),
        teams_message_reaction(
            "sad", reply_to_id="9004", root_id=root, service_url=url, timestamp=minutes(25), **people["bob"]
        ),  # on the deleted reply: never counted
    ]
    for activity in activities:
        assert await harness.send(activity) == 201

    week = str(IsoWeek.containing(at, ZoneInfo("Europe/London")))
    monkeypatch.setenv("ENGAGEBOT_DB", str(tmp_path / "e.db"))
    monkeypatch.delenv("ENGAGEBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert app.main(["summary", "--week", week, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)

    assert summary["totals"] == {
        "posts": 1,
        "replies": 3,
        "reactions": 3,
        "participants": 3,
        "new_participants": 3,
        "returning_participants": 0,
        "median_minutes_to_first_reply": 12.0,
    }
    assert summary["by_platform"]["teams"] == {"posts": 1, "replies": 3, "reactions": 3, "participants": 3}
    (by_post,) = summary["by_post"]
    assert (by_post["post_id"], by_post["channel"], by_post["replies"], by_post["reactions"]) == (
        f"teams:{TEAMS_CHANNEL_ID}:{root}",
        TEAMS_CHANNEL_ID,
        3,
        3,
    )
    assert summary["top_reactions"] == [{"name": "like", "count": 2}, {"name": "heart", "count": 1}]
    assert summary["by_theme"] == [{"theme": post.theme, "posts": 1, "replies": 3, "reactions": 3, "participants": 3}]


# --------------------------------------------------------------------------------------------------------------------
# The app package


def test_teams_package_zip(tmp_path: Path) -> None:
    path = build_package(TEST_APP_ID, tmp_path / "out" / "engagebot-teams.zip", name="EngageBot")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        icons = {name: archive.read(name) for name in ("color.png", "outline.png")}

    assert "{{" not in json.dumps(manifest)
    assert manifest["id"] == manifest["webApplicationInfo"]["id"] == TEST_APP_ID
    assert manifest["name"]["short"] == "EngageBot"
    (bot,) = manifest["bots"]
    assert (bot["botId"], sorted(bot["scopes"]), bot["supportsFiles"]) == (TEST_APP_ID, ["personal", "team"], True)
    lists = {tuple(item["scopes"]): [c["title"] for c in item["commands"]] for item in bot["commandLists"]}
    assert {"help", "summary", "post", "themes", "schedule", "export", "optout", "optin"} <= set(lists[("team",)])
    assert "summary" in lists[("personal",)]
    assert all(len(titles) <= 10 for titles in lists.values())
    assert manifest["authorization"]["permissions"]["resourceSpecific"] == [
        {"name": "ChannelMessage.Read.Group", "type": "Application"}
    ]
    for name, size in (("color.png", 192), ("outline.png", 32)):
        data = icons[name]
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
        assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]  # the IHDR chunk's CRC

    with pytest.raises(UsageError, match="GUID"):
        build_package("not-a-guid", tmp_path / "x.zip")
    with pytest.raises(UsageError, match="30 characters"):
        build_package(TEST_APP_ID, tmp_path / "x.zip", name="x" * 31)
    with pytest.raises(UsageError, match="directory"):
        build_package(TEST_APP_ID, tmp_path)
    assert not (tmp_path / "x.zip").exists()


def test_cli_post_after_install(
    tmp_path: Path, connector: FakeTeamsConnector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's Teams first prompt: install the app, then `engagebot post --platform teams --channel 19:…`."""

    async def install() -> int:
        runtime = build_runtime(tmp_path)
        try:
            async with TestClient(TestServer(runtime.web_app())) as client:
                return await Harness(runtime, client, connector).send(
                    teams_install_conversation_update(service_url=connector.url)
                )
        finally:
            runtime.close()

    assert asyncio.run(install()) == 201
    monkeypatch.setenv("ENGAGEBOT_DB", str(tmp_path / "e.db"))
    monkeypatch.chdir(tmp_path)
    assert app.main(["post", "--platform", "teams", "--channel", TEAMS_CHANNEL_ID]) == 0
    assert f"teams:{TEAMS_CHANNEL_ID} posted" in capsys.readouterr().out
    (created,) = connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID

    assert app.main(["post", "--platform", "teams", "--channel", OTHER_CHANNEL]) == 1
    assert "install the app in its team first" in capsys.readouterr().err
    assert len(connector.calls_to("create_conversation")) == 1
