"""Engagement: the operations the CLI, the chat commands and the scheduler share."""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import ChannelConfig, Settings
from bot.events import Platform
from bot.model import ErasureCounts, PostRecord
from bot.ports import Card, Poster, Store
from bot.prompts import Library, Prompt, next_prompt
from bot.summary import Summary, build_summary, change
from bot.timeutil import IsoWeek, to_display, utc_now

logger = logging.getLogger(__name__)

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
)
FREE_TEXT = frozenset({"text", "display_name"})  # written by members: guarded against formula injection
PRIVACY_NOTICE = (
    "Replies and reactions in this thread are captured for engagement analysis. "
    "`/engage privacy` explains what is kept; `/engage optout` stops it."
)


@dataclass(frozen=True, slots=True)
class ThemeOverview:
    theme: str
    prompts: int
    last_posted: datetime | None


class Engagement:
    def __init__(self, settings: Settings, library: Library, store: Store) -> None:
        self.settings = settings
        self.library = library
        self.store = store

    # -- weeks and summaries -------------------------------------------------------------------------

    def week(self, text: str | None, *, now: datetime | None = None) -> IsoWeek:
        return IsoWeek.parse(text or "last", now=now or utc_now(), tz=self.settings.timezone)

    def summary(self, week: IsoWeek) -> Summary:
        return build_summary(self.store, week, self.settings.timezone)

    def summary_card(self, summary: Summary) -> Card:
        """The weekly summary as a card, with the change against the previous week (same figures as the CLI)."""
        t, p = summary.totals, summary.previous
        median = summary.median_minutes_to_first_reply
        facts = (
            ("Posts", f"{t.posts} ({change(t.posts, p.posts)})"),
            ("Replies", f"{t.replies} ({change(t.replies, p.replies)})"),
            ("Reactions", f"{t.reactions} ({change(t.reactions, p.reactions)})"),
            (
                "Participants",
                f"{t.participants} ({change(t.participants, p.participants)}); "
                f"{summary.new_participants} new, {summary.returning_participants} returning",
            ),
            ("Median to first reply", "none" if median is None else f"{median:g} min"),
        )
        sections: list[tuple[str, str]] = []
        platforms = ", ".join(
            f"{pl.value}: {f.replies} replies, {f.reactions} reactions" for pl, f in summary.by_platform.items()
        )
        sections.append(("By platform", platforms))
        if summary.by_theme:
            sections.append(
                (
                    "Top themes",
                    "\n".join(
                        f"• {theme}: {f.replies} replies, {f.reactions} reactions, {f.participants} participants"
                        for theme, f in summary.by_theme[:5]
                    ),
                )
            )
        if summary.by_post:
            sections.append(
                (
                    "Most discussed prompts",
                    "\n".join(
                        f"• {_clip(item.post.prompt, 120)} ({item.figures.replies} replies)"
                        for item in summary.by_post[:3]
                    ),
                )
            )
        if summary.top_reactions:
            sections.append(("Top reactions", ", ".join(f"{n} {c}" for n, c in summary.top_reactions[:5])))
        start = summary.start.strftime("%d %b %Y")
        return Card(title=f"Engagement summary {summary.week} (week of {start})", facts=facts, sections=tuple(sections))

    # -- export ------------------------------------------------------------------------------------------------

    def export_rows(self, week: IsoWeek) -> list[dict[str, Any]]:
        start, end = week.bounds(self.settings.timezone)
        replies = self.store.replies_between(start, end)
        reactions = self.store.reactions_between(start, end)
        posts = self.store.posts_by_ids({r.post_id for r in replies} | {r.post_id for r in reactions if r.post_id})
        names = self.store.member_names({r.member_id for r in replies} | {r.member_id for r in reactions})
        rows: list[dict[str, Any]] = []
        for reply in replies:
            post = posts[reply.post_id]
            rows.append(
                {
                    "kind": "reply",
                    "platform": reply.platform.value,
                    "channel": reply.channel_id,
                    "post_id": post.key,
                    "theme": post.theme,
                    "prompt": post.prompt,
                    "message_id": reply.message_id,
                    "member": reply.member_id,
                    "display_name": names.get(reply.member_id, ""),
                    "text": reply.text,
                    "reaction": "",
                    "created_at": to_display(reply.created_at),
                    "edited_at": to_display(reply.edited_at) if reply.edited_at else "",
                }
            )
        for reaction in reactions:
            post = posts[reaction.post_id] if reaction.post_id is not None else None
            if post is None:
                continue
            rows.append(
                {
                    "kind": "reaction",
                    "platform": reaction.platform.value,
                    "channel": reaction.channel_id,
                    "post_id": post.key,
                    "theme": post.theme,
                    "prompt": post.prompt,
                    "message_id": reaction.target_id,
                    "member": reaction.member_id,
                    "display_name": names.get(reaction.member_id, ""),
                    "text": "",
                    "reaction": reaction.name,
                    "created_at": to_display(reaction.created_at),
                    "edited_at": "",
                }
            )
        rows.sort(key=lambda r: (r["created_at"], r["kind"], r["message_id"]))
        return rows

    @staticmethod
    def rows_to_csv(rows: list[dict[str, Any]]) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_safe(row[k]) if k in FREE_TEXT else row[k] for k in EXPORT_FIELDS})
        return buffer.getvalue()

    @staticmethod
    def rows_to_json(rows: list[dict[str, Any]]) -> str:
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"

    # -- prompts --------------------------------------------------------------------------------------------------

    def prompt_listing(self) -> list[dict[str, Any]]:
        last = self.store.prompt_last_posted()
        return [
            {
                "theme": p.theme,
                "prompt": p.text,
                "last_posted": to_display(last[(p.theme, p.text)]) if (p.theme, p.text) in last else None,
            }
            for p in self.library.prompts
        ]

    def themes_overview(self) -> list[ThemeOverview]:
        last = self.store.prompt_last_posted()
        overview = []
        for theme in self.library.themes:
            times = [last[(theme.name, p.text)] for p in theme.prompts if (theme.name, p.text) in last]
            overview.append(ThemeOverview(theme.name, len(theme.prompts), max(times) if times else None))
        return overview

    def channel_config(self, platform: Platform, channel_id: str) -> ChannelConfig:
        for channel in self.settings.channels:
            if channel.platform is platform and channel.id == channel_id:
                return channel
        return ChannelConfig(platform, channel_id)

    def choose_prompt(self, platform: Platform, channel_id: str, theme: str | None = None) -> Prompt:
        channel = self.channel_config(platform, channel_id)
        history = self.store.prompt_history(platform, channel_id)
        return next_prompt(self.library, history, allowed_themes=channel.themes, theme=theme)

    async def post_prompt(self, poster: Poster, channel_id: str, theme: str | None = None) -> PostRecord:
        """Post the next prompt of the rotation (or of ``theme``) and record it with the platform's id and time."""
        prompt = self.choose_prompt(poster.platform, channel_id, theme)
        sent = await poster.post_prompt(channel_id, prompt, PRIVACY_NOTICE)
        post = self.store.record_post(poster.platform, channel_id, sent.message_id, prompt, sent.posted_at)
        logger.info(
            "prompt posted platform=%s channel=%s post=%s theme=%s", poster.platform, channel_id, post.key, prompt.theme
        )
        return post

    # -- members ------------------------------------------------------------------------------------------------------

    def opt_out(self, member: str, *, requested_by: str, reason: str = "optout") -> ErasureCounts:
        counts = self.store.opt_out(member, utc_now(), requested_by=requested_by, reason=reason)
        logger.info("member opted out; erased replies=%d reactions=%d", counts.replies, counts.reactions)
        return counts

    def opt_in(self, member: str) -> bool:
        return self.store.opt_in(member)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _csv_safe(value: Any) -> Any:
    """Keep spreadsheet programs from running member text as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
