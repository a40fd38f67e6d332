"""Schedule runs: each (kind, slot, channel) claimed, done, failed, in doubt, unresolved or skipped, across
processes (the states are described in ``bot.slots``); and the install's first start."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.events import Platform
from bot.prompts import Prompt
from bot.slots import Claim, Kind, PendingSlot, SlotKey, retry_delay
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase

_WHERE_KEY = "kind = ? AND slot = ? AND platform = ? AND channel_id = ?"


def _key(key: SlotKey) -> list[str]:
    return [key.kind.value, to_db(key.slot), key.platform.value, key.channel_id]


class ScheduleRuns(SQLiteDatabase):
    """The claims that make each scheduled post happen at most once (see bot.scheduler and bot.in_doubt)."""

    def claim_slot(self, key: SlotKey, now: datetime, *, max_attempts: int, retry_base: timedelta) -> Claim:
        """Claim one slot for posting; only one caller, in any process, ever gets CLAIMED for an attempt."""
        with self.transaction():
            rows = self._rows(f"SELECT status, attempts, finished_at FROM schedule_runs WHERE {_WHERE_KEY}", _key(key))
            if not rows:
                self.db.execute(
                    """INSERT INTO schedule_runs (kind, slot, platform, channel_id, status, claimed_at, attempts)
                       VALUES (?, ?, ?, ?, 'claimed', ?, 1)""",
                    [*_key(key), to_db(now)],
                )
                return Claim.CLAIMED
            row = rows[0]
            if row["status"] == "claimed":  # being posted now, or its process died mid-post
                return Claim.IN_DOUBT
            if row["status"] != "failed":  # done, skipped, in_doubt, unresolved
                return Claim(row["status"])
            if row["attempts"] >= max_attempts:
                return Claim.GAVE_UP
            if now < from_db(row["finished_at"]) + retry_delay(row["attempts"], retry_base):
                return Claim.WAIT
            self.db.execute(
                f"""UPDATE schedule_runs SET status = 'claimed', claimed_at = ?, attempts = attempts + 1,
                    finished_at = NULL, message_id = NULL, theme = NULL, prompt = NULL WHERE {_WHERE_KEY}""",
                [to_db(now), *_key(key)],
            )
            return Claim.CLAIMED

    def note_prompt(self, key: SlotKey, prompt: Prompt) -> None:
        """The prompt this attempt posts, so that a post found later is recorded with it."""
        with self.transaction():
            self.db.execute(
                f"UPDATE schedule_runs SET theme = ?, prompt = ? WHERE {_WHERE_KEY}",
                [prompt.theme, prompt.text, *_key(key)],
            )

    def _settle(
        self, key: SlotKey, now: datetime, status: str, *, message_id: str | None = None, error: str | None = None
    ) -> None:
        with self.transaction():
            self.db.execute(
                f"UPDATE schedule_runs SET status = ?, finished_at = ?, message_id = ?, error = ? WHERE {_WHERE_KEY}",
                [status, to_db(now), message_id, None if error is None else error[:500], *_key(key)],
            )

    def finish_slot(self, key: SlotKey, now: datetime, message_id: str) -> None:
        self._settle(key, now, "done", message_id=message_id)

    def fail_slot(self, key: SlotKey, now: datetime, error: str) -> None:
        self._settle(key, now, "failed", error=error)

    def doubt_slot(self, key: SlotKey, now: datetime, error: str) -> None:
        self._settle(key, now, "in_doubt", error=error)

    def abandon_slot(self, key: SlotKey, now: datetime, error: str) -> None:
        self._settle(key, now, "unresolved", error=error)

    def drop_slot(self, key: SlotKey, now: datetime, reason: str) -> None:
        """A slot the caller claimed has nothing to post: skipped."""
        self._settle(key, now, "skipped", error=reason)

    def skip_slot(self, key: SlotKey, now: datetime) -> bool:
        """Record a slot as skipped (too late); True the first time, so it is logged once. An existing row (in
        doubt, say) is left as it is."""
        with self.transaction():
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO schedule_runs (kind, slot, platform, channel_id, status, claimed_at,
                   finished_at, attempts, error) VALUES (?, ?, ?, ?, 'skipped', ?, ?, 0, 'late')""",
                [*_key(key), to_db(now), to_db(now)],
            )
        return cursor.rowcount > 0

    def slots_in_doubt(self, now: datetime, *, lease: timedelta, retry_base: timedelta) -> list[PendingSlot]:
        """Slots to check now: in doubt and due (backoff from the last check), or claimed longer than ``lease`` ago
        (the process that claimed them died before it could record the outcome)."""
        rows = self._rows(
            """SELECT * FROM schedule_runs WHERE status = 'in_doubt' OR (status = 'claimed' AND claimed_at <= ?)
               ORDER BY slot, kind, platform, channel_id""",
            [to_db(now - lease)],
        )
        due = []
        for row in rows:
            checked = row["finished_at"]  # an in-doubt row's last check (or the failed attempt)
            if (
                row["status"] == "in_doubt"
                and checked
                and now < from_db(checked) + retry_delay(row["attempts"], retry_base)
            ):
                continue
            key = SlotKey(Kind(row["kind"]), from_db(row["slot"]), Platform(row["platform"]), row["channel_id"])
            prompt = Prompt(row["theme"], row["prompt"]) if row["theme"] is not None else None
            due.append(PendingSlot(key, from_db(row["claimed_at"]), row["attempts"], prompt))
        return due

    def schedule_runs(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM schedule_runs ORDER BY slot, kind, platform, channel_id")

    # -- the install's first start ------------------------------------------------------------------------------

    def record_first_start(self, now: datetime) -> datetime:
        """The first time the bot started its schedule: ``now`` unless an earlier start is recorded."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO installation (id, first_started_at) VALUES (1, ?)",
                [to_db(now)],
            )
        first = self.first_start()
        assert first is not None
        return first

    def first_start(self) -> datetime | None:
        value = self._one("SELECT first_started_at FROM installation WHERE id = 1")
        return None if value is None else from_db(value)
