"""Members: what may be stored of a member (the capture gate), whether they may be quoted, and member rows kept only
while they have a reply or reaction.

- The **gate** (:meth:`MemberRecords.member_gate`): opted out, capture consent (opt-in mode) and the member's
  watermark, ``member_watermarks.not_before``: nothing of theirs from before it is ever stored. It moves to the time
  of their latest opt-out or opt-in, never back.
- **Quote consent** is the member's last word: ``quote ok`` and the quote emoji say yes, ``quote off`` (and the quote
  emoji removed) says no. A yes is a ``consents`` row with its time, a no a ``consent_withdrawals`` row with its
  time; a word older than the one on record (a reaction found late by reconciliation) changes nothing.
  :func:`quote_consent` is the one rule every reader of quote consent applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.model import MemberGate
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase, batches, marks


def quote_consent(member: str) -> str:
    """The SQL condition "the member in column ``member`` may be quoted": their last word was yes (a ``consents`` row
    of kind 'quote', which ``quote off`` and a removed quote emoji delete). The one rule of every quote: the weekly
    summaries, the export's ``quote_consent`` and the leadership report. One uncorrelated subquery, evaluated once
    per statement."""
    return f"{member} IN (SELECT member_id FROM consents WHERE kind = 'quote')"


ONE_MICROSECOND = timedelta(microseconds=1)
# The capture gate of the member named :m, as three columns (see member_gate); other reads add their own columns.
GATE_COLUMNS = """EXISTS (SELECT 1 FROM optouts WHERE member_id = :m),
                  EXISTS (SELECT 1 FROM consents WHERE member_id = :m AND kind = 'capture'),
                  (SELECT not_before FROM member_watermarks WHERE member_id = :m)"""
# The member row of :m, as two columns: whether it is stored, and its display name.
MEMBER_COLUMNS = """EXISTS (SELECT 1 FROM members WHERE member_id = :m),
                    (SELECT display_name FROM members WHERE member_id = :m)"""


def gate_of(opted_out: object, consent: object, not_before: str | None) -> MemberGate:
    """The gate from the three GATE_COLUMNS of a row."""
    return MemberGate(bool(opted_out), bool(consent), from_db(not_before) if not_before else None)


class MemberRecords(SQLiteDatabase):
    """The capture gate, watermarks, consents and idle member rows."""

    def member_gate(self, member: str) -> MemberGate:
        [row] = self._fetchall(f"SELECT {GATE_COLUMNS}", {"m": member})
        return gate_of(*row)

    def _raise_watermark(self, member: str, at: datetime) -> None:
        """Nothing of ``member`` from before ``at`` is stored from now on (the watermark never moves back)."""
        self.db.execute(
            """INSERT INTO member_watermarks (member_id, not_before) VALUES (?, ?)
               ON CONFLICT (member_id) DO UPDATE SET not_before = max(not_before, excluded.not_before)""",
            [member, to_db(at)],
        )

    def has_consent(self, member: str, kind: str) -> bool:
        return self._one("SELECT 1 FROM consents WHERE member_id = ? AND kind = ?", [member, kind]) is not None

    def set_consent(self, member: str, kind: str, given: bool, at: datetime) -> bool:
        """The member says so now (``quote ok|off``): it overrides every earlier word, whatever their times.
        True when the consent changed."""
        with self.transaction():
            last = self._last_word(member, kind)
            if last is not None and at <= last:
                at = last + ONE_MICROSECOND  # a platform clock ahead of ours: this word is still the latest
            return self._record_word(member, kind, given, at)

    def consent_word(self, member: str, kind: str, given: bool, at: datetime) -> bool:
        """A word said at ``at`` (the quote emoji added or removed): it counts only if newer than the one on record.
        True when the consent changed."""
        with self.transaction():
            last = self._last_word(member, kind)
            if last is not None and at <= last:
                return False
            return self._record_word(member, kind, given, at)

    def _last_word(self, member: str, kind: str) -> datetime | None:
        last = self._one(
            """SELECT max(t) FROM (SELECT given_at AS t FROM consents WHERE member_id = :m AND kind = :k
                                   UNION ALL
                                   SELECT withdrawn_at FROM consent_withdrawals WHERE member_id = :m AND kind = :k)""",
            {"m": member, "k": kind},
        )
        return from_db(last) if last else None

    def _record_word(self, member: str, kind: str, given: bool, at: datetime) -> bool:
        had = self.has_consent(member, kind)
        key = {"m": member, "k": kind, "at": to_db(at)}
        if given:
            self.db.execute(
                """INSERT INTO consents (member_id, kind, given_at) VALUES (:m, :k, :at)
                   ON CONFLICT (member_id, kind) DO UPDATE SET given_at = excluded.given_at""",
                key,
            )
            self.db.execute("DELETE FROM consent_withdrawals WHERE member_id = :m AND kind = :k", key)
        else:
            self.db.execute("DELETE FROM consents WHERE member_id = :m AND kind = :k", key)
            self.db.execute(
                """INSERT INTO consent_withdrawals (member_id, kind, withdrawn_at) VALUES (:m, :k, :at)
                   ON CONFLICT (member_id, kind) DO UPDATE SET withdrawn_at = excluded.withdrawn_at""",
                key,
            )
        return had != given

    def quote_consenting(self, members: Iterable[str]) -> set[str]:
        """The members among ``members`` who may be quoted now (:func:`quote_consent`)."""
        found: set[str] = set()
        for chunk in batches(members):
            rows = self._fetchall(
                f"""SELECT m.column1 FROM (VALUES {marks(chunk, "(?)")}) AS m
                    WHERE {quote_consent("m.column1")}""",
                chunk,
            )
            found.update(row[0] for row in rows)
        return found

    def has_counted_reaction(self, member: str, name: str) -> bool:
        """Whether ``member`` has a counted reaction ``name`` (on a prompt or a reply) in place."""
        sql = """SELECT 1 FROM reactions WHERE member_id = ? AND name = ? AND post_id IS NOT NULL
                 AND removed_at IS NULL LIMIT 1"""
        return self._one(sql, [member, name]) is not None

    def drop_idle_members(self, members: Iterable[str] | None = None) -> int:
        """Delete the member rows (of ``members``, or all) that have no reply and no reaction left: nothing is kept
        of someone who no longer takes part. Runs inside the caller's transaction; returns how many went."""
        idle = """NOT EXISTS (SELECT 1 FROM replies r WHERE r.member_id = members.member_id)
                  AND NOT EXISTS (SELECT 1 FROM reactions x WHERE x.member_id = members.member_id)"""
        if members is None:
            return int(self.db.execute(f"DELETE FROM members WHERE {idle}").rowcount)
        dropped = 0
        for chunk in batches(members):
            sql = f"DELETE FROM members WHERE member_id IN ({marks(chunk, '?')}) AND {idle}"
            dropped += self.db.execute(sql, chunk).rowcount
        return dropped
