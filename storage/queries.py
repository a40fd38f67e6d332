"""Reads: the weekly summary, member names and quotes, the export, and reconciliation's view of recent posts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import StorageError
from bot.events import Platform
from bot.model import ActivityGroup, PostRecord, ReactionRecord, ReplyRecord
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase, batches, marks
from storage.members import quote_consent
from storage.readers import connect_readonly
from storage.records import post_record, reaction_record, reply_record


class _Groups:
    """Grouped activity as SQLite returned it (one JSON document of ``[post id, name, [member id, ...]]``), parsed each
    time it is iterated."""

    __slots__ = ("document",)

    def __init__(self, document: str) -> None:
        self.document = document

    def __iter__(self) -> Iterator[ActivityGroup]:
        return iter(json.loads(self.document))  # [post id, name, members] lists: they unpack like the tuples


class Reads(SQLiteDatabase):
    """Read-only queries (see bot.summary.SummarySource and bot.ports.Store)."""

    # -- summaries ---------------------------------------------------------------------------------------------------

    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]:
        rows = self._rows(
            "SELECT * FROM posts WHERE posted_at >= ? AND posted_at < ? ORDER BY posted_at, id",
            [to_db(start), to_db(end)],
        )
        return [post_record(r) for r in rows]

    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]:
        found: dict[int, PostRecord] = {}
        for chunk in batches(ids):
            for row in self._rows(f"SELECT * FROM posts WHERE id IN ({marks(chunk, '?')})", chunk):
                found[row["id"]] = post_record(row)
        return found

    def activity_between(self, start: datetime, end: datetime) -> Iterable[ActivityGroup]:
        """Counted replies and reactions whose time falls in [start, end), grouped by post and reaction name: a range
        scan on each table, grouped by SQLite into one JSON document, parsed when the result is iterated (a reader in
        a worker thread takes the GIL once per span, not once per row, and holds a compact document meanwhile)."""
        (document,) = self.db.execute(
            """SELECT json_group_array(json_array(post_id, name, json(members))) FROM (
                   SELECT post_id, name, json_group_array(member_id) AS members FROM (
                       SELECT post_id, member_id, NULL AS name FROM replies
                       WHERE created_at >= :start AND created_at < :end
                       UNION ALL
                       SELECT post_id, member_id, name FROM reactions
                       WHERE created_at >= :start AND created_at < :end AND post_id IS NOT NULL AND removed_at IS NULL)
                   GROUP BY post_id, name)""",
            {"start": to_db(start), "end": to_db(end)},
        ).fetchone()
        return _Groups(document)

    def first_activity(self, members: Iterable[str], since: datetime) -> dict[str, datetime]:
        """The first counted activity (a reply, or a counted reaction) of those ``members`` whose first one is at or
        after ``since``. One statement (the members as one JSON array): a member active before ``since`` costs one or
        two index seeks (idx_replies_member, and idx_reactions_counted_member of counted reactions), the others two
        more."""
        rows = self.db.execute(
            """SELECT m.value,
                      (SELECT min(created_at) FROM replies WHERE member_id = m.value),
                      (SELECT min(created_at) FROM reactions
                       WHERE member_id = m.value AND post_id IS NOT NULL AND removed_at IS NULL)
               FROM json_each(:members) AS m
               WHERE NOT EXISTS (SELECT 1 FROM replies r WHERE r.member_id = m.value AND r.created_at < :since)
                 AND NOT EXISTS (SELECT 1 FROM reactions x
                                 WHERE x.member_id = m.value AND x.created_at < :since
                                   AND x.post_id IS NOT NULL AND x.removed_at IS NULL)""",
            {"members": json.dumps(list(members)), "since": to_db(since)},
        ).fetchall()
        found: dict[str, datetime] = {}
        for member, first_reply, first_reaction in rows:
            times = [t for t in (first_reply, first_reaction) if t is not None]
            if times:
                found[member] = from_db(min(times))
        return found

    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]:
        """Each post's first reply time: one statement per 500 posts, each post one seek on idx_replies_post."""
        found: dict[int, datetime] = {}
        for chunk in batches(post_ids):
            rows = self.db.execute(
                f"""SELECT p.column1, (SELECT min(created_at) FROM replies WHERE post_id = p.column1)
                    FROM (VALUES {marks(chunk, "(?)")}) AS p""",
                chunk,
            ).fetchall()
            found.update((post_id, from_db(first)) for post_id, first in rows if first is not None)
        return found

    def member_names(self, members: Iterable[str]) -> dict[str, str]:
        names: dict[str, str] = {}
        for chunk in batches(members):
            for row in self._rows(
                f"SELECT member_id, display_name FROM members WHERE member_id IN ({marks(chunk, '?')})"
                " AND display_name IS NOT NULL",
                chunk,
            ):
                names[row["member_id"]] = row["display_name"]
        return names

    def quote_candidates(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Replies of the week by members who may be quoted (storage.members.quote_consent), with their counted
        reactions."""
        return self._rows(
            f"""SELECT r.id, r.post_id, r.text, r.created_at,
                      (SELECT count(*) FROM reactions x WHERE x.reply_id = r.id AND x.removed_at IS NULL) AS reactions
               FROM replies r
               WHERE r.created_at >= :start AND r.created_at < :end AND r.text != ''
                 AND {quote_consent("r.member_id")}""",
            {"start": to_db(start), "end": to_db(end)},
        )

    # -- export ------------------------------------------------------------------------------------------------------

    def replies_between(self, start: datetime, end: datetime) -> list[ReplyRecord]:
        rows = self._rows(
            "SELECT * FROM replies WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
            [to_db(start), to_db(end)],
        )
        return [reply_record(r) for r in rows]

    def reactions_between(self, start: datetime, end: datetime) -> list[ReactionRecord]:
        rows = self._rows(
            """SELECT * FROM reactions WHERE created_at >= ? AND created_at < ?
               AND post_id IS NOT NULL AND removed_at IS NULL ORDER BY created_at, id""",
            [to_db(start), to_db(end)],
        )
        return [reaction_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        tables = ("posts", "replies", "reactions", "members", "optouts")
        return {name: int(self._one(f"SELECT count(*) FROM {name}")) for name in tables}

    # -- reconciliation (see adapters.slack.reconcile) ---------------------------------------------------------------

    def recent_posts(self, platform: Platform, since: datetime) -> list[PostRecord]:
        """The platform's posts made at or after ``since``, oldest first."""
        rows = self._rows(
            "SELECT * FROM posts WHERE platform = ? AND posted_at >= ? ORDER BY posted_at, id",
            [platform.value, to_db(since)],
        )
        return [post_record(r) for r in rows]

    def post_replies(self, post_id: int) -> list[ReplyRecord]:
        """The stored replies in one post's thread, oldest first."""
        rows = self._rows("SELECT * FROM replies WHERE post_id = ? ORDER BY created_at, id", [post_id])
        return [reply_record(r) for r in rows]

    def reactions_on(self, platform: Platform, channel_id: str, target_id: str) -> list[ReactionRecord]:
        """Every stored reaction row on one message: counted, removed and not yet resolved alike."""
        rows = self._rows(
            "SELECT * FROM reactions WHERE platform = ? AND channel_id = ? AND target_id = ? ORDER BY id",
            [platform.value, channel_id, target_id],
        )
        return [reaction_record(r) for r in rows]

    # -- another file, read only (see adapters.demo.run) ---------------------------------------------------------

    @staticmethod
    def post_channels(path: str | Path) -> set[str]:
        """The channel ids of the posts in the database file at ``path``, read without creating, migrating or writing
        it (it may not be engagebot's); StorageError when it is not a SQLite database with a posts table."""
        try:
            with closing(connect_readonly(Path(path).resolve())) as conn:
                rows = conn.execute("SELECT DISTINCT channel_id FROM posts").fetchall()
        except sqlite3.DatabaseError as err:
            raise StorageError(f"cannot read database {path}: {err}") from None
        return {row[0] for row in rows}
