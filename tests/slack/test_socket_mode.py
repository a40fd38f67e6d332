"""Socket Mode: events over a WebSocket from a local Socket Mode server, acknowledged after the commit."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from tests.fakes import FakeSlackAPI, sign_slack, slack_event_body, slack_thread_reply
from tests.slack.rig import CHANNEL, SECRET, slack_env
from tests.waiting import eventually


async def test_socket_mode_captures_and_acks_after_commit(tmp_path: Path) -> None:
    fake = FakeSlackAPI()
    async with fake.serve() as api:
        env = slack_env(api, tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")
        runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
        slack = runtime.slack
        assert slack is not None
        try:
            post = await runtime.engagement.post_prompt(slack.poster, CHANNEL)
            await slack.start()
            [opened] = fake.calls_to("apps.connections.open")
            assert opened["auth"] == "Bearer xapp-1-test"
            await eventually(lambda: fake.sockets == 1)
            body = json.loads(
                slack_event_body(slack_thread_reply("via socket", thread_ts=post.message_id, channel=CHANNEL), "EvS1")
            )
            await fake.envelopes.put(
                {
                    "envelope_id": "env-1",
                    "type": "events_api",
                    "payload": body,
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            await eventually(lambda: bool(fake.acks))
            assert fake.acks[0]["envelope_id"] == "env-1"
            # Acknowledged means committed: the reply is in SQLite when the ack is sent.
            rows = runtime.repo.db.execute("SELECT text FROM replies").fetchall()
            assert rows == [("via socket",)]
            # Without a signing secret the HTTP endpoint cannot authenticate anything.
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                event = slack_event_body(slack_thread_reply("http", thread_ts=post.message_id, channel=CHANNEL), "E2")
                response = await client.post("/slack/events", data=event, headers=sign_slack(event, SECRET))
                assert response.status == 401
                health = await client.get("/healthz")
                assert health.status == 200
                assert (await health.json())["slack"] == {"enabled": True, "mode": "socket", "connected": True}
            assert len(fake.calls_to("apps.connections.open")) == 1  # the app's startup did not connect again
        finally:
            await slack.close()
            runtime.close()
