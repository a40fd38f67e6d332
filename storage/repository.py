"""Every read and write of the engagebot database. Returns the core's dataclasses, never SQL rows."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlite_utils import Database
from sqlite_utils.db import Table

from bot.errors import StorageError
from bot.events import Platform
from bot.model import ActivityRow, ErasureCounts, PostRecord, ReactionRecord, ReplyRecord, WeekTotals
from bot.prompts import Library, PostedPrompt, Prompt
from bot.scheduler import Claim, retry_delay
from bot.timeutil import from_db, to_db, utc_now
from storage.schema import migrations

logger = logging.getLogger(__name__)

SCHEMA_NAME = "engagebot"
BUSY_TIMEOUT_MS = 30_000
EVENT_SAVEPOINT = "engagebot_event"

T = TypeVar("T")
Key = TypeVar("Key", int, str)
BATCH = 500


class Repository:
    """One SQLite connection (WAL, foreign keys, secure_delete) and the queries engagebot needs."""

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path
        self._scrub_after_commit = False  # text was overwritten or deleted in the open transaction
        self._scrub_pending = False  # committed removals whose checkpoint a reader has held up so far
        # One connection, used from the event loop and from worker threads (the daily upkeep): a transaction
        # opened in one thread must not absorb another thread's writes, so the outermost one holds this lock.
        self._lock = threading.RLock()
        # Group commit (see grouped()): the open shared write transaction's "committed" future, and whether one
        # event's work is running inside it right now.
        self._batch: asyncio.Future[None] | None = None
        self._in_event = False

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
        with self._lock:
            self._commit_batch()
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
        if self._scrub_after_commit or self._scrub_pending:
            self._scrub_after_commit = False
            # One quick try on the ingest path; if a reader holds the WAL, the next commit tries again.
            self._scrub_pending = not self.scrub(attempts=1)

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

    def has_consent(self, member: str, kind: str) -> bool:
        return self._one("SELECT 1 FROM consents WHERE member_id = ? AND kind = ?", [member, kind]) is not None

    def set_consent(self, member: str, kind: str, given: bool, at: datetime) -> bool:
        """Record or withdraw a consent ('capture' in opt-in mode, 'quote'); True when something changed."""
        with self.transaction():
            if given:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO consents (member_id, kind, given_at) VALUES (?, ?, ?)",
                    [member, kind, to_db(at)],
                )
            else:
                cursor = self.db.execute("DELETE FROM consents WHERE member_id = ? AND kind = ?", [member, kind])
        return cursor.rowcount > 0

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
        if cursor.rowcount > 0:
            self._text_removed()
        return cursor.rowcount > 0

    def delete_reply(self, reply_id: int) -> None:
        self.db.execute("DELETE FROM reactions WHERE reply_id = ?", [reply_id])
        self.db.execute("DELETE FROM replies WHERE id = ?", [reply_id])
        self._text_removed()

    def _text_removed(self) -> None:
        """Old reply text must not survive in the files: scrub once the change is committed."""
        if self.db.conn.in_transaction:
            self._scrub_after_commit = True
        else:
            self._scrub_pending = not self.scrub(attempts=1)

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
        if present == (current["removed_at"] is None):
            if stamp == last_change:
                return False  # the same change again (added twice counts once)
            # A later change of the same kind: the opposite change between them is late or lost. Keep the later
            # time, so that the opposite change, if it arrives, is older than the last word and ignored.
            column = "created_at" if present else "removed_at"
            self.db.execute(f"UPDATE reactions SET {column} = ? WHERE id = ?", [stamp, current["id"]])
            return True
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
        names: dict[str, str] = {}
        for chunk in _batches(members):
            for row in self._rows(
                f"SELECT member_id, display_name FROM members WHERE member_id IN ({_marks(chunk, '?')})"
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

    def opt_in(self, member: str, at: datetime) -> bool:
        """Resume capture: the opt-out (if any) is lifted and capture consent recorded (for opt-in mode)."""
        with self.transaction():
            lifted = self.db.execute("DELETE FROM optouts WHERE member_id = ?", [member]).rowcount
            given = self.db.execute(
                "INSERT OR IGNORE INTO consents (member_id, kind, given_at) VALUES (?, 'capture', ?)",
                [member, to_db(at)],
            ).rowcount
        return bool(lifted or given)

    def member_data(self, member: str) -> dict[str, Any]:
        """Everything stored about one member (subject access): member record, replies, reactions, consents."""
        record = self._rows("SELECT * FROM members WHERE member_id = ?", [member])
        return {
            "member": record[0] if record else None,
            "opted_out_at": self._one("SELECT opted_out_at FROM optouts WHERE member_id = ?", [member]),
            "consents": self._rows("SELECT kind, given_at FROM consents WHERE member_id = ? ORDER BY kind", [member]),
            "replies": self._rows(
                """SELECT replies.platform, replies.channel_id, replies.message_id, posts.theme, posts.prompt,
                          replies.text, replies.created_at, replies.edited_at
                   FROM replies JOIN posts ON posts.id = replies.post_id
                   WHERE replies.member_id = ? ORDER BY replies.created_at""",
                [member],
            ),
            "reactions": self._rows(
                """SELECT platform, channel_id, target_id, name, created_at, removed_at,
                          post_id IS NOT NULL AS counted
                   FROM reactions WHERE member_id = ? ORDER BY created_at""",
                [member],
            ),
            "erasures": self._rows(
                "SELECT requested_by, reason, erased_at, replies, reactions FROM erasures WHERE member_id = ?",
                [member],
            ),
        }

    def purge_old_text(self, before: datetime) -> int:
        """Retention: blank the text of replies older than ``before``; the rows, and so every count, stay."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE replies SET text = '' WHERE created_at < ? AND text != ''", [to_db(before)]
            )
        if cursor.rowcount:
            self.scrub()
        return cursor.rowcount

    def quote_candidates(self, start: datetime, end: datetime, emoji: str) -> list[dict[str, Any]]:
        """Replies of the week by members who consented to be quoted, with their counted reactions."""
        return self._rows(
            """SELECT r.id, r.post_id, r.text, r.created_at,
                      (SELECT count(*) FROM reactions x WHERE x.reply_id = r.id AND x.removed_at IS NULL) AS reactions
               FROM replies r
               WHERE r.created_at >= :start AND r.created_at < :end AND r.text != ''
                 AND (EXISTS (SELECT 1 FROM consents c WHERE c.member_id = r.member_id AND c.kind = 'quote')
                      OR EXISTS (SELECT 1 FROM reactions q WHERE q.member_id = r.member_id AND q.name = :emoji
                                 AND q.post_id IS NOT NULL AND q.removed_at IS NULL))""",
            {"start": to_db(start), "end": to_db(end), "emoji": emoji},
        )

    def _erase(self, member: str, *, requested_by: str, reason: str, at: datetime) -> ErasureCounts:
        # Other members' reactions on the erased replies go with them; the audit counts the member's own.
        self.db.execute(
            "DELETE FROM reactions WHERE reply_id IN (SELECT id FROM replies WHERE member_id = ?)", [member]
        )
        reactions = self.db.execute("DELETE FROM reactions WHERE member_id = ?", [member]).rowcount
        replies = self.db.execute("DELETE FROM replies WHERE member_id = ?", [member]).rowcount
        members = self.db.execute("DELETE FROM members WHERE member_id = ?", [member]).rowcount
        self.db.execute("DELETE FROM consents WHERE member_id = ?", [member])
        self.db.execute(
            """INSERT INTO erasures (member_id, requested_by, reason, erased_at, replies, reactions)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [member, requested_by, reason, to_db(at), replies, reactions],
        )
        return ErasureCounts(replies=replies, reactions=reactions, members=members)

    def scrub(self, attempts: int = 20) -> bool:
        """Move erased pages out of the write-ahead log, so deleted text survives nowhere in the files.

        secure_delete zeroes freed content in the database; a TRUNCATE checkpoint copies the zeroed pages
        into the main file and empties the WAL, which would otherwise still hold the earlier page images.
        A reader in another process can hold it up: the checkpoint never waits on the busy timeout, it is
        tried ``attempts`` times 0.1 s apart; False means it is still to do (the next commit retries).
        """
        for attempt in range(attempts):
            if self._checkpoint():
                self._scrub_pending = False
                return True
            if attempt + 1 < attempts:
                time.sleep(0.1)
        self._scrub_pending = True
        log = logger.warning if attempts > 1 else logger.debug
        log("erasure checkpoint held up by a reader; the next commit completes it")
        return False

    def _checkpoint(self) -> bool:
        conn = self.db.conn
        with self._lock:  # the busy timeout is the connection's: no other thread may use it meanwhile
            conn.execute("PRAGMA busy_timeout = 0")
            try:
                busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy

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
        for chunk in _batches(ids):
            for row in self._rows(f"SELECT * FROM posts WHERE id IN ({_marks(chunk, '?')})", chunk):
                found[row["id"]] = _post(row)
        return found

    _WEEK_ACTIVITY = """
        SELECT post_id, member_id, NULL AS name FROM replies WHERE created_at >= :start AND created_at < :end
        UNION ALL
        SELECT post_id, member_id, name FROM reactions
        WHERE created_at >= :start AND created_at < :end AND post_id IS NOT NULL AND removed_at IS NULL"""

    def activity_between(self, start: datetime, end: datetime) -> list[ActivityRow]:
        """Counted replies and reactions whose time falls in [start, end): a range scan on each table."""
        return self.db.execute(self._WEEK_ACTIVITY, {"start": to_db(start), "end": to_db(end)}).fetchall()

    def week_totals(self, start: datetime, end: datetime) -> WeekTotals:
        """Posts, replies, reactions and participants of [start, end), counted by SQLite."""
        bounds = {"start": to_db(start), "end": to_db(end)}
        posts = self._one("SELECT count(*) FROM posts WHERE posted_at >= :start AND posted_at < :end", bounds)
        replies, reactions, participants = self.db.execute(
            f"""SELECT count(name IS NULL OR NULL), count(name), count(DISTINCT member_id)
                FROM ({self._WEEK_ACTIVITY})""",
            bounds,
        ).fetchone()
        return WeekTotals(int(posts), int(replies), int(reactions), int(participants))

    def count_new_participants(self, members: Iterable[str], start: datetime) -> int:
        """How many of ``members`` have no counted activity before ``start``: two index seeks per member
        (idx_replies_member, and idx_reactions_counted_member of counted reactions), 500 members a statement."""
        new = 0
        for chunk in _batches(members):
            new += self._one(
                f"""SELECT count(*) FROM (VALUES {_marks(chunk, "(?)")}) AS m
                    WHERE NOT EXISTS (SELECT 1 FROM replies r WHERE r.member_id = m.column1 AND r.created_at < ?)
                      AND NOT EXISTS (SELECT 1 FROM reactions x
                                      WHERE x.member_id = m.column1 AND x.created_at < ?
                                        AND x.post_id IS NOT NULL AND x.removed_at IS NULL)""",
                [*chunk, to_db(start), to_db(start)],
            )
        return new

    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]:
        """Each post's first reply time: one statement per 500 posts, each post one seek on idx_replies_post."""
        found: dict[int, datetime] = {}
        for chunk in _batches(post_ids):
            rows = self.db.execute(
                f"""SELECT p.column1, (SELECT min(created_at) FROM replies WHERE post_id = p.column1)
                    FROM (VALUES {_marks(chunk, "(?)")}) AS p""",
                chunk,
            ).fetchall()
            found.update((post_id, from_db(first)) for post_id, first in rows if first is not None)
        return found

    # -- schedule runs (see bot.scheduler) --------------------------------------------------------------

    def claim_slot(
        self,
        kind: str,
        slot: datetime,
        platform: Platform,
        channel_id: str,
        now: datetime,
        *,
        max_attempts: int,
        retry_base: timedelta,
    ) -> Claim:
        """Claim one (kind, slot, channel) for posting; only one caller, in any process, ever gets CLAIMED."""
        key = [kind, to_db(slot), platform.value, channel_id]
        with self.transaction():
            rows = self._rows(
                """SELECT status, attempts, finished_at FROM schedule_runs
                   WHERE kind = ? AND slot = ? AND platform = ? AND channel_id = ?""",
                key,
            )
            if not rows:
                self.db.execute(
                    """INSERT INTO schedule_runs (kind, slot, platform, channel_id, status, claimed_at, attempts)
                       VALUES (?, ?, ?, ?, 'claimed', ?, 1)""",
                    [*key, to_db(now)],
                )
                return Claim.CLAIMED
            row = rows[0]
            status = row["status"]
            if status == "done":
                return Claim.DONE
            if status == "skipped":
                return Claim.SKIPPED
            if status == "claimed":
                return Claim.IN_DOUBT
            if row["attempts"] >= max_attempts:
                return Claim.GAVE_UP
            due = from_db(row["finished_at"]) + retry_delay(row["attempts"], retry_base)
            if now < due:
                return Claim.WAIT
            self.db.execute(
                """UPDATE schedule_runs SET status = 'claimed', claimed_at = ?, attempts = attempts + 1
                   WHERE kind = ? AND slot = ? AND platform = ? AND channel_id = ?""",
                [to_db(now), *key],
            )
            return Claim.CLAIMED

    def _finish_slot(
        self,
        kind: str,
        slot: datetime,
        platform: Platform,
        channel_id: str,
        now: datetime,
        status: str,
        message_id: str | None,
        error: str | None,
    ) -> None:
        with self.transaction():
            self.db.execute(
                """UPDATE schedule_runs SET status = ?, finished_at = ?, message_id = ?, error = ?
                   WHERE kind = ? AND slot = ? AND platform = ? AND channel_id = ?""",
                [status, to_db(now), message_id, error, kind, to_db(slot), platform.value, channel_id],
            )

    def finish_slot(
        self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime, message_id: str
    ) -> None:
        self._finish_slot(kind, slot, platform, channel_id, now, "done", message_id, None)

    def fail_slot(
        self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime, error: str
    ) -> None:
        self._finish_slot(kind, slot, platform, channel_id, now, "failed", None, error[:500])

    def skip_slot(self, kind: str, slot: datetime, platform: Platform, channel_id: str, now: datetime) -> bool:
        """Record a slot as skipped (too late); True the first time, so it is logged once."""
        with self.transaction():
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO schedule_runs (kind, slot, platform, channel_id, status, claimed_at,
                   finished_at, attempts) VALUES (?, ?, ?, ?, 'skipped', ?, ?, 0)""",
                [kind, to_db(slot), platform.value, channel_id, to_db(now), to_db(now)],
            )
        return cursor.rowcount > 0

    def schedule_runs(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM schedule_runs ORDER BY slot, kind, platform, channel_id")

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

    # -- Teams conversation references ---------------------------------------------------------------------------

    def save_conversation_ref(
        self,
        channel_id: str,
        team_id: str | None,
        tenant_id: str | None,
        service_url: str,
        reference_json: str,
        at: datetime,
    ) -> None:
        """Remember how to reach a Teams channel (the latest reference wins)."""
        with self.transaction():
            self.db.execute(
                """INSERT INTO conversation_refs (channel_id, team_id, tenant_id, service_url, reference, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (channel_id) DO UPDATE SET team_id = coalesce(excluded.team_id, team_id),
                       tenant_id = coalesce(excluded.tenant_id, tenant_id), service_url = excluded.service_url,
                       reference = excluded.reference, updated_at = excluded.updated_at""",
                [channel_id, team_id, tenant_id, service_url, reference_json, to_db(at)],
            )

    def get_conversation_ref(self, channel_id: str) -> dict[str, Any] | None:
        """The stored reference row of a Teams channel (``reference`` is the JSON text), or None."""
        rows = self._rows("SELECT * FROM conversation_refs WHERE channel_id = ?", [channel_id])
        return rows[0] if rows else None

    def list_conversation_refs(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM conversation_refs ORDER BY team_id, channel_id")

    # -- reconciliation (see adapters.reconcile) -----------------------------------------------------------------

    def recent_posts(self, platform: Platform, since: datetime) -> list[PostRecord]:
        """The platform's posts made at or after ``since``, oldest first."""
        rows = self._rows(
            "SELECT * FROM posts WHERE platform = ? AND posted_at >= ? ORDER BY posted_at, id",
            [platform.value, to_db(since)],
        )
        return [_post(r) for r in rows]

    def post_replies(self, post_id: int) -> list[ReplyRecord]:
        """The stored replies in one post's thread, oldest first."""
        rows = self._rows("SELECT * FROM replies WHERE post_id = ? ORDER BY created_at, id", [post_id])
        return [_reply(r) for r in rows]

    def reactions_on(self, platform: Platform, channel_id: str, target_id: str) -> list[ReactionRecord]:
        """Every stored reaction row on one message: counted, removed and not yet resolved alike."""
        rows = self._rows(
            "SELECT * FROM reactions WHERE platform = ? AND channel_id = ? AND target_id = ? ORDER BY id",
            [platform.value, channel_id, target_id],
        )
        return [_reaction(r) for r in rows]


def _batches(values: Iterable[Key]) -> Iterator[list[Key]]:
    """The distinct ``values`` in sorted batches of BATCH: one statement each, well under SQLite's variable limit."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), BATCH):
        yield wanted[start : start + BATCH]


def _marks(chunk: Sequence[object], mark: str) -> str:
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
