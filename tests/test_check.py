"""`engagebot check` against the local fakes: one line per check, ✓ or ✗ with the fix, and the exit code.

0: all is well; 2: the configuration is wrong (including a token the platform refuses); 1: configured right, but
a platform is unreachable or the bot cannot post in a channel yet. The Bot Framework token is asked for through an
injected credentials factory: botbuilder's MicrosoftAppCredentials build the MSAL authority from a fixed
``https://login.microsoftonline.com/`` prefix, so the real token request cannot be pointed at a local fake.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

import app
from adapters.check import run_check
from bot.config import load_settings
from bot.scheduler_time import next_slot
from storage.repository import Repository
from tests.fakes import TEAMS_CHANNEL_ID, TEAMS_TEAM_ID, TEAMS_TENANT_ID, TEST_APP_ID, FakeSlackAPI
from tests.fakes.openid import OfflineCredentialFactory

PROMPTS_CRON, SUMMARY_CRON = "0 9 1 1 *", "30 8 1 1 *"  # once a year: the next slot is stable during a test
TZ = ZoneInfo("Europe/London")
SLACK_CONFIG = f"""
[schedule]
prompts = "{PROMPTS_CRON}"
summary = "{SUMMARY_CRON}"
[[channels]]
platform = "slack"
id = "C0PROMPT"
[[summary_channels]]
platform = "slack"
id = "C0LEADS"
"""
OTHER_TEAMS_CHANNEL = "19:channel-engage000000000000000002@thread.tacv2"
TEAMS_CONFIG = f"""
[schedule]
prompts = "{PROMPTS_CRON}"
[[channels]]
platform = "teams"
id = "{TEAMS_CHANNEL_ID}"
[[channels]]
platform = "teams"
id = "{OTHER_TEAMS_CHANNEL}"
"""
# What botframework's MicrosoftAppCredentials raises when Microsoft Entra refuses a client secret (through MSAL).
REFUSED_SECRET = (
    "Failed to get access token with error: invalid_client, error_description: AADSTS7000215: Invalid client secret "
    "provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for "
    f"a secret added to app '{TEST_APP_ID}'. Trace ID: 0b8d0f2e Correlation ID: 5d3c Timestamp: 2026-03-02 09:00:00Z"
)


@pytest.fixture
async def slack(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlackAPI]:
    """The fake Slack API, and an engagebot.toml with a prompt channel and a summary channel, in the working dir."""
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        (workdir / "engagebot.toml").write_text(SLACK_CONFIG)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-check")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "check-signing-secret")
        monkeypatch.setenv("SLACK_API_URL", str(server.make_url("/api/")))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield fake


async def check(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """`engagebot check` in-process (in a thread: the fake Slack API runs on this event loop)."""
    code = await asyncio.to_thread(app.main, ["check"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def when(cron: str) -> str:
    local = next_slot(cron, datetime.now(UTC), TZ).astimezone(TZ)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} (Europe/London)"


async def test_all_is_well(slack: FakeSlackAPI, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slack.channels["C0PROMPT"] = {"name": "engagement"}
    slack.channels["C0LEADS"] = {"name": "leads", "is_private": True}
    code, lines, _ = await check(capsys)
    assert lines == [
        f"✓ configuration: {workdir / 'engagebot.toml'}",
        f"✓ database: {workdir / 'data' / 'engagement.db'} does not exist yet; engagebot serve creates it",
        "✓ Slack: the bot token signs in as @engagebot to the workspace Engage Test",
        "✓ Slack channel #engagement C0PROMPT (prompts): the bot is a member and can post",
        "✓ Slack channel #leads C0LEADS (summaries): the bot is a member and can post",
        f"✓ next prompt: {when(PROMPTS_CRON)}, to 1 channel",
        f"✓ next summary: {when(SUMMARY_CRON)}, to 1 channel",
        "engagebot check: all is well",
    ]
    assert code == 0
    assert [call["auth"] for call in slack.calls_to("auth.test")] == ["Bearer xoxb-check"]
    assert [call["args"]["channel"] for call in slack.calls_to("conversations.info")] == ["C0PROMPT", "C0LEADS"]
    assert slack.calls_to("chat.postMessage") == []  # nothing is posted
    assert not (workdir / "data").exists()  # nor a database created


async def test_a_channel_the_bot_cannot_post_in_is_exit_code_1(
    slack: FakeSlackAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.channels["C0PROMPT"] = {"name": "engagement", "is_member": False}
    slack.missing_channels.add("C0LEADS")
    code, lines, _ = await check(capsys)
    assert code == 1
    assert (
        "✗ Slack channel #engagement C0PROMPT (prompts): the bot is not a member: type /invite @ followed by the "
        "bot's name in the channel"
    ) in lines
    assert (
        "✗ Slack channel C0LEADS (summaries): not found: check the id, and for a private channel invite the bot "
        "first (/invite @bot)"
    ) in lines
    assert lines[-1] == "engagebot check: 2 problems: fix them as shown above, then run engagebot check again"


async def test_an_archived_channel_is_not_postable(slack: FakeSlackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    slack.channels["C0PROMPT"] = {"name": "old", "is_archived": True}
    slack.channels["C0LEADS"] = {"name": "leads"}
    code, lines, _ = await check(capsys)
    assert code == 1
    assert (
        "✗ Slack channel #old C0PROMPT (prompts): the channel is archived: unarchive it or configure another one"
        in lines
    )


async def test_a_missing_scope_says_which_and_how_to_add_it(
    slack: FakeSlackAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.fail_next("conversations.info", error="missing_scope", times=2)
    code, lines, _ = await check(capsys)
    assert code == 1
    assert sum("the app lacks the channels:read (or groups:read) scope" in line for line in lines) == 2


async def test_a_refused_bot_token_is_exit_code_2(slack: FakeSlackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    slack.fail_next("auth.test", error="invalid_auth")
    code, lines, err = await check(capsys)
    assert code == 2
    assert lines[2] == (
        "✗ Slack: SLACK_BOT_TOKEN: Slack refused this token (invalid_auth): copy the Bot User OAuth Token (xoxb-…) "
        "from your Slack app's OAuth & Permissions page (reinstall the app to the workspace if it was removed)"
    )
    assert "✗ Slack channel C0PROMPT (prompts): not checked: Slack must accept the bot token first" in lines
    assert lines[-1].startswith("engagebot check: 1 problem: ")  # the channels are not counted again
    assert slack.calls_to("conversations.info") == []
    assert err == ""


async def test_unreachable_slack_is_exit_code_1(slack: FakeSlackAPI, capsys: pytest.CaptureFixture[str]) -> None:
    slack.refuse.add("*")
    code, lines, _ = await check(capsys)
    assert code == 1
    [line] = [line for line in lines if line.startswith("✗ Slack: ")]
    assert "cannot reach Slack at http://127.0.0.1:" in line
    assert line.endswith("(ServerDisconnectedError): check the network, a proxy or a firewall")


@pytest.mark.parametrize(("refused", "code"), [(False, 0), (True, 2)])
async def test_socket_mode_checks_the_app_level_token(
    slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], refused: bool, code: int
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-check")
    if refused:
        slack.fail_next("apps.connections.open", error="invalid_auth")
    got, lines, _ = await check(capsys)
    assert got == code
    expected = (
        "✗ Slack Socket Mode: SLACK_APP_TOKEN: Slack refused this token (invalid_auth): generate an app-level token"
        if refused
        else "✓ Slack Socket Mode: the app-level token may open connections"
    )
    assert any(line.startswith(expected) for line in lines), lines
    assert [call["auth"] for call in slack.calls_to("apps.connections.open")] == ["Bearer xapp-1-check"]
    assert slack.sockets == 0  # nothing connected


async def test_no_configuration_file_is_one_line_and_exit_code_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = await check(capsys)
    assert (code, lines) == (2, [])
    assert err.splitlines() == [
        f"engagebot: {workdir / 'engagebot.toml'}: not found: start from the example (cp engagebot.example.toml "
        "engagebot.toml), then set your channels and admins; or point ENGAGEBOT_CONFIG at your file"
    ]


async def test_a_channel_with_an_unknown_theme_is_one_line_and_exit_code_2(
    slack: FakeSlackAPI, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "engagebot.toml").write_text(
        SLACK_CONFIG.replace('id = "C0PROMPT"', 'id = "C0PROMPT"\nthemes = ["Golf"]')
    )
    code, lines, err = await check(capsys)
    assert (code, lines) == (2, [])
    [line] = err.splitlines()
    assert line.startswith(f"engagebot: {workdir / 'engagebot.toml'}: channels[0].themes: unknown theme 'Golf'")
    assert slack.calls == []


async def test_no_prompt_channel_is_exit_code_2(
    slack: FakeSlackAPI, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "engagebot.toml").write_text(f'[schedule]\nprompts = "{PROMPTS_CRON}"\n')
    code, lines, _ = await check(capsys)
    assert code == 2
    assert (
        f"✗ next prompt: none: no [[channels]] in {workdir / 'engagebot.toml'}: add the channels prompts go to" in lines
    )
    assert "✓ next summary: none posted (no [[summary_channels]]); admins ask for it with /engage summary" in lines


async def test_teams_channels_are_postable_once_teams_told_the_bot_where_they_are(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "engagebot.toml").write_text(TEAMS_CONFIG)
    monkeypatch.setenv("ENGAGEBOT_TEAMS_EMULATOR", "1")
    repo = Repository.open(workdir / "data" / "engagement.db")
    service_url = "https://smba.trafficmanager.net/uk/"
    reference = {"conversation": {"id": TEAMS_CHANNEL_ID}, "serviceUrl": service_url}
    repo.save_conversation_ref(
        TEAMS_CHANNEL_ID,
        TEAMS_TEAM_ID,
        TEAMS_TENANT_ID,
        service_url,
        json.dumps(reference),
        datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    repo.close()
    code, lines, _ = await check(capsys)
    assert code == 1
    assert "✓ Teams: emulator mode (ENGAGEBOT_TEAMS_EMULATOR=1): no credentials to check; for local use only" in lines
    assert f"✓ Teams channel {TEAMS_CHANNEL_ID} (prompts): the bot knows how to post there (since 2026-03-02)" in lines
    [missing] = [line for line in lines if OTHER_TEAMS_CHANNEL in line]
    assert missing.startswith(f"✗ Teams channel {OTHER_TEAMS_CHANNEL} (prompts): Teams has not told the bot")
    assert "@mention the bot in the channel once" in missing


# -- the Bot Framework token, through an injected credentials factory -----------------------------------------------


class _Credentials:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_access_token(self, force_refresh: bool = False) -> str:
        raise self.error


class _Factory:
    """Records what it was asked for, as botbuilder's connector would ask; its credentials fail with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.asked: list[tuple[str, str, str, bool]] = []

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> _Credentials:
        self.asked.append((app_id, oauth_scope, login_endpoint, validate_authority))
        return _Credentials(self.error)


