"""The schedule's public API against real SQL: expansion by phase week, one-off changes, enrolment ends and
extensions, daylight-saving changes, attendance summaries, milestones and the bulk query used for reminders."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role
from server.db import compose, read_composed
from server.schedule import logic, views
from server.schedule.models import Attendance, Enrolment, GroupPattern, Program, SessionException
from tests.conftest import Database
from tests.test_schedule_helpers import enrol, make_program

MONDAY = date(2026, 1, 5)  # a Monday well clear of any DST change


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def sessions(db: Database, patient_id: int, start: datetime, end: datetime) -> list[logic.Occurrence]:
    return db.run(lambda s: logic.sessions_for_patient(s, patient_id, start, end))


def add_change(db: Database, **fields: Any) -> int:
    async def work(session: AsyncSession) -> int:
        change = SessionException(**fields)
        session.add(change)
        await session.flush()
        return change.id  # type: ignore[return-value]

    return db.run(work)


def test_each_week_follows_its_phase(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db)
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    found = sessions(db, patient.id, utc(2026, 1, 1), utc(2026, 5, 1))  # type: ignore[arg-type]
    per_week = Counter(o.week for o in found)
    assert [per_week[w] for w in range(1, 13)] == [4] * 4 + [3] * 4 + [2] * 4
    assert max(per_week) == 12  # nothing after the program's 12 weeks
    first = found[0]
    assert first.title == "Relapse prevention" and first.phase_name == "Weeks 1-4"
    assert first.local_start == datetime(2026, 1, 5, 18, 0, tzinfo=logic.zone("America/New_York"))
    assert first.starts_at == utc(2026, 1, 5, 23, 0) and first.ends_at == utc(2026, 1, 6, 0, 30)
    assert first.occurrence_id == f"g{first.pattern_id}-20260105"
    assert {o.phase_name for o in found if o.week == 9} == {"Weeks 9-12"}
    # Nothing before the start date either.
    assert all(o.local_start.date() >= MONDAY for o in found)


def test_start_date_on_any_weekday_counts_weeks_from_that_day(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db)
    thursday = date(2026, 1, 8)
    enrol(db, patient.id, program.id, thursday)  # type: ignore[arg-type]
    found = sessions(db, patient.id, utc(2026, 1, 1), utc(2026, 1, 16))  # type: ignore[arg-type]
    # Week 1 runs Thursday to Wednesday: Thu 8, Mon 12, Tue 13, Wed 14; week 2 begins Thursday 15.
    assert [(o.local_start.date().day, o.week) for o in found] == [(8, 1), (12, 1), (13, 1), (14, 1), (15, 2)]


def test_dst_spring_forward_and_fall_back_keep_local_time(db: Database) -> None:
    """US clocks go forward on Sunday 2026-03-08 and back on Sunday 2026-11-01."""
    patient = db.make_user(Role.PATIENT)
    every_day = [(d, "18:00", f"Group {d}") for d in range(7)]
    program = make_program(db, phases=[("All year", 1, 52, every_day)])
    enrol(db, patient.id, program.id, date(2026, 1, 5))  # type: ignore[arg-type]
    new_york = logic.zone("America/New_York")

    def by_day(start: datetime, end: datetime) -> dict[date, logic.Occurrence]:
        return {o.local_start.date(): o for o in sessions(db, patient.id, start, end)}  # type: ignore[arg-type]

    spring = by_day(utc(2026, 3, 6), utc(2026, 3, 11))
    assert spring[date(2026, 3, 7)].starts_at == utc(2026, 3, 7, 23, 0)  # Saturday, EST (UTC-5)
    assert spring[date(2026, 3, 8)].starts_at == utc(2026, 3, 8, 22, 0)  # the Sunday itself, EDT (UTC-4)
    assert spring[date(2026, 3, 9)].starts_at == utc(2026, 3, 9, 22, 0)  # Monday
    fall = by_day(utc(2026, 10, 30), utc(2026, 11, 4))
    assert fall[date(2026, 10, 31)].starts_at == utc(2026, 10, 31, 22, 0)  # Saturday, EDT
    assert fall[date(2026, 11, 1)].starts_at == utc(2026, 11, 1, 23, 0)  # the Sunday itself, EST
    assert fall[date(2026, 11, 2)].starts_at == utc(2026, 11, 2, 23, 0)  # Monday
    for occ in [*spring.values(), *fall.values()]:
        local = occ.starts_at.astimezone(new_york)
        assert (local.hour, local.minute) == (18, 0)
        assert occ.ends_at - occ.starts_at == timedelta(minutes=90)


def test_patient_elsewhere_sees_their_own_local_time(db: Database) -> None:
    patient = db.make_user(Role.PATIENT, timezone="Europe/Madrid")
    program = make_program(db, phases=[("All", 1, 12, [(0, "18:00", "Relapse prevention")])])
    enrol(db, patient.id, program.id, date(2026, 3, 2))  # type: ignore[arg-type]
    found = {o.local_start.date(): o for o in sessions(db, patient.id, utc(2026, 3, 1), utc(2026, 4, 1))}  # type: ignore[arg-type]
    now = utc(2026, 3, 1)
    # 2 March: New York on EST (UTC-5), Madrid on CET (UTC+1): 18:00 there is midnight in Madrid.
    # 9 March: New York has moved to EDT, Madrid not yet: 23:00 in Madrid.
    # 30 March: both on summer time: midnight again.
    expected = {date(2026, 3, 2): "12:00 AM", date(2026, 3, 9): "11:00 PM", date(2026, 3, 30): "12:00 AM"}
    for day, label in expected.items():
        view = views.session_view(found[day], "Europe/Madrid", now)
        assert view.time.replace("\u202f", " ") == label  # Babel puts a narrow no-break space before AM/PM
        assert view.clinic_time.replace("\u202f", " ") == "6:00 PM"
    assert views.session_view(found[date(2026, 3, 2)], "America/New_York", now).clinic_time == ""


def test_one_off_changes(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db)
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    relapse = program.groups[("Weeks 1-4", "Relapse prevention")]
    coping = program.groups[("Weeks 1-4", "Coping skills")]
    add_change(
        db,
        program_id=program.id,
        pattern_id=relapse,
        kind="cancelled",
        original_date=date(2026, 1, 12),
        note="Facilitator away",
    )
    add_change(
        db,
        program_id=program.id,
        pattern_id=coping,
        kind="moved",
        original_date=date(2026, 1, 13),
        new_date=date(2026, 1, 16),
        new_time=time(10, 30),
    )
    add_change(db, program_id=program.id, kind="holiday", original_date=date(2026, 1, 19), note="MLK Day")
    extra_id = add_change(
        db,
        program_id=program.id,
        kind="extra",
        new_date=date(2026, 1, 17),
        new_time=time(11, 0),
        title="Family evening",
        duration_minutes=60,
        location="Hall",
    )
    found = {o.occurrence_id: o for o in sessions(db, patient.id, utc(2026, 1, 11), utc(2026, 1, 25))}  # type: ignore[arg-type]

    cancelled = found[f"g{relapse}-20260112"]
    assert cancelled.cancelled and cancelled.note == "Facilitator away"
    moved = found[f"g{coping}-20260113"]  # keeps the id of its original date
    assert moved.moved and not moved.cancelled
    assert moved.local_start == datetime(2026, 1, 16, 10, 30, tzinfo=logic.zone("America/New_York"))
    assert moved.week == 2 and moved.phase_name == "Weeks 1-4"
    assert not any(o.local_start.date() == date(2026, 1, 13) for o in found.values())
    holiday = found[f"g{relapse}-20260119"]
    assert holiday.cancelled and holiday.note == "MLK Day"
    extra = found[f"x{extra_id}"]
    assert extra.extra and extra.title == "Family evening" and extra.location == "Hall"
    assert extra.ends_at - extra.starts_at == timedelta(minutes=60)
    # A moved session shows up in a window that only holds its new date, and not in one holding its old date.
    only_16th = sessions(db, patient.id, utc(2026, 1, 16, 5), utc(2026, 1, 17, 5))  # type: ignore[arg-type]
    assert [o.occurrence_id for o in only_16th if o.moved] == [f"g{coping}-20260113"]
    only_13th = sessions(db, patient.id, utc(2026, 1, 13, 5), utc(2026, 1, 14, 5))  # type: ignore[arg-type]
    assert all(not o.moved for o in only_13th)
    # Reminders never see cancelled sessions.
    planned = db.run(lambda s: logic.occurrences_starting_between(s, utc(2026, 1, 12), utc(2026, 1, 13)))
    assert f"g{relapse}-20260112" not in {o.occurrence_id for _p, o in planned}


def test_discharge_and_extension(db: Database) -> None:
    early, extended = db.make_user(Role.PATIENT), db.make_user(Role.PATIENT)
    program = make_program(db)
    enrol(db, early.id, program.id, MONDAY, end_date=date(2026, 1, 21), status="discharged")  # type: ignore[arg-type]
    enrol(db, extended.id, program.id, MONDAY, extended_weeks=2)  # type: ignore[arg-type]
    cut = sessions(db, early.id, utc(2026, 1, 1), utc(2026, 6, 1))  # type: ignore[arg-type]
    assert max(o.local_start.date() for o in cut) == date(2026, 1, 21)  # Wednesday of week 3
    assert len(cut) == 4 + 4 + 3
    longer = sessions(db, extended.id, utc(2026, 1, 1), utc(2026, 6, 1))  # type: ignore[arg-type]
    weeks = Counter(o.week for o in longer)
    assert max(weeks) == 14 and weeks[13] == weeks[14] == 2  # the last phase repeats
    assert {o.phase_name for o in longer if o.week > 12} == {"Weeks 9-12"}


def test_next_session_skips_cancelled_and_looks_past_gaps(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 12, [(0, "18:00", "Relapse prevention")])])
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    pattern = program.groups[("Only", "Relapse prevention")]
    for day in (12, 19, 26):  # three cancelled Mondays in a row
        add_change(db, program_id=program.id, pattern_id=pattern, kind="cancelled", original_date=date(2026, 1, day))
    nxt = db.run(lambda s: logic.next_session(s, patient.id, utc(2026, 1, 6)))  # type: ignore[arg-type]
    assert nxt is not None and nxt.local_start.date() == date(2026, 2, 2)
    during = utc(2026, 2, 2, 23, 30)  # half-way through that group
    assert db.run(lambda s: logic.next_session(s, patient.id, during)).local_start.date() == date(2026, 2, 9)  # type: ignore[arg-type,union-attr]
    now_on = db.run(lambda s: logic.next_session(s, patient.id, during, include_in_progress=True))  # type: ignore[arg-type]
    assert now_on is not None and now_on.local_start.date() == date(2026, 2, 2)
    assert db.run(lambda s: logic.next_session(s, patient.id, utc(2026, 6, 1))) is None  # type: ignore[arg-type]
    stranger = db.make_user(Role.PATIENT)
    assert db.run(lambda s: logic.next_session(s, stranger.id, utc(2026, 1, 6))) is None  # type: ignore[arg-type]


def read_today(db: Database, patient_id: int, now: datetime) -> tuple[logic.Enrolled, dict[str, Any]]:
    """The schedule's part of Today's composed statement, read and built as Today does: what was built, and the
    values the statement sent."""
    statement = compose(logic.today_reads())
    params = logic.today_params(patient_id, now)

    async def read(session: AsyncSession) -> tuple[logic.Enrolled, dict[str, Any]]:
        values = await read_composed(session, statement, params)
        return await logic.enrolled_from(session, values, params), values

    return db.run(read)


def enrolled_today(db: Database, patient_id: int, now: datetime) -> logic.Enrolled:
    return read_today(db, patient_id, now)[0]


def test_next_session_from_the_remembered_day_matches_next_session(db: Database) -> None:
    """Today's next group comes from the day's sessions expanded once (`Enrolled.upcoming`), for every moment of
    the day, from what was built once for the schedule's revision (`enrolled_from`): the same answer as
    `next_session`."""
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 12, [(0, "18:00", "Monday group"), (2, "09:30", "Wednesday group"),
                                                         (2, "19:00", "Late group")])])  # fmt: skip
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    monday = program.groups[("Only", "Monday group")]
    add_change(db, program_id=program.id, pattern_id=monday, kind="cancelled", original_date=date(2026, 1, 12))
    add_change(db, program_id=program.id, pattern_id=program.groups[("Only", "Late group")], kind="moved",
               original_date=date(2026, 1, 14), new_date=date(2026, 1, 15), new_time=time(8, 0))  # fmt: skip
    add_change(db, program_id=program.id, kind="holiday", original_date=date(2026, 1, 19), note="Closed")
    add_change(db, program_id=program.id, kind="extra", new_date=date(2026, 1, 17), new_time=time(23, 30),
               title="Saturday extra", duration_minutes=60)  # fmt: skip
    moments = [utc(2026, 1, 9, 0, 0) + timedelta(minutes=97 * n) for n in range(160)]  # ~11 days, odd minutes
    for now in moments:
        enrolled = enrolled_today(db, patient.id, now)
        again, values = read_today(db, patient.id, now)
        assert again is enrolled and values["schedule_patterns"] is None  # held: the rows were not sent again
        for in_progress in (False, True):
            expected = db.run(lambda s: logic.next_session(s, patient.id, now, include_in_progress=in_progress))  # type: ignore[arg-type]  # noqa: B023
            found = logic.next_session_from(enrolled, now, include_in_progress=in_progress)
            assert found == expected, (now, in_progress)
    # Past the program's end (the 120-day horizon finds nothing either).
    late = utc(2026, 5, 1)
    assert logic.next_session_from(enrolled_today(db, patient.id, late), late) is None


def test_a_change_made_elsewhere_is_read_at_the_next_request(db: Database) -> None:
    """What a process built is held by the schedule's revision, which the database's triggers change with every
    write to those tables, whoever writes: the next read sends the rows again, never anything stale."""
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 12, [(0, "18:00", "Monday group")])])
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    now = utc(2026, 1, 6, 12)
    before = logic.next_session_from(enrolled_today(db, patient.id, now), now)
    assert before is not None and before.local_start.date() == date(2026, 1, 12)
    assert read_today(db, patient.id, now)[1]["schedule_enrolments"] is None  # held
    pattern = program.groups[("Only", "Monday group")]
    add_change(db, program_id=program.id, pattern_id=pattern, kind="cancelled", original_date=date(2026, 1, 12))
    enrolled, values = read_today(db, patient.id, now)
    assert values["schedule_changes"] is not None  # sent again
    after = logic.next_session_from(enrolled, now)
    assert after is not None and after.local_start.date() == date(2026, 1, 19)

    async def rename(session: AsyncSession) -> None:
        group = await session.get(GroupPattern, pattern)
        assert group is not None
        group.title = "Renamed group"

    db.run(rename)
    renamed = logic.next_session_from(enrolled_today(db, patient.id, now), now)
    assert renamed is not None and renamed.title == "Renamed group"
    # Plain SQL on the database's own connection (another process, a script): the triggers see it too.
    db.execute("UPDATE group_pattern SET title = 'Written by hand' WHERE id = :id", id=pattern)
    by_hand = logic.next_session_from(enrolled_today(db, patient.id, now), now)
    assert by_hand is not None and by_hand.title == "Written by hand"
    db.execute("DELETE FROM enrolment WHERE patient_id = :id", id=patient.id)
    assert logic.next_session_from(enrolled_today(db, patient.id, now), now) is None


def test_without_a_revision_row_the_rows_are_read_every_time(db: Database) -> None:
    """A revision row deleted by hand: nothing is held by it, every read sends the rows; the next change to the
    schedule puts the row back."""
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 12, [(0, "18:00", "Monday group")])])
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    now = utc(2026, 1, 6, 12)
    db.execute("DELETE FROM schedule_revision")
    for _ in range(2):
        enrolled, values = read_today(db, patient.id, now)
        assert values["schedule_revision"] is None and values["schedule_enrolments"] is not None
        assert logic.next_session_from(enrolled, now) is not None
    add_change(db, program_id=program.id, kind="holiday", original_date=date(2026, 1, 12), note="Closed")
    assert db.scalar("SELECT count(*) FROM schedule_revision") == 1
    enrolled_today(db, patient.id, now)
    assert read_today(db, patient.id, now)[1]["schedule_enrolments"] is None


def test_a_window_let_go_of_between_the_read_and_the_build_is_read_again(db: Database) -> None:
    """The statement said "unchanged since what this process holds", but it was let go of meanwhile (another
    request filled the bounded map): the rows are read again rather than nothing shown."""
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 12, [(0, "18:00", "Monday group")])])
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    now = utc(2026, 1, 6, 12)
    held = enrolled_today(db, patient.id, now)
    statement = compose(logic.today_reads())
    params = logic.today_params(patient.id, now)

    async def read_then_let_go(session: AsyncSession) -> logic.Enrolled:
        values = await read_composed(session, statement, params)
        assert values["schedule_enrolments"] is None
        logic._HELD.clear()
        return await logic.enrolled_from(session, values, params)

    rebuilt = db.run(read_then_let_go)
    assert rebuilt is held  # the same rows' text: the same build
    assert logic.next_session_from(rebuilt, now) is not None


def test_attendance_summary_and_marking(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db)
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    relapse = program.groups[("Weeks 1-4", "Relapse prevention")]
    add_change(db, program_id=program.id, pattern_id=relapse, kind="cancelled", original_date=date(2026, 1, 5))
    week1 = sessions(db, patient.id, utc(2026, 1, 5), utc(2026, 1, 12))  # type: ignore[arg-type]
    live = [o for o in week1 if not o.cancelled]
    assert len(live) == 3

    async def mark(session: AsyncSession) -> None:
        await logic.mark_attendance(session, patient.id, live[0], "attended", patient.id)  # type: ignore[arg-type]
        await logic.mark_attendance(session, patient.id, live[1], "attended", patient.id)  # type: ignore[arg-type]
        await logic.mark_attendance(session, patient.id, live[1], "missed", None)  # a correction, not a second row
        await logic.mark_attendance(session, patient.id, live[2], "missed", patient.id)  # type: ignore[arg-type]

    db.run(mark)
    assert db.scalar("SELECT count(*) FROM attendance") == 3
    summary = db.run(lambda s: logic.attendance_summary(s, patient.id, utc(2026, 1, 5), utc(2026, 1, 12)))  # type: ignore[arg-type]
    assert summary == {"scheduled": 3, "attended": 1, "missed": 2, "unmarked": 0}
    week2 = db.run(lambda s: logic.attendance_summary(s, patient.id, utc(2026, 1, 12), utc(2026, 1, 19)))  # type: ignore[arg-type]
    assert week2 == {"scheduled": 4, "attended": 0, "missed": 0, "unmarked": 4}

    # History stays when the group is later removed from the program.
    db.run(lambda s: s.execute(delete(GroupPattern).where(GroupPattern.id == live[0].pattern_id)))
    after = db.run(lambda s: logic.attendance_summary(s, patient.id, utc(2026, 1, 5), utc(2026, 1, 12)))  # type: ignore[arg-type]
    assert after["attended"] == 1 and after["scheduled"] == 3


def test_completed_phases_and_program(db: Database) -> None:
    done, discharged, current = (db.make_user(Role.PATIENT) for _ in range(3))
    program = make_program(db)
    enrol(db, done.id, program.id, MONDAY, extended_weeks=1)  # type: ignore[arg-type]
    enrol(db, discharged.id, program.id, MONDAY, end_date=date(2026, 2, 10), status="discharged")  # type: ignore[arg-type]
    enrol(db, current.id, program.id, MONDAY)  # type: ignore[arg-type]

    def phases(pid: int, now: datetime) -> list[tuple[str, date]]:
        return db.run(lambda s: logic.completed_phases(s, pid, now))

    mid = utc(2026, 2, 20)  # week 7
    assert phases(current.id, mid) == [("Weeks 1-4", date(2026, 2, 1))]  # type: ignore[arg-type]
    assert phases(discharged.id, mid) == [("Weeks 1-4", date(2026, 2, 1))]  # type: ignore[arg-type]
    assert db.run(lambda s: logic.program_completed(s, current.id, mid)) is None  # type: ignore[arg-type]

    later = utc(2026, 6, 1)
    assert phases(current.id, later) == [  # type: ignore[arg-type]
        ("Weeks 1-4", date(2026, 2, 1)),
        ("Weeks 5-8", date(2026, 3, 1)),
        ("Weeks 9-12", date(2026, 3, 29)),
    ]
    assert phases(done.id, later)[-1] == ("Weeks 9-12", date(2026, 4, 5))  # type: ignore[arg-type]  # +1 week
    assert phases(discharged.id, later) == [("Weeks 1-4", date(2026, 2, 1))]  # type: ignore[arg-type]
    assert db.run(lambda s: logic.program_completed(s, current.id, later)) == ("Evening IOP", date(2026, 3, 29))  # type: ignore[arg-type]
    assert db.run(lambda s: logic.program_completed(s, done.id, later)) == ("Evening IOP", date(2026, 4, 5))  # type: ignore[arg-type]
    assert db.run(lambda s: logic.program_completed(s, discharged.id, later)) is None  # type: ignore[arg-type]
    # The last day itself isn't over yet.
    assert db.run(lambda s: logic.program_completed(s, current.id, utc(2026, 3, 29, 23))) is None  # type: ignore[arg-type]


def test_occurrences_starting_between_many_patients(db: Database) -> None:
    """Hundreds of enrolments across programs and timezones: same answer as asking patient by patient, in a
    fixed handful of queries."""
    db.make_user(Role.PATIENT)  # creates clinic 1
    evening = make_program(db)
    pacific = make_program(
        db,
        name="Morning IOP",
        timezone="America/Los_Angeles",
        phases=[("All", 1, 12, [(d, "09:00", "Morning group") for d in range(5)])],
    )

    async def bulk(session: AsyncSession) -> list[int]:
        from server.accounts.models import User

        ids = []
        for n in range(240):
            user = User(
                clinic_id=1, email=f"bulk{n}@example.org", display_name=f"P{n}", role=Role.PATIENT, password_hash="x"
            )
            session.add(user)
            await session.flush()
            program_id = evening.id if n % 2 else pacific.id
            start = date(2026, 1, 5) - timedelta(days=(n * 3) % 90)  # staggered start dates, any weekday
            status = "discharged" if n % 17 == 0 else "active"
            end = start + timedelta(days=20) if status == "discharged" else None
            session.add(
                Enrolment(patient_id=user.id, program_id=program_id, start_date=start, status=status, end_date=end)
            )
            ids.append(user.id)  # type: ignore[arg-type]
        return ids

    patient_ids = db.run(bulk)
    window = (utc(2026, 1, 5, 12), utc(2026, 1, 7, 0))  # spans 09:00 Pacific and 18:00 Eastern on two days

    statements: list[str] = []

    async def query(session: AsyncSession) -> list[tuple[int, logic.Occurrence]]:
        engine = session.bind.sync_engine  # type: ignore[union-attr]

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            return await logic.occurrences_starting_between(session, *window)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    found = db.run(query)
    assert len(statements) <= 4
    assert found == sorted(found, key=lambda pair: (pair[1].starts_at, pair[0]))
    assert all(window[0] <= occ.starts_at < window[1] and not occ.cancelled for _p, occ in found)

    async def one_by_one(session: AsyncSession) -> set[tuple[int, str]]:
        expected = set()
        for pid in patient_ids:
            for occ in await logic.sessions_for_patient(session, pid, *window):
                if not occ.cancelled:
                    expected.add((pid, occ.occurrence_id))
        return expected

    expected = db.run(one_by_one)
    assert {(pid, occ.occurrence_id) for pid, occ in found} == expected
    assert len(expected) > 150  # the window really catches many people
    assert len({pid for pid, _o in found}) < len(patient_ids)  # and really leaves some out (ended, not begun)


def test_marking_again_from_another_session_replaces_the_mark(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db)
    enrol(db, patient.id, program.id, MONDAY)  # type: ignore[arg-type]
    occ = sessions(db, patient.id, utc(2026, 1, 5), utc(2026, 1, 6))[0]  # type: ignore[arg-type]
    db.run(lambda s: logic.mark_attendance(s, patient.id, occ, "attended", patient.id))  # type: ignore[arg-type]
    db.run(lambda s: logic.mark_attendance(s, patient.id, occ, "missed", patient.id))  # type: ignore[arg-type]
    rows = db.run(lambda s: _all(s))
    assert [(r.occurrence_id, r.status) for r in rows] == [(occ.occurrence_id, "missed")]


async def _all(session: AsyncSession) -> list[Attendance]:
    return list(await session.scalars(select(Attendance)))


def test_family_info_only_for_current_programs(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    old = make_program(db, name="Day IOP")
    current = make_program(db, name="Evening IOP")

    async def info(session: AsyncSession) -> None:
        for program_id, text in ((old.id, "Old info"), (current.id, "Family night on Thursdays")):
            program = await session.get(Program, program_id)
            program.family_info = text  # type: ignore[union-attr]

    db.run(info)
    enrol(db, patient.id, old.id, date(2025, 6, 2), end_date=date(2025, 7, 1), status="discharged")  # type: ignore[arg-type]
    enrol(db, patient.id, current.id, date(2026, 1, 5))  # type: ignore[arg-type]
    found = db.run(lambda s: logic.family_info_for_patient(s, patient.id, utc(2026, 2, 1)))  # type: ignore[arg-type]
    assert found == [("Evening IOP", "Family night on Thursdays")]
    assert db.run(lambda s: logic.family_info_for_patient(s, patient.id, utc(2026, 12, 1))) == []  # type: ignore[arg-type]


def test_demo_loader_builds_a_step_down_program(db: Database) -> None:
    from server.schedule.demo import DEMO_PATIENTS, load_schedule_demo

    people = {"admin@demo.steady": db.make_user(Role.ADMIN, "admin@demo.steady")}
    for email in DEMO_PATIENTS:
        people[email] = db.make_user(Role.PATIENT, email)
    db.run(lambda s: load_schedule_demo(s, people))
    assert db.scalar("SELECT count(*) FROM enrolment") == 3
    sam = people["sam@demo.steady"]
    now = datetime.now(UTC)
    this_week = sessions(db, sam.id, now - timedelta(days=7), now + timedelta(days=7))  # type: ignore[arg-type]
    assert {o.week for o in this_week} <= {8, 9, 10}
    assert {o.phase_name for o in this_week if o.week >= 9} <= {"Weeks 9–12: two evenings a week"}
    summary = db.run(lambda s: logic.attendance_summary(s, sam.id, now - timedelta(weeks=9), now))  # type: ignore[arg-type]
    assert summary["attended"] > 20 and summary["missed"] >= 1
