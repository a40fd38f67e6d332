"""The light path of /api/messages (adapters/teams/light.py): channel replies, reactions, edits and deletions are
captured from the JSON, without msrest or a botbuilder turn, behind the same checks as the full path (serviceUrl
403, token 401 before anything is captured); a storage failure is a 503 with nothing half-written; anything unusual
takes the full path and gets the full path's answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import adapters.teams.adapter as teams_adapter
from bot.events import Platform
from bot.prompts import Prompt
from bot.timeutil import utc_now
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    TEST_APP_ID,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    teams_channel_reply,
    teams_edit,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    teams_soft_delete,
    teams_undelete,
    use_offline_openid,
)
from tests.teams.harness import Harness, build_runtime

TABLES = ("replies", "reactions", "members", "seen_events", "deleted_messages")


class FullPath:
    """Counts the activities that reach botbuilder's turn (``CloudAdapter.process_activity``)."""

    def __init__(self, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.types: list[str] = []
        cloud = harness.adapter.cloud
        original = cloud.process_activity

        async def spy(auth: Any, activity: Any, logic: Any) -> Any:
            self.types.append(activity.type)
            return await original(auth, activity, logic)

        monkeypatch.setattr(cloud, "process_activity", spy)


def stored_nothing(harness: Harness) -> None:
    for table in TABLES:
        assert harness.count(table) == 0, table


def two_reactions(harness: Harness, target: str, root: str) -> dict[str, Any]:
    activity = teams_message_reaction("like", reply_to_id=target, root_id=root, service_url=harness.url)
    activity["reactionsAdded"] = [{"type": "like"}, {"type": "heart"}]
    return activity


async def test_channel_captures_take_neither_msrest_nor_a_turn(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await harness.install_and_post()

    def no_msrest(body: Any) -> Any:
        raise AssertionError("a captured activity was deserialized")

    async def no_turn(*args: Any) -> Any:
        raise AssertionError("a captured activity reached botbuilder")

    monkeypatch.setattr(teams_adapter, "parse_activity", no_msrest)
    monkeypatch.setattr(harness.adapter.cloud, "process_activity", no_turn)
    url = harness.url
    reply = teams_channel_reply("light", root_id=post.message_id, service_url=url, activity_id="1900000000101")
    assert await harness.send(reply) == 201
    assert await harness.send(two_reactions(harness, "1900000000101", post.message_id)) == 201
    assert (
        await harness.send(teams_edit("lighter", message_id="1900000000101", root_id=post.message_id, service_url=url))
        == 201
    )
    assert [r["text"] for r in harness.rows("SELECT text FROM replies")] == ["lighter"]
    assert sorted(r["name"] for r in harness.rows("SELECT name FROM reactions")) == ["heart", "like"]
    assert (
        await harness.send(teams_soft_delete(message_id="1900000000101", root_id=post.message_id, service_url=url))
        == 201
    )
    assert harness.count("replies") == 0
    assert harness.count("reactions") == 0


async def test_unusual_activities_take_the_full_path_and_get_its_answers(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = FullPath(harness, monkeypatch)
    url = harness.url
    post = harness.runtime.repo.record_post(
        Platform.TEAMS, TEAMS_CHANNEL_ID, "1732350000001", Prompt("W", "Q?"), utc_now()
    )
    # The first activity of a channel whose reference this process has not stored: the full path stores it first.
    assert await harness.send(teams_channel_reply("first", root_id=post.message_id, service_url=url)) == 201
    assert full.types == ["message"]
    assert harness.count("conversation_refs") == 1
    assert await harness.send(teams_channel_reply("second", root_id=post.message_id, service_url=url)) == 201
    assert full.types == ["message"]  # the light path from then on
    # A command in personal chat, and one @mentioning the bot in the channel: the full path answers them.
    assert harness.connector.calls == []
    assert await harness.send(teams_personal_message("help", service_url=url)) == 201
    answered = len(harness.connector.calls)
    assert answered > 0
    mention = teams_channel_reply("help", root_id="1732350000999", service_url=url, mention_bot=True)
    assert await harness.send(mention) == 201
    assert len(harness.connector.calls) > answered
    assert full.types == ["message", "message", "message"]
    # A restore (undeleteMessage) is the full path's.
    restore = teams_undelete("back", message_id="1900000000301", root_id=post.message_id, service_url=url)
    assert await harness.send(restore) == 201
    assert full.types[3:] == ["messageUpdate"]
    # A reply whose entities are not a list: the full path refuses it, as it always did.
    odd = teams_channel_reply("odd", root_id=post.message_id, service_url=url)
    odd["entities"] = "not a list"
    assert await harness.send(odd) == 400
    assert sorted(r["text"] for r in harness.rows("SELECT text FROM replies")) == ["first", "second"]


async def test_a_service_url_that_is_not_a_connector_is_403_on_the_light_path(harness: Harness) -> None:
    post = await harness.install_and_post()
    reply = teams_channel_reply("x", root_id=post.message_id, service_url="https://evil.example.com/")
    assert await harness.send(reply) == 403
    stored_nothing(harness)


async def test_a_storage_failure_is_503_and_no_reaction_of_the_activity_is_stored(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await harness.install_and_post()
    repo = harness.runtime.repo
    set_reaction = repo.set_reaction
    calls: list[str] = []

    def heart_fails(**kwargs: Any) -> bool:  # the activity's second reaction, after its first was written
        calls.append(kwargs["name"])
        if kwargs["name"] == "heart":
            raise sqlite3.OperationalError("disk I/O error")
        return set_reaction(**kwargs)

    monkeypatch.setattr(repo, "set_reaction", heart_fails)
    activity = two_reactions(harness, post.message_id, post.message_id)
    assert await harness.send(activity) == 503
    assert calls[:2] == ["like", "heart"]
    stored_nothing(harness)  # the first reaction went with the second: one unit of work
    monkeypatch.undo()
    assert await harness.send(activity) == 201  # the redelivery
    assert sorted(r["name"] for r in harness.rows("SELECT name FROM reactions")) == ["heart", "like"]


@pytest.fixture
def openid() -> Iterator[OpenIdMetadataServer]:
    with OpenIdMetadataServer() as server, use_offline_openid(server):
        yield server


async def test_with_an_app_id_the_token_is_checked_before_anything_is_captured(
    tmp_path: Path, connector: FakeTeamsConnector, openid: OpenIdMetadataServer
) -> None:
    env = {"MicrosoftAppId": TEST_APP_ID, "MicrosoftAppPassword": "not-used-offline", "MicrosoftAppType": "MultiTenant"}
    runtime = build_runtime(tmp_path, env, credentials=OfflineCredentialFactory(), connector_url=connector.url)
    url = connector.url
    token = f"Bearer {mint_token(TEST_APP_ID, url)}"
    try:
        async with TestClient(TestServer(runtime.web_app())) as client:
            harness = Harness(runtime, client, connector)
            assert await harness.send(teams_install_conversation_update(service_url=url), auth=token) == 201
            post = await runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
            reply = teams_channel_reply("yes", root_id=post.message_id, service_url=url)
            reaction = teams_message_reaction("like", reply_to_id=post.message_id, service_url=url)
            for auth in (None, "Bearer not-a-jwt", f"Bearer {mint_token(TEST_APP_ID, url, expires_in=-301)}"):
                assert await harness.send(reply, auth=auth) == 401
                assert await harness.send(reaction, auth=auth) == 401
            stored_nothing(harness)
            assert await harness.send(reply, auth=token) == 201
            assert await harness.send(reaction, auth=token) == 201
            assert (harness.count("replies"), harness.count("reactions")) == (1, 1)
    finally:
        runtime.close()
