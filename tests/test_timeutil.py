"""ISO weeks in Europe/London across the 2026 clock changes, week parsing and cron slots that keep local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.errors import UsageError
from bot.events import Platform
from bot.prompts import Prompt
from bot.scheduler_time import next_slot, previous_slot
from bot.summary import build_summary
from bot.timeutil import IsoWeek, from_slack_ts, parse_platform_time, to_db, to_display
from storage.repository import Repository

LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("week", "start", "end"),
    [
        # clocks go forward on Sunday 2026-03-29 at 01:00 UTC: the week ends at BST midnight
        (IsoWeek(2026, 13), "2026-03-23T00:00:00+00:00", "2026-03-30T00:00:00+01:00"),
        (IsoWeek(2026, 14), "2026-03-30T00:00:00+01:00", "2026-04-06T00:00:00+01:00"),
        # clocks go back on Sunday 2026-10-25 at 01:00 UTC
        (IsoWeek(2026, 43), "2026-10-19T00:00:00+01:00", "2026-10-26T00:00:00+00:00"),
        (IsoWeek(2026, 44), "2026-10-26T00:00:00+00:00", "2026-11-02T00:00:00+00:00"),
    ],
)
def test_week_bounds_across_clock_changes(week: IsoWeek, start: str, end: str) -> None:
    got_start, got_end = week.bounds(LONDON)
    assert (got_start.isoformat(), got_end.isoformat()) == (start, end)
    hours = (
        got_end.astimezone(UTC) - got_start.astimezone(UTC)
    ).total_seconds() / 3600  # same-zone subtraction is wall time
    assert hours == {13: 167, 14: 168, 43: 169, 44: 168}[week.week]


@pytest.mark.parametrize(
    ("moment", "week"),
    [
        ("2026-03-29T23:30:00+01:00", IsoWeek(2026, 13)),  # Sunday 23:30 BST, after the change
        ("2026-03-29T22:59:59+00:00", IsoWeek(2026, 13)),
        ("2026-03-29T23:00:00+00:00", IsoWeek(2026, 14)),  # = Monday 00:00 BST
        ("2026-03-30T00:30:00+01:00", IsoWeek(2026, 14)),  # Monday 00:30 BST
        ("2026-10-25T23:30:00+00:00", IsoWeek(2026, 43)),  # Sunday 23:30 GMT, after the change
        ("2026-10-26T00:30:00+00:00", IsoWeek(2026, 44)),  # Monday 00:30 GMT
        ("2026-10-18T23:30:00+00:00", IsoWeek(2026, 43)),  # Monday 00:30 BST, a UTC Sunday
    ],
)
def test_moment_lands_in_its_local_week(moment: str, week: IsoWeek) -> None:
    assert IsoWeek.containing(utc(moment), LONDON) == week


@pytest.mark.parametrize(
    ("sunday_late", "monday_early", "sunday_week", "monday_week"),
    [
        ("2026-03-29T23:30:00+01:00", "2026-03-30T00:30:00+01:00", "2026-W13", "2026-W14"),
        ("2026-10-25T23:30:00+00:00", "2026-10-26T00:30:00+00:00", "2026-W43", "2026-W44"),
    ],
)
def test_summary_counts_activity_in_the_local_week(
    repo: Repository, sunday_late: str, monday_early: str, sunday_week: str, monday_week: str
) -> None:
    from bot.capture import Capture
    from bot.events import ReplyPosted

    post_time = utc(sunday_late).replace(hour=12, minute=0)
    repo.record_post(Platform.SLACK, "C1", "100.000100", Prompt("Workforce", "Q?"), post_time)
    capture = Capture(repo)
    for n, (moment, user) in enumerate([(sunday_late, "U1"), (monday_early, "U2")]):
        capture.apply(
            ReplyPosted(
                platform=Platform.SLACK,
                channel_id="C1",
                occurred_at=utc(moment),
                event_key=f"E{n}",
                thread_id="100.000100",
                message_id=f"200.00000{n}",
                user_id=user,
                text="hi",
            )
        )
    first = build_summary(repo, IsoWeek.parse(sunday_week, now=utc(sunday_late), tz=LONDON), LONDON).as_json()
    second = build_summary(repo, IsoWeek.parse(monday_week, now=utc(sunday_late), tz=LONDON), LONDON).as_json()
    assert (first["totals"]["replies"], first["totals"]["participants"]) == (1, 1)
    assert (second["totals"]["replies"], second["totals"]["participants"]) == (1, 1)
    assert second["previous_week"]["replies"] == 1
    assert second["totals"]["new_participants"] == 1  # U2's first activity; U1's was the week before


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Tuesday 10:00 local on each side of the March change: 10:00 GMT = 10:00Z, 10:00 BST = 09:00Z
        ("2026-03-24T10:00:00+00:00", "2026-03-31T09:00:00+00:00"),
        ("2026-03-17T10:00:00+00:00", "2026-03-24T10:00:00+00:00"),
        # and the October change
        ("2026-10-20T09:00:00+00:00", "2026-10-27T10:00:00+00:00"),
        ("2026-10-27T10:00:00+00:00", "2026-11-03T10:00:00+00:00"),
    ],
)
def test_next_slot_keeps_local_time_across_changes(after: str, expected: str) -> None:
    got = next_slot("0 10 * * TUE", utc(after), LONDON)
    assert got == utc(expected)
    assert got.tzinfo is not None
    assert got.astimezone(LONDON).hour == 10


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-03-31T08:59:59+00:00", "2026-03-24T10:00:00+00:00"),  # just before Tuesday 10:00 BST
        ("2026-03-31T09:00:00+00:00", "2026-03-31T09:00:00+00:00"),  # exactly on the slot: at_or_before
        ("2026-03-31T12:00:00+00:00", "2026-03-31T09:00:00+00:00"),
        ("2026-10-27T09:59:00+00:00", "2026-10-20T09:00:00+00:00"),
        ("2026-10-27T10:00:00+00:00", "2026-10-27T10:00:00+00:00"),
    ],
)
def test_previous_slot_keeps_local_time_across_changes(at: str, expected: str) -> None:
    got = previous_slot("0 10 * * TUE", utc(at), LONDON)
    assert got == utc(expected)
    assert got.astimezone(LONDON).hour == 10


def test_daily_slots_step_over_the_change() -> None:
    slots = []
    moment = utc("2026-03-27T12:00:00+00:00")
    for _ in range(4):
        moment = next_slot("0 10 * * *", moment, LONDON)
        slots.append(moment.isoformat())
    assert slots == [
        "2026-03-28T10:00:00+00:00",
        "2026-03-29T09:00:00+00:00",
        "2026-03-30T09:00:00+00:00",
        "2026-03-31T09:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("text", "week"),
    [("2026-W48", IsoWeek(2026, 48)), ("2026-w01", IsoWeek(2026, 1)), ("2026-W53", IsoWeek(2026, 53))],
)
def test_week_parse_accepts_iso_weeks(text: str, week: IsoWeek) -> None:
    assert IsoWeek.parse(text, now=utc("2026-11-27T12:00:00+00:00"), tz=LONDON) == week


def test_week_parse_this_and_last_use_the_local_date() -> None:
    # Sunday 23:30 UTC on 2026-03-29 is already Monday 00:30 BST: "this" is W14
    now = utc("2026-03-29T23:30:00+00:00")
    assert IsoWeek.parse("this", now=now, tz=LONDON) == IsoWeek(2026, 14)
    assert IsoWeek.parse("last", now=now, tz=LONDON) == IsoWeek(2026, 13)
    assert IsoWeek.parse("LAST", now=utc("2026-01-01T12:00:00+00:00"), tz=LONDON) == IsoWeek(2025, 52)


@pytest.mark.parametrize("text", ["2026-W54", "2025-W53", "2026-W00", "bogus", "2026W48", "", "2026-W4"])
def test_week_parse_rejects_bad_weeks(text: str) -> None:
    with pytest.raises(UsageError, match="invalid week"):
        IsoWeek.parse(text, now=utc("2026-11-27T12:00:00+00:00"), tz=LONDON)


def test_previous_week_crosses_years() -> None:
    assert IsoWeek(2026, 1).previous() == IsoWeek(2025, 52)
    assert IsoWeek(2021, 1).previous() == IsoWeek(2020, 53)


def test_storage_format_is_fixed_width_utc() -> None:
    stored = to_db(utc("2026-03-29T23:30:00+01:00"))
    assert stored == "2026-03-29T22:30:00.000000+00:00"
    assert to_display(stored) == "2026-03-29T22:30:00+00:00"
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 1, 1))


def test_platform_times_are_exact() -> None:
    assert from_slack_ts("1732356000.000100") == datetime(2024, 11, 23, 10, 0, 0, 100, tzinfo=UTC)
    assert parse_platform_time("2026-03-29T23:30:00.123Z") == datetime(2026, 3, 29, 23, 30, 0, 123000, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone"):
        parse_platform_time("2026-03-29T23:30:00")
    with pytest.raises(ValueError, match="Slack timestamp"):
        from_slack_ts("12.3.4")


def test_weeks_follow_the_configured_zone_not_london() -> None:
    new_york = ZoneInfo("America/New_York")  # clocks went forward on Sunday 2026-03-08
    start, end = IsoWeek(2026, 10).bounds(new_york)
    assert (start.isoformat(), end.isoformat()) == ("2026-03-02T00:00:00-05:00", "2026-03-09T00:00:00-04:00")
    # Monday 01:00 UTC is still Sunday evening in New York: the week before
    assert IsoWeek.containing(utc("2026-03-09T01:00:00+00:00"), new_york) == IsoWeek(2026, 10)
    assert IsoWeek.containing(utc("2026-03-09T01:00:00+00:00"), LONDON) == IsoWeek(2026, 11)


def test_a_time_in_the_repeated_october_hour_is_one_slot():
    tz = ZoneInfo("Europe/London")
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert next_slot("30 1 * * *", datetime(2026, 10, 25, 0, 0, tzinfo=UTC), tz) == first
    assert next_slot("30 1 * * *", first, tz) == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)
    assert previous_slot("30 1 * * *", datetime(2026, 10, 25, 1, 45, tzinfo=UTC), tz) == first
