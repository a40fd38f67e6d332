"""The database file: open, migrate, transactions, the writer thread, reads, and the scrub of erased text.

``SQLiteDatabase`` is the base of every part of :class:`storage.repository.Repository`: the other modules of this
package add queries to it and run them through ``transaction()``, ``_one`` and ``_rows``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar, cast

from sqlite_utils import Database
from sqlite_utils.db import Table

from bot.errors import StorageError
from storage.readers import BUSY_TIMEOUT_MS, ReadConnections
from storage.schema import migrations
from storage.scrub import Scrubbing, WriteLock
from storage.writer import Result, WriteQueue

# One logger name for the whole Repository, as before it was split into modules: log filters keep working.
logger = logging.getLogger("storage.repository")

SCHEMA_NAME = "engagebot"
UNIT_SAVEPOINT = "engagebot_unit"

T = TypeVar("T")
Params = dict[str, Any] | Sequence[Any]
Key = TypeVar("Key", int, str)
BATCH = 500


class SQLiteDatabase(Scrubbing):
    """The write connection (WAL, foreign keys, secure_delete), its transactions and writer thread, read-only
    connections for the reads made outside a write transaction, and the scrub of erased text.

    The write connection is used only by whoever holds ``_lock``: ``transaction()``, the writer thread during a batch
    (:meth:`submit`), the scrub. ``_one`` and ``_rows`` read through it inside a transaction (to see its own writes),
    and otherwise through the calling thread's read-only connection (:mod:`storage.readers`).
    """

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path
        self._scrub_after_commit = False  # text was removed in the open transaction (and its scrub recorded)
        # One write connection, used from the event loop, the writer thread and worker threads (the scrub, an
        # erasure): a transaction opened in one thread must not absorb another thread's writes, so the outermost
        # one holds this lock, and so does the writer for each of its batches.
        self._lock = WriteLock()
        self._in_unit = False  # the writer thread is running a unit of work (in its own savepoint)
        self._writes = WriteQueue(self._run_batch, self._after_batch)
        self._readers = ReadConnections(path) if path != ":memory:" else None

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
        return int(self._one("PRAGMA user_version"))

    def close(self) -> None:
        """Commit and answer every unit of work already submitted, then close every connection."""
        self._writes.close()
        if self._readers is not None:
            self._readers.close()
        try:
            self._after_commit()  # a last try at a scrub still pending
        except sqlite3.Error:
            logger.debug("pending scrub not tried at close: database busy")
        with self._lock:
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
        """A write transaction, committed before the block returns; nested blocks become savepoints. Inside a unit of
        work of the writer thread it is that unit's savepoint (no second one)."""
        with self._lock:
            if self._in_unit:
                yield
                return
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

    def _after_batch(self) -> None:
        """After a batch of the writer: the scrub its units recorded, if any, tried at once. A scrub left on record by
        another process is not looked for after every batch (a query each): ``serve``'s upkeep completes it within a
        minute, and any other command's next commit at once."""
        if self._scrub_after_commit:
            self._after_commit()

    # -- the writer thread ----------------------------------------------------------------------------------------

    async def submit(self, work: Callable[[], T]) -> T:
        """Run ``work`` (synchronous: reads and writes through this database) on the writer thread, atomically, and
        return its result once it is committed (:mod:`storage.writer`). The COMMIT, one fsync with ``synchronous =
        FULL``, is shared with the other units of the same batch. ``work`` raising rolls back that unit alone and
        raises here; a failed COMMIT raises here for every unit of its batch. The caller answers only after this
        returns, so every acknowledged event is committed before its acknowledgement (SPEC §11)."""
        return await self.enqueue(work)

    def enqueue(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """The first half of :meth:`submit`: ``work`` is queued when this returns (units run in the order they were
        queued); await the future for its result."""
        return self._writes.enqueue(work)

    def _run_batch(self, works: Sequence[Callable[[], Any]]) -> list[Result]:
        """One write transaction for ``works`` (writer thread). They run one after the other in it; if one raises,
        the transaction is rolled back and run again with each unit in a savepoint of its own, so that only the
        failing unit's writes are undone (a failure is rare: savepoints for every unit would cost two statements
        each, and every statement of the writer competes with the event loop for the GIL)."""
        conn = self.db.conn
        with self._lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as err:  # locked by another process beyond the busy timeout, disk errors
                return [(None, err)] * len(works)
            try:
                results = self._run_all(conn, works)
                if results is None:
                    self._scrub_after_commit = False
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    conn.execute("BEGIN IMMEDIATE")
                    results = [self._run_unit(conn, work) for work in works]
                conn.execute("COMMIT")
            except Exception as err:
                self._scrub_after_commit = False
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                logger.error("write batch failed units=%d error=%s", len(works), type(err).__name__)
                failed = err if isinstance(err, sqlite3.Error | StorageError) else StorageError(str(err))
                return [(None, failed)] * len(works)
        return results

    def _run_all(self, conn: sqlite3.Connection, works: Sequence[Callable[[], Any]]) -> list[Result] | None:
        """Every unit in the open transaction, without savepoints; None as soon as one raises."""
        results: list[Result] = []
        self._in_unit = True
        try:
            for work in works:
                results.append((work(), None))
        except Exception:
            return None
        finally:
            self._in_unit = False
        return results

    def _run_unit(self, conn: sqlite3.Connection, work: Callable[[], Any]) -> Result:
        """Run one unit in a savepoint: its failure rolls back only its own writes. Raises when the transaction
        itself was lost (SQLite rolled it back), which fails the batch."""
        conn.execute(f"SAVEPOINT {UNIT_SAVEPOINT}")
        self._in_unit = True
        try:
            value = work()
        except Exception as err:
            if not conn.in_transaction:
                raise StorageError("the batch's write transaction was rolled back") from err
            conn.execute(f"ROLLBACK TO SAVEPOINT {UNIT_SAVEPOINT}")
            conn.execute(f"RELEASE SAVEPOINT {UNIT_SAVEPOINT}")
            self._scrub_after_commit = False  # its scrub record went with it: recorded again if needed
            return None, err
        finally:
            self._in_unit = False
        conn.execute(f"RELEASE SAVEPOINT {UNIT_SAVEPOINT}")
        return value, None

    # -- reads ------------------------------------------------------------------------------------------------------

    def _select(self, sql: str, params: Params = ()) -> tuple[Any, list[Any]]:
        """A read's column descriptions and rows: on the write connection inside a transaction (it sees its own
        writes), else on this thread's read-only connection. Every row is fetched at once, which ends the statement
        and its read snapshot."""
        if self._readers is None or self._lock.held():
            with self._lock:
                cursor = self.db.conn.execute(sql, params)
                return cursor.description, cursor.fetchall()
        cursor = self._readers.get().execute(sql, params)
        return cursor.description, cursor.fetchall()

    def _fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        """The rows of a read, as tuples (see :meth:`_select`)."""
        return self._select(sql, params)[1]

    def _one(self, sql: str, params: Params = ()) -> Any:
        rows = self._select(sql, params)[1]
        return rows[0][0] if rows else None

    def _rows(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        description, rows = self._select(sql, params)
        names = [d[0] for d in description]
        return [dict(zip(names, row, strict=True)) for row in rows]

    def table(self, name: str) -> Table:
        return cast(Table, self.db[name])

    def healthy(self) -> bool:
        return bool(self._one("SELECT 1") == 1)


def batches(values: Iterable[Key]) -> Iterator[list[Key]]:
    """The distinct ``values`` in sorted batches of BATCH: one statement each, well under SQLite's variable limit."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), BATCH):
        yield wanted[start : start + BATCH]


def marks(chunk: Sequence[object], mark: str) -> str:
    """``?,?,?`` for an ``IN (...)`` list, or ``(?),(?)`` for a ``VALUES`` list, one per value of ``chunk``."""
    return ",".join([mark] * len(chunk))
