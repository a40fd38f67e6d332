"""Issue 3's "Done when": a prompt posted from the CLI, Slack events over HTTP, then the CLI summary."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import app as engagebot_app
from adapters.runtime import Runtime
from bot.config import load_settings
from tests.fakes import (
    FakeSlackAPI,
    sign_slack,
    slack_event_body,
    slack_reaction_added,
    slack_reaction_removed,
    slack_thread_reply,
)
from tests.slack.rig import SECRET, new_event_id, slack_env

# -- the "Done when" of issue 3: CLI post, Slack events, CLI summary ------------------------------------------------


async def test_end_to_end_cli_post_events_and_cli_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeSlackAPI()
    post_ts = "1795514400.000100"  # Tue 24 Nov 2026 10:00 UTC, in 2026-W48
    fake.ts_queue.append(post_ts)
    async with fake.serve() as api:
        env = slack_env(api, tmp_path)
        monkeypatch.chdir(tmp_path)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        root_handlers = logging.getLogger().handlers[:]
        try:
            # app.main runs asyncio.run itself, so it runs in a thread while this loop serves the fake.
            code = await asyncio.to_thread(engagebot_app.main, ["post", "--platform", "slack", "--channel", "C0E2E"])
            assert code == 0
            capsys.readouterr()
            [call] = fake.calls_to("chat.postMessage")
            assert call["args"]["channel"] == "C0E2E"

            runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
            try:
                async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:

                    async def send(event: dict[str, Any], event_id: str | None = None) -> None:
                        body = slack_event_body(event, event_id or new_event_id())
                        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
                        response = await client.post("/slack/events", data=body, headers=headers)
                        assert response.status == 200

                    def reply(user: str, minutes: int) -> dict[str, Any]:
                        ts = f"{1795514400 + minutes * 60}.000100"
                        return slack_thread_reply(f"view {user}", thread_ts=post_ts, channel="C0E2E", user=user, ts=ts)

                    def react(name: str, user: str, target: str, minutes: int) -> dict[str, Any]:
                        at = f"{1795514400 + minutes * 60}.000000"
                        return slack_reaction_added(name, ts=target, user=user, channel="C0E2E", event_ts=at)

                    first = reply("UA", 6)  # first reply 6 minutes after the post
                    await send(first, "EvE2E1")
                    await send(first, "EvE2E1")  # a retry
                    await send(reply("UB", 30))
                    await send(reply("UA", 45))
                    await send(slack_thread_reply("top-level", channel="C0E2E", thread_ts="1795514400.999999"))
                    await send(react("+1", "UC", post_ts, 10))
                    await send(react("+1", "UC", post_ts, 11))  # added twice counts once
                    await send(react("tada", "UB", first["ts"], 20))
                    await send(react("eyes", "UD", post_ts, 25))
                    await send(
                        slack_reaction_removed(
                            "eyes", ts=post_ts, user="UD", channel="C0E2E", event_ts=f"{1795514400 + 26 * 60}.0"
                        )
                    )
                    # Next week (2026-W49): not counted in W48.
                    await send(reply("UE", 7 * 24 * 60))
                    assert runtime.slack is not None
                    await runtime.slack.wait_idle()
            finally:
                runtime.close()

            code = await asyncio.to_thread(engagebot_app.main, ["summary", "--week", "2026-W48", "--json"])
        finally:
            logging.getLogger().handlers[:] = root_handlers
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["week"] == "2026-W48"
    # By hand: replies UA(6), UB(30), UA(45) = 3; reactions +1 by UC and tada by UB = 2 (eyes removed);
    # participants UA, UB, UC = 3, all new; first reply 6 minutes after the post.
    assert summary["totals"] == {
        "posts": 1,
        "replies": 3,
        "reactions": 2,
        "participants": 3,
        "new_participants": 3,
        "returning_participants": 0,
        "median_minutes_to_first_reply": 6.0,
    }
    assert summary["by_platform"]["slack"] == {"posts": 1, "replies": 3, "reactions": 2, "participants": 3}
    [by_post] = summary["by_post"]
    assert by_post["post_id"] == f"slack:C0E2E:{post_ts}"
    assert by_post["posted_at"] == "2026-11-24T10:00:00.000100+00:00"
    assert (by_post["replies"], by_post["reactions"], by_post["participants"]) == (3, 2, 3)
    assert summary["top_reactions"] == [{"name": "+1", "count": 1}, {"name": "tada", "count": 1}]
