"""Erasure against readers in other processes (a sqlite3 shell, datasette, a `.backup`): the scrub of the files that a
reader holds up is recorded in the database and completed by the next writer or by `serve`'s upkeep; `forget` waits a
bounded time and says so when it could not finish; an `optout` waiting on a reader never stalls other requests.

Each test holds a read transaction open in a separate process (tests/privacy_support.py ``Reader``) and reads the
bytes of the database and -wal files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import app
import bot.commands
import cli.members
from adapters.maintenance import complete_pending_scrub, scrub_loop
from bot.capture import Capture
from bot.events import Platform, ReplyPosted
from storage.repository import Repository
from tests.fakes import slack_thread_reply
from tests.privacy_support import (
    SLACK_A,
    SLACK_B,
    Community,
    Reader,
    community,
    file_bytes,
    now,
    other_rows,
    slack_ts,
    wal_bytes,
)
from tests.test_privacy import teams_reply
from tests.waiting import eventually

SECRET = b"SCRUB-ME-5519"


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[Community]:
    async with community(tmp_path) as c:
        yield c


@pytest.fixture(autouse=True)
def quiet_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`engagebot forget` logs only errors here (its stderr is then what a user reads). The stderr handler each run
    installs is bound to that test's captured stderr: none may outlive its test (an earlier test's may be left)."""
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    level = logging.root.level
    drop_stderr_handlers()
    yield
    drop_stderr_handlers()
    logging.root.setLevel(level)


def drop_stderr_handlers() -> None:
    for handler in logging.root.handlers[:]:
        if type(handler) is logging.StreamHandler:
            logging.root.removeHandler(handler)


async def seed(c: Community) -> None:
    """Text of the member to erase on both platforms, and others' text that stays."""
    post_a = c.posts[SLACK_A].message_id
    await c.slack(
        slack_thread_reply("SCRUB-ME-5519 slack", thread_ts=post_a, channel=SLACK_A, ts=slack_ts(now()), user="UGONE")
    )
    await c.slack(
        slack_thread_reply(
            "kept", thread_ts=c.posts[SLACK_B].message_id, channel=SLACK_B, user="UKEEP", ts=slack_ts(now())
        )
    )
    await teams_reply(c, "29:1gone", "Gone", "SCRUB-ME-5519 teams", now(), "1900000000901")
    assert c.runtime.slack is not None
    await c.runtime.slack.wait_idle()  # the members' display names are stored: the writer is idle
    with c.runtime.repo.transaction():  # the write connection, under its lock
        pass
    c.runtime.repo.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # as a running server does, sooner or later
    assert SECRET in file_bytes(c.path)


async def erased(path: Path) -> None:
    """Until the erasure is committed (seen by another connection): from then on it waits on the reader."""
    await eventually(lambda: other_rows(path, "SELECT count(*) FROM optouts") == [(1,)])


