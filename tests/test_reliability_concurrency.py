"""Concurrency (SPEC §11; docs/COMMANDS.md: every command works against the same database while serve runs):
while `engagebot serve` ingests a stream of signed Slack events, `post`, `summary --json`, `export` and `forget` run
again and again as separate processes on the same SQLite file. No process sees "database is locked", every command
exits 0, and no write is lost: every acknowledged event is stored except the forgotten member's, and every post the
CLI made is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.events import Platform
from storage.repository import Repository
from tests.fakes import FakeSlackAPI, slack_event_body, slack_reaction_added, slack_thread_reply
from tests.serving import ROOT, Serve
from tests.test_reliability_crash import (
    CHANNEL,
    POST_SECOND,
    POST_TS,
    Sent,
    db_rows,
    seed_post,
    sign,
    stored_counts,
)
from tests.waiting import LIMIT, eventually

FORGOTTEN = "UFORGET"
ROUNDS = 3
WEEK = "2024-W47"  # the week of POST_TS
CONFIG = f"""
[schedule]
prompts = "0 9 1 1 *"
summary = "0 9 1 1 *"
[[channels]]
platform = "slack"
id = "{CHANNEL}"
"""


@pytest.fixture
async def slack_api() -> AsyncIterator[tuple[FakeSlackAPI, str]]:
    fake = FakeSlackAPI()
    async with fake.serve() as server:
        yield fake, str(server.make_url("/api/"))


def make_event(i: int) -> Sent:
    """Replies (every 7th by the member who will be forgotten), reactions on the post and on others' replies."""
    if i % 3 == 2:
        at = f"{POST_SECOND + 120 + i}.000000"
        user = FORGOTTEN if i % 21 == 2 else f"UR{i}"
        event = slack_reaction_added("tada", ts=POST_TS, channel=CHANNEL, user=user, event_ts=at)
        return Sent(i, slack_event_body(event, f"EvC{i:07d}"), "reaction", (POST_TS, f"slack:{user}", "tada"))
    user = FORGOTTEN if i % 7 == 0 else f"U{i % 11}"
    ts = f"{POST_SECOND + 60 + i}.{i:06d}"
    event = slack_thread_reply(f"concurrent reply {i}", thread_ts=POST_TS, channel=CHANNEL, ts=ts, user=user)
    return Sent(i, slack_event_body(event, f"EvC{i:07d}"), "reply", (ts,))


def author(sent: Sent) -> str:
    if sent.kind == "reaction":
        return sent.key[1].removeprefix("slack:")
    return json.loads(sent.body)["event"]["user"]


@dataclass
class Ingest:
    acked: list[Sent] = field(default_factory=list)
    errors: dict[int | str, int] = field(default_factory=dict)


async def ingest(url: str, stop: asyncio.Event, result: Ingest, *, connections: int = 8) -> None:
    """Send events until ``stop`` is set (at most 20,000), noting each answer in ``result`` as it comes."""
    numbers = iter(range(20_000))

    async def worker(session: aiohttp.ClientSession) -> None:
        for i in numbers:
            if stop.is_set():
                return
            sent = make_event(i)
            data = sent.body.encode()
            try:
                async with session.post(
                    f"{url}/slack/events", data=data, headers={"Content-Type": "application/json", **sign(data)}
                ) as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError as err:
                result.errors[type(err).__name__] = result.errors.get(type(err).__name__, 0) + 1
                continue
            if status == 200:
                result.acked.append(sent)
            else:
                result.errors[status] = result.errors.get(status, 0) + 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


