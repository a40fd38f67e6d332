"""Socket Mode: events over a WebSocket from a local Socket Mode server, acknowledged after the commit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from adapters.runtime import Runtime
from bot.config import load_settings
from tests.fakes import FakeSlackAPI, sign_slack, slack_event_body, slack_thread_reply
from tests.slack.rig import CHANNEL, SECRET, slack_env


class SocketModeFakeSlackAPI(FakeSlackAPI):
    """Adds ``apps.connections.open``, which hands out the WebSocket URL of a local Socket Mode server."""

    ws_url = ""

    def _answer(self, method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if method == "apps.connections.open":
            return {"ok": True, "url": self.ws_url}
        return super()._answer(method, args, request)


async def test_socket_mode_captures_and_acks_after_commit(tmp_path: Path) -> None:
    fake = SocketModeFakeSlackAPI()
    envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A111"}})

        async def pump() -> None:
            while True:
                await ws.send_json(await envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            async for message in ws:  # ends when the client closes the connection
                if message.type == WSMsgType.TEXT:
                    await acks.put(json.loads(message.data))
        finally:
            sender.cancel()
        return ws

    socket_app = web.Application()
    socket_app.router.add_get("/link", websocket)
    async with fake.serve() as api, TestServer(socket_app, host="127.0.0.1") as socket_server:
        fake.ws_url = str(socket_server.make_url("/link")).replace("http://", "ws://")
        env = slack_env(api, tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET="")
        runtime = Runtime.build(load_settings(env, cwd=tmp_path), with_teams=False)
        slack = runtime.slack
        assert slack is not None
        try:
            post = await runtime.engagement.post_prompt(slack.poster, CHANNEL)
            await slack.start()
            [opened] = fake.calls_to("apps.connections.open")
            assert opened["auth"] == "Bearer xapp-1-test"
            body = json.loads(
                slack_event_body(slack_thread_reply("via socket", thread_ts=post.message_id, channel=CHANNEL), "EvS1")
            )
            await envelopes.put(
                {
                    "envelope_id": "env-1",
                    "type": "events_api",
                    "payload": body,
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
            ack = await asyncio.wait_for(acks.get(), timeout=10)
            assert ack["envelope_id"] == "env-1"
            # Acknowledged means committed: the reply is in SQLite when the ack is sent.
            rows = runtime.repo.db.execute("SELECT text FROM replies").fetchall()
            assert rows == [("via socket",)]
            # Without a signing secret the HTTP endpoint cannot authenticate anything.
            async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                event = slack_event_body(slack_thread_reply("http", thread_ts=post.message_id, channel=CHANNEL), "E2")
                response = await client.post("/slack/events", data=event, headers=sign_slack(event, SECRET))
                assert response.status == 401
            assert len(fake.calls_to("apps.connections.open")) == 1  # the app's startup did not connect again
        finally:
            await slack.close()
            runtime.close()
