"""Teams conversation references: how to reach a channel proactively, saved from the activities that name it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.timeutil import to_db
from storage.db import SQLiteDatabase


class ConversationRefs(SQLiteDatabase):
    """One stored reference per Teams channel (the latest wins)."""

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