def teams_settings(tmp_path: Path) -> Any:
    (tmp_path / "engagebot.toml").write_text(TEAMS_CONFIG)
    env = {
        "MicrosoftAppId": TEST_APP_ID,
        "MicrosoftAppPassword": "client-secret-value",
        "MicrosoftAppTenantId": TEAMS_TENANT_ID,
        "ENGAGEBOT_DB": str(tmp_path / "e.db"),
    }
    return load_settings(env, cwd=tmp_path)


async def test_a_bot_framework_token_is_obtained(tmp_path: Path) -> None:
    out = io.StringIO()
    code = await run_check(teams_settings(tmp_path), teams_credentials=OfflineCredentialFactory(TEST_APP_ID), out=out)
    lines = out.getvalue().splitlines()
    assert f"✓ Teams: a Bot Framework token was issued to MicrosoftAppId {TEST_APP_ID} (SingleTenant)" in lines
    assert code == 1  # the channels: no conversation reference stored yet


@pytest.mark.parametrize(
    ("error", "expected", "code"),
    [
        (
            PermissionError(REFUSED_SECRET),
            "✗ Teams: Microsoft Entra refused the bot's credentials (invalid_client AADSTS7000215): check "
            "MicrosoftAppId, MicrosoftAppPassword (a client secret's Value, not its ID, and not expired) and "
            "MicrosoftAppTenantId",
            2,
        ),
        (
            ValueError("Unable to get authority configuration for https://login.microsoftonline.com/x"),
            f"✗ Teams: MicrosoftAppTenantId: Microsoft Entra does not know the tenant '{TEAMS_TENANT_ID}': copy the "
            "Directory (tenant) ID from the Azure Bot's app registration",
            2,
        ),
        (
            requests.exceptions.ConnectionError("Max retries exceeded"),
            "✗ Teams: cannot reach Microsoft Entra (ConnectionError): check the network, a proxy or a firewall",
            1,
        ),
    ],
    ids=["refused", "unknown-tenant", "unreachable"],
)
async def test_a_bot_framework_token_failure(tmp_path: Path, error: Exception, expected: str, code: int) -> None:
    factory = _Factory(error)
    out = io.StringIO()
    assert await run_check(teams_settings(tmp_path), teams_credentials=factory, out=out) == code
    assert expected in out.getvalue().splitlines()
    # Asked for as botbuilder asks for its connector calls in the public cloud.
    assert factory.asked == [(TEST_APP_ID, "https://api.botframework.com", "https://login.microsoftonline.com/", True)]
