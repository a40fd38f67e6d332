"""Reaction writes of the capture rules: a reaction added or removed (the later payload time wins), and reactions
that arrived before their reply counted once it is stored (see bot.capture)."""

from __future__ import annotations

from datetime import datetime

from bot.events import Platform
from bot.model import ReactionRecord, ReactionState, StoredReaction
from bot.timeutil import to_db
from storage.members import GATE_COLUMNS, MEMBER_COLUMNS, MemberRecords, gate_of
from storage.records import reaction_record


class ReactionRecords(MemberRecords):
    """Reactions: their state before a change, the change, and their resolution once their target is known."""

    def reaction_state(
        self, platform: Platform, channel_id: str, target_id: str, member: str, name: str
    ) -> ReactionState:
        """The reacting member's gate and the same reaction as stored, in one statement (see ReactionState)."""
        key = {"m": member, "p": platform.value, "c": channel_id, "t": target_id, "n": name}
        [row] = self._fetchall(
            f"""SELECT {GATE_COLUMNS}, {MEMBER_COLUMNS}, r.id, r.created_at, r.removed_at FROM (SELECT 1)
                LEFT JOIN reactions r ON r.platform = :p AND r.channel_id = :c AND r.target_id = :t
                                     AND r.member_id = :m AND r.name = :n""",
            key,
        )
        stored = None if row[5] is None else StoredReaction(row[5], row[6], row[7])
        return ReactionState(gate_of(*row[:3]), bool(row[3]), row[4], stored)

    def resolve_reactions(
        self, platform: Platform, channel_id: str, target_id: str, post_id: int, reply_id: int | None
    ) -> list[ReactionRecord]:
        """Count the reactions that arrived before their target: they now point at it. Returns them."""
        rows = self._rows(
            """UPDATE reactions SET post_id = ?, reply_id = ?
               WHERE platform = ? AND channel_id = ? AND target_id = ? AND post_id IS NULL RETURNING *""",
            [post_id, reply_id, platform.value, channel_id, target_id],
        )
        return [reaction_record(row) for row in rows]

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
        known: ReactionState | None = None,
    ) -> bool:
        """Record a reaction added (``present``) or removed; the later payload time wins, whatever the arrival order.
        ``known``: the reaction as stored, read earlier in the same transaction (else it is read here)."""
        key = [platform.value, channel_id, target_id, member, name]
        if known is not None:
            current = known.stored
        else:
            rows = self._fetchall(
                """SELECT id, created_at, removed_at FROM reactions
                   WHERE platform = ? AND channel_id = ? AND target_id = ? AND member_id = ? AND name = ?""",
                key,
            )
            current = StoredReaction(*rows[0]) if rows else None
        stamp = to_db(at)
        if current is None:
            self.db.conn.execute(
                """INSERT INTO reactions (platform, channel_id, target_id, member_id, name, created_at, removed_at,
                                          post_id, reply_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [*key, stamp, None if present else stamp, post_id, reply_id],
            )
            return present
        last_change = max(current.created_at, current.removed_at or "")
        if stamp < last_change:
            return False  # an older event arriving late
        if present == (current.removed_at is None):
            if stamp == last_change:
                return False  # the same change again (added twice counts once)
            # A later change of the same kind: the opposite change between them is late or lost. Keep the later
            # time, so that the opposite change, if it arrives, is older than the last word and ignored.
            column = "created_at" if present else "removed_at"
            self.db.execute(f"UPDATE reactions SET {column} = ? WHERE id = ?", [stamp, current.id])
            return True
        if present:
            self.db.execute("UPDATE reactions SET created_at = ?, removed_at = NULL WHERE id = ?", [stamp, current.id])
        else:
            self.db.execute("UPDATE reactions SET removed_at = ? WHERE id = ?", [stamp, current.id])
        return True
