"""Every read and write of the engagebot database. Returns the core's dataclasses, never SQL rows."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlite_utils import Database
from sqlite_utils.db import Table

from bot.errors import StorageError
from bot.events import Platform
from bot.model import Activity, ErasureCounts, PostRecord, ReactionRecord, ReplyRecord
from bot.prompts import Library, PostedPrompt, Prompt
from bot.timeutil import from_db, to_db, utc_now
from storage.schema import migrations

logger = logging.getLogger(__name__)

SCHEMA_NAME = "engagebot"
BUSY_TIMEOUT_MS = 30_000


class Repository:
    """One SQLite connection (WAL, foreign keys, secure_delete) and the queries engagebot needs."""

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path

    # -- lifecycle -------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> Repository:
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
            return repo
        except sqlite3.DatabaseError as err:
            raise StorageError(f"cannot open database {path}: {err}") from None
        except OSError as err:
            raise StorageError(f"cannot open database {path}: {err.strerror}") from None

    def migrate(self) -> None:
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

    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        try:
            self.db.execute("PRAGMA optimize")
        finally:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction, committed before the block returns; nested blocks become savepoints."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

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
        return self._one("SELECT 1") == 1

    # -- capture (see bot.capture.CaptureStore) -------------------------------------------------------------

    def event_seen(self, event_key: str) -> bool:
        return self._one("SELECT 1 FROM seen_events WHERE event_key = ?", [event_key]) is not None

    def mark_event_seen(self, event_key: str, platform: Platform) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO seen_events (event_key, platform, seen_at) VALUES (?, ?, ?)",
            [event_key, platform.value, to_db(utc_now())],
        )

    def is_opted_out(self, member: str) -> bool:
        return self._one("SELECT 1 FROM optouts WHERE member_id = ?", [member]) is not None

    def is_capture_blocked(self, member: str) -> bool:
        return self.is_opted_out(member)

    def find_post(self, platform: Platform, channel_id: str, message_id: str) -> PostRecord | None:
        rows = self._rows(
            "SELECT * FROM posts WHERE platform = ? AND channel_id = ? AND message_id = ?",
            [platform.value, channel_id, message_id],
        )
        return _post(rows[0]) if rows else None

    def find_reply(self, platform: Platform, channel_id: str, message_id: str) -> ReplyRecord | None:
        rows = self._rows(
            "SELECT * FROM replies WHERE platform = ? AND channel_id = ? AND message_id = ?",
            [platform.value, channel_id, message_id],
        )
        return _reply(rows[0]) if rows else None

    def is_deleted(self, platform: Platform, channel_id: str, message_id: str) -> bool:
        sql = "SELECT 1 FROM deleted_messages WHERE platform = ? AND channel_id = ? AND message_id = ?"
        return self._one(sql, [platform.value, channel_id, message_id]) is not None

    def mark_deleted(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO deleted_messages (platform, channel_id, message_id, deleted_at) VALUES (?, ?, ?, ?)",
            [platform.value, channel_id, message_id, to_db(at)],
        )

    def upsert_member(self, member: str, platform: Platform, user_id: str, display_name: str | None) -> None:
        self.db.execute(
            """INSERT INTO members (member_id, platform, user_id, display_name) VALUES (?, ?, ?, ?)
               ON CONFLICT (member_id) DO UPDATE SET display_name = coalesce(excluded.display_name, display_name)""",
            [member, platform.value, user_id, display_name],
        )

    def insert_reply(
        self, post: PostRecord, message_id: str, member: str, text: str, at: datetime, edited_at: datetime | None
    ) -> ReplyRecord:
        cursor = self.db.execute(
            """INSERT INTO replies (post_id, platform, channel_id, message_id, member_id, text, created_at, edited_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                post.id,
                post.platform.value,
                post.channel_id,
                message_id,
                member,
                text,
                to_db(at),
                to_db(edited_at) if edited_at else None,
            ],
        )
        return ReplyRecord(
            cast(int, cursor.lastrowid),
            post.id,
            post.platform,
            post.channel_id,
            message_id,
            member,
            text,
            at,
            edited_at,
        )

    def update_reply_text(self, reply_id: int, text: str, edited_at: datetime) -> bool:
        """Apply an edit unless a later edit is already stored (edits may arrive out of order)."""
        cursor = self.db.execute(
            "UPDATE replies SET text = ?, edited_at = ? WHERE id = ? AND (edited_at IS NULL OR edited_at <= ?)",
            [text, to_db(edited_at), reply_id, to_db(edited_at)],
        )
        return cursor.rowcount > 0

    def delete_reply(self, reply_id: int) -> None:
        self.db.execute("DELETE FROM reactions WHERE reply_id = ?", [reply_id])
        self.db.execute("DELETE FROM replies WHERE id = ?", [reply_id])

    def resolve_reactions(
        self, platform: Platform, channel_id: str, target_id: str, post_id: int, reply_id: int | None
    ) -> None:
        self.db.execute(
            """UPDATE reactions SET post_id = ?, reply_id = ?
               WHERE platform = ? AND channel_id = ? AND target_id = ? AND post_id IS NULL""",
            [post_id, reply_id, platform.value, channel_id, target_id],
        )

    def set_reaction(
        self,
        *,
        platform: Platform,
        channel_id: str,
        target_id: str,
        member: str,
        name: str,
        at: datetime,
        present: bool,
        post_id: int | None,
        reply_id: int | None,
    ) -> bool:
        """Record a reaction added (``present``) or removed; the later payload time wins, whatever the arrival order."""
        key = [platform.value, channel_id, target_id, member, name]
        row = self._rows(
            """SELECT id, created_at, removed_at FROM reactions
               WHERE platform = ? AND channel_id = ? AND target_id = ? AND member_id = ? AND name = ?""",
            key,
        )
        stamp = to_db(at)
        if not row:
            self.db.execute(
                """INSERT INTO reactions (platform, channel_id, target_id, member_id, name, created_at, removed_at,
                                          post_id, reply_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [*key, stamp, None if present else stamp, post_id, reply_id],
            )
            return present
        current = row[0]
        last_change = max(current["created_at"], current["removed_at"] or "")
        if stamp < last_change:
            return False  # an older event arriving late
        if present and current["removed_at"] is None:
            return False  # added twice counts once
        if not present and current["removed_at"] is not None:
            return False
        if present:
            self.db.execute(
                "UPDATE reactions SET created_at = ?, removed_at = NULL WHERE id = ?", [stamp, current["id"]]
            )
        else:
            self.db.execute("UPDATE reactions SET removed_at = ? WHERE id = ?", [stamp, current["id"]])
        return True

    def purge_unresolved_reactions(self, older_than: datetime) -> int:
        """Drop reactions whose target never became a known post or reply, and removed reactions, once old."""
        with self.transaction():
            cursor = self.db.execute(
                "DELETE FROM reactions WHERE (post_id IS NULL OR removed_at IS NOT NULL) AND created_at < ?",
                [to_db(older_than)],
            )
            self._drop_orphan_members()
        return cursor.rowcount

    def _drop_orphan_members(self) -> None:
        self.db.execute(
            """DELETE FROM members WHERE member_id NOT IN (SELECT member_id FROM replies)
               AND member_id NOT IN (SELECT member_id FROM reactions)"""
        )

    # -- members, opt-out and erasure ----------------------------------------------------------------------

    def member_names(self, members: Iterable[str]) -> dict[str, str]:
        wanted = list(set(members))
        names: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._rows(
                f"SELECT member_id, display_name FROM members WHERE member_id IN ({marks})"
                " AND display_name IS NOT NULL",
                chunk,
            ):
                names[row["member_id"]] = row["display_name"]
        return names

    def member_has_name(self, member: str) -> bool:
        return self._one("SELECT display_name FROM members WHERE member_id = ?", [member]) is not None

    def set_display_name(self, member: str, display_name: str) -> None:
        with self.transaction():
            self.db.execute("UPDATE members SET display_name = ? WHERE member_id = ?", [display_name, member])

    def opt_out(self, member: str, at: datetime, *, requested_by: str, reason: str) -> ErasureCounts:
        """Stop capturing ``member`` and erase everything stored of them, in one transaction."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO optouts (member_id, opted_out_at) VALUES (?, ?)", [member, to_db(at)]
            )
            counts = self._erase(member, requested_by=requested_by, reason=reason, at=at)
        self.scrub()
        return counts

    def opt_in(self, member: str) -> bool:
        with self.transaction():
            cursor = self.db.execute("DELETE FROM optouts WHERE member_id = ?", [member])
        return cursor.rowcount > 0

    def _erase(self, member: str, *, requested_by: str, reason: str, at: datetime) -> ErasureCounts:
        reactions_on_replies = self.db.execute(
            "DELETE FROM reactions WHERE reply_id IN (SELECT id FROM replies WHERE member_id = ?)", [member]
        ).rowcount
        reactions = self.db.execute("DELETE FROM reactions WHERE member_id = ?", [member]).rowcount
        replies = self.db.execute("DELETE FROM replies WHERE member_id = ?", [member]).rowcount
        members = self.db.execute("DELETE FROM members WHERE member_id = ?", [member]).rowcount
        self.db.execute(
            """INSERT INTO erasures (member_id, requested_by, reason, erased_at, replies, reactions)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [member, requested_by, reason, to_db(at), replies, reactions],
        )
        del reactions_on_replies  # other members' reactions on erased replies go with them, uncounted here
        return ErasureCounts(replies=replies, reactions=reactions, members=members)

    def scrub(self) -> None:
        """Move erased pages out of the write-ahead log, so deleted text survives nowhere in the files.

        secure_delete zeroes freed content in the database; a TRUNCATE checkpoint copies the zeroed pages
        into the main file and empties the WAL, which would otherwise still hold the earlier page images.
        A reader in another process can delay it: retry briefly, then leave it to the next checkpoint.
        """
        for _ in range(20):
            busy, _log, _done = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.1)
        logger.warning("erasure checkpoint is waiting for a reader; the next checkpoint completes it")

    # -- prompts and posts --------------------------------------------------------------------------------------

    def sync_prompts(self, library: Library) -> None:
        """Make the prompts table match the library: new prompts added, removed ones marked inactive."""
        with self.transaction():
            self.db.execute("UPDATE prompts SET active = 0")
            for prompt in library.prompts:
                self.db.execute(
                    """INSERT INTO prompts (theme, text, active) VALUES (?, ?, 1)
                       ON CONFLICT (theme, text) DO UPDATE SET active = 1""",
                    [prompt.theme, prompt.text],
                )

    def prompt_history(self, platform: Platform, channel_id: str) -> list[PostedPrompt]:
        rows = self._rows(
            "SELECT theme, prompt, posted_at FROM posts WHERE platform = ? AND channel_id = ? ORDER BY posted_at",
            [platform.value, channel_id],
        )
        return [PostedPrompt(r["theme"], r["prompt"], from_db(r["posted_at"])) for r in rows]

    def prompt_last_posted(self) -> dict[tuple[str, str], datetime]:
        rows = self._rows("SELECT theme, prompt, max(posted_at) AS last FROM posts GROUP BY theme, prompt")
        return {(r["theme"], r["prompt"]): from_db(r["last"]) for r in rows}

    def record_post(
        self, platform: Platform, channel_id: str, message_id: str, prompt: Prompt, posted_at: datetime
    ) -> PostRecord:
        with self.transaction():
            prompt_id = self._one("SELECT id FROM prompts WHERE theme = ? AND text = ?", [prompt.theme, prompt.text])
            cursor = self.db.execute(
                """INSERT INTO posts (platform, channel_id, message_id, prompt_id, theme, prompt, posted_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [platform.value, channel_id, message_id, prompt_id, prompt.theme, prompt.text, to_db(posted_at)],
            )
        return PostRecord(
            cast(int, cursor.lastrowid), platform, channel_id, message_id, prompt.theme, prompt.text, posted_at
        )

    # -- summaries ---------------------------------------------------------------------------------------------------

    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]:
        rows = self._rows(
            "SELECT * FROM posts WHERE posted_at >= ? AND posted_at < ? ORDER BY posted_at, id",
            [to_db(start), to_db(end)],
        )
        return [_post(r) for r in rows]

    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]:
        found: dict[int, PostRecord] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._rows(f"SELECT * FROM posts WHERE id IN ({marks})", chunk):
                found[row["id"]] = _post(row)
        return found

    def activity_between(self, start: datetime, end: datetime) -> list[Activity]:
        """Counted replies and reactions whose time falls in [start, end): a range scan on each table."""
        params = [to_db(start), to_db(end)]
        replies = self.db.execute(
            "SELECT post_id, member_id, created_at FROM replies WHERE created_at >= ? AND created_at < ?", params
        ).fetchall()
        reactions = self.db.execute(
            """SELECT post_id, member_id, created_at, name FROM reactions
               WHERE created_at >= ? AND created_at < ? AND post_id IS NOT NULL AND removed_at IS NULL""",
            params,
        ).fetchall()
        activity = [Activity(p, m, from_db(at)) for p, m, at in replies]
        activity.extend(Activity(p, m, from_db(at), name) for p, m, at, name in reactions)
        return activity

    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for post_id in set(post_ids):
            first = self._one("SELECT min(created_at) FROM replies WHERE post_id = ?", [post_id])
            if first is not None:
                found[post_id] = from_db(first)
        return found

    def first_activity_at(self, members: Iterable[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for member in set(members):
            first_reply = self._one("SELECT min(created_at) FROM replies WHERE member_id = ?", [member])
            first_reaction = self._one(
                """SELECT min(created_at) FROM reactions
                   WHERE member_id = ? AND post_id IS NOT NULL AND removed_at IS NULL""",
                [member],
            )
            times = [t for t in (first_reply, first_reaction) if t is not None]
            if times:
                found[member] = from_db(min(times))
        return found

    # -- export ----------------------------------------------------------------------------------------------

    def replies_between(self, start: datetime, end: datetime) -> list[ReplyRecord]:
        rows = self._rows(
            "SELECT * FROM replies WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
            [to_db(start), to_db(end)],
        )
        return [_reply(r) for r in rows]

    def reactions_between(self, start: datetime, end: datetime) -> list[ReactionRecord]:
        rows = self._rows(
            """SELECT * FROM reactions WHERE created_at >= ? AND created_at < ?
               AND post_id IS NOT NULL AND removed_at IS NULL ORDER BY created_at, id""",
            [to_db(start), to_db(end)],
        )
        return [_reaction(r) for r in rows]

    def counts(self) -> dict[str, int]:
        tables = ("posts", "replies", "reactions", "members", "optouts")
        return {name: int(self._one(f"SELECT count(*) FROM {name}")) for name in tables}


def _post(row: dict[str, Any]) -> PostRecord:
    return PostRecord(
        row["id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["message_id"],
        row["theme"],
        row["prompt"],
        from_db(row["posted_at"]),
    )


def _reply(row: dict[str, Any]) -> ReplyRecord:
    return ReplyRecord(
        row["id"],
        row["post_id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["message_id"],
        row["member_id"],
        row["text"],
        from_db(row["created_at"]),
        from_db(row["edited_at"]) if row["edited_at"] else None,
    )


def _reaction(row: dict[str, Any]) -> ReactionRecord:
    return ReactionRecord(
        row["id"],
        row["post_id"],
        row["reply_id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["target_id"],
        row["member_id"],
        row["name"],
        from_db(row["created_at"]),
        from_db(row["removed_at"]) if row["removed_at"] else None,
    )
