"""Time handling: UTC storage format, platform timestamps and ISO weeks in the configured timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.errors import UsageError

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_SLACK_TS_RE = re.compile(r"^(\d{1,12})(?:\.(\d{1,6}))?$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db(dt: datetime) -> str:
    """Storage format: UTC, fixed width with microseconds, so text order is time order."""
    if dt.tzinfo is None:
        raise ValueError("naive datetimes are not stored; give a timezone")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(value: str) -> datetime:
    return datetime.fromisoformat(value)


def to_display(value: str | datetime) -> str:
    """ISO-8601 for people and JSON: UTC, seconds unless the time has a fraction."""
    dt = from_db(value) if isinstance(value, str) else value.astimezone(UTC)
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")


def from_slack_ts(ts: str) -> datetime:
    """Slack ``ts`` values (``"1732356000.000100"``) are exact to the microsecond; floats are not."""
    match = _SLACK_TS_RE.match(ts or "")
    if not match:
        raise ValueError(f"not a Slack timestamp: {ts!r}")
    seconds, fraction = match.groups()
    micros = int((fraction or "0").ljust(6, "0"))
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)


def to_slack_ts(dt: datetime) -> str:
    """The Slack ``ts`` of a moment (``oldest``/``latest`` of history reads), exact to the microsecond."""
    micros = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def parse_platform_time(value: str) -> datetime:
    """An ISO-8601 time from a payload (Teams ``timestamp``); must carry an offset or ``Z``."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp has no timezone: {value!r}")
    return dt.astimezone(UTC)


@dataclass(frozen=True, order=True, slots=True)
class IsoWeek:
    year: int
    week: int

    def __post_init__(self) -> None:
        date.fromisocalendar(self.year, self.week, 1)  # raises ValueError for a week that does not exist

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> IsoWeek:
        year, week, _ = moment.astimezone(tz).isocalendar()
        return cls(year, week)

    @classmethod
    def parse(cls, text: str, *, now: datetime, tz: ZoneInfo) -> IsoWeek:
        """``YYYY-Www``, ``this`` or ``last``; anything else is a UsageError with the reason."""
        value = (text or "").strip()
        if value.lower() == "this":
            return cls.containing(now, tz)
        if value.lower() == "last":
            return cls.containing(now, tz).previous()
        match = _WEEK_RE.match(value.upper())
        if not match:
            raise UsageError(f"invalid week {text!r}: use YYYY-Www (e.g. 2026-W48), 'this' or 'last'")
        try:
            return cls(int(match.group(1)), int(match.group(2)))
        except ValueError:
            raise UsageError(f"invalid week {text!r}: {match.group(1)} has no week {match.group(2)}") from None

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Local Monday 00:00 to the next Monday 00:00, as aware datetimes in ``tz`` (DST-correct)."""
        start = datetime.combine(self.monday(), time(), tzinfo=tz)
        end = datetime.combine(self.monday() + timedelta(days=7), time(), tzinfo=tz)
        return start, end

    def previous(self) -> IsoWeek:
        return self.back(1)

    def back(self, weeks: int) -> IsoWeek:
        """The ISO week ``weeks`` weeks before this one."""
        year, week, _ = (self.monday() - timedelta(days=7 * weeks)).isocalendar()
        return IsoWeek(year, week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"