async def cli(serve: Serve, *args: str) -> Run:
    env = {k: v for k, v in serve.env.items() if k != "PORT"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "app.py"),
        *args,
        cwd=serve.tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return Run(args, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


async def test_cli_commands_run_against_the_database_while_serve_ingests(
    tmp_path: Path, slack_api: tuple[FakeSlackAPI, str]
) -> None:
    fake, api_url = slack_api
    fake.ts_start = POST_SECOND + 10_000.0001  # the CLI's posts get ts values of their own
    serve = Serve(tmp_path, api_url, CONFIG)
    seed_post(serve.db)
    serve.start()
    runs: list[Run] = []
    try:
        await serve.wait_healthy()
        stop, result = asyncio.Event(), Ingest()
        stream = asyncio.create_task(ingest(serve.url, stop, result))
        await eventually(lambda: len(result.acked) >= 50)  # ingest is under way
        acked_before = len(result.acked)
        for round_no in range(ROUNDS):
            runs += await asyncio.gather(
                cli(serve, "post", "--platform", "slack", "--channel", CHANNEL),
                cli(serve, "summary", "--week", WEEK, "--json"),
                cli(
                    serve, "export", "--week", WEEK, "--format", "json", "--output", str(tmp_path / f"x{round_no}.json")
                ),
                cli(serve, "forget", "--member", f"slack:{FORGOTTEN}", "--yes"),
            )
        acked_during = len(result.acked) - acked_before
        stop.set()
        await stream
        serve.signal(signal.SIGTERM)
        assert await serve.wait() == 0, serve.log()[-3000:]
    finally:
        serve.stop()

    for run in runs:
        assert run.code == 0, (run.args, run.stderr[-3000:])
        assert "locked" not in run.stderr.lower(), (run.args, run.stderr[-2000:])
        assert "Traceback" not in run.stderr, (run.args, run.stderr[-2000:])
    assert "locked" not in serve.log().lower()
    assert not result.errors, result.errors
    assert acked_during > 0, "ingest must overlap the commands"

    # No lost write: every acknowledged event is stored exactly once, except the forgotten member's.
    assert db_rows(serve.db, "PRAGMA integrity_check") == [("ok",)]
    replies, reactions = stored_counts(serve.db)
    kept = [s for s in result.acked if author(s) != FORGOTTEN]
    missing = [s.index for s in kept if (replies if s.kind == "reply" else reactions).get(s.key, 0) != 1]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:10]}"
    assert sum(replies.values()) + sum(reactions.values()) == len(kept)
    assert db_rows(serve.db, "SELECT count(*) FROM members WHERE member_id = ?", [f"slack:{FORGOTTEN}"]) == [(0,)]
    assert db_rows(serve.db, "SELECT count(*) FROM optouts WHERE member_id = ?", [f"slack:{FORGOTTEN}"]) == [(1,)]

    # Every post the CLI made is recorded, once.
    posted = [c["args"]["channel"] for c in fake.calls_to("chat.postMessage")]
    assert posted == [CHANNEL] * ROUNDS
    assert db_rows(serve.db, "SELECT count(*) FROM posts") == [(1 + ROUNDS,)]
    for run in runs:
        if run.args[0] == "summary":
            assert json.loads(run.stdout)["week"] == WEEK
    for round_no in range(ROUNDS):
        exported: list[dict[str, Any]] = json.loads((tmp_path / f"x{round_no}.json").read_text())
        assert {row["kind"] for row in exported} <= {"reply", "reaction"}


async def test_a_transaction_in_another_thread_never_swallows_a_capture(tmp_path: Path) -> None:
    """Captures are committed by the writer thread; a transaction another thread opens on the same connection (an
    erasure run in a worker thread, say) holds the write lock until it ends. A capture queued while that transaction
    is open is its own transaction: committed when it is answered (the 2xx follows), whatever the other one does."""
    repo = Repository.open(tmp_path / "t.db")
    inside, release = threading.Event(), threading.Event()

    def upkeep() -> None:
        with contextlib.suppress(RuntimeError), repo.transaction():
            repo.db.execute("INSERT INTO optouts (member_id, opted_out_at) VALUES ('slack:UX', 'x')")
            inside.set()
            assert release.wait(LIMIT)
            raise RuntimeError("the upkeep fails and rolls back")

    try:
        worker = asyncio.ensure_future(asyncio.to_thread(upkeep))
        assert await asyncio.to_thread(inside.wait, LIMIT)
        captured = repo.enqueue(lambda: repo.mark_event_seen("EvThread1", Platform.SLACK))  # queued now
        release.set()
        await worker
        await captured
        assert db_rows(tmp_path / "t.db", "SELECT event_key FROM seen_events") == [("EvThread1",)]
        assert db_rows(tmp_path / "t.db", "SELECT count(*) FROM optouts") == [(0,)]
    finally:
        repo.close()
