"""Who may talk to the Teams endpoint, and where the bot may send: Teams exists only when configured (MicrosoftAppId,
or the explicit emulator mode on loopback); only Bot Framework connectors (https) are followed, only https upload
URLs; /healthz says which mode runs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from bot.errors import AdapterError
from bot.events import Platform
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    TEST_APP_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    OfflineCredentialFactory,
    OpenIdMetadataServer,
    mint_token,
    teams_channel_reply,
    teams_file_consent_invoke,
    teams_install_conversation_update,
    teams_personal_message,
    use_offline_openid,
)
from tests.teams.harness import ADMIN, Harness, OneDrive, build_runtime

AUTH_ENV = {
    "MicrosoftAppId": TEST_APP_ID,
    "MicrosoftAppPassword": "not-used-offline",
    "MicrosoftAppType": "MultiTenant",
}
STORED = ("conversation_refs", "seen_events", "replies", "members", "posts")


def stored(runtime: Runtime) -> dict[str, int]:
    return {table: int(runtime.repo._one(f"SELECT count(*) FROM {table}")) for table in STORED}


NOTHING = dict.fromkeys(STORED, 0)


async def healthz(client: TestClient[Any, Any]) -> dict[str, Any]:
    async with client.get("/healthz") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return body


# --------------------------------------------------------------------------------------------------------------------
# Teams only when configured


async def test_a_slack_only_deployment_has_no_teams_endpoint(tmp_path: Path, connector: FakeTeamsConnector) -> None:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-slack-only",
            "SLACK_SIGNING_SECRET": "slack-only-secret",
            "SLACK_API_URL": str(api.make_url("/api/")),
            "ENGAGEBOT_DB": str(tmp_path / "e.db"),
            "ENGAGEBOT_ADMINS": f"teams:{ADMIN}",
        }
        runtime = Runtime.build(load_settings(env, cwd=tmp_path))
        try:
            assert runtime.teams is None
            assert Platform.TEAMS not in runtime.posters
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                # an attacker claiming to be the admin, asking for the export at a URL of their choosing
                forged = teams_personal_message("export", service_url=connector.url, user_id=ADMIN)
                async with client.post("/api/messages", json=forged) as response:
                    assert response.status == 404
                install = teams_install_conversation_update(service_url=connector.url)
                async with client.post("/api/messages", json=install) as response:
                    assert response.status == 404
                assert (await healthz(client))["teams"] == {"enabled": False, "mode": None}
            assert stored(runtime) == NOTHING
        finally:
            runtime.close()
    assert connector.calls == []


async def test_emulator_mode_is_explicit_loud_and_reported(
    tmp_path: Path, connector: FakeTeamsConnector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adapters.teams")
    runtime = build_runtime(tmp_path)  # ENGAGEBOT_TEAMS_EMULATOR=1
    try:
        async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
            (warning,) = [r for r in caplog.records if r.name == "adapters.teams"]
            assert warning.levelno == logging.WARNING
            assert "TEAMS EMULATOR MODE" in warning.getMessage()
            assert "WITHOUT any Bot Framework token" in warning.getMessage()
            assert (await healthz(client))["teams"] == {"enabled": True, "mode": "emulator"}
    finally:
        runtime.close()


# --------------------------------------------------------------------------------------------------------------------
# serviceUrl: only the Bot Framework's connectors


FOREIGN = [
    "https://attacker.example.com/",
    "http://smba.trafficmanager.net/amer/",  # the right host, but not https
    "https://smba.trafficmanager.net.attacker.example/amer/",
    "https://smba.trafficmanager.net:8443/amer/",
    "https://user@smba.trafficmanager.net/amer/",
    "http://10.0.0.5:8080/",
]


async def test_foreign_service_urls_are_refused_in_emulator_mode(harness: Harness) -> None:
    for service_url in FOREIGN:
        for activity in (
            teams_personal_message("export", service_url=service_url, user_id=ADMIN),
            teams_install_conversation_update(service_url=service_url),
        ):
            assert await harness.send(activity) == 403, service_url
    assert stored(harness.runtime) == NOTHING
    assert harness.connector.calls == []

    # loopback http is what emulator mode is for: the same export request from the local connector is answered
    assert await harness.send(teams_personal_message("export", service_url=harness.url, user_id=ADMIN)) == 201
    assert [call["op"] for call in harness.connector.calls] == ["reply_to_activity", "reply_to_activity"]


@pytest.fixture
def openid() -> Iterator[OpenIdMetadataServer]:
    with OpenIdMetadataServer() as server, use_offline_openid(server):
        yield server


@pytest.fixture
async def authenticated(
    tmp_path: Path, connector: FakeTeamsConnector, openid: OpenIdMetadataServer
) -> AsyncIterator[Harness]:
    """MicrosoftAppId set; the local fake connector is trusted as a stand-in for the Bot Framework's."""
    runtime = build_runtime(tmp_path, AUTH_ENV, credentials=OfflineCredentialFactory(), connector_url=connector.url)
    async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
        yield Harness(runtime, client, connector)
    runtime.close()


