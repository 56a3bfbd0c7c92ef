"""Planning group and check-in reminders from the real schedule and check-ins, and sending them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role
from server.checkins.models import CheckIn
from server.reminders import reminder_hooks
from server.reminders.planner import plan_checkin_reminders, plan_group_reminders
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase, SessionException
from tests.conftest import Database
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import (
    HEALTH_WORDS,
    add_device,
    drain,
    give_device,
    in_session,
    reminder,
    reminders_of,
    set_preferences,
)


def plan(db: Database, now: datetime, user_ids: set[int] | None = None) -> int:
    async def work(session: AsyncSession) -> int:
        return await plan_group_reminders(session, now, user_ids) + await plan_checkin_reminders(session, now, user_ids)

    return in_session(db.url, work)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)  # type: ignore[misc]


def check_in(db: Database, user_id: int, day: date) -> None:
    async def work(session: AsyncSession) -> None:
        session.add(CheckIn(user_id=user_id, local_date=day, mood=6, craving=2, idempotency_key=f"k-{day}"))

    in_session(db.url, work)


# -- the daily check-in -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "due"),
    [
        ("America/New_York", date(2026, 3, 8), datetime(2026, 3, 9, 0, 0, tzinfo=UTC)),  # spring forward
        ("America/New_York", date(2026, 11, 1), datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),  # fall back
        ("Europe/London", date(2026, 3, 29), datetime(2026, 3, 29, 19, 0, tzinfo=UTC)),
        ("Europe/London", date(2026, 10, 25), datetime(2026, 10, 25, 20, 0, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 4, 5), datetime(2026, 4, 5, 10, 0, tzinfo=UTC)),
        ("Australia/Sydney", date(2026, 10, 4), datetime(2026, 10, 4, 9, 0, tzinfo=UTC)),
    ],
)
def test_checkin_reminder_is_at_20_00_local_on_dst_days(db: Database, tz: str, day: date, due: datetime) -> None:
    patient = db.make_user(Role.PATIENT, timezone=tz)
    give_device(db.url, patient.id)
    morning = local(tz, day.year, day.month, day.day, 9, 0)

    plan(db, morning)

    today, tomorrow = reminders_of(db.url, patient.id)
    assert today.dedupe_key == f"checkin:{day.isoformat()}:{patient.id}"
    assert today.due_at == due
    assert today.expires_at == local(tz, (day + timedelta(days=1)).year, (day + timedelta(days=1)).month,
                                     (day + timedelta(days=1)).day, 0, 0)  # fmt: skip
    assert tomorrow.dedupe_key == f"checkin:{(day + timedelta(days=1)).isoformat()}:{patient.id}"
    assert tomorrow.due_at.astimezone(ZoneInfo(tz)).time() == time(20, 0)


def test_spring_forward_checkin_is_sent_at_20_00_edt(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/New_York")
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    plan(db, datetime(2026, 3, 8, 13, 0, tzinfo=UTC))
    due = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)

    assert drain(db.url, keys, due - timedelta(seconds=1), hooks=reminder_hooks()).claimed == 0
    assert drain(db.url, keys, due, hooks=reminder_hooks()).sent == 1
    [push] = push_service.received(sub.sub_id)
    assert push.data["title"] == "Time for your daily check-in"
    assert push.data["url"] == "/checkin"
    assert push.ttl == 4 * 3600  # until local midnight
    assert not [w for w in HEALTH_WORDS if w in push.payload.decode().lower()]


def test_planning_again_never_duplicates_and_follows_a_new_time(db: Database) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/New_York")
    give_device(db.url, patient.id)
    morning = local("America/New_York", 2026, 6, 15, 9, 0)
    assert plan(db, morning) == 2
    assert plan(db, morning + timedelta(minutes=5)) == 0
    assert len(reminders_of(db.url, patient.id)) == 2

    set_preferences(db.url, patient.id, checkin_time=time(21, 15))
    assert plan(db, morning + timedelta(minutes=10), {patient.id}) == 2
    rows = reminders_of(db.url, patient.id)
    assert len(rows) == 2
    assert [r.due_at.astimezone(ZoneInfo("America/New_York")).time() for r in rows] == [time(21, 15)] * 2


def test_no_checkin_reminder_when_done_switched_off_or_without_a_device(db: Database) -> None:
    done = db.make_user(Role.PATIENT, timezone="Europe/London")
    off = db.make_user(Role.PATIENT, timezone="Europe/London")
    family = db.make_user(Role.FAMILY)
    no_device = db.make_user(Role.PATIENT, timezone="Europe/London")
    for person in (done, off, family):
        give_device(db.url, person.id)
    check_in(db, done.id, date(2026, 6, 15))
    set_preferences(db.url, off.id, checkin_enabled=False)

    plan(db, local("Europe/London", 2026, 6, 15, 9, 0))

    assert [r.dedupe_key for r in reminders_of(db.url, done.id)] == [f"checkin:2026-06-16:{done.id}"]
    assert reminders_of(db.url, off.id) == []
    assert reminders_of(db.url, family.id) == []  # only patients check in
    assert reminders_of(db.url, no_device.id) == []  # planned once they turn reminders on


def test_switching_off_forgets_queued_reminders(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    give_device(db.url, patient.id)
    plan(db, local("America/New_York", 2026, 6, 15, 9, 0))
    assert len(reminders_of(db.url, patient.id)) == 2
    set_preferences(db.url, patient.id, checkin_enabled=False)
    assert reminders_of(db.url, patient.id) == []


def test_checkin_done_after_planning_cancels_the_reminder(
    db: Database, push_service: LoopbackPushService, keys
) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/New_York")
    add_device(db.url, patient.id, push_service.new_subscription())
    plan(db, local("America/New_York", 2026, 6, 15, 9, 0))
    check_in(db, patient.id, date(2026, 6, 15))  # done at lunch

    report = drain(db.url, keys, local("America/New_York", 2026, 6, 15, 20, 0), hooks=reminder_hooks())

    assert report.dropped == 1
    assert push_service.received() == []
    assert reminders_of(db.url, patient.id)[0].status == "dropped"


def test_checkin_reminder_planned_too_late_is_skipped(db: Database) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/New_York")
    give_device(db.url, patient.id)
    plan(db, local("America/New_York", 2026, 6, 15, 21, 0))  # switched on an hour after the time
    assert [r.dedupe_key for r in reminders_of(db.url, patient.id)] == [f"checkin:2026-06-16:{patient.id}"]


# -- groups -----------------------------------------------------------------------------------------------------


def enrol_in_evening_group(db: Database, patient_id: int, start: date) -> int:
    """A Monday 18:00 group in New York; returns the pattern id."""

    async def work(session: AsyncSession) -> int:
        program = Program(clinic_id=1, name="Evening IOP", timezone="America/New_York")
        session.add(program)
        await session.flush()
        phase = ProgramPhase(program_id=program.id, name="Weeks 1-12", start_week=1, end_week=12)  # type: ignore[arg-type]
        session.add(phase)
        await session.flush()
        pattern = GroupPattern(phase_id=phase.id, title="Relapse prevention", weekday=0, start_time=time(18, 0),  # type: ignore[arg-type]
                               location="Room 2")  # fmt: skip
        session.add(pattern)
        session.add(Enrolment(patient_id=patient_id, program_id=program.id, start_date=start))  # type: ignore[arg-type]
        await session.flush()
        return pattern.id  # type: ignore[return-value]

    return in_session(db.url, work)


MONDAY = date(2026, 6, 15)
GROUP_START = datetime(2026, 6, 15, 22, 0, tzinfo=UTC)  # 18:00 EDT


def test_group_reminder_an_hour_before_without_the_groups_name(
    db: Database, push_service: LoopbackPushService, keys
) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/Chicago")
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    pattern_id = enrol_in_evening_group(db, patient.id, MONDAY - timedelta(days=7))

    plan(db, GROUP_START - timedelta(hours=9))
    plan(db, GROUP_START - timedelta(hours=8))  # again: nothing new

    groups = [r for r in reminders_of(db.url, patient.id) if r.kind == "group"]
    assert len(groups) == 1
    [row] = groups
    assert row.dedupe_key == f"group:g{pattern_id}-20260615:{patient.id}"
    assert (row.due_at, row.expires_at, row.urgency) == (GROUP_START - timedelta(hours=1), GROUP_START, "high")

    drain(db.url, keys, row.due_at, hooks=reminder_hooks())
    [push] = push_service.received(sub.sub_id)
    # In the patient's own time zone (Chicago, an hour behind the program), and no group name on the lock screen.
    assert push.data["title"] == "Your group starts at 5:00\u202fPM"
    assert "relapse" not in push.payload.decode().lower()
    assert push.data["url"] == "/schedule"
    assert push.ttl == 3600


def test_group_lead_time_and_switch_follow_preferences(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    other = db.make_user(Role.PATIENT)
    give_device(db.url, patient.id)
    give_device(db.url, other.id)
    enrol_in_evening_group(db, patient.id, MONDAY)
    enrol_in_evening_group(db, other.id, MONDAY)
    set_preferences(db.url, patient.id, group_minutes_before=30)
    set_preferences(db.url, other.id, group_enabled=False)

    plan(db, GROUP_START - timedelta(hours=3))

    [row] = [r for r in reminders_of(db.url, patient.id) if r.kind == "group"]
    assert row.due_at == GROUP_START - timedelta(minutes=30)
    assert [r for r in reminders_of(db.url, other.id) if r.kind == "group"] == []


def test_cancelled_group_is_not_announced(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    pattern_id = enrol_in_evening_group(db, patient.id, MONDAY)
    plan(db, GROUP_START - timedelta(hours=3))
    [row] = [r for r in reminders_of(db.url, patient.id) if r.kind == "group"]

    async def cancel(session: AsyncSession) -> None:
        program_id = (await session.get(Enrolment, 1)).program_id  # type: ignore[union-attr]
        session.add(SessionException(program_id=program_id, pattern_id=pattern_id, kind="cancelled",
                                     original_date=MONDAY))  # fmt: skip

    in_session(db.url, cancel)
    drain(db.url, keys, row.due_at, hooks=reminder_hooks())

    assert push_service.received() == []
    assert reminder(db.url, row.id).status == "dropped"


def test_group_reminder_after_the_start_is_dropped(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    enrol_in_evening_group(db, patient.id, MONDAY)
    plan(db, GROUP_START - timedelta(hours=3))
    # The dispatcher was down until after the group started.
    drain(db.url, keys, GROUP_START + timedelta(minutes=1), hooks=reminder_hooks())
    assert push_service.received() == []
    assert {r.status for r in reminders_of(db.url, patient.id) if r.kind == "group"} == {"dropped"}
