"""Local days, sober days and streaks in the patient's own timezone, right across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from litestar.testing import TestClient

from server import localtime as dates
from server.checkins import logic, sober
from tests.conftest import Database, post_form
from tests.support.checkins import add_checkin, checkin_data, signed_in_patient, today_for

NY = SimpleNamespace(timezone="America/New_York")
AKL = SimpleNamespace(timezone="Pacific/Auckland")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT): that local day has 23 hours.
        (utc(2026, 3, 8, 4, 59), date(2026, 3, 7)),  # 23:59 EST
        (utc(2026, 3, 8, 5, 0), date(2026, 3, 8)),  # 00:00 EST
        (utc(2026, 3, 9, 3, 59), date(2026, 3, 8)),  # 23:59 EDT
        (utc(2026, 3, 9, 4, 0), date(2026, 3, 9)),  # 00:00 EDT
        # ...and falls back on 2026-11-01 (02:00 EDT -> 01:00 EST): that local day has 25 hours.
        (utc(2026, 11, 1, 3, 59), date(2026, 10, 31)),  # 23:59 EDT
        (utc(2026, 11, 1, 4, 0), date(2026, 11, 1)),  # 00:00 EDT
        (utc(2026, 11, 2, 4, 59), date(2026, 11, 1)),  # 23:59 EST, 25 hours after midnight
        (utc(2026, 11, 2, 5, 0), date(2026, 11, 2)),
    ],
)
def test_local_today_new_york_across_dst(moment: datetime, expected: date) -> None:
    assert dates.local_today(NY, moment) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Auckland (UTC+13 in summer) is already on the next day when UTC is in the afternoon.
        (utc(2026, 1, 15, 10, 59), date(2026, 1, 15)),
        (utc(2026, 1, 15, 11, 0), date(2026, 1, 16)),
        # NZ daylight time ends 2026-04-05 03:00 NZDT -> 02:00 NZST (UTC+12 afterwards).
        (utc(2026, 4, 5, 11, 59), date(2026, 4, 5)),
        (utc(2026, 4, 5, 12, 0), date(2026, 4, 6)),
        # ...and begins 2026-09-27 02:00 NZST -> 03:00 NZDT.
        (utc(2026, 9, 26, 11, 59), date(2026, 9, 26)),
        (utc(2026, 9, 26, 12, 0), date(2026, 9, 27)),
        (utc(2026, 9, 27, 10, 59), date(2026, 9, 27)),
        (utc(2026, 9, 27, 11, 0), date(2026, 9, 28)),
    ],
)
def test_local_today_auckland(moment: datetime, expected: date) -> None:
    assert dates.local_today(AKL, moment) == expected  # type: ignore[arg-type]


def test_sober_days_step_once_per_local_midnight_across_dst() -> None:
    """Walk hour by hour through both New York DST changes: the count rises by exactly one at each local
    midnight and never at any other hour (a 24-hour arithmetic would be off on the 23- and 25-hour days)."""
    for start, zone in ((date(2026, 3, 1), NY), (date(2026, 10, 25), NY), (date(2026, 9, 20), AKL),
                        (date(2026, 3, 30), AKL)):  # fmt: skip
        moment = dates.start_of_local_day(zone, start)  # type: ignore[arg-type]
        previous = sober.sober_days(start, dates.local_today(zone, moment))  # type: ignore[arg-type]
        assert previous == 0
        for _hour in range(24 * 15):
            moment += timedelta(hours=1)
            local = dates.local_datetime(zone, moment)  # type: ignore[arg-type]
            days = sober.sober_days(start, local.date())
            if local.hour == 0 and local.date() != (local - timedelta(hours=1)).date():
                assert days == previous + 1, local
            else:
                assert days == previous, local
            previous = days
        assert previous in (14, 15)  # 360 hours: one 25-hour day leaves us at 23:00 of day 14


def test_start_of_local_day_on_dst_days() -> None:
    spring = dates.start_of_local_day(NY, date(2026, 3, 8))  # type: ignore[arg-type]
    next_day = dates.start_of_local_day(NY, date(2026, 3, 9))  # type: ignore[arg-type]
    assert spring == utc(2026, 3, 8, 5) and next_day - spring == timedelta(hours=23)
    fall = dates.start_of_local_day(NY, date(2026, 11, 1))  # type: ignore[arg-type]
    assert dates.start_of_local_day(NY, date(2026, 11, 2)) - fall == timedelta(hours=25)  # type: ignore[arg-type]


def test_typed_wall_clock_times_in_dst_gaps_and_overlaps() -> None:
    # 02:30 does not exist on spring-forward day; it is read as the moment the clock jumped past it.
    gap = dates.from_local_naive(NY, datetime(2026, 3, 8, 2, 30))  # type: ignore[arg-type]
    assert dates.local_date_of(NY, gap) == date(2026, 3, 8)  # type: ignore[arg-type]
    # 01:30 happens twice on fall-back day; the first (EDT) is taken.
    overlap = dates.from_local_naive(NY, datetime(2026, 11, 1, 1, 30))  # type: ignore[arg-type]
    assert overlap == utc(2026, 11, 1, 5, 30)


def test_unknown_timezone_falls_back_to_utc() -> None:
    assert dates.local_today(SimpleNamespace(timezone="Mars/Base"), utc(2026, 1, 1, 23)) == date(2026, 1, 1)  # type: ignore[arg-type]


def test_milestones() -> None:
    assert [d for d in range(0, 800) if sober.milestone_for(d)] == [1, 7, 14, 30, 60, 90, 180, 270, 365, 500, 730]


def test_far_zone_patient_checks_in_on_their_own_day(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db, tz="Pacific/Auckland")
    assert post_form(client, "/checkin", checkin_data()).status_code == 303
    stored = db.scalar("SELECT local_date FROM checkin WHERE user_id = :u", u=user.id)
    assert str(stored) == dates.local_today(user).isoformat()
    assert dates.local_today(user) == datetime.now(UTC).astimezone(dates.zone_for("Pacific/Auckland")).date()


def test_checkin_streak(db: Database) -> None:
    user = db.make_user("patient", "streak@example.org")
    today = today_for(user)
    for offset in (1, 2, 3, 5, 6):
        add_checkin(db, user, today - timedelta(days=offset))

    async def streak(session: object, day: date) -> int:
        return await logic.checkin_streak(session, user.id, day)  # type: ignore[arg-type]

    # Today not done yet: the streak still counts up to yesterday.
    assert db.run(lambda s: streak(s, today)) == 3
    add_checkin(db, user, today)
    assert db.run(lambda s: streak(s, today)) == 4
    # Two days missed: the streak is over.
    assert db.run(lambda s: streak(s, today + timedelta(days=2))) == 0


def test_a_long_streak_counts_in_full(db: Database) -> None:
    user = db.make_user("patient", "long@example.org")
    today = today_for(user)

    async def fill(session: object) -> None:
        from server.checkins.models import CheckIn

        for offset in range(200):
            session.add(CheckIn(user_id=user.id, local_date=today - timedelta(days=offset), mood=5, craving=2,  # type: ignore[attr-defined]
                                idempotency_key=f"key-{offset:08d}"))  # fmt: skip

    db.run(fill)
    assert db.run(lambda s: logic.checkin_streak(s, user.id, today)) == 200  # type: ignore[arg-type]
