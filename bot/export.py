"""Exports for spreadsheets and analysts: one row per reply and per reaction, pseudonyms, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.events import Platform
from bot.model import PostRecord
from bot.ports import Store
from bot.timeutil import IsoWeek, to_display

# The first thirteen are the original columns, in their original order; later columns are only ever appended.
EXPORT_FIELDS = (
    "kind",
    "platform",
    "channel",
    "post_id",
    "theme",
    "prompt",
    "message_id",
    "member",
    "display_name",
    "text",
    "reaction",
    "created_at",
    "edited_at",
    "week",
    "local_date",
    "local_time",
    "quote_consent",
)
FREE_TEXT = frozenset({"text", "display_name"})  # written by members: guarded against formula injection


def export_rows(
    store: Store, start: datetime, end: datetime, tz: ZoneInfo, *, replies_only: bool = False
) -> list[dict[str, Any]]:
    """The replies (and, unless ``replies_only``, the counted reactions) from ``start`` to ``end``, oldest first.

    ``created_at``/``edited_at`` are UTC; ``week``, ``local_date`` and ``local_time`` are in ``tz``.
    ``quote_consent`` says whether a reply's author may be quoted: the one rule of quote consent, which the weekly
    summary's quotes follow too (``Store.quote_consenting``).
    """
    replies = store.replies_between(start, end)
    reactions = [] if replies_only else [r for r in store.reactions_between(start, end) if r.post_id is not None]
    posts = store.posts_by_ids({r.post_id for r in replies} | {r.post_id for r in reactions if r.post_id})
    names = store.member_names({r.member_id for r in replies} | {r.member_id for r in reactions})
    quotable = store.quote_consenting({r.member_id for r in replies}) if replies else set()

    def row(kind: str, platform: Platform, channel: str, post: PostRecord, message: str, member: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "platform": platform.value,
            "channel": channel,
            "post_id": post.key,
            "theme": post.theme,
            "prompt": post.prompt,
            "message_id": message,
            "member": member,
            "display_name": names.get(member, ""),
        }

    rows: list[dict[str, Any]] = []
    for reply in replies:
        rows.append(
            row("reply", reply.platform, reply.channel_id, posts[reply.post_id], reply.message_id, reply.member_id)
            | {"text": reply.text, "reaction": ""}
            | _times(reply.created_at, reply.edited_at, tz)
            | {"quote_consent": "yes" if reply.member_id in quotable else "no"}
        )
    for reaction in reactions:
        assert reaction.post_id is not None
        rows.append(
            row("reaction", reaction.platform, reaction.channel_id, posts[reaction.post_id], reaction.target_id,
                reaction.member_id)
            | {"text": "", "reaction": reaction.name}
            | _times(reaction.created_at, None, tz)
            | {"quote_consent": ""}
        )  # fmt: skip
    rows.sort(key=lambda r: (r["created_at"], r["kind"], r["message_id"]))
    return rows


def _times(created: datetime, edited: datetime | None, tz: ZoneInfo) -> dict[str, str]:
    local = created.astimezone(tz)
    return {
        "created_at": to_display(created),
        "edited_at": to_display(edited) if edited else "",
        "week": str(IsoWeek.containing(created, tz)),
        "local_date": local.date().isoformat(),
        "local_time": local.strftime("%H:%M:%S"),
    }


def anonymise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with member ids replaced by ``member-001``… in order of first appearance, no display names, and
    members' message ids replaced by ``message-0001``… (a platform id leads back to its author); the prompts' own
    ids stay, so reactions still point at their prompt or at the pseudonymous reply."""
    members: dict[str, str] = {}
    messages: dict[str, str] = {}
    out = []
    for row in rows:
        member = members.setdefault(row["member"], f"member-{len(members) + 1:03d}")
        message = row["message_id"]
        if not row["post_id"].endswith(f":{message}"):
            message = messages.setdefault(message, f"message-{len(messages) + 1:04d}")
        out.append(row | {"member": member, "display_name": "", "message_id": message})
    return out


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_safe(row[k]) if k in FREE_TEXT else row[k] for k in EXPORT_FIELDS})
    return buffer.getvalue()


def rows_to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"


def csv_safe(value: Any) -> Any:
    """Keep spreadsheet programs from running member text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
