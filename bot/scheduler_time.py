"""Cron slot arithmetic in the configured timezone (wall-clock times stay put across daylight-saving changes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def next_slot(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first slot strictly after ``after``, as an aware UTC datetime."""
    result = croniter(cron, after.astimezone(tz)).get_next(datetime)
    return _aware(result, tz)


def previous_slot(cron: str, at_or_before: datetime, tz: ZoneInfo) -> datetime:
    """The latest slot at or before ``at_or_before``, as an aware UTC datetime."""
    local = at_or_before.astimezone(tz)
    exact = _aware(croniter(cron, local - timedelta(seconds=1)).get_next(datetime), tz)
    if exact <= at_or_before:
        return exact
    return _aware(croniter(cron, local).get_prev(datetime), tz)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
