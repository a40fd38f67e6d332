"""Engagement: the operations the CLI, the chat commands and the scheduler share."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from bot import export
from bot.config import ChannelConfig, Settings
from bot.errors import AdapterError, PostInDoubt
from bot.events import Platform
from bot.export import EXPORT_FIELDS as EXPORT_FIELDS
from bot.model import ErasureCounts, PostRecord
from bot.ports import Card, ChannelNamer, Marker, PostedMessage, Poster, Store
from bot.prompts import Library, Prompt, next_prompt
from bot.report import ReportOptions, document, make_report
from bot.summary import Summary, build_summary
from bot.summary_card import protect_summary, render_card
from bot.timeutil import IsoWeek, to_display, utc_now

logger = logging.getLogger(__name__)
T = TypeVar("T")

QUOTES_PER_THEME = 3
REPORT_WEEKS = 8  # a report's default period: the last 8 complete ISO weeks
REPORT_MAX_WEEKS = 104  # a report covers at most two years: its charts have a column per week


def privacy_notice(privacy_url: str = "") -> str:
    """The one line every prompt carries: what is captured, and where to read more or opt out."""
    more = f"Privacy notice: {privacy_url}" if privacy_url else "Ask engagebot `privacy` for details"
    return f"Replies and reactions in this thread are captured for the engagement summary. {more}; `optout` stops it."


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
        self._named: set[tuple[Platform, str]] = set()  # channels whose name this process has looked up

    @contextmanager
    def reading(self) -> Iterator[Engagement | None]:
        """These operations on a read-only connection of their own to the same database (``Store.reader``), for
        long reads in a worker thread; closed when the block ends. None for an in-memory database."""
        with self.store.reader() as store:
            yield None if store is None else Engagement(self.settings, self.library, store)

    async def off_loop(self, work: Callable[[Engagement], T]) -> T:
        """Run a long read (a week's summary or export, a report) in a worker thread on a read-only connection of
        its own (``reading``), so the event loop goes on answering (captures, commands) meanwhile. An in-memory
        database has no second connection: its reads run here."""

        def run() -> tuple[bool, T | None]:
            with self.reading() as reader:
                return (False, None) if reader is None else (True, work(reader))

        done, result = await asyncio.to_thread(run)
        return cast(T, result) if done else work(self)

    # -- weeks and summaries -------------------------------------------------------------------------

    def week(self, text: str | None, *, now: datetime | None = None) -> IsoWeek:
        return IsoWeek.parse(text or "last", now=now or utc_now(), tz=self.settings.timezone)

    def summary(self, week: IsoWeek) -> Summary:
        return build_summary(self.store, week, self.settings.timezone)

    def summary_card(self, summary: Summary, *, public: bool = False) -> Card:
        """The weekly summary as a card, with the change against the previous week (same figures as the CLI).

        ``public`` (posted to a channel): no individual is named, and no figure describes fewer than
        ``min_group_size`` people, directly or by adding and subtracting other figures of the card
        (``bot.summary_card``). The admin's private card keeps exact figures.
        """
        rows = self.store.activity_between(summary.start, summary.end)
        shown = protect_summary(summary, rows, self.settings.min_group_size if public else 0)
        return render_card(summary, shown, self.quotes(summary))

    # -- the leadership report ----------------------------------------------------------------------------------

    def report_weeks(
        self, weeks: int = REPORT_WEEKS, *, last: IsoWeek | None = None, now: datetime | None = None
    ) -> tuple[IsoWeek, IsoWeek]:
        """The first and last of ``weeks`` ISO weeks ending with ``last`` (default: the last complete week)."""
        last = last or self.week("last", now=now)
        return last.back(weeks - 1), last

    def report_html(
        self, first: IsoWeek, last: IsoWeek, *, exact: bool = False, generated_at: datetime | None = None
    ) -> str:
        """The leadership report of the weeks ``first`` to ``last`` (inclusive): one self-contained HTML file.
        ``exact`` lifts the small-group suppression of counts (the CLI's ``--exact``; never through chat)."""
        settings = self.settings
        options = ReportOptions(
            min_group_size=settings.min_group_size, report_min_members=settings.report_min_members, exact=exact
        )
        with self.store.reader() as counter:  # the figures are counted on it in a worker thread meanwhile
            report = make_report(
                self.store,
                first,
                last,
                settings.timezone,
                options,
                quote_emoji=settings.quote_emoji,
                themes=self.library.theme_names(),
                counter=counter,
            )
        return document(report, generated_at=generated_at or utc_now())

    @staticmethod
    def report_filename(first: IsoWeek, last: IsoWeek) -> str:
        return f"report-{first}-{last}.html"

    # -- export ------------------------------------------------------------------------------------------------

    def export_rows(
        self, first: IsoWeek, last: IsoWeek | None = None, *, replies_only: bool = False
    ) -> list[dict[str, Any]]:
        """The replies and reactions of the weeks ``first`` to ``last`` (inclusive; default just ``first``)."""
        tz = self.settings.timezone
        start, end = first.bounds(tz)[0], (last or first).bounds(tz)[1]
        return export.export_rows(self.store, start, end, tz, replies_only=replies_only)

    rows_to_csv = staticmethod(export.rows_to_csv)
    rows_to_json = staticmethod(export.rows_to_json)

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
        """Post the next prompt of the rotation (or of ``theme``) now and record it with the platform's id and time,
        then learn the channel's name (the scheduler does that once its slot is recorded).

        Never retried once the platform may have it: ``PostInDoubt`` says so, and so does a post the platform
        accepted but that could not be recorded (its replies would not be captured).
        """
        prompt = self.choose_prompt(poster.platform, channel_id, theme)
        sent = await self.send_prompt(poster, channel_id, prompt)
        try:
            post = self.record_prompt(poster.platform, channel_id, prompt, sent)
        except Exception as err:  # posted, but not in the database: say so, never post it again
            logger.error(
                "prompt posted but not recorded platform=%s channel=%s message=%s error=%s",
                poster.platform,
                channel_id,
                sent.message_id,
                type(err).__name__,
            )
            raise PostInDoubt(
                f"the prompt was posted (message {sent.message_id}) but could not be recorded "
                f"({type(err).__name__}): its replies will not be captured"
            ) from err
        await self.learn_channel_name(poster, channel_id)
        return post

    async def send_prompt(
        self, poster: Poster, channel_id: str, prompt: Prompt, marker: Marker | None = None
    ) -> PostedMessage:
        """Post ``prompt`` with the privacy notice (nothing recorded yet)."""
        return await poster.post_prompt(channel_id, prompt, privacy_notice(self.settings.privacy_url), marker=marker)

    def record_prompt(self, platform: Platform, channel_id: str, prompt: Prompt, sent: PostedMessage) -> PostRecord:
        """Record a posted prompt, so that its thread is captured (recording it twice is harmless)."""
        post = self.store.record_post(platform, channel_id, sent.message_id, prompt, sent.posted_at)
        logger.info(
            "prompt posted platform=%s channel=%s post=%s theme=%s", platform, channel_id, post.key, prompt.theme
        )
        return post

    async def learn_channel_name(self, poster: Poster, channel_id: str) -> None:
        """Store the channel's readable name for the report: asked once per channel and process, after a post."""
        key = (poster.platform, channel_id)
        if key in self._named or not isinstance(poster, ChannelNamer):
            return
        self._named.add(key)
        try:
            name = await poster.channel_name(channel_id)
        except AdapterError:  # a name is a nicety: the post stands, and the report says "Slack channel 1"
            return
        if name:
            self.store.save_channel_names(poster.platform, {channel_id: name}, utc_now())

    # -- members ------------------------------------------------------------------------------------------------------

    def opt_out(
        self, member: str, *, requested_by: str, reason: str = "optout", scrub_wait: float = 2.0
    ) -> ErasureCounts:
        """Erase ``member`` and stop capturing them; then wait up to ``scrub_wait`` seconds for readers of the
        database to let the erased text be scrubbed out of the files (blocking: off the event loop, please)."""
        counts = self.store.opt_out(member, utc_now(), requested_by=requested_by, reason=reason, scrub_wait=scrub_wait)
        logger.info(
            "member opted out; erased replies=%d reactions=%d scrubbed=%s",
            counts.replies,
            counts.reactions,
            counts.scrubbed,
        )
        return counts

    def opt_in(self, member: str) -> bool:
        return self.store.opt_in(member, utc_now())

    def set_quote_consent(self, member: str, given: bool) -> bool:
        return self.store.set_consent(member, "quote", given, utc_now())

    def member_data(self, member: str) -> dict[str, Any]:
        """Subject access: everything stored about ``member``, as one JSON-ready object."""
        return {"member_id": member, "exported_at": to_display(utc_now()), **self.store.member_data(member)}

    def quotes(self, summary: Summary) -> dict[str, list[str]]:
        """Up to three replies per theme from members who consented to be quoted: most reactions, then earliest."""
        rows = self.store.quote_candidates(summary.start, summary.end)
        posts = self.store.posts_by_ids({r["post_id"] for r in rows})
        chosen: dict[str, list[str]] = {}
        for row in sorted(rows, key=lambda r: (-r["reactions"], r["created_at"], r["id"])):
            theme = posts[row["post_id"]].theme
            if len(chosen.setdefault(theme, [])) < QUOTES_PER_THEME:
                chosen[theme].append(row["text"])
        return chosen