def forget(path: Path, member: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("ENGAGEBOT_DB", str(path))
    return app.main(["forget", "--member", member, "--yes"])


async def test_forget_says_when_a_reader_keeps_the_text_on_disk_and_the_next_writer_scrubs_it(
    members: Community, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = members
    await seed(c)
    monkeypatch.setattr(cli.members, "FORGET_WAIT_SECONDS", 0.3)
    with Reader(c.path) as reader:
        assert await asyncio.to_thread(forget, c.path, "slack:UGONE", monkeypatch) == 1
        out, err = capsys.readouterr()
        assert out.startswith("erased slack:UGONE: 1 reply, 0 reactions")
        [line] = err.splitlines()  # one clear line
        assert line.startswith("engagebot: the erased text is still in the database files")
        assert "next write to the database completes it once that program closes" in line
        # It is erased (nobody can read it) but still in the bytes, and the scrub it owes is on record.
        assert other_rows(c.path, "SELECT count(*) FROM replies WHERE member_id = 'slack:UGONE'") == [(0,)]
        assert b"SCRUB-ME-5519 slack" in file_bytes(c.path)
        assert other_rows(c.path, "SELECT count(*) FROM pending_scrubs") == [(1,)]
        reader.close()

    # The next writer, here another process's capture, completes it.
    other = Repository.open(c.path)
    try:
        stored = Capture(other).apply(
            ReplyPosted(
                platform=Platform.SLACK,
                channel_id=SLACK_A,
                occurred_at=now(),
                event_key="EvNext",
                thread_id=c.posts[SLACK_A].message_id,
                message_id=slack_ts(now() + timedelta(seconds=1)),
                user_id="UNEXT",
                text="the next write",
            )
        )
        assert stored.value == "stored"
        data = file_bytes(c.path)
        assert b"SCRUB-ME-5519 slack" not in data
        assert b"SCRUB-ME-5519 slack" not in wal_bytes(c.path)
        assert b"SCRUB-ME-5519 teams" in data  # the other member's erasure has not happened
        assert other_rows(c.path, "SELECT count(*) FROM pending_scrubs") == [(0,)]
    finally:
        other.close()


async def test_forget_finishes_when_the_reader_closes_within_the_wait(
    members: Community, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = members
    await seed(c)
    with Reader(c.path) as reader:
        forgetting = asyncio.create_task(asyncio.to_thread(forget, c.path, "teams:29:1gone", monkeypatch))
        await erased(c.path)
        assert not forgetting.done()
        reader.close()
        assert await forgetting == 0
    out, err = capsys.readouterr()
    assert out.startswith("erased teams:29:1gone: 1 reply, 0 reactions")
    assert err == ""
    assert b"SCRUB-ME-5519 teams" not in file_bytes(c.path)
    assert other_rows(c.path, "SELECT count(*) FROM pending_scrubs") == [(0,)]


class TwoMinutes:
    """The clock of scrub_loop: two passes, then the test is over."""

    def __init__(self) -> None:
        self.slept = 0

    def now(self) -> datetime:
        return now()

    async def sleep(self, seconds: float) -> None:
        self.slept += 1
        if self.slept > 2:
            raise asyncio.CancelledError


async def test_serve_upkeep_completes_a_scrub_left_pending(
    members: Community, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    c = members
    await seed(c)
    monkeypatch.setattr(cli.members, "FORGET_WAIT_SECONDS", 0.2)
    with Reader(c.path) as reader:
        assert await asyncio.to_thread(forget, c.path, "teams:29:1gone", monkeypatch) == 1
        assert complete_pending_scrub(c.runtime) is False  # serve's upkeep: still held up
        assert b"SCRUB-ME-5519 teams" in file_bytes(c.path)
        reader.close()
    assert "still in the database files" in capsys.readouterr().err
    # serve, idle (no capture writes), completes it in its minutely upkeep.
    with pytest.raises(asyncio.CancelledError):
        await scrub_loop(c.runtime, TwoMinutes())
    assert b"SCRUB-ME-5519 teams" not in file_bytes(c.path)
    assert b"SCRUB-ME-5519 teams" not in wal_bytes(c.path)
    assert b"SCRUB-ME-5519 slack" in file_bytes(c.path)
    assert c.rows("SELECT count(*) FROM pending_scrubs") == [(0,)]


@pytest.mark.parametrize("platform", ["slack", "teams"])
async def test_an_optout_waiting_on_a_reader_does_not_stall_other_requests(
    members: Community, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    c = members
    await seed(c)
    monkeypatch.setattr(bot.commands, "OPTOUT_SCRUB_WAIT_SECONDS", 120.0)  # the reader goes first, whatever happens
    with Reader(c.path) as reader:
        if platform == "slack":
            optout = asyncio.create_task(c.slack_command("optout", "UGONE"))
        else:
            optout = asyncio.create_task(c.teams_command("optout", "29:1gone", "Gone"))
        await erased(c.path)
        # Meanwhile the bot answers other members' events on both platforms, and stores them.
        await c.slack(
            slack_thread_reply(
                "meanwhile on slack", thread_ts=c.posts[SLACK_A].message_id, channel=SLACK_A, user="UOTHER",
                ts=slack_ts(now()),
            )
        )  # fmt: skip
        await teams_reply(c, "29:1other", "Other", "meanwhile on teams", now(), "1900000000902")
        assert {r[0] for r in c.rows("SELECT text FROM replies")} >= {"meanwhile on slack", "meanwhile on teams"}
        assert not optout.done()
        reader.close()
        answer = await optout
    assert "You have opted out" in answer
    assert "Erased 1 reply " in answer
    data = file_bytes(c.path)
    assert f"SCRUB-ME-5519 {platform}".encode() not in data
    assert b"meanwhile on slack" in data
    assert c.rows("SELECT count(*) FROM pending_scrubs") == [(0,)]
