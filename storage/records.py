"""Rows of the posts, replies and reactions tables as the core's dataclasses."""

from __future__ import annotations

from typing import Any

from bot.events import Platform
from bot.model import PostRecord, ReactionRecord, ReplyRecord
from bot.timeutil import from_db


def post_record(row: dict[str, Any]) -> PostRecord:
    return PostRecord(
        row["id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["message_id"],
        row["theme"],
        row["prompt"],
        from_db(row["posted_at"]),
    )


def reply_record(row: dict[str, Any]) -> ReplyRecord:
    return ReplyRecord(
        row["id"],
        row["post_id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["message_id"],
        row["member_id"],
        row["text"],
        from_db(row["created_at"]),
        from_db(row["edited_at"]) if row["edited_at"] else None,
    )


def reaction_record(row: dict[str, Any]) -> ReactionRecord:
    return ReactionRecord(
        row["id"],
        row["post_id"],
        row["reply_id"],
        Platform(row["platform"]),
        row["channel_id"],
        row["target_id"],
        row["member_id"],
        row["name"],
        from_db(row["created_at"]),
        from_db(row["removed_at"]) if row["removed_at"] else None,
    )
