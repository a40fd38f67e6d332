"""The daily upkeep's purges, each one batch at a time: a short transaction over a range of rows, so that the caller
can let captures run between batches (the repository lock is held only while a batch runs).

Each method purges one batch of at most ``limit`` rows after the row id ``after`` and returns a ``Batch``: how many
rows it changed, and the row id to continue after (None when the table is done).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.timeutil import from_db, to_db
from storage.db import batches, marks
from storage.members import MemberRecords


@dataclass(frozen=True, slots=True)
class Batch:
    changed: int
    next_after: int | None


class UpkeepRecords(MemberRecords):
    """Retention of reply text, unresolved reactions, and the dedupe keys and tombstones past their window."""

    def purge_old_text(self, before: datetime, *, after: int, limit: int) -> Batch:
        """Retention: blank the text of replies older than ``before``; the rows, and so every count, stay. The first
        batch moves the retention horizon to ``before``: text written before it is never stored again (bot.capture),
        so reconciliation, which may look further back, cannot bring it back."""
        if after == 0:
            with self.transaction():
                self.db.execute(
                    """INSERT INTO text_retention (id, purged_before) VALUES (1, ?)
                       ON CONFLICT (id) DO UPDATE SET purged_before = max(purged_before, excluded.purged_before)""",
                    [to_db(before)],
                )
        return self._purge_range(
            "UPDATE replies SET text = '' WHERE id > ? AND id <= ? AND created_at < ? AND text != ''",
            "replies",
            before,
            after,
            limit,
            text_removed=True,
        )

    def purge_unresolved_reactions(self, older_than: datetime, *, after: int, limit: int) -> Batch:
        """Drop reactions whose target never became a known post or reply, and removed reactions, once old."""
        return self._purge_range(
            """DELETE FROM reactions WHERE id > ? AND id <= ? AND created_at < ?
               AND (post_id IS NULL OR removed_at IS NOT NULL)""",
            "reactions",
            older_than,
            after,
            limit,
            text_removed=True,  # who reacted: no earlier page image of it stays in the files
        )

    def text_purged_before(self) -> datetime | None:
        """The retention horizon: replies written before it keep no text."""
        value = self._one("SELECT purged_before FROM text_retention WHERE id = 1")
        return from_db(value) if value else None

    def drop_orphan_members(self) -> int:
        """Members with neither a reply nor a reaction left (after the reactions were purged), names and all."""
        with self.transaction():
            dropped = self.drop_idle_members()
            if dropped:
                self._text_removed()
        return dropped

    def purge_seen_events(self, before: datetime, *, after: int, limit: int) -> Batch:
        """Dedupe keys of deliveries seen before ``before`` (no platform redelivers that late)."""
        return self._purge_oldest("seen_events", "seen_at", before, after, limit)

    def purge_deleted_messages(self, before: datetime, *, after: int, limit: int) -> Batch:
        """Tombstones of messages deleted before ``before`` (no late delivery of them comes any more)."""
        return self._purge_oldest("deleted_messages", "deleted_at", before, after, limit)

    def purge_restored_messages(self, before: datetime, *, after: int, limit: int) -> Batch:
        """Restores (Teams undeleteMessage) before ``before``: no deletion older than them arrives any more."""
        return self._purge_oldest("restored_messages", "restored_at", before, after, limit)

    def _purge_range(
        self, sql: str, table: str, before: datetime, after: int, limit: int, *, text_removed: bool = False
    ) -> Batch:
        """Run ``sql`` on the rows with ids in (after, after + limit]: one bounded range per transaction."""
        upto = after + limit
        with self.transaction():
            changed = self.db.execute(sql, [after, upto, to_db(before)]).rowcount
            if changed and text_removed:
                self._text_removed()
            last = self._one(f"SELECT max(id) FROM {table}")
        return Batch(changed, upto if last is not None and last > upto else None)

    def _purge_oldest(self, table: str, column: str, before: datetime, after: int, limit: int) -> Batch:
        """Delete the rows older than ``before`` among the next ``limit`` by row id. These tables are written in time
        order, so the table is done at the first row that is not old enough."""
        cutoff = to_db(before)
        with self.transaction():
            rows = self.db.execute(
                f"SELECT rowid, {column} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?", [after, limit]
            ).fetchall()
            old = [int(rowid) for rowid, at in rows if at < cutoff]
            for chunk in batches(old):
                self.db.execute(f"DELETE FROM {table} WHERE rowid IN ({marks(chunk, '?')})", chunk)
        done = len(rows) < limit or rows[-1][1] >= cutoff
        return Batch(len(old), None if done else int(rows[-1][0]))
