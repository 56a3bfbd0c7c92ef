"""Wall-clock arithmetic for reminders: local times to UTC across DST changes, and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.localtime import local_to_utc
from server.localtime import zone_for as zone
from server.push.timing import end_of_local_day, local_date, quiet_release

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        # US spring forward (2026-03-08): 20:00 EST the day before, 20:00 EDT on the day.
        ("America/New_York", date(2026, 3, 7), datetime(2026, 3, 8, 1, 0, tzinfo=UTC)),
        ("America/New_York", date(2026, 3, 8), datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),
        # US fall back (2026-11-01).
        ("America/New_York", date(2026, 10, 31), datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
        ("America/New_York", date(2026, 11, 1), datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
        # UK: BST starts 2026-03-29 and ends 2026-10-25.
        ("Europe/London", date(2026, 3, 28), datetime(2026, 3, 28, 20, 0, tzinfo=UTC)),
        ("Europe/London", date(2026, 3, 29), datetime(2026, 3, 29, 19, 0, tzinfo=UTC)),
        ("Europe/London", date(2026, 10, 25), datetime(2026, 10, 25, 20, 0, tzinfo=UTC)),
        # Southern hemisphere: Sydney leaves daylight time 2026-04-05 and enters it 2026-10-04.
        ("Australia/Sydney", date(2026, 4, 4), datetime(2026, 4, 4, 9, 0, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 4, 5), datetime(2026, 4, 5, 10, 0, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 10, 4), datetime(2026, 10, 4, 9, 0, tzinfo=UTC)),
    ],
)
def test_20_00_stays_20_00_on_the_wall(tz: str, day: date, expected: datetime) -> None:
    instant = local_to_utc(day, time(20, 0), ZoneInfo(tz))
    assert instant == expected
    assert instant.astimezone(ZoneInfo(tz)).time() == time(20, 0)


def test_local_days_are_23_and_25_hours_long_on_dst_days() -> None:
    assert end_of_local_day(date(2026, 3, 8), NY) - end_of_local_day(date(2026, 3, 7), NY) == timedelta(hours=23)
    assert end_of_local_day(date(2026, 11, 1), NY) - end_of_local_day(date(2026, 10, 31), NY) == timedelta(hours=25)


def test_a_time_in_the_spring_forward_gap_lands_just_after_it() -> None:
    # 02:30 doesn't exist in New York on 2026-03-08; it is read as 03:30 EDT.
    assert local_to_utc(date(2026, 3, 8), time(2, 30), NY) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_local_date_uses_the_persons_calendar() -> None:
    moment = datetime(2026, 6, 16, 2, 0, tzinfo=UTC)  # 22:00 on the 15th in New York, noon on the 16th in Sydney
    assert local_date(moment, NY) == date(2026, 6, 15)
    assert local_date(moment, ZoneInfo("Australia/Sydney")) == date(2026, 6, 16)


def test_unknown_zone_falls_back_to_utc() -> None:
    assert zone("Mars/Olympus_Mons") == ZoneInfo("UTC")
    assert zone("") == ZoneInfo("UTC")


QUIET = (time(22, 0), time(7, 0))


@pytest.mark.parametrize(
    ("local", "release"),
    [
        (datetime(2026, 6, 15, 21, 59), None),
        (datetime(2026, 6, 15, 22, 0), datetime(2026, 6, 16, 7, 0)),
        (datetime(2026, 6, 15, 23, 30), datetime(2026, 6, 16, 7, 0)),
        (datetime(2026, 6, 16, 0, 0), datetime(2026, 6, 16, 7, 0)),
        (datetime(2026, 6, 16, 6, 59), datetime(2026, 6, 16, 7, 0)),
        (datetime(2026, 6, 16, 7, 0), None),
        (datetime(2026, 6, 16, 12, 0), None),
    ],
)
def test_quiet_hours_across_midnight(local: datetime, release: datetime | None) -> None:
    now = local.replace(tzinfo=NY).astimezone(UTC)
    expected = release.replace(tzinfo=NY).astimezone(UTC) if release else None
    assert quiet_release(now, NY, *QUIET) == expected


def test_quiet_hours_within_one_day_and_switched_off() -> None:
    now = datetime(2026, 6, 15, 14, 0, tzinfo=NY).astimezone(UTC)
    assert quiet_release(now, NY, time(13, 0), time(15, 0)) == datetime(2026, 6, 15, 15, 0, tzinfo=NY).astimezone(UTC)
    assert quiet_release(now, NY, time(15, 0), time(16, 0)) is None
    assert quiet_release(now, NY, time(14, 0), time(14, 0)) is None  # same time: no quiet hours


def test_quiet_hours_end_at_7_local_on_dst_nights() -> None:
    # Spring forward: the night is an hour shorter, quiet hours still end at 07:00 EDT (11:00 UTC).
    night = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert quiet_release(night, NY, *QUIET) == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    # Fall back: 07:00 EST is 12:00 UTC.
    night = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first of the two
    assert quiet_release(night, NY, *QUIET) == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
