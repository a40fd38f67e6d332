"""Read-only connections, one per thread, for the reads made outside a write transaction.

The write connection belongs to whoever holds the write lock (the writer thread during a batch, or a caller inside
``transaction()``). A read made elsewhere, by the event loop (``/healthz``, whether a member has a display name,
commands) or by a worker thread, goes through its own thread's read-only connection: it never waits for a batch,
never sees a batch's uncommitted rows, and never shares a connection with another thread. In WAL mode each
statement reads the latest committed state.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["BUSY_TIMEOUT_MS", "ReadConnections", "connect_readonly"]

BUSY_TIMEOUT_MS = 30_000  # how long any engagebot connection waits for another's lock


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A connection to the database file at ``path`` that only reads (SQLite refuses any write through it, and it
    never creates the file), in autocommit: each statement its own read transaction, seeing the latest commit and
    holding no snapshot between reads. Usable from any thread; its owner closes it."""
    conn = sqlite3.connect(
        f"{Path(path).absolute().as_uri()}?mode=ro",
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


class ReadConnections:
    """A read-only connection per thread to the database file at ``path``, opened on first use."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._guard:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            conn = connect_readonly(self._path)  # closed by close(), from any thread
            self._opened.append(conn)
        self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._guard:
            self._closed = True
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
