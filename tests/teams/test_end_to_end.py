"""Install, post, capture, then the CLI: the summary counts Teams activity exactly, and `engagebot post`
reaches an installed channel."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

import app
from bot.timeutil import IsoWeek
from tests.fakes import (
    TEAMS_CHANNEL_ID,
    FakeTeamsConnector,
    teams_channel_reply,
    teams_edit,
    teams_install_conversation_update,
    teams_message_reaction,
    teams_soft_delete,
)
from tests.teams.harness import OTHER_CHANNEL, Harness, build_runtime

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


def test_cli_post_after_install(
    tmp_path: Path, connector: FakeTeamsConnector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first prompt of docs/TEAMS.md: install the app, then `engagebot post --platform teams --channel 19:…`."""

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
    monkeypatch.setenv("ENGAGEBOT_TEAMS_EMULATOR", "1")
    monkeypatch.chdir(tmp_path)
    assert app.main(["post", "--platform", "teams", "--channel", TEAMS_CHANNEL_ID]) == 0
    assert f"teams:{TEAMS_CHANNEL_ID} posted" in capsys.readouterr().out
    (created,) = connector.calls_to("create_conversation")
    assert created["body"]["channelData"]["channel"]["id"] == TEAMS_CHANNEL_ID

    assert app.main(["post", "--platform", "teams", "--channel", OTHER_CHANNEL]) == 1
    assert "install the app in its team first" in capsys.readouterr().err
    assert len(connector.calls_to("create_conversation")) == 1
