"""The writer thread: ``serve``'s writes as units of work, run in batched transactions off the event loop.

A caller on the event loop hands a unit of work (a synchronous function that reads and writes through the write
connection) to :meth:`WriteQueue.enqueue` and awaits the future it returns. One thread takes everything queued (at most
``MAX_BATCH`` units), runs the batch through ``run_batch`` (one ``BEGIN IMMEDIATE`` … ``COMMIT``; a unit that
raises is undone alone: see ``storage.db``), and only then answers the units' futures, with one wake-up of the loop per
batch. So a unit's result reaches its caller after the ``COMMIT`` of its batch has returned (``synchronous = FULL``:
durable), the event loop never waits for SQLite or an fsync, and units run in the order they were submitted (the
queue is FIFO).

``close`` drains the queue: every unit submitted before it is run, committed and answered, then the thread stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.errors import StorageError

logger = logging.getLogger("storage.repository")

__all__ = ["MAX_BATCH", "Result", "WriteQueue"]

T = TypeVar("T")
MAX_BATCH = 256  # units per transaction: bounds how long one batch holds the write lock

Result = tuple[Any, BaseException | None]  # a unit's value, or the exception it (or its batch's COMMIT) raised
RunBatch = Callable[[Sequence[Callable[[], Any]]], list[Result]]


@dataclass(frozen=True, slots=True)
class _Unit:
    work: Callable[[], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class WriteQueue:
    """A FIFO of units of work and the one thread that commits them in batches (started on first use)."""

    def __init__(self, run_batch: RunBatch, after_batch: Callable[[], None], *, name: str = "sqlite-writer") -> None:
        self._run_batch = run_batch
        self._after_batch = after_batch  # after the units were answered: e.g. a scrub the batch recorded
        self._name = name
        self._queue: queue.SimpleQueue[_Unit | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._state = threading.Lock()  # guards starting and closing
        self._closed = False

    @property
    def thread_id(self) -> int | None:
        """The writer thread's ident while it runs (units of work run there)."""
        thread = self._thread
        return thread.ident if thread is not None and thread.is_alive() else None

    def enqueue(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``work`` for the writer's next batch (at once, in the caller's order); the future resolves with its
        result once that batch is committed.

        ``work`` raising rolls back that unit alone and fails its future; a failed ``COMMIT`` fails the future of
        every unit of the batch. A caller that stops waiting (cancels the future) does not stop the unit: it is
        committed all the same. Event loop thread only.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._state:
            if self._closed:
                raise StorageError("the database is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put(_Unit(work, future, loop))
        return future

    def close(self) -> None:
        """Run, commit and answer every unit already submitted, then stop the thread. Idempotent."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is None:
                return
            self._queue.put(None)
        thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            units, stopping = [first], False
            while len(units) < MAX_BATCH:
                try:
                    unit = self._queue.get_nowait()
                except queue.Empty:
                    break
                if unit is None:
                    stopping = True
                    break
                units.append(unit)
            try:
                results = self._run_batch([unit.work for unit in units])
            except BaseException as err:  # a bug in the batch itself: every unit fails, the thread goes on
                logger.exception("write batch failed")
                results = [(None, err)] * len(units)
            _answer(units, results)
            try:
                self._after_batch()
            except Exception as err:  # optional work (a scrub try): never stops the writer
                logger.warning("after-batch work failed error=%s", type(err).__name__)
            if stopping:
                return


def _answer(units: Sequence[_Unit], results: Sequence[Result]) -> None:
    """Hand each unit's result to its loop: one thread-safe call per loop and batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Result]]] = {}
    for unit, result in zip(units, results, strict=True):
        by_loop.setdefault(unit.loop, []).append((unit.future, result))
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits for these answers any more
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: Sequence[tuple[asyncio.Future[Any], Result]]) -> None:
    for future, (value, error) in answers:
        if future.done():  # its caller was cancelled
            continue
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
