"""Schedule runs: which (kind, slot, channel) is claimed, done, failed or skipped, across processes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.events import Platform
from bot.scheduler import Claim, retry_delay
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase


class ScheduleRuns(SQLiteDatabase):
    """The claims that make each scheduled post happen once (see bot.scheduler)."""

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