async def test_with_tokens_only_bot_framework_https_service_urls_are_followed(authenticated: Harness) -> None:
    harness = authenticated
    assert (await healthz(harness.client))["teams"] == {"enabled": True, "mode": "authenticated"}
    # each activity carries a valid token whose serviceurl claim matches: the token alone is not enough
    for service_url in [*FOREIGN, "http://127.0.0.1:9/", "http://localhost:9/"]:
        activity = teams_personal_message("export", service_url=service_url, user_id=ADMIN)
        assert await harness.send(activity, auth=f"Bearer {mint_token(TEST_APP_ID, service_url)}") == 403, service_url
    assert stored(harness.runtime) == NOTHING
    assert harness.connector.calls == []

    # the documented connectors are followed: public regions and the US government clouds
    for service_url in (
        "https://smba.trafficmanager.net/emea/",
        "https://smba.trafficmanager.net/amer/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "https://smba.infra.gcc.teams.microsoft.com/teams/",
        "https://smba.infra.gov.teams.microsoft.us/teams/",
        "https://smba.infra.dod.teams.microsoft.us/teams/",
    ):
        reply = teams_channel_reply("not a prompt thread", root_id="1732350000900", service_url=service_url)
        assert await harness.send(reply, auth=f"Bearer {mint_token(TEST_APP_ID, service_url)}") == 201, service_url
        (row,) = harness.rows("SELECT service_url FROM conversation_refs")
        assert row == {"service_url": service_url}
    assert harness.count("replies") == 0
    assert harness.connector.calls == []


async def test_a_stored_reference_to_a_foreign_connector_is_not_followed(harness: Harness) -> None:
    reference = {"conversation": {"id": TEAMS_CHANNEL_ID}, "serviceUrl": "https://attacker.example.com/"}
    harness.runtime.repo.db.execute(
        "INSERT INTO conversation_refs (channel_id, service_url, reference, updated_at) VALUES (?, ?, ?, ?)",
        [TEAMS_CHANNEL_ID, reference["serviceUrl"], json.dumps(reference), "2026-01-01T00:00:00+00:00"],
    )
    with pytest.raises(AdapterError, match="not a Bot Framework connector"):
        await harness.runtime.engagement.post_prompt(harness.adapter.poster, TEAMS_CHANNEL_ID)
    assert harness.count("posts") == 0
    assert harness.connector.calls == []


# --------------------------------------------------------------------------------------------------------------------
# upload URLs of a file-consent answer


async def _offer(harness: Harness, auth: str | None = None) -> dict[str, Any]:
    """An admin asks for the export in personal chat; returns the file-consent card's accept context."""
    asked = teams_personal_message("export", service_url=harness.url, user_id=ADMIN)
    assert await harness.send(asked, auth=auth) == 201
    context: dict[str, Any] = harness.connector.calls_to("reply_to_activity")[-1]["body"]["attachments"][0]["content"][
        "acceptContext"
    ]
    return context


async def test_emulator_uploads_only_to_https_or_loopback(harness: Harness, onedrive: OneDrive) -> None:
    context = await _offer(harness)
    for upload_url in ("http://files.attacker.example/upload/x.csv", "ftp://127.0.0.1/x.csv", "file:///etc/passwd"):
        accept = teams_file_consent_invoke(
            "accept", context=context, upload_url=upload_url, service_url=harness.url, user_id=ADMIN
        )
        assert await harness.send(accept) == 400, upload_url
    assert onedrive.uploads == []
    accept = teams_file_consent_invoke(
        "accept",
        context=context,
        upload_url=onedrive.url("x.csv"),
        service_url=harness.url,
        user_id=ADMIN,
    )
    assert await harness.send(accept) == 200  # the offer was still pending: the refusals consumed nothing
    (data,) = onedrive.files
    assert data.startswith(b"kind,platform,channel,post_id")


async def test_with_tokens_uploads_only_over_https(authenticated: Harness, onedrive: OneDrive) -> None:
    harness = authenticated
    auth = f"Bearer {mint_token(TEST_APP_ID, harness.url)}"
    context = await _offer(harness, auth)
    replies = len(harness.connector.calls_to("reply_to_activity"))
    accept = teams_file_consent_invoke(
        "accept",
        context=context,
        upload_url=onedrive.url("x.csv"),
        service_url=harness.url,
        user_id=ADMIN,
    )
    assert await harness.send(accept, auth=auth) == 400  # loopback http: emulator mode only
    assert onedrive.uploads == []
    assert len(harness.connector.calls_to("reply_to_activity")) == replies  # nothing sent either
