"""Capture writes: seen events, replies, edits, deletions, reactions and members (see bot.capture.CaptureStore)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlite_utils import Database

from bot.events import Platform
from bot.model import PostRecord, ReplyRecord, ReplyTarget
from bot.timeutil import from_db, to_db, utc_now
from storage.members import GATE_COLUMNS, MEMBER_COLUMNS, gate_of
from storage.reactions import ReactionRecords
from storage.records import post_record, reply_record

POSTS_KEPT = 4096  # prompt posts kept in memory by find_post


class CaptureRecords(ReactionRecords):
    """What the capture rules read and write; the rules themselves are in bot.capture."""

    def __init__(self, db: Database, path: str) -> None:
        super().__init__(db, path)
        self._posts: dict[tuple[Platform, str, str], PostRecord] = {}

    def event_seen(self, event_key: str) -> bool:
        return self._one("SELECT 1 FROM seen_events WHERE event_key = ?", [event_key]) is not None

    def mark_event_seen(self, event_key: str, platform: Platform) -> bool:
        """Mark a delivery's key seen; False when it already was (a redelivery)."""
        cursor = self.db.conn.execute(
            "INSERT OR IGNORE INTO seen_events (event_key, platform, seen_at) VALUES (?, ?, ?)",
            [event_key, platform.value, to_db(utc_now())],
        )
        return cursor.rowcount > 0

    def unmark_event_seen(self, event_key: str) -> None:
        """Forget a key marked in the open transaction (its delivery changed nothing)."""
        self.db.conn.execute("DELETE FROM seen_events WHERE event_key = ?", [event_key])

    def claim_event(self, event_key: str, platform: Platform) -> bool:
        """Mark ``event_key`` seen and commit at once; False when it was already seen (a redelivery)."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO seen_events (event_key, platform, seen_at) VALUES (?, ?, ?)",
                [event_key, platform.value, to_db(utc_now())],
            )
            return cursor.rowcount > 0

    def find_post(self, platform: Platform, channel_id: str, message_id: str) -> PostRecord | None:
        """The prompt posted as this message, if it is one. Posts are never changed or deleted, and are recorded in
        a transaction of their own, so a post found once is kept in memory (bounded); a miss always asks the
        database (a post recorded since, by this process or another, is found)."""
        key = (platform, channel_id, message_id)
        found = self._posts.get(key)
        if found is not None:
            return found
        rows = self._rows(
            "SELECT * FROM posts WHERE platform = ? AND channel_id = ? AND message_id = ?",
            [platform.value, channel_id, message_id],
        )
        if not rows:
            return None
        found = post_record(rows[0])
        if len(self._posts) >= POSTS_KEPT:
            self._posts.clear()
        self._posts[key] = found
        return found

    def find_reply(self, platform: Platform, channel_id: str, message_id: str) -> ReplyRecord | None:
        rows = self._rows(
            "SELECT * FROM replies WHERE platform = ? AND channel_id = ? AND message_id = ?",
            [platform.value, channel_id, message_id],
        )
        return reply_record(rows[0]) if rows else None

    def find_reply_or_deletion(
        self, platform: Platform, channel_id: str, message_id: str
    ) -> tuple[ReplyRecord | None, bool]:
        """:meth:`find_reply` and :meth:`is_deleted` in one statement: the reply stored as this message, if any, and
        whether the message's deletion is remembered."""
        key = [platform.value, channel_id, message_id]
        rows = self._rows(
            """SELECT r.*, EXISTS (SELECT 1 FROM deleted_messages
                                   WHERE platform = ? AND channel_id = ? AND message_id = ?) AS deleted_
               FROM (SELECT 1) LEFT JOIN replies r ON r.platform = ? AND r.channel_id = ? AND r.message_id = ?""",
            key + key,
        )
        row = rows[0]
        return (reply_record(row) if row["id"] is not None else None), bool(row["deleted_"])

    def reply_target(self, platform: Platform, channel_id: str, message_id: str, member: str) -> ReplyTarget:
        """Everything the capture rules check before storing a reply, in one statement (see ReplyTarget)."""
        key = {"m": member, "p": platform.value, "c": channel_id, "id": message_id}
        [row] = self._fetchall(
            f"""SELECT {GATE_COLUMNS}, {MEMBER_COLUMNS},
                   EXISTS (SELECT 1 FROM replies WHERE platform = :p AND channel_id = :c AND message_id = :id),
                   EXISTS (SELECT 1 FROM deleted_messages WHERE platform = :p AND channel_id = :c AND message_id = :id),
                   EXISTS (SELECT 1 FROM reactions
                           WHERE platform = :p AND channel_id = :c AND target_id = :id AND post_id IS NULL),
                   (SELECT purged_before FROM text_retention WHERE id = 1)""",
            key,
        )
        gate, member_stored, member_name = gate_of(*row[:3]), bool(row[3]), row[4]
        horizon = row[8]
        return ReplyTarget(
            gate,
            member_stored,
            member_name,
            bool(row[5]),
            bool(row[6]),
            bool(row[7]),
            from_db(horizon) if horizon else None,
        )

    def is_deleted(self, platform: Platform, channel_id: str, message_id: str) -> bool:
        sql = "SELECT 1 FROM deleted_messages WHERE platform = ? AND channel_id = ? AND message_id = ?"
        return self._one(sql, [platform.value, channel_id, message_id]) is not None

    def mark_deleted(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> None:
        """Remember a deletion (the latest, when a restored message is deleted again)."""
        self.db.execute(
            """INSERT INTO deleted_messages (platform, channel_id, message_id, deleted_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (platform, channel_id, message_id) DO UPDATE
               SET deleted_at = max(deleted_at, excluded.deleted_at)""",
            [platform.value, channel_id, message_id, to_db(at)],
        )

    def mark_restored(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> None:
        """Remember a restore (the latest) and lift the deletion it undoes; a deletion after ``at`` stands."""
        key = [platform.value, channel_id, message_id]
        self.db.execute(
            """INSERT INTO restored_messages (platform, channel_id, message_id, restored_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (platform, channel_id, message_id) DO UPDATE
               SET restored_at = max(restored_at, excluded.restored_at)""",
            [*key, to_db(at)],
        )
        self.db.execute(
            """DELETE FROM deleted_messages WHERE platform = ? AND channel_id = ? AND message_id = ?
               AND deleted_at <= ?""",
            [*key, to_db(at)],
        )

    def restored_since(self, platform: Platform, channel_id: str, message_id: str, at: datetime) -> bool:
        """Was the message restored at or after ``at`` (so a deletion at ``at`` is older than the restore)?"""
        sql = """SELECT 1 FROM restored_messages WHERE platform = ? AND channel_id = ? AND message_id = ?
                 AND restored_at >= ?"""
        return self._one(sql, [platform.value, channel_id, message_id, to_db(at)]) is not None

    def upsert_member(self, member: str, platform: Platform, user_id: str, display_name: str | None) -> None:
        """The member's row; a display name the event carries replaces the stored one (a returning member whose name
        is unchanged costs no write)."""
        self.db.conn.execute(
            """INSERT INTO members (member_id, platform, user_id, display_name) VALUES (?, ?, ?, ?)
               ON CONFLICT (member_id) DO UPDATE SET display_name = excluded.display_name
               WHERE excluded.display_name IS NOT NULL AND display_name IS NOT excluded.display_name""",
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
        """Delete a reply and the reactions to it; the member rows of its author and of those who reacted go too
        if nothing else of theirs is left."""
        members = [
            row[0]
            for row in self.db.execute(
                """SELECT member_id FROM replies WHERE id = :id
                   UNION SELECT member_id FROM reactions WHERE reply_id = :id""",
                {"id": reply_id},
            ).fetchall()
        ]
        self.db.execute("DELETE FROM reactions WHERE reply_id = ?", [reply_id])
        self.db.execute("DELETE FROM replies WHERE id = ?", [reply_id])
        self.drop_idle_members(members)
        self._text_removed()

    def first_post_at(self, platform: Platform, channel_id: str) -> datetime | None:
        """The time of the channel's first prompt (None: the channel never had one); a seek on idx_posts_channel."""
        value = self._one(
            "SELECT min(posted_at) FROM posts WHERE platform = ? AND channel_id = ?", [platform.value, channel_id]
        )
        return from_db(value) if value else None

    def member_has_name(self, member: str) -> bool:
        return self._one("SELECT display_name FROM members WHERE member_id = ?", [member]) is not None

    def set_display_name(self, member: str, display_name: str) -> None:
        self.set_display_names([(member, display_name)])

    def set_display_names(self, names: Sequence[tuple[str, str]]) -> None:
        """(member, display name) pairs, for members already stored (a member erased meanwhile stays erased)."""
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE members SET display_name = ? WHERE member_id = ?", [(name, member) for member, name in names]
            )

    async def store_display_names(self, names: Sequence[tuple[str, str]]) -> None:
        """:meth:`set_display_names` through the writer thread: one statement per name in a shared batch."""
        await self.submit(lambda: self.set_display_names(names))
