"""Privacy: opt-out and erasure, consents and subject access (the retention purge is in storage.upkeep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.model import ErasureCounts
from bot.timeutil import to_db
from storage.db import SQLiteDatabase


def quote_consent(member: str) -> str:
    """The SQL condition "the member in column ``member`` agrees to be quoted", with the quote emoji as ``:emoji``.

    The one consent rule of every quote: the weekly summaries, the export's ``quote_consent`` and the report. The
    members who agree are one uncorrelated subquery, which SQLite evaluates once per statement (the emoji part is
    a range scan of idx_reactions_counted_name).
    """
    return f"""{member} IN (SELECT member_id FROM consents WHERE kind = 'quote'
                     UNION SELECT member_id FROM reactions WHERE name = :emoji
                                                              AND post_id IS NOT NULL AND removed_at IS NULL)"""


class PrivacyRecords(SQLiteDatabase):
    """Members' rights over their data: every removal is scrubbed out of the files once committed."""

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
