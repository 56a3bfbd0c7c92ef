"""The keytag rhythm and how milestones read: pure functions, no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from server.family.milestones import in_locale
from server.family.rules import (
    GRACE_DAYS,
    add_months,
    headline,
    latest_sober_milestone,
    latest_streak_milestone,
    sober_milestones_between,
    sober_phrase,
)


def test_keytag_rhythm_over_five_years() -> None:
    start = date(2024, 1, 31)
    reached = sober_milestones_between(start, start, date(2029, 2, 1))
    phrases = [sober_phrase(days, start) for _day, days in reached]
    assert phrases == [
        "1 day", "7 days", "14 days", "30 days", "60 days", "90 days",
        "6 months", "9 months", "1 year", "18 months", "2 years", "3 years", "4 years", "5 years",
    ]  # fmt: skip
    # Calendar months: 31 January + 6 months is 31 July; + 1 month would be 29 February in a leap year.
    assert reached[6][0] == date(2024, 7, 31)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2023, 11, 15), 3) == date(2024, 2, 15)


def test_anniversaries_decades_later_without_walking_every_year() -> None:
    start = date(1990, 5, 10)
    assert sober_milestones_between(start, date(2026, 5, 1), date(2026, 5, 31)) == [
        (date(2026, 5, 10), (date(2026, 5, 10) - start).days)
    ]
    assert sober_phrase((date(2026, 5, 10) - start).days, start) == "36 years"


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [(0, None), (1, 1), (3, 1), (7, 7), (8, 7), (20, 14), (29, None), (30, 30), (37, 30), (38, None), (45, None)],
)
def test_only_the_latest_milestone_inside_the_grace_window(days_ago: int, expected: int | None) -> None:
    today = date(2026, 6, 15)
    hit = latest_sober_milestone(today - timedelta(days=days_ago), today)
    assert (hit[1] if hit else None) == expected
    if hit:
        assert today - timedelta(days=GRACE_DAYS) <= hit[0] <= today


def test_streak_milestones() -> None:
    today = date(2026, 6, 15)
    assert latest_streak_milestone(today - timedelta(days=5), today, today) is None  # 6 days in a row
    assert latest_streak_milestone(today - timedelta(days=6), today, today) == (today, 7)
    # A run that ended yesterday still counts; its 7th day was yesterday.
    yesterday = today - timedelta(days=1)
    assert latest_streak_milestone(yesterday - timedelta(days=6), yesterday, today) == (yesterday, 7)
    assert latest_streak_milestone(today - timedelta(days=29), today, today) == (today, 30)
    assert latest_streak_milestone(today - timedelta(days=200), today, today) is None  # 90 was long ago


def test_headlines_are_warm_and_plain() -> None:
    start = "2026-01-01"
    assert headline("sober_days", "30", start, "Sam") == "Sam reached 30 days sober"
    assert headline("sober_days", "1", start, "Sam") == "Sam reached 1 day sober"
    assert headline("sober_days", "181", start, "Sam") == "Sam reached 6 months sober"
    assert headline("sober_days", "365", start, "Sam") == "Sam reached 1 year sober"
    assert headline("checkin_streak", "7", start, "Sam") == "Sam has taken time for themselves 7 days in a row"
    assert headline("phase_completed", "Weeks 1–4", start, "Sam") == "Sam finished a stage of their program"
    assert headline("program_completed", "Evening IOP", start, "Sam") == "Sam completed their program"
    assert headline("good_news", "k", "note", "Sam") == "Good news from Sam"


def test_pushes_are_worded_in_the_recipients_language() -> None:
    from server.i18n import current_locale

    before = current_locale.get()
    with in_locale("es"):
        assert current_locale.get() == "es"
    with in_locale("xx"):  # an unknown language falls back to the default
        assert current_locale.get() == "en"
    assert current_locale.get() == before
