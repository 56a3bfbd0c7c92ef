"""Weekly summaries checked against values computed by hand, for one patient-week and in a batch, including
weeks across both DST changes (America/New_York, 2026) and a patient in Pacific/Auckland (server in UTC)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.sharing.summary import (
    PatientData,
    WeeklySummary,
    WeekRequest,
    build_summary,
    load_week_data,
    weekly_summaries,
    weekly_summary,
)
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week
from tests.conftest import Database
from tests.test_sharing_support import (
    ALL_CATEGORIES,
    add_rows,
    assignment,
    checkin,
    craving_log,
    local,
    mark,
    practice,
    sober_since,
)

NY = "America/New_York"
AKL = "Pacific/Auckland"
W10 = Week(date(2026, 3, 2))  # Mon 2 – Sun 8 March 2026; clocks go forward on Sunday 8 March at 02:00
STOP, TIPP, BREATHE = "STOP: pause before you act", "TIPP: cool down your body fast", "Paced breathing"


def request(user: User, week: Week, today: date, now: datetime, categories: list[str] = ALL_CATEGORIES) -> WeekRequest:
    return WeekRequest(
        patient_id=user.id,  # type: ignore[arg-type]
        timezone=user.timezone,
        week=week,
        categories=frozenset(categories),
        data_from=date(2026, 1, 1),
        today=today,
        now=now,
    )


def one(db: Database, req: WeekRequest, thresholds: Thresholds | None = None) -> WeeklySummary:
    async def work(session: AsyncSession) -> WeeklySummary:
        return await weekly_summary(session, req, thresholds or Thresholds())

    return db.run(work)


def many(db: Database, reqs: list[WeekRequest]) -> dict[tuple[int, date], WeeklySummary]:
    async def work(session: AsyncSession) -> dict[tuple[int, date], WeeklySummary]:
        return await weekly_summaries(session, reqs, Thresholds())

    return db.run(work)


def arrange_march_week(db: Database, therapist: User, p: User) -> None:
    """The fixed data set for week 2026-W10 in New York (see the expected values in `check_march_week`)."""
    d = lambda day: date(2026, 3, day)  # noqa: E731
    add_rows(
        db,
        [
            # The week before (23 Feb – 1 Mar): mood 8 every day it was logged → previous average 8.
            checkin(p, date(2026, 2, 24), 8, 1),
            checkin(p, date(2026, 2, 26), 8, 1),
            checkin(p, date(2026, 3, 1), 8, 1),
            checkin(p, d(2), 5, 3, sleep_hours=7.0, triggers=["stress"], note="Busy Monday"),
            checkin(p, d(3), 6, 4, sleep_hours=6.0),
            checkin(
                p,
                d(4),
                4,
                8,
                used=True,
                triggers=["conflict"],
                diary=True,
                urge_use=3,
                urge_self_harm=4,
                urge_quit_treatment=0,
                acted_use=True,
                acted_self_harm=False,
                acted_quit_treatment=False,
                skills_used=2,
            ),
            checkin(
                p,
                d(5),
                3,
                9,
                triggers=["conflict", "lonely"],
                diary=True,
                urge_use=4,
                urge_self_harm=2,
                urge_quit_treatment=1,
                acted_use=False,
                acted_self_harm=False,
                acted_quit_treatment=False,
                skills_used=5,
            ),
            # Friday to Sunday: no check-ins.
            # Sunday 1 March 23:45 EST is 04:45 UTC on 2 March: last week, though its UTC date is in this one.
            craving_log(p, local(NY, date(2026, 3, 1), 23, 45), date(2026, 3, 1), 10),
            craving_log(
                p,
                local(NY, d(6), 19, 30),
                d(6),
                10,
                triggers=["conflict"],
                outcome="passed",
                note="after the call with my brother",
            ),
            # Sunday 8 March 23:30 EDT is 03:30 UTC on 9 March: still this week.
            craving_log(p, local(NY, d(8), 23, 30), d(8), 2, outcome="used"),
            practice(p, local(NY, date(2026, 3, 1), 23, 45), "paced-breathing"),  # last week
            practice(p, local(NY, d(2), 0, 15), "stop", 8, 5),
            practice(p, local(NY, d(4), 12, 0), "tipp"),
            practice(p, local(NY, d(8), 23, 30), "stop", 6, 5),
            practice(p, local(NY, date(2026, 3, 9), 0, 30), "paced-breathing"),  # next week (EDT)
            assignment(p, therapist, "tipp", datetime(2026, 2, 28, 15, tzinfo=UTC), local(NY, d(4), 12, 5)),
            assignment(p, therapist, "stop", datetime(2026, 3, 3, 15, tzinfo=UTC)),
            mark(p, "g1-20260303", local(NY, d(3), 18, 0), "attended"),
            mark(p, "g1-20260305", local(NY, d(5), 18, 0), "missed"),
            mark(p, "g2-20260307", local(NY, d(7), 10, 0), "missed"),
            mark(p, "g1-20260310", local(NY, date(2026, 3, 10), 18, 0), "missed"),  # next week
            sober_since(p, date(2026, 3, 9)),
        ],
    )


def check_march_week(s: WeeklySummary) -> None:
    assert s.week.label == "2026-W10"
    assert (s.checkin_days, s.days_counted) == (4, 7)
    assert (s.mood_avg, s.mood_min, s.mood_max, s.mood_prev_avg, s.mood_change) == (4.5, 3, 6, 8.0, -3.5)
    assert [v for _d, v in s.mood_by_day] == [5, 6, 4, 3, None, None, None]
    assert s.sleep_avg == 6.5
    assert (s.craving_avg, s.craving_peak, s.craving_peak_day) == (6.0, 10, date(2026, 3, 6))
    assert s.craving_peak_when == "Friday evening"
    assert (s.craving_high_days, s.craving_logs) == (3, 2)
    assert s.top_triggers == [("Conflict", 3), ("Lonely", 1), ("Stress", 1)]
    assert s.use_days == [date(2026, 3, 4), date(2026, 3, 8)]
    assert s.urge_max == {"use": 4, "self_harm": 4, "quit_treatment": 1}
    assert s.acted_on == {"use": True, "self_harm": False, "quit_treatment": False}
    assert [d.day for d in s.diary_days] == [date(2026, 3, 4), date(2026, 3, 5)]
    assert (s.skills_count, s.skills_avg_drop) == (3, 2.0)
    assert s.skills_top == [(STOP, 2), (TIPP, 1)]
    assert (s.homework_done, s.homework_open) == ([TIPP], [STOP])
    assert (s.groups_scheduled, s.groups_attended, s.groups_missed) == (3, 1, 2)
    assert s.notes == [(date(2026, 3, 2), "Busy Monday"), (date(2026, 3, 6), "after the call with my brother")]
    assert [f.key for f in s.flags] == ["no_checkin", "mood_drop", "cravings", "use", "self_harm", "missed_groups"]
    assert [f.label for f in s.flags] == [
        "No check-in for 3 days",
        "Mood down 3.5 points",
        "Craving 8+ on 3 days",
        "Used on 2 days",
        "Self-harm urge 4 of 5",
        "Missed 2 groups",
    ]
    assert s.highlights == [
        "No check-ins since Thursday.",
        "Mood averaged 4.5 out of 10, lowest on Thursday (3).",
        "Mood is down 3.5 points on the week before.",
        "Cravings peaked on Friday evening (10 out of 10), after “Conflict”.",
        "“Conflict” came up 3 times.",
        "Used on Wednesday and Sunday.",
        "The urge to self-harm reached 4 of 5 on Wednesday.",
        "Acted on an urge on Wednesday.",
        "Practised skills 3 times (distress down 2 points on average).",
        "Finished 1 of 2 assigned skills.",
        "Went to 1 of 3 groups.",
    ]


NOW = datetime(2026, 3, 20, 16, 0, tzinfo=UTC)


def test_march_week_by_hand_single_and_batch(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    twin = db.make_user("patient", timezone=NY, therapist=therapist)
    arrange_march_week(db, therapist, p)
    arrange_march_week(db, therapist, twin)
    single = one(db, request(p, W10, date(2026, 3, 20), NOW))
    check_march_week(single)
    # The batch (the dashboard's path) gives the same numbers for every patient in it.
    batch = many(db, [request(p, W10, date(2026, 3, 20), NOW), request(twin, W10, date(2026, 3, 20), NOW)])
    check_march_week(batch[(p.id, W10.monday)])  # type: ignore[index]
    check_march_week(batch[(twin.id, W10.monday)])  # type: ignore[index]


def test_a_brief_summary_has_the_full_flags_and_row_figures_and_nothing_else(db: Database) -> None:
    """The dashboard's rows are brief summaries: the same flags and shown figures as the week page's summary, from
    narrower reads; what a row never shows is left empty rather than computed from missing columns."""
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    arrange_march_week(db, therapist, p)
    full_request = replace(request(p, W10, date(2026, 3, 20), NOW), history_days=21)
    full = one(db, full_request)
    check_march_week(full)
    brief = one(db, replace(full_request, brief=True))
    assert [(f.key, f.label) for f in brief.flags] == [(f.key, f.label) for f in full.flags]
    shown = ("checkin_days", "days_counted", "mood_avg", "mood_change", "craving_peak", "craving_high_days",
             "use_days", "urge_max", "groups_attended", "groups_missed", "mood_history", "craving_history")  # fmt: skip
    assert {name: getattr(brief, name) for name in shown} == {name: getattr(full, name) for name in shown}
    assert len(brief.mood_history) == 28 and brief.mood_history[-7:] == full.mood_by_day
    assert (brief.highlights, brief.notes, brief.top_triggers, brief.measures) == ([], [], [], {})
    assert (brief.mood_by_day, brief.craving_by_day, brief.checkin_dates, brief.diary_days) == ([], [], [], [])
    assert (brief.craving_peak_when, brief.craving_peak_day, brief.acted_on) == ("", None, {})
    assert full.craving_peak_day and full.craving_peak_when and full.diary_days and full.checkin_dates
    assert (brief.skills_count, brief.groups_scheduled) == (None, None)
    # A row's days shown whose flags come from another span (the dashboard's open flags): the row's figures only.
    row = one(db, replace(full_request, brief=True, flags=False))
    figures = ("checkin_days", "days_counted", "mood_avg", "craving_peak", "mood_history", "craving_history")
    assert {name: getattr(row, name) for name in figures} == {name: getattr(full, name) for name in figures}
    assert row.craving_peak == 10 and row.mood_avg == 4.5
    assert (row.flags, row.mood_change, row.craving_high_days, row.use_days, row.urge_max) == ([], None, 0, None, {})


def test_a_brief_load_keeps_the_rows_it_read_and_a_brief_summary_ignores_now(db: Database) -> None:
    """What the dashboard remembers its rows' summaries under (server/sharing/dashboard.py): the rows a brief load
    read, as read, and every field of a brief request but `now`, which a brief summary never reads."""
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    arrange_march_week(db, therapist, p)
    brief = replace(request(p, W10, date(2026, 3, 20), NOW), history_days=21, brief=True)

    def load(req: WeekRequest) -> PatientData:
        async def work(session: AsyncSession) -> PatientData:
            return (await load_week_data(session, [req]))[p.id]  # type: ignore[index]

        return db.run(work)

    data = load(brief)
    key = data.read_key()
    assert [table for table, _rows in key] == ["checkin", "craving_log", "attendance"]
    # Check-ins from the sparklines' first day (9 February); the week's own craving logs and marks only.
    read = {table: json.loads(rows) for table, rows in key}  # each table's rows as read: a JSON array's text
    assert (len(read["checkin"]), len(read["craving_log"]), len(read["attendance"])) == (7, 2, 3)
    assert load(brief).read_key() == key  # the same rows, the same key
    later = replace(brief, now=NOW + timedelta(days=3, hours=5))
    assert later.brief_key == brief.brief_key
    assert build_summary(later, data, Thresholds()) == build_summary(brief, data, Thresholds())
    # Any value read changes the key; a full request or load has none (it reads more than it keeps).
    db.execute("UPDATE checkin SET craving = 7 WHERE user_id = :p AND local_date = :d", p=p.id, d=date(2026, 3, 3))
    assert load(brief).read_key() != key
    full = replace(brief, brief=False)
    with pytest.raises(ValueError):
        load(full).read_key()
    with pytest.raises(ValueError):
        _ = full.brief_key


def test_the_week_after_spring_forward_starts_at_edt_midnight(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    arrange_march_week(db, therapist, p)
    s = one(db, request(p, W10.shift(1), date(2026, 3, 20), NOW, ["skill_practice", "attendance"]))
    assert s.week.label == "2026-W11"
    # Only Monday 9 March 00:30 EDT (04:30 UTC); Sunday 23:30 EDT (03:30 UTC) belonged to the week before.
    assert (s.skills_count, s.skills_top) == (1, [(BREATHE, 1)])
    assert (s.groups_scheduled, s.groups_missed) == (1, 1)
    assert s.checkin_days is None and s.mood_avg is None  # no check-in category shared


def test_fall_back_weeks(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    add_rows(
        db,
        [
            practice(p, local(NY, date(2026, 10, 25), 23, 50), "stop"),  # W43
            practice(p, local(NY, date(2026, 10, 26), 0, 15), "stop"),  # W44, 04:15 UTC (EDT)
            practice(p, local(NY, date(2026, 11, 1), 23, 30), "tipp"),  # W44, 04:30 UTC on 2 Nov (EST)
            practice(p, local(NY, date(2026, 11, 2), 0, 30), "tipp"),  # W45, 05:30 UTC
            checkin(p, date(2026, 11, 1), 6, 2),
            checkin(p, date(2026, 11, 2), 7, 2),
        ],
    )
    now = datetime(2026, 11, 20, tzinfo=UTC)
    w44 = one(db, request(p, Week(date(2026, 10, 26)), date(2026, 11, 20), now, ["skill_practice", "mood_sleep"]))
    w45 = one(db, request(p, Week(date(2026, 11, 2)), date(2026, 11, 20), now, ["skill_practice", "mood_sleep"]))
    assert (w44.skills_count, w44.skills_top) == (2, [(STOP, 1), (TIPP, 1)])
    assert (w44.checkin_days, w44.mood_avg) == (1, 6.0)
    assert (w45.skills_count, w45.checkin_days, w45.mood_avg, w45.mood_prev_avg) == (1, 1, 7.0, 6.0)


def test_auckland_patient_weeks_follow_their_own_midnights(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=AKL, therapist=therapist)
    week = Week(date(2026, 11, 16))  # Mon 16 Nov 00:00 NZDT = Sun 15 Nov 11:00 UTC
    add_rows(
        db,
        [
            checkin(p, date(2026, 11, 16), 6, 3),
            checkin(p, date(2026, 11, 22), 2, 4),
            practice(p, datetime(2026, 11, 15, 10, 30, tzinfo=UTC), "stop"),  # Sun 23:30 NZDT: the week before
            practice(p, datetime(2026, 11, 15, 11, 30, tzinfo=UTC), "tipp"),  # Mon 00:30 NZDT: this week
            craving_log(p, datetime(2026, 11, 22, 10, 30, tzinfo=UTC), date(2026, 11, 22), 9),  # Sun 23:30 NZDT
            craving_log(p, datetime(2026, 11, 22, 11, 30, tzinfo=UTC), date(2026, 11, 23), 10),  # Mon: next week
        ],
    )
    now = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Mon 23 Nov 13:00 in Auckland, Sun 22 Nov in UTC
    s = one(db, request(p, week, date(2026, 11, 23), now))
    assert (s.checkin_days, s.days_counted, s.mood_avg) == (2, 7, 4.0)
    assert (s.skills_count, s.skills_top) == (1, [(TIPP, 1)])
    assert (s.craving_peak, s.craving_peak_when, s.craving_logs, s.craving_high_days) == (9, "Sunday night", 1, 1)
    assert [f.label for f in s.flags] == ["No check-in for 5 days"]
    batch = many(db, [request(p, week, date(2026, 11, 23), now)])
    assert batch[(p.id, week.monday)].craving_peak_when == "Sunday night"  # type: ignore[index]


def test_current_week_counts_only_days_so_far_and_consent_start(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    add_rows(
        db, [checkin(p, date(2026, 3, 2), 9, 1), checkin(p, date(2026, 3, 4), 5, 1), checkin(p, date(2026, 3, 5), 6, 1)]
    )
    # Thursday afternoon; the consent covers data from Wednesday on only.
    req = WeekRequest(
        patient_id=p.id,  # type: ignore[arg-type]
        timezone=NY,
        week=W10,
        categories=frozenset({"mood_sleep"}),
        data_from=date(2026, 3, 4),
        today=date(2026, 3, 5),
        now=datetime(2026, 3, 5, 20, tzinfo=UTC),
    )
    s = one(db, req)
    assert (s.visible_from, s.visible_to, s.days_counted, s.checkin_days) == (date(2026, 3, 4), date(2026, 3, 5), 2, 2)
    assert (s.mood_avg, s.mood_max) == (5.5, 6)  # Monday's 9 is before the consent's start
    assert s.mood_prev_avg is None
    assert s.flags == []


def test_thresholds_are_clinic_settings(db: Database) -> None:
    therapist = db.make_user("therapist")
    p = db.make_user("patient", timezone=NY, therapist=therapist)
    arrange_march_week(db, therapist, p)
    strict = Thresholds(
        no_checkin_days=4, craving_level=10, craving_days=2, use_days=3, self_harm_urge=5, missed_groups=3, mood_drop=4
    )
    s = one(db, request(p, W10, date(2026, 3, 20), NOW), strict)
    assert s.flags == []
    assert Thresholds.from_settings(
        {"flag_thresholds": {"craving_level": 6, "mood_drop": "x", "use_days": 99}}
    ) == Thresholds(craving_level=6)
