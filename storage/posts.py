"""The prompt library's table and the prompts posted into channels."""

from __future__ import annotations

from datetime import datetime

from bot.events import Platform
from bot.model import PostRecord
from bot.prompts import Library, PostedPrompt, Prompt
from bot.timeutil import from_db, to_db
from storage.db import SQLiteDatabase
from storage.records import post_record


class PostRecords(SQLiteDatabase):
    """Prompts synced from the library, and each post of one into a channel."""

    def sync_prompts(self, library: Library) -> None:
        """Make the prompts table match the library: new prompts added, removed ones marked inactive."""
        with self.transaction():
            self.db.execute("UPDATE prompts SET active = 0")
            for prompt in library.prompts:
                self.db.execute(
                    """INSERT INTO prompts (theme, text, active) VALUES (?, ?, 1)
                       ON CONFLICT (theme, text) DO UPDATE SET active = 1""",
                    [prompt.theme, prompt.text],
                )

    def prompt_history(self, platform: Platform, channel_id: str) -> list[PostedPrompt]:
        rows = self._rows(
            "SELECT theme, prompt, posted_at FROM posts WHERE platform = ? AND channel_id = ? ORDER BY posted_at",
            [platform.value, channel_id],
        )
        return [PostedPrompt(r["theme"], r["prompt"], from_db(r["posted_at"])) for r in rows]

    def prompt_last_posted(self) -> dict[tuple[str, str], datetime]:
        rows = self._rows("SELECT theme, prompt, max(posted_at) AS last FROM posts GROUP BY theme, prompt")
        return {(r["theme"], r["prompt"]): from_db(r["last"]) for r in rows}

    def record_post(
        self, platform: Platform, channel_id: str, message_id: str, prompt: Prompt, posted_at: datetime
    ) -> PostRecord:
        """Record a prompt posted into a channel; a post already recorded (same message) is returned as it is."""
        with self.transaction():
            prompt_id = self._one("SELECT id FROM prompts WHERE theme = ? AND text = ?", [prompt.theme, prompt.text])
            self.db.execute(
                """INSERT INTO posts (platform, channel_id, message_id, prompt_id, theme, prompt, posted_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (platform, channel_id, message_id) DO NOTHING""",
                [platform.value, channel_id, message_id, prompt_id, prompt.theme, prompt.text, to_db(posted_at)],
            )
            rows = self._rows(
                "SELECT * FROM posts WHERE platform = ? AND channel_id = ? AND message_id = ?",
                [platform.value, channel_id, message_id],
            )
        return post_record(rows[0])
