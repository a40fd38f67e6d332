"""Requests to /api/messages: malformed input gets a 4xx, never a 5xx; with MicrosoftAppId set every bad token
is a 401."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import (
    TEAMS_CHANNEL_ID,
    TEST_APP_ID,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    teams_channel_mention,
    teams_channel_reply,
    teams_file_consent_invoke,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_personal_message,
    use_offline_openid,
)
from tests.teams.harness import Harness, build_runtime

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
    add("type a list", _activity(url, type=["message"]))  # unhashable: no set lookup may see it
    add("type an object", _activity(url, type={"message": 1}))
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
    # botbuilder's Teams handlers of edits and deletions read channelData as Teams channel data: another shape is a 400
    for kind in ("messageUpdate", "messageDelete"):
        add(f"{kind}: channelData a boolean", {**_activity(url, type=kind), "channelData": True})
        add(f"{kind}: channelData.channel a boolean", {**_activity(url, type=kind), "channelData": {"channel": True}})
        add(f"{kind}: channelData.tenant a string", {**_activity(url, type=kind), "channelData": {"tenant": "x"}})
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
    runtime = build_runtime(tmp_path, env, credentials=OfflineCredentialFactory(), connector_url=connector.url)
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
