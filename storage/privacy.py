"""Privacy: opt-out and erasure, opt-in and subject access (consents are in storage.members, the retention purge in
storage.upkeep)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.model import ErasureCounts
from bot.timeutil import to_db
from storage.members import MemberRecords
from storage.scrub import SCRUB_WAIT_SECONDS


class PrivacyRecords(MemberRecords):
    """Members' rights over their data: every removal is scrubbed out of the files once committed."""

    def is_opted_out(self, member: str) -> bool:
        return self._one("SELECT 1 FROM optouts WHERE member_id = ?", [member]) is not None

    def opt_out(
        self, member: str, at: datetime, *, requested_by: str, reason: str, scrub_wait: float = SCRUB_WAIT_SECONDS
    ) -> ErasureCounts:
        """Stop capturing ``member`` and erase everything stored of them, in one transaction; then wait up to
        ``scrub_wait`` seconds for readers to let the text be scrubbed out of the files (``scrubbed`` says if it was;
        if not, the scrub stays on record and the next commit completes it)."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO optouts (member_id, opted_out_at) VALUES (?, ?)", [member, to_db(at)]
            )
            counts = self._erase(member, requested_by=requested_by, reason=reason, at=at)
        scrubbed = self.scrub(wait=scrub_wait)
        return replace(counts, scrubbed=scrubbed)

    def opt_in(self, member: str, at: datetime) -> bool:
        """Resume capture: the opt-out (if any) is lifted, capture consent recorded (for opt-in mode), and the
        member's watermark moved to ``at``: nothing of theirs from before this opt-in is ever stored."""
        with self.transaction():
            lifted = self.db.execute("DELETE FROM optouts WHERE member_id = ?", [member]).rowcount
            given = self.db.execute(
                "INSERT OR IGNORE INTO consents (member_id, kind, given_at) VALUES (?, 'capture', ?)",
                [member, to_db(at)],
            ).rowcount
            self._raise_watermark(member, at)
        return bool(lifted or given)

    def member_data(self, member: str) -> dict[str, Any]:
        """Everything stored about one member (subject access): member record, replies, reactions, consents, and an
        admin's dashboard sign-ins (without the hashes of their secrets, which say nothing about the member)."""
        record = self._rows("SELECT * FROM members WHERE member_id = ?", [member])
        return {
            "member": record[0] if record else None,
            "opted_out_at": self._one("SELECT opted_out_at FROM optouts WHERE member_id = ?", [member]),
            "capture_not_before": self._one("SELECT not_before FROM member_watermarks WHERE member_id = ?", [member]),
            "consents": self._rows("SELECT kind, given_at FROM consents WHERE member_id = ? ORDER BY kind", [member]),
            "consent_withdrawals": self._rows(
                "SELECT kind, withdrawn_at FROM consent_withdrawals WHERE member_id = ? ORDER BY kind", [member]
            ),
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
            "dashboard_links": self._rows(
                "SELECT created_at, expires_at, used_at FROM dashboard_tokens WHERE member_id = ? ORDER BY created_at",
                [member],
            ),
            "dashboard_sessions": self._rows(
                """SELECT id, created_at, expires_at, last_seen_at, ended_at, ended_by
                   FROM dashboard_sessions WHERE member_id = ? ORDER BY id""",
                [member],
            ),
        }

    def _erase(self, member: str, *, requested_by: str, reason: str, at: datetime) -> ErasureCounts:
        # Other members' reactions on the erased replies go with them (and the member rows of those who have nothing
        # else left); the audit counts the member's own.
        reactors = self.db.execute(
            "DELETE FROM reactions WHERE reply_id IN (SELECT id FROM replies WHERE member_id = ?) RETURNING member_id",
            [member],
        ).fetchall()
        reactions = self.db.execute("DELETE FROM reactions WHERE member_id = ?", [member]).rowcount
        replies = self.db.execute("DELETE FROM replies WHERE member_id = ?", [member]).rowcount
        members = self.db.execute("DELETE FROM members WHERE member_id = ?", [member]).rowcount
        self.drop_idle_members({row[0] for row in reactors})
        self.db.execute("DELETE FROM consents WHERE member_id = ?", [member])
        self.db.execute("DELETE FROM consent_withdrawals WHERE member_id = ?", [member])
        # An admin's dashboard sign-ins: the links and sessions go too, so every session of theirs ends at once.
        links = self.db.execute("DELETE FROM dashboard_tokens WHERE member_id = ?", [member]).rowcount
        sessions = self.db.execute("DELETE FROM dashboard_sessions WHERE member_id = ?", [member]).rowcount
        self._raise_watermark(member, at)  # what was erased never comes back, whatever path it arrives by
        self._text_removed()
        self.db.execute(
            """INSERT INTO erasures (member_id, requested_by, reason, erased_at, replies, reactions)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [member, requested_by, reason, to_db(at), replies, reactions],
        )
        return ErasureCounts(
            replies=replies,
            reactions=reactions,
            members=members,
            dashboard_links=links,
            dashboard_sessions=sessions,
        )
