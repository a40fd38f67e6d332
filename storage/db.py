"""The database file: open, migrate, transactions, group commit and the scrub of erased text out of the files.

``SQLiteDatabase`` is the base of every part of :class:`storage.repository.Repository`: the other modules of this
package add queries to it and run them through ``transaction()``, ``_one`` and ``_rows``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar, cast

from sqlite_utils import Database
from sqlite_utils.db import Table

from bot.errors import StorageError
from bot.timeutil import to_db, utc_now
from storage.schema import migrations

# One logger name for the whole Repository, as before it was split into modules: log filters keep working.
logger = logging.getLogger("storage.repository")

SCHEMA_NAME = "engagebot"
BUSY_TIMEOUT_MS = 30_000
EVENT_SAVEPOINT = "engagebot_event"
SCRUB_WAIT_SECONDS = 2.0  # how long an erasure waits for readers before leaving its scrub to the next writer
SCRUB_RETRY_SECONDS = 0.1

T = TypeVar("T")
Key = TypeVar("Key", int, str)
BATCH = 500


class SQLiteDatabase:
    """One SQLite connection (WAL, foreign keys, secure_delete): its transactions, group commit and scrub."""

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path
        self._scrub_after_commit = False  # text was removed in the open transaction (and its scrub recorded)
        # One connection, used from the event loop and from worker threads (the daily upkeep): a transaction
        # opened in one thread must not absorb another thread's writes, so the outermost one holds this lock.
        self._lock = threading.RLock()
        # Group commit (see grouped()): the open shared write transaction's "committed" future, and whether one
        # event's work is running inside it right now.
        self._batch: asyncio.Future[None] | None = None
        self._in_event = False

    # -- lifecycle -------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Self:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        path = str(path)
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, and sqlite-utils nests savepoints inside it.
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")
            db = Database(conn, execute_plugins=False)
            repo = cls(db, path)
            if migrate:
                repo.migrate()
                repo._after_commit()  # a scrub another process left pending: try it now
            return repo
        except sqlite3.DatabaseError as err:
            raise StorageError(f"cannot open database {path}: {err}") from None
        except OSError as err:
            raise StorageError(f"cannot open database {path}: {err.strerror}") from None

    def migrate(self) -> None:
        migrated = bool(migrations.pending(self.db))
        for attempt in range(3):
            try:
                migrations.apply(self.db)
                break
            except sqlite3.OperationalError as err:  # another process migrating at the same moment
                if "locked" not in str(err) or attempt == 2:
                    raise
                time.sleep(0.5)
        applied = len(migrations.applied(self.db))
        self.db.execute(f"PRAGMA user_version = {applied}")
        if migrated:
            self.scrub(wait=0)  # a migration may remove data: no earlier page image of it stays in the files

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._commit_batch()
        try:
            self._after_commit()  # a last try at a scrub still pending
        except sqlite3.Error:
            logger.debug("pending scrub not tried at close: database busy")
        try:
            self.db.execute("PRAGMA optimize")
        except sqlite3.OperationalError:
            # Another process wrote since this connection's last read: upgrading to a write fails at once (busy
            # snapshot), whatever the busy timeout. Optimizing is optional; closing (and the exit code) is not.
            logger.debug("PRAGMA optimize skipped: database busy")
        finally:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, committed before the block returns; nested blocks become savepoints."""
        with self._lock:
            if self._batch is not None and not self._in_event:
                self._commit_batch()  # the event loop between two grouped events: commit the group first
            conn = self.db.conn
            if conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._scrub_after_commit = False
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
                self._after_commit()

    def _after_commit(self) -> None:
        """Complete any scrub on record (this commit's, or one a reader held up, in this process or another): one
        quick try, so the ingest path never waits; if a reader still holds the WAL, the next commit tries again."""
        with self._lock:
            self._scrub_after_commit = False
            if self.db.conn.in_transaction or not self.scrub_pending():
                return
        self.scrub(wait=0)

    # -- group commit -------------------------------------------------------------------------------------------

    async def grouped(self, work: Callable[[], T]) -> T:
        """Run ``work`` atomically and return its result once it is committed, sharing the COMMIT (one fsync with
        ``synchronous = FULL``) with the other events that reach this point in the same turn of the event loop.

        ``work`` is synchronous (no await inside): it runs at once, in a savepoint of the shared write transaction
        (BEGIN IMMEDIATE on the first event of a group), so a failing event rolls back alone and raises here without
        waiting. The transaction commits in a callback scheduled for the next turn of the loop, or earlier when
        other code on the loop thread opens a transaction of its own; if the COMMIT fails, every event of the group
        raises its error and none of them is acknowledged. The caller answers only after this returns, so every
        acknowledged event is still committed before its acknowledgement (SPEC §11). Event loop thread only.
        """
        conn = self.db.conn
        with self._lock:  # the loop thread re-enters the lock the open group holds; a worker thread waits for it
            batch = self._batch
            if batch is None:
                loop = asyncio.get_running_loop()
                self._lock.acquire()  # held by the open group until _commit_batch
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except BaseException:
                    self._lock.release()
                    raise
                batch = self._batch = loop.create_future()
                loop.call_soon(self._flush, batch)
            self._in_event = True
            try:
                conn.execute(f"SAVEPOINT {EVENT_SAVEPOINT}")
                try:
                    result = work()
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO SAVEPOINT {EVENT_SAVEPOINT}")
                        conn.execute(f"RELEASE SAVEPOINT {EVENT_SAVEPOINT}")
                        self._scrub_after_commit = False  # its scrub record went with it: record again if needed
                    else:  # the whole transaction was rolled back: the group's earlier events are gone too
                        self._fail_batch(StorageError("the shared write transaction was rolled back"))
                    raise
                conn.execute(f"RELEASE SAVEPOINT {EVENT_SAVEPOINT}")
            finally:
                self._in_event = False
        await asyncio.shield(batch)  # a cancelled caller must not cancel the group's future
        return result

    def _flush(self, batch: asyncio.Future[None]) -> None:
        if self._batch is batch:
            with self._lock:
                self._commit_batch()

    def _commit_batch(self) -> None:
        """Commit the open group (the caller holds the lock), then release the lock it held and wake its events."""
        batch = self._batch
        if batch is None:
            return
        self._batch = None
        try:
            self.db.conn.execute("COMMIT")
        except BaseException as err:
            self._scrub_after_commit = False
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")
            self._lock.release()
            _settle(batch, err)
            logger.error("group commit failed error=%s", type(err).__name__)
            if not isinstance(err, Exception):
                raise
            return
        self._lock.release()
        _settle(batch, None)
        self._after_commit()

    def _fail_batch(self, err: BaseException) -> None:
        batch = self._batch
        if batch is not None:
            self._batch = None
            self._lock.release()
            _settle(batch, err)

    def table(self, name: str) -> Table:
        return cast(Table, self.db[name])

    def _one(self, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _rows(self, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def healthy(self) -> bool:
        return bool(self._one("SELECT 1") == 1)

    # -- erased text out of the files --------------------------------------------------------------------------

    def _text_removed(self) -> None:
        """Text was overwritten or deleted in the open transaction: record, in the same transaction, that the files
        must be scrubbed, so the promise survives the process; :meth:`_after_commit` then tries it."""
        if not self._scrub_after_commit:
            self.db.execute("INSERT INTO pending_scrubs (requested_at) VALUES (?)", [to_db(utc_now())])
            self._scrub_after_commit = True

    def scrub_pending(self) -> bool:
        """Whether a committed removal of text may still be in the files (a reader held up its scrub)."""
        return bool(self._one("SELECT EXISTS (SELECT 1 FROM pending_scrubs)"))

    def scrub(self, wait: float = SCRUB_WAIT_SECONDS) -> bool:
        """Move erased pages out of the write-ahead log, so deleted text survives nowhere in the files.

        secure_delete zeroes freed content in the database; a TRUNCATE checkpoint copies the zeroed pages
        into the main file and empties the WAL, which would otherwise still hold the earlier page images.
        A reader in another process (a ``sqlite3`` shell, datasette, a backup) holds it up; the checkpoint
        never waits on the busy timeout: it is tried every 0.1 s for up to ``wait`` seconds. True when done;
        False means the scrub stays on record in ``pending_scrubs`` and the next commit (of any process) or
        ``serve``'s upkeep completes it once the reader has closed.
        """
        deadline = time.monotonic() + wait
        while not self._scrub_once():
            if time.monotonic() >= deadline:
                log = logger.warning if wait > 0 else logger.debug
                log("erasure checkpoint held up by a reader; recorded: the next commit completes it")
                return False
            time.sleep(SCRUB_RETRY_SECONDS)
        return True

    def _scrub_once(self) -> bool:
        conn = self.db.conn
        with self._lock:  # the busy timeout is the connection's: no other thread may use it meanwhile
            if conn.in_transaction:
                return False  # a checkpoint cannot run inside a transaction; its commit tries again
            recorded = self._one("SELECT max(id) FROM pending_scrubs")
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy:
                    return False
                if recorded is not None:  # done for every removal committed before the checkpoint, none after
                    self._forget_scrubs(recorded)
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return True

    def _forget_scrubs(self, through: int) -> None:
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM pending_scrubs WHERE id <= ?", [through])
            conn.execute("COMMIT")
        except sqlite3.OperationalError:  # another writer right now: the record stays, the next commit clears it
            if conn.in_transaction:
                conn.execute("ROLLBACK")


def batches(values: Iterable[Key]) -> Iterator[list[Key]]:
    """The distinct ``values`` in sorted batches of BATCH: one statement each, well under SQLite's variable limit."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), BATCH):
        yield wanted[start : start + BATCH]


def marks(chunk: Sequence[object], mark: str) -> str:
    """``?,?,?`` for an ``IN (...)`` list, or ``(?),(?)`` for a ``VALUES`` list, one per value of ``chunk``."""
    return ",".join([mark] * len(chunk))


def _settle(batch: asyncio.Future[None], err: BaseException | None) -> None:
    if batch.done():
        return
    try:
        if err is None:
            batch.set_result(None)
        else:
            batch.set_exception(err)
            batch.exception()  # retrieved: no "never retrieved" warning when no event waits any more
    except RuntimeError:  # its loop is closed (close() after the server stopped): nobody waits for it
        pass
