"""Group commit: events of one loop turn share a COMMIT, each is durable when its caller resumes, and a failing
event rolls back alone."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.capture import Capture, Outcome
from bot.events import Platform, ReplyPosted
from bot.prompts import Prompt
from storage.repository import Repository

POSTED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def reply(n: int) -> ReplyPosted:
    return ReplyPosted(
        platform=Platform.SLACK,
        channel_id="C1",
        occurred_at=POSTED + timedelta(minutes=n),
        event_key=f"Ev{n}",
        thread_id="100.000001",
        message_id=f"{200 + n}.000001",
        user_id=f"U{n}",
        text=f"reply {n}",
    )


@pytest.fixture
def repo(tmp_path: Path):
    repository = Repository.open(tmp_path / "g.db")
    repository.record_post(Platform.SLACK, "C1", "100.000001", Prompt("Workforce", "p"), POSTED)
    yield repository
    repository.close()


def stored(path: Path) -> int:
    with sqlite3.connect(path) as other:  # another connection sees only committed data
        return int(other.execute("SELECT count(*) FROM replies").fetchone()[0])


async def test_events_of_one_loop_turn_share_a_commit_and_are_durable_when_they_return(repo, tmp_path):
    commits: list[str] = []
    repo.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    capture = Capture(repo)
    outcomes = await asyncio.gather(*(capture.apply_async(reply(n)) for n in range(20)))
    assert outcomes == [Outcome.STORED] * 20
    assert stored(tmp_path / "g.db") == 20
    assert len(commits) == 1  # one fsync for the twenty events
    # Each caller resumed only after the COMMIT: a duplicate now is recognised as one.
    assert await capture.apply_async(reply(3)) is Outcome.DUPLICATE


async def test_a_failing_event_rolls_back_alone(repo, tmp_path):
    capture = Capture(repo)

    def failing() -> None:
        repo.db.execute("INSERT INTO seen_events (event_key, platform, seen_at) VALUES ('half', 'slack', 'x')")
        raise ValueError("bad payload")

    results = await asyncio.gather(
        capture.apply_async(reply(1)), repo.grouped(failing), capture.apply_async(reply(2)), return_exceptions=True
    )
    assert results[0] is Outcome.STORED
    assert isinstance(results[1], ValueError)
    assert results[2] is Outcome.STORED
    assert stored(tmp_path / "g.db") == 2
    with sqlite3.connect(tmp_path / "g.db") as other:
        assert other.execute("SELECT count(*) FROM seen_events WHERE event_key = 'half'").fetchone() == (0,)


async def test_a_transaction_on_the_loop_commits_the_open_group_first(repo, tmp_path):
    capture = Capture(repo)
    pending = asyncio.create_task(capture.apply_async(reply(1)))
    await asyncio.sleep(0)  # the task has run its synchronous part: its event sits in the open group
    assert stored(tmp_path / "g.db") == 0
    with repo.transaction():
        repo.db.execute("INSERT INTO optouts (member_id, opted_out_at) VALUES ('slack:UX', 'x')")
    assert stored(tmp_path / "g.db") == 1  # committed before the transaction began
    assert await pending is Outcome.STORED
    with sqlite3.connect(tmp_path / "g.db") as other:
        assert other.execute("SELECT count(*) FROM optouts").fetchone() == (1,)
