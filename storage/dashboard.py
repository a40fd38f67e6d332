"""The dashboard's sign-in records: single-use link tokens and sessions, each stored only as the hash of its secret.

A token is redeemed in one transaction: marked used only if still unused and unexpired, and the session inserted in
the same transaction, so two concurrent redemptions (even from two processes) give exactly one session.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.dashboard.signin import SessionRecord, TokenRecord
from bot.events import Platform
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase

TOKENS_KEPT = timedelta(days=1)  # used or expired tokens are deleted this long after they expire
SESSIONS_KEPT = timedelta(days=90)  # sessions (the sign-in record) are kept this long after they expire


def _time(value: str | None) -> datetime | None:
    return None if value is None else from_db(value)


def _session(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        session_hash=row["session_hash"],
        member_id=row["member_id"],
        created_at=from_db(row["created_at"]),
        expires_at=from_db(row["expires_at"]),
        last_seen_at=_time(row["last_seen_at"]),
        ended_at=_time(row["ended_at"]),
        ended_by=row["ended_by"],
    )


class DashboardRecords(SQLiteDatabase):
    """``bot.dashboard.signin.SignInStore``, and the listing behind ``engagebot dashboard-sessions``."""

    def save_dashboard_token(self, token_hash: str, member: str, created_at: datetime, expires_at: datetime) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM dashboard_tokens WHERE expires_at < ?", [to_db(created_at - TOKENS_KEPT)])
            self.db.execute(
                "INSERT INTO dashboard_tokens (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [token_hash, member, to_db(created_at), to_db(expires_at)],
            )

    def dashboard_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._rows("SELECT * FROM dashboard_tokens WHERE token_hash = ?", [token_hash])
        if not rows:
            return None
        row = rows[0]
        return TokenRecord(
            row["token_hash"], row["member_id"], from_db(row["created_at"]), from_db(row["expires_at"]),
            _time(row["used_at"]),
        )  # fmt: skip

    def start_dashboard_session(
        self, token_hash: str, session_hash: str, now: datetime, expires_at: datetime
    ) -> SessionRecord | None:
        """Use the token (if still unused and unexpired) and open a session for its member, atomically."""
        with self.transaction():
            used = self.db.execute(
                "UPDATE dashboard_tokens SET used_at = :now WHERE token_hash = :hash AND used_at IS NULL"
                " AND expires_at > :now",
                {"now": to_db(now), "hash": token_hash},
            ).rowcount
            if used != 1:
                return None
            self.db.execute("DELETE FROM dashboard_sessions WHERE expires_at < ?", [to_db(now - SESSIONS_KEPT)])
            self.db.execute(
                """INSERT INTO dashboard_sessions (session_hash, member_id, created_at, expires_at, last_seen_at)
                   SELECT :session, member_id, :now, :expires, :now FROM dashboard_tokens WHERE token_hash = :hash""",
                {"session": session_hash, "now": to_db(now), "expires": to_db(expires_at), "hash": token_hash},
            )
            rows = self._rows("SELECT * FROM dashboard_sessions WHERE session_hash = ?", [session_hash])
        return _session(rows[0])

    def dashboard_session(self, session_hash: str) -> SessionRecord | None:
        rows = self._rows("SELECT * FROM dashboard_sessions WHERE session_hash = ?", [session_hash])
        return _session(rows[0]) if rows else None

    def touch_dashboard_session(self, session_id: int, now: datetime, *, unless_since: datetime) -> None:
        """Record the session's last request, unless one was recorded at or after ``unless_since``."""
        with self.transaction():
            self.db.execute(
                "UPDATE dashboard_sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?",
                [to_db(now), session_id, to_db(unless_since)],
            )

    def end_dashboard_sessions(self, now: datetime, by: str, session_id: int | None = None) -> int:
        """End one session (or, with ``session_id`` None, every active one); returns how many ended now."""
        where = "ended_at IS NULL AND expires_at > :now" + ("" if session_id is None else " AND id = :id")
        with self.transaction():
            return int(
                self.db.execute(
                    f"UPDATE dashboard_sessions SET ended_at = :now, ended_by = :by WHERE {where}",
                    {"now": to_db(now), "by": by, "id": session_id},
                ).rowcount
            )

    def dashboard_sessions(self) -> list[SessionRecord]:
        """Every session kept (active ones and those of the last SESSIONS_KEPT), newest first."""
        return [_session(row) for row in self._rows("SELECT * FROM dashboard_sessions ORDER BY id DESC")]

    def dashboard_session_by_id(self, session_id: int) -> SessionRecord | None:
        rows = self._rows("SELECT * FROM dashboard_sessions WHERE id = ?", [session_id])
        return _session(rows[0]) if rows else None

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite ``PRAGMA data_version``): the dashboard's cache key."""
        return int(self._one("PRAGMA data_version"))

    def dashboard_channels(self) -> list[tuple[Platform, str]]:
        """Every channel that has posts, for the dashboard's channel filter."""
        rows = self._fetchall("SELECT DISTINCT platform, channel_id FROM posts ORDER BY platform, channel_id")
        return [(Platform(platform), channel) for platform, channel in rows]
