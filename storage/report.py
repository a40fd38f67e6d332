"""The leadership report's reads (``bot.report.ReportSource``) and the readable channel names it prints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from operator import itemgetter

from bot.events import Platform
from bot.report.model import ChannelKey, ReportReply
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase
from storage.members import quote_consent

_OLDEST_FIRST = itemgetter(6, 0)  # created_at, then id


class ReportRecords(SQLiteDatabase):
    """A period's replies with what the report's text analysis needs, and the ``channels`` table."""

    def report_replies(self, start: datetime, end: datetime, quote_emoji: str) -> list[ReportReply]:
        """Every counted reply created in [start, end), oldest first, with its post's theme and the member's quote
        consent (the rule of every quote: ``storage.members.quote_consent``, decided once per member). Erased and
        opted-out members have no replies left to return."""
        cursor = self.db.execute(
            f"""SELECT r.id, r.post_id, p.theme, r.platform, r.member_id, r.text, r.created_at,
                       {quote_consent("r.member_id")}
                FROM replies r JOIN posts p ON p.id = r.post_id
                WHERE r.created_at >= :start AND r.created_at < :end""",
            {"start": to_db(start), "end": to_db(end)},
        )
        platforms = {p.value: p for p in Platform}
        strings: dict[str, str] = {}
        one = strings.setdefault  # one string object per distinct theme, member and text: memory, faster lookups
        rows: list[tuple[int, int, str, str, str, str, str, int]] = [
            (i, post, one(theme, theme), platform, one(member, member), one(text, text), at, ok)
            for i, post, theme, platform, member, text, at, ok in cursor
        ]
        rows.sort(key=_OLDEST_FIRST)  # created_at is fixed-width UTC text: text order is time order
        return [
            ReportReply(i, post, theme, platforms[platform], member, text, from_db(at), bool(ok))
            for i, post, theme, platform, member, text, at, ok in rows
        ]

    def channel_names(self, channels: Iterable[ChannelKey]) -> dict[ChannelKey, str]:
        """The stored names of those ``channels`` that have one (as the platform spells them: no "#")."""
        wanted = set(channels)
        rows = self.db.execute("SELECT platform, channel_id, name FROM channels").fetchall()
        found = {(Platform(platform), channel): name for platform, channel, name in rows}
        return {key: found[key] for key in sorted(wanted & found.keys())}

    def save_channel_names(self, platform: Platform, names: Mapping[str, str], at: datetime) -> None:
        """Remember channels' readable names (the latest wins); empty names are ignored."""
        rows = [(platform.value, channel, name.strip(), to_db(at)) for channel, name in names.items() if name.strip()]
        if not rows:
            return
        with self.transaction():
            self.db.conn.executemany(
                """INSERT INTO channels (platform, channel_id, name, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (platform, channel_id) DO UPDATE SET name = excluded.name,
                       updated_at = excluded.updated_at""",
                rows,
            )
