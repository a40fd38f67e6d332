"""Cron slot arithmetic in the configured timezone (wall-clock times stay put across daylight-saving changes).

A slot is a local wall-clock time. When the clocks go back, a wall-clock time in the repeated hour happens twice;
it is one slot, at its first occurrence (as cron does for jobs at fixed times). When the clocks go forward, a time
in the skipped hour happens once, at the first valid time after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def next_slot(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first slot strictly after ``after``, as an aware UTC datetime."""
    candidate = _aware(croniter(cron, after.astimezone(tz)).get_next(datetime), tz)
    while _is_repeat(candidate, tz):  # its first occurrence is not after ``after``: already a slot
        candidate = _aware(croniter(cron, candidate.astimezone(tz)).get_next(datetime), tz)
    return candidate


def previous_slot(cron: str, at_or_before: datetime, tz: ZoneInfo) -> datetime:
    """The latest slot at or before ``at_or_before``, as an aware UTC datetime."""
    local = at_or_before.astimezone(tz)
    exact = _aware(croniter(cron, local - timedelta(seconds=1)).get_next(datetime), tz)
    found = exact if exact <= at_or_before else _aware(croniter(cron, local).get_prev(datetime), tz)
    return _first_occurrence(found, tz)


def _is_repeat(moment: datetime, tz: ZoneInfo) -> bool:
    """True for the second occurrence of a wall-clock time that the clocks going back made happen twice."""
    return _first_occurrence(moment, tz) != moment


def _first_occurrence(moment: datetime, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    return local.replace(fold=0).astimezone(UTC) if local.fold else moment


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
