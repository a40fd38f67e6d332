"""Both platforms at once, for the privacy tests: one engagebot server with Slack and Teams on a temp database file,
prompts in two Slack channels (two themes) and a Teams channel, against the local fake Slack Web API and Bot Framework
connector. Members act through signed Slack requests and Teams activities; the tests read the rows and the bytes of
the database files (``.db``, ``-wal``)."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.reconcile import reconciler_for
from adapters.runtime import Runtime
from bot.config import load_settings
from bot.events import Platform
from bot.model import PostRecord
from tests.fakes import (
    SLACK_BOT_ID,
    SLACK_BOT_USER_ID,
    TEAMS_CHANNEL_ID,
    TEAMS_TEAM_ID,
    FakeSlackAPI,
    FakeTeamsConnector,
    sign_slack,
    slack_command_body,
    slack_event_body,
    teams_install_conversation_update,
    teams_personal_message,
)

SECRET = "privacy-signing-secret-0123"
SLACK_A, SLACK_B = "C0PRIVA", "C0PRIVB"  # two Slack prompt channels, two themes
ADMIN = "UADMIN"

_ids = itertools.count(1)


def slack_ts(moment: datetime) -> str:
    """The Slack ``ts`` of a moment (to the microsecond)."""
    return f"{int(moment.replace(microsecond=0).timestamp())}.{moment.microsecond:06d}"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SlackMirror:
    """What Slack itself holds after the events sent (whatever engagebot stored): what reconciliation reads."""

    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (channel, ts) -> message
    reactions: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)  # -> name -> users

    def apply(self, event: dict[str, Any]) -> None:
        kind, subtype = event["type"], event.get("subtype")
        if kind == "message" and subtype is None and event.get("thread_ts"):
            keys = ("type", "user", "text", "ts", "thread_ts")
            self.messages[(event["channel"], event["ts"])] = {k: event[k] for k in keys}
        elif subtype == "message_changed":
            message = self.messages[(event["channel"], event["message"]["ts"])]
            message["text"] = event["message"]["text"]
            message["edited"] = {"user": message["user"], "ts": event["message"]["edited"]["ts"]}
        elif subtype == "message_deleted":
            self.messages.pop((event["channel"], event["deleted_ts"]), None)
        elif kind in ("reaction_added", "reaction_removed"):
            target = (event["item"]["channel"], event["item"]["ts"])
            users = self.reactions.setdefault(target, {}).setdefault(event["reaction"], [])
            if kind == "reaction_added" and event["user"] not in users:
                users.append(event["user"])
            elif kind == "reaction_removed" and event["user"] in users:
                users.remove(event["user"])

    def publish(self, fake: FakeSlackAPI, posts: list[PostRecord]) -> None:
        """Answer conversations.replies and reactions.get as Slack would now."""
        fake.replies.clear()
        for post in posts:
            root = {"type": "message", "user": SLACK_BOT_USER_ID, "bot_id": SLACK_BOT_ID, "text": "prompt"}
            root.update(ts=post.message_id, thread_ts=post.message_id)
            thread = [
                m for (channel, _), m in self.messages.items()
                if channel == post.channel_id and m["thread_ts"] == post.message_id
            ]  # fmt: skip
            fake.replies[(post.channel_id, post.message_id)] = [root, *sorted(thread, key=lambda m: m["ts"])]
        fake.reactions.clear()
        for target, by_name in self.reactions.items():
            listed = [{"name": n, "users": list(u), "count": len(u)} for n, u in sorted(by_name.items()) if u]
            if listed:
                fake.reactions[target] = listed


@dataclass
class Community:
    runtime: Runtime
    client: TestClient[web.Request, web.Application]
    fake: FakeSlackAPI
    api: TestServer
    connector: FakeTeamsConnector
    posts: dict[str, PostRecord]  # channel id -> its prompt
    slack_world: SlackMirror = field(default_factory=SlackMirror)

    @property
    def path(self) -> Path:
        return Path(self.runtime.repo.path)

    async def slack(self, event: dict[str, Any], event_id: str | None = None) -> None:
        """Deliver a Slack event (Slack keeps it whatever engagebot does with it)."""
        self.slack_world.apply(event)
        body = slack_event_body(event, event_id or f"EvPriv{next(_ids)}")
        headers = {"Content-Type": "application/json", **sign_slack(body, SECRET)}
        async with self.client.post("/slack/events", data=body, headers=headers) as response:
            assert response.status == 200, await response.text()

    async def slack_command(self, text: str, user: str, channel: str = SLACK_A) -> str:
        """``/engage text`` by ``user``: the ephemeral answer's text."""
        body = slack_command_body(text, user, channel, str(self.api.make_url("/commands/T111/1/abc")))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign_slack(body, SECRET)}
        async with self.client.post("/slack/events", data=body, headers=headers) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
        return str(answer["text"])

    async def teams(self, activity: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        async with self.client.post("/api/messages", data=json.dumps(activity), headers=headers) as response:
            assert response.status == 201, await response.text()

    async def teams_command(self, text: str, user_id: str, user_name: str) -> str:
        """``text`` sent to the bot in personal chat: the text of the card it answered with."""
        chat = f"a:1personal-{user_id}"
        await self.teams(
            teams_personal_message(
                text, service_url=self.connector.url, user_id=user_id, user_name=user_name, conversation_id=chat
            )
        )
        answer = [c for c in self.connector.calls_to("reply_to_activity") if c["conversation_id"] == chat][-1]
        return json.dumps(answer["body"])

    async def reconcile(self) -> None:
        """`engagebot reconcile`'s work against what Slack holds now."""
        slack_posts = [p for p in self.posts.values() if p.platform is Platform.SLACK]
        self.slack_world.publish(self.fake, slack_posts)
        result = await reconciler_for(self.runtime, pause=0).run()
        assert (result.posts, result.posts_failed) == (len(slack_posts), 0)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.runtime.repo._fetchall(sql, params)  # committed rows, on the loop's read-only connection

    def file_bytes(self) -> bytes:
        return file_bytes(self.path)


def file_bytes(path: Path) -> bytes:
    """Everything on disk of the database: the main file, the write-ahead log and the shared memory index.

    Read by another process (``cat``): closing a file descriptor of these files in this process would drop the POSIX
    locks SQLite holds on them here, and a reader process closing next would take itself for the last connection."""
    parts = [str(p) for p in (Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")) if p.exists()]
    return subprocess.run(["cat", *parts], capture_output=True, check=True).stdout


def wal_bytes(path: Path) -> bytes:
    wal = Path(f"{path}-wal")
    return file_bytes_of(wal) if wal.exists() else b""


def file_bytes_of(path: Path) -> bytes:
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


@asynccontextmanager
async def community(tmp_path: Path, config: str = "", **env: str) -> AsyncIterator[Community]:
    """The server with prompts in SLACK_A and SLACK_B (posted two hours ago) and in the Teams channel (now)."""
    (tmp_path / "engagebot.toml").write_text(config)
    started = now() - timedelta(hours=2)
    fake = FakeSlackAPI(ts_queue=[slack_ts(started), slack_ts(started + timedelta(minutes=1))])
    async with fake.serve() as api:
        with FakeTeamsConnector() as connector:
            connector.channels[TEAMS_TEAM_ID] = [
                {"id": TEAMS_TEAM_ID, "name": None},
                {"id": TEAMS_CHANNEL_ID, "name": "Policy"},
            ]
            settings = load_settings(
                {
                    "SLACK_BOT_TOKEN": "xoxb-privacy",
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": str(api.make_url("/api/")),
                    "ENGAGEBOT_DB": str(tmp_path / "engagement.db"),
                    "ENGAGEBOT_ADMINS": f"slack:{ADMIN}",
                    "ENGAGEBOT_TEAMS_EMULATOR": "1",
                    **env,
                },
                cwd=tmp_path,
            )
            runtime = Runtime.build(settings)
            assert runtime.slack is not None
            assert runtime.teams is not None
            runtime.teams.poster.base_delay = 0.0
            try:
                async with TestClient(TestServer(runtime.web_app(), host="127.0.0.1")) as client:
                    members = Community(runtime, client, fake, api, connector, {})
                    engagement = runtime.engagement
                    members.posts[SLACK_A] = await engagement.post_prompt(runtime.slack.poster, SLACK_A, "Workforce")
                    members.posts[SLACK_B] = await engagement.post_prompt(runtime.slack.poster, SLACK_B, "Genomics")
                    await members.teams(teams_install_conversation_update(service_url=connector.url))
                    members.posts[TEAMS_CHANNEL_ID] = await engagement.post_prompt(
                        runtime.teams.poster, TEAMS_CHANNEL_ID, "Prevention"
                    )
                    yield members
                    await runtime.slack.wait_idle()
            finally:
                runtime.close()


# -- another process reading the database ---------------------------------------------------------------------------

READER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")  # a read transaction, as a sqlite3 shell, datasette or a .backup holds one
conn.execute("SELECT count(*) FROM replies").fetchall()
print("reading", flush=True)
sys.stdin.readline()  # until the test lets go
conn.execute("COMMIT")
conn.close()
"""


class Reader:
    """A separate process holding a read transaction open on the database until :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", READER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "reading"

    def close(self) -> None:
        """End the read transaction and the process."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("done\n")
            self.process.stdin.flush()
            assert self.process.wait(timeout=30) == 0
        self._release()

    def _release(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._release()


def other_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows read through a connection of its own (what another program sees)."""
    with closing(sqlite3.connect(path)) as conn:
        return list(conn.execute(sql).fetchall())
