"""The one ``Repository`` the core sees (``bot.ports.Store``): every read and write of the engagebot database.

Each concern lives in its own module of this package and adds its queries to ``storage.db.SQLiteDatabase``; this
class puts them together. It returns the core's dataclasses, never SQL rows.

``Repository.open_readonly`` opens another connection to the same file that only reads (``reader()`` gives one for
a block): long reads (a report, a summary asked in chat) run on it in a worker thread, so they neither wait for nor
hold up the connection that captures events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from bot.errors import StorageError
from storage.capture import CaptureRecords
from storage.dashboard import DashboardRecords
from storage.posts import PostRecords
from storage.privacy import PrivacyRecords
from storage.queries import Reads
from storage.readers import connect_readonly
from storage.report import ReportRecords
from storage.schedule import ScheduleRuns
from storage.schema import migrations
from storage.teams_refs import ConversationRefs
from storage.upkeep import UpkeepRecords

__all__ = ["ReadOnlyRepository", "Repository"]


class Repository(
    CaptureRecords,
    PrivacyRecords,
    PostRecords,
    Reads,
    ReportRecords,
    ScheduleRuns,
    ConversationRefs,
    UpkeepRecords,
    DashboardRecords,
):
    """One SQLite connection (WAL, foreign keys, secure_delete) and the queries engagebot needs."""

    @staticmethod
    def open_readonly(path: str | Path) -> ReadOnlyRepository:
        """Another connection to the engagebot database at ``path`` that only reads: it never creates, migrates or
        writes the file (SQLite refuses any write through it). StorageError when there is no such database, or when
        its schema is not this version's (the process that writes migrates it first)."""
        try:
            conn = connect_readonly(Path(path).resolve())
        except sqlite3.DatabaseError as err:
            raise StorageError(f"cannot open database {path} to read: {err}") from None
        try:
            repo = ReadOnlyRepository(Database(conn, execute_plugins=False), str(path))
            if migrations.pending(repo.db):
                raise StorageError(f"database {path} is not migrated to this version of engagebot")
        except sqlite3.DatabaseError as err:
            conn.close()
            raise StorageError(f"cannot read database {path}: {err}") from None
        except BaseException:
            conn.close()
            raise
        return repo

    @contextmanager
    def reader(self) -> Iterator[Repository | None]:
        """A read-only connection of its own to this database for one worker thread (``open_readonly``), closed when
        the block ends; None for an in-memory database, which no other connection can open."""
        if self.path == ":memory:":
            yield None
            return
        other = self.open_readonly(self.path)
        try:
            yield other
        finally:
            other.close()


class ReadOnlyRepository(Repository):
    """A Repository on a read-only connection (``Repository.open_readonly``)."""

    def close(self) -> None:
        self.db.close()  # nothing to commit, and PRAGMA optimize would write
