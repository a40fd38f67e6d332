"""The dashboard's filters (period, platform, theme, channel), read from a query string, and a ReportSource that
keeps only the posts they select, so a filtered page is a report of fewer posts made by the report's own code.

A reply or reaction belongs to the platform, channel and theme of the post it answers. "New" participants stay those
whose first activity anywhere falls in the period (as in the weekly summary), so new + returning = participants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.errors import UsageError
from bot.events import Platform
from bot.model import ActivityGroup, PostRecord
from bot.report.model import ChannelKey, ReportReply, ReportSource
from bot.timeutil import IsoWeek

WEEKS = (4, 8, 13, 26, 52)  # offered in the form; any number from 1 to MAX_WEEKS is accepted
DEFAULT_WEEKS = 8
MAX_WEEKS = 52
MAX_TEXT = 200  # longest theme, channel or phrase accepted from a query string


@dataclass(frozen=True, slots=True)
class Filters:
    """What a page shows: ``weeks`` ISO weeks ending with ``last``, and optionally one platform, theme, channel."""

    last: IsoWeek
    weeks: int = DEFAULT_WEEKS
    platform: Platform | None = None
    theme: str | None = None
    channel: ChannelKey | None = None

    @property
    def first(self) -> IsoWeek:
        return self.last.back(self.weeks - 1)

    @property
    def narrowed(self) -> bool:
        return self.platform is not None or self.theme is not None or self.channel is not None

    def without_theme(self) -> Filters:
        return replace(self, theme=None)

    def params(self, **extra: str) -> dict[str, str]:
        """The query parameters that give these filters back (plus ``extra``), in a fixed order."""
        found = {"weeks": str(self.weeks), "to": str(self.last)}
        if self.platform is not None:
            found["platform"] = self.platform.value
        if self.theme is not None:
            found["theme"] = self.theme
        if self.channel is not None:
            found["channel"] = channel_param(self.channel)
        return found | extra

    def query(self, **extra: str) -> str:
        return urlencode(self.params(**extra))

    def matches(self, post: PostRecord) -> bool:
        return (
            (self.platform is None or post.platform is self.platform)
            and (self.theme is None or post.theme == self.theme)
            and (self.channel is None or (post.platform, post.channel_id) == self.channel)
        )


def channel_param(channel: ChannelKey) -> str:
    return f"{channel[0].value}:{channel[1]}"


def text_param(query: Mapping[str, str], name: str) -> str | None:
    """A free-text parameter: None when absent or empty; a UsageError when too long or with control characters."""
    value = query.get(name, "")
    if not value:
        return None
    if len(value) > MAX_TEXT or not value.isprintable():
        raise UsageError(f"{name}: not a valid value")
    return value


def parse_filters(query: Mapping[str, str], *, default_last: IsoWeek, now: datetime, tz: ZoneInfo) -> Filters:
    """Filters from a query string; an empty value means "all". A wrong value is a UsageError naming it."""
    weeks_text = query.get("weeks", "") or str(DEFAULT_WEEKS)
    if not weeks_text.isascii() or not weeks_text.isdigit() or not 1 <= int(weeks_text) <= MAX_WEEKS:
        raise UsageError(f"weeks: give a number of weeks from 1 to {MAX_WEEKS}")
    to_text = query.get("to", "")
    last = IsoWeek.parse(to_text, now=now, tz=tz) if to_text else default_last
    if not 1971 <= last.year <= 9998:
        raise UsageError("to: give a week from 1971 to 9998")
    platform_text = query.get("platform", "")
    if platform_text and platform_text not in {p.value for p in Platform}:
        raise UsageError("platform: use slack or teams")
    channel: ChannelKey | None = None
    channel_text = text_param(query, "channel")
    if channel_text is not None:
        platform_part, _, channel_id = channel_text.partition(":")
        if platform_part not in {p.value for p in Platform} or not channel_id:
            raise UsageError("channel: not a channel of this dashboard")
        channel = (Platform(platform_part), channel_id)
    return Filters(
        last=last,
        weeks=int(weeks_text),
        platform=Platform(platform_text) if platform_text else None,
        theme=text_param(query, "theme"),
        channel=channel,
    )


class FilteredSource:
    """A ReportSource that sees only the posts ``filters`` select, and the replies and reactions on them."""

    def __init__(self, source: ReportSource, filters: Filters) -> None:
        self.source = source
        self.filters = filters
        self._posts: dict[int, PostRecord] = {}

    def _known(self, ids: Iterable[int]) -> dict[int, PostRecord]:
        missing = set(ids) - self._posts.keys()
        if missing:
            self._posts.update(self.source.posts_by_ids(missing))
        return self._posts

    def _kept(self, ids: Iterable[int]) -> set[int]:
        wanted = set(ids)
        posts = self._known(wanted)
        return {i for i in wanted if i in posts and self.filters.matches(posts[i])}

    def posts_between(self, start: datetime, end: datetime) -> list[PostRecord]:
        posts = self.source.posts_between(start, end)
        self._posts.update((p.id, p) for p in posts)
        return [p for p in posts if self.filters.matches(p)]

    def posts_by_ids(self, ids: Iterable[int]) -> dict[int, PostRecord]:
        posts = self._known(ids)
        return {i: posts[i] for i in self._kept(ids)}

    def activity_between(self, start: datetime, end: datetime) -> list[ActivityGroup]:
        groups = list(self.source.activity_between(start, end))
        kept = self._kept({post_id for post_id, _, _ in groups})
        return [group for group in groups if group[0] in kept]

    def first_reply_at(self, post_ids: Iterable[int]) -> dict[int, datetime]:
        return self.source.first_reply_at(self._kept(post_ids))

    def first_activity(self, members: Iterable[str], since: datetime) -> dict[str, datetime]:
        return self.source.first_activity(members, since)

    def report_replies(self, start: datetime, end: datetime, quote_emoji: str) -> list[ReportReply]:
        replies = self.source.report_replies(start, end, quote_emoji)
        kept = self._kept({r.post_id for r in replies})
        return [r for r in replies if r.post_id in kept]

    def channel_names(self, channels: Iterable[ChannelKey]) -> dict[ChannelKey, str]:
        return self.source.channel_names(channels)
