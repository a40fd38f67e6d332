"""The writer thread (storage.writer): units of work queued by the event loop run in batched transactions, each
answered after its batch's COMMIT; a failing unit rolls back alone, a failed COMMIT fails its whole batch, close()
drains the queue, and reads made meanwhile neither wait for a batch nor see its uncommitted rows.

Every test holds the writer inside a first unit (``Gate``) while it queues the others, so what shares a batch is
decided by the test, not by timing."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.capture import Capture, Outcome
from bot.errors import StorageError
from bot.events import Platform, ReplyPosted
from bot.prompts import Prompt
from storage.repository import Repository

POSTED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SAFETY_NET = 30.0  # seconds: only so that a broken test fails instead of hanging


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
def repo(tmp_path: Path) -> Iterator[Repository]:
    repository = Repository.open(tmp_path / "g.db")
    repository.record_post(Platform.SLACK, "C1", "100.000001", Prompt("Workforce", "p"), POSTED)
    yield repository
    repository.close()


def stored(path: Path) -> int:
    with sqlite3.connect(path) as other:  # another connection sees only committed data
        return int(other.execute("SELECT count(*) FROM replies").fetchone()[0])


class Gate:
    """A unit of work that holds the writer thread until ``open()``: units queued meanwhile form the next batch."""

    def __init__(self, repo: Repository, work: str | None = None) -> None:
        self.repo = repo
        self.work = work  # SQL the held unit runs first (uncommitted while it is held)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.future = repo.enqueue(self._hold)

    def _hold(self) -> None:
        if self.work:
            self.repo.db.execute(self.work)
        self.entered.set()
        assert self.release.wait(SAFETY_NET)

    async def inside(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, SAFETY_NET)

    async def open(self) -> None:
        self.release.set()
        await self.future


async def test_units_queued_together_share_one_commit_and_are_durable_when_answered(repo, tmp_path):
    statements: list[str] = []
    repo.db.conn.set_trace_callback(statements.append)
    capture = Capture(repo)
    gate = Gate(repo)
    await gate.inside()
    pending = [asyncio.ensure_future(capture.apply_async(reply(n))) for n in range(20)]
    await asyncio.sleep(0)  # let the twenty tasks queue their units (the writer is held: nothing runs yet)
    assert stored(tmp_path / "g.db") == 0
    await gate.open()
    assert await asyncio.gather(*pending) == [Outcome.STORED] * 20
    assert stored(tmp_path / "g.db") == 20  # every caller was answered after the COMMIT
    assert statements.count("COMMIT") == 2  # the gate's batch, then one fsync for the twenty events
    assert not [s for s in statements if "SAVEPOINT" in s]  # no unit failed: no savepoint was needed
    assert await capture.apply_async(reply(3)) is Outcome.DUPLICATE


async def test_a_failing_unit_rolls_back_alone(repo, tmp_path):
    """The batch is rolled back and run again with a savepoint per unit: only the failing one is undone."""
    capture = Capture(repo)
    statements: list[str] = []

    def failing() -> None:
        repo.db.execute("INSERT INTO seen_events (event_key, platform, seen_at) VALUES ('half', 'slack', 'x')")
        raise ValueError("bad payload")

    gate = Gate(repo)
    await gate.inside()
    first = repo.enqueue(lambda: capture.apply(reply(1)))
    bad = repo.enqueue(failing)
    last = repo.enqueue(lambda: capture.apply(reply(2)))
    repo.db.conn.set_trace_callback(statements.append)
    await gate.open()
    results = await asyncio.gather(first, bad, last, return_exceptions=True)
    assert results[0] is Outcome.STORED
    assert isinstance(results[1], ValueError)
    assert results[2] is Outcome.STORED
    assert stored(tmp_path / "g.db") == 2
    assert statements.count("ROLLBACK") == 1  # the batch, after its second unit raised
    assert statements.count("COMMIT") == 2  # the gate's batch, then the batch run again
    assert statements.count("ROLLBACK TO SAVEPOINT engagebot_unit") == 1
    with sqlite3.connect(tmp_path / "g.db") as other:
        assert other.execute("SELECT count(*) FROM seen_events WHERE event_key = 'half'").fetchone() == (0,)


async def test_a_failed_commit_fails_every_unit_of_its_batch_and_stores_nothing(repo, tmp_path):
    capture = Capture(repo)

    def breaks_the_commit() -> None:
        # Foreign keys checked only at COMMIT: a reply of a post that does not exist makes the COMMIT fail.
        repo.db.execute("PRAGMA defer_foreign_keys = ON")
        repo.db.execute(
            """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at)
               VALUES (999, 'slack', 'C1', '1.5', 'slack:UX', 'x', '2026-11-24T10:00:00.000000Z')"""
        )

    gate = Gate(repo)
    await gate.inside()
    units = [
        repo.enqueue(lambda: capture.apply(reply(1))),
        repo.enqueue(breaks_the_commit),
        repo.enqueue(lambda: capture.apply(reply(2))),
    ]
    await gate.open()
    results = await asyncio.gather(*units, return_exceptions=True)
    assert [type(r) for r in results] == [sqlite3.IntegrityError] * 3
    assert stored(tmp_path / "g.db") == 0
    with sqlite3.connect(tmp_path / "g.db") as other:
        assert other.execute("SELECT count(*) FROM seen_events").fetchone() == (0,)
    # The writer goes on: the same events, delivered again, are stored.
    assert await capture.apply_async(reply(1)) is Outcome.STORED
    assert stored(tmp_path / "g.db") == 1


async def test_reads_meanwhile_neither_wait_for_the_batch_nor_see_its_uncommitted_rows(repo):
    repo.db.execute("INSERT INTO members (member_id, platform, user_id) VALUES ('slack:U0', 'slack', 'U0')")
    gate = Gate(
        repo,
        """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at)
           VALUES (1, 'slack', 'C1', '1.1', 'slack:U0', 'not yet', '2026-11-24T10:00:00.000000Z')""",
    )
    await gate.inside()  # the writer holds the write lock, with a reply written and not committed
    assert repo.healthy()  # /healthz answers
    assert repo._one("SELECT count(*) FROM replies") == 0  # the loop's read-only connection: committed rows only
    assert not repo.member_has_name("slack:U0")
    await gate.open()
    assert repo._one("SELECT count(*) FROM replies") == 1


async def test_a_caller_that_stops_waiting_does_not_stop_its_unit(repo, tmp_path):
    capture = Capture(repo)
    gate = Gate(repo)
    await gate.inside()
    waiting = asyncio.ensure_future(capture.apply_async(reply(1)))
    await asyncio.sleep(0)  # its unit is queued
    waiting.cancel()
    await gate.open()
    assert await capture.apply_async(reply(2)) is Outcome.STORED  # queued after it: it has run by now
    assert stored(tmp_path / "g.db") == 2


async def test_close_commits_and_answers_every_unit_already_queued(tmp_path):
    repo = Repository.open(tmp_path / "c.db")
    repo.record_post(Platform.SLACK, "C1", "100.000001", Prompt("Workforce", "p"), POSTED)
    capture = Capture(repo)
    gate = Gate(repo)
    await gate.inside()
    units = [repo.enqueue(functools.partial(capture.apply, reply(n))) for n in range(5)]
    gate.release.set()
    repo.close()  # drains the queue: the gate's batch, then the five units, then the thread stops
    assert await asyncio.gather(*units) == [Outcome.STORED] * 5
    assert stored(tmp_path / "c.db") == 5
    with pytest.raises(StorageError, match="closed"):
        await capture.apply_async(reply(9))
