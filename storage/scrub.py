"""Erased text out of the files, and the write connection's lock.

secure_delete zeroes freed content in the database file; a TRUNCATE checkpoint copies the zeroed pages into the main
file and empties the write-ahead log, which would otherwise still hold the earlier page images. A removal of text
records, in its own transaction, that a scrub is due (``pending_scrubs``), so the promise survives the process; the
commit then tries the checkpoint once, and a reader that holds it up only delays it to a later commit or to
``serve``'s upkeep.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any

from sqlite_utils import Database

from bot.timeutil import to_db, utc_now
from storage.readers import BUSY_TIMEOUT_MS

logger = logging.getLogger("storage.repository")

__all__ = ["Scrubbing", "WriteLock"]

SCRUB_WAIT_SECONDS = 2.0  # how long an erasure waits for readers before leaving its scrub to the next writer
SCRUB_RETRY_SECONDS = 0.1


class WriteLock:
    """The write connection's lock (re-entrant), and whether the current thread holds it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()

    def __enter__(self) -> None:
        self._lock.acquire()
        self._local.depth = getattr(self._local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1
        self._lock.release()

    def held(self) -> bool:
        return bool(getattr(self._local, "depth", 0))


class Scrubbing:
    """The scrub of erased text, for :class:`storage.db.SQLiteDatabase`."""

    db: Database
    _lock: WriteLock
    _scrub_after_commit: bool  # text was removed in the open transaction (and its scrub recorded)

    def _one(self, sql: str, params: Any = ()) -> Any:
        raise NotImplementedError

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
