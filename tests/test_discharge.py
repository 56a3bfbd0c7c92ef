"""Discharge over HTTP on both databases: a therapist (for a care-team patient who shares group attendance) or an
admin records the end of a program; group reminders stop after the last day, a consent "until the end of my
program" ends that day (Today says so, and a new consent can be signed), family milestones carry on, and a date
before the enrolment is a 422 with the field marked."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.consent.models import Consent
from server.consent.service import active_consent, local_midnight_after, sign_consent
from server.db import utcnow
from server.reminders.planner import plan_group_reminders
from server.schedule.models import Enrolment
from tests.conftest import Database, login, post_form
from tests.support.checkins import field_error, today_for
from tests.support.family import family_of, milestones
from tests.support.push_tools import give_device, in_session, reminders_of
from tests.test_schedule_helpers import enrol, make_program

# SQL that differs by dialect (bit masks, bulk updates, booleans, time columns): both databases.
pytestmark = pytest.mark.dialect_sensitive


def sign(db: Database, patient: User, therapist: User, *, until_program_end: bool, days: int = 60) -> int:
    async def work(session: AsyncSession) -> int:
        me = await session.get(User, patient.id)
        them = await session.get(User, therapist.id)
        now = utcnow() - timedelta(minutes=1)
        consent = await sign_consent(
            session,
            patient=me,  # type: ignore[arg-type]
            recipient=them,  # type: ignore[arg-type]
            recipient_kind="therapist",
            categories=["mood_sleep", "attendance"],
            purpose="Treatment",
            data_from=date(2026, 10, 1),
            ends_at=now + timedelta(days=days),
            wording="(test consent)",
            signature=me.display_name,  # type: ignore[union-attr]
            until_program_end=until_program_end,
            now=now,
        )
        return consent.id  # type: ignore[return-value]

    return db.run(work)


def get(db: Database, model: type, row_id: int) -> Any:
    async def work(session: AsyncSession) -> Any:
        return await session.get(model, row_id)

    return db.run(work)


def group_reminder_days(db: Database, patient: User) -> list[str]:
    return sorted(r.dedupe_key.split(":")[1][-8:] for r in reminders_of(db.url, patient.id) if r.kind == "group")


@pytest.fixture
def scene(db: Database) -> dict[str, Any]:
    therapist = db.make_user(Role.THERAPIST, "t@example.org", name="Dr Tam")
    other = db.make_user(Role.THERAPIST, "o@example.org", name="Dr Oak")
    patient = db.make_user(Role.PATIENT, "pat@example.org", name="Sam", therapist=therapist)
    today = today_for(patient)
    program = make_program(db)
    start = today - timedelta(days=today.weekday()) - timedelta(weeks=2)  # a Monday: week 3 of 12, groups Mon-Thu
    enrolment_id = enrol(db, patient.id, program.id, start)
    until_end = sign(db, patient, therapist, until_program_end=True)
    dated = sign(db, patient, other, until_program_end=False)
    family = family_of(db, patient, name="Robin")
    give_device(db.url, patient.id)
    return {"therapist": therapist, "patient": patient, "today": today, "start": start, "program": program,
            "enrolment_id": enrolment_id, "until_end": until_end, "dated": dated, "family": family}  # fmt: skip


def test_a_therapist_discharges_and_reminders_sharing_and_family_follow(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    patient, today = scene["patient"], scene["today"]
    plan = lambda: in_session(db.url, lambda s: plan_group_reminders(s, utcnow() + timedelta(hours=8)))  # noqa: E731
    in_session(db.url, lambda s: plan_group_reminders(s, utcnow()))
    plan()
    # 17:00 UTC on a Tuesday, planned now and in 8 hours: today's and tomorrow's 18:00 groups are queued.
    assert group_reminder_days(db, patient) == [
        today.strftime("%Y%m%d"),
        (today + timedelta(days=1)).strftime("%Y%m%d"),
    ]

    login(client, scene["therapist"].email)
    page = client.get(f"/therapist/patients/{patient.id}/schedule")
    assert page.status_code == 200 and "Record discharge" in page.text
    response = post_form(
        client,
        f"/therapist/patients/{patient.id}/schedule/discharge",
        {"end_date": today.isoformat(), "outcome": "stepped_down"},
    )
    assert response.status_code == 303, response.text

    enrolment = get(db, Enrolment, scene["enrolment_id"])
    assert (enrolment.status, enrolment.outcome, enrolment.end_date) == ("completed", "stepped_down", today)
    assert enrolment.discharged_by_id == scene["therapist"].id
    # Reminders: tomorrow's group is gone at once, today's (the last day) stays; planning again adds nothing.
    assert group_reminder_days(db, patient) == [today.strftime("%Y%m%d")]
    plan()
    assert group_reminder_days(db, patient) == [today.strftime("%Y%m%d")]

    # Sharing: the "until the end of my program" consent ends when the last day is over; the dated one runs on.
    ended = get(db, Consent, scene["until_end"])
    assert ended.ended_with_program is True
    assert ended.revoked_at == local_midnight_after(patient, today)
    midnight = local_midnight_after(patient, today)

    def in_force(consent_id: int, therapist_id: int, at: Any) -> bool:
        async def work(session: AsyncSession) -> bool:
            found = await active_consent(session, patient.id, therapist_id, at)  # type: ignore[arg-type]
            return found is not None and found.id == consent_id

        return db.run(work)

    assert in_force(scene["until_end"], scene["therapist"].id, midnight - timedelta(minutes=1))
    assert not in_force(scene["until_end"], scene["therapist"].id, midnight)
    assert in_force(scene["dated"], get(db, Consent, scene["dated"]).recipient_id, midnight + timedelta(days=1))
    assert ended.state(midnight) == "expired"

    # Family: their consent is untouched, and a finished program is news they chose to hear.
    family_consents = db.scalar(
        "SELECT count(*) FROM consent WHERE recipient_id = :f AND revoked_at IS NULL", f=scene["family"].id
    )
    assert family_consents == 1
    assert ("program_completed", "Evening IOP") in {(k, v) for k, v, _r in milestones(db, patient)}


def test_today_says_once_that_the_program_is_finished_and_that_sharing_ended(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    patient, today = scene["patient"], scene["today"]
    login(client, scene["therapist"].email)
    yesterday = today - timedelta(days=1)
    response = post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
                         {"end_date": yesterday.isoformat(), "outcome": "completed"})  # fmt: skip
    assert response.status_code == 303
    client.cookies.clear()
    login(client, patient.email)
    first = client.get("/today")
    assert first.status_code == 200
    assert "You finished your program" in first.text
    assert "Sharing ended with your program" in first.text and "Dr Tam" in first.text
    assert "You finished your program" in client.get("/today").text  # until the person closes it
    assert post_form(client, "/aftercare/finished/seen", {}).headers["location"] == "/today"
    second = client.get("/today")
    assert "You finished your program" not in second.text
    assert "Your aftercare plan" in second.text and "Sharing ended with your program" in second.text
    # The sharing page reads "Ended" for it, and the consent's own window is closed: sharing again needs a new one.
    assert "Ended" in client.get("/sharing").text


def test_a_date_before_the_enrolment_is_a_422_with_the_field_marked(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    patient = scene["patient"]
    login(client, scene["therapist"].email)
    before = scene["start"] - timedelta(days=1)
    response = post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
                         {"end_date": before.isoformat(), "outcome": "completed"})  # fmt: skip
    assert response.status_code == 422
    assert "before the start date" in (field_error(response.text, "end_date") or "")
    assert f'value="{before.isoformat()}"' in response.text  # what was typed is kept
    too_late = scene["today"] + timedelta(days=30)
    response = post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
                         {"end_date": too_late.isoformat(), "outcome": "completed"})  # fmt: skip
    assert response.status_code == 422 and field_error(response.text, "end_date")
    response = post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
                         {"end_date": scene["today"].isoformat(), "outcome": "vanished"})  # fmt: skip
    assert response.status_code == 422 and field_error(response.text, "outcome")
    assert get(db, Enrolment, scene["enrolment_id"]).status == "active"
    assert get(db, Consent, scene["until_end"]).revoked_at is None


def test_an_admin_records_leaving_early_no_celebration_and_no_family_news(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    admin = db.make_user(Role.ADMIN, "admin@example.org")
    login(client, admin.email)
    url = f"/admin/programs/{scene['program'].id}/enrolments/{scene['enrolment_id']}"
    assert "Record discharge" in client.get(url).text
    response = post_form(client, f"{url}/end", {"end_date": (scene["today"] - timedelta(days=2)).isoformat(),
                                                "outcome": "left_early"})  # fmt: skip
    assert response.status_code == 303
    enrolment = get(db, Enrolment, scene["enrolment_id"])
    assert (enrolment.status, enrolment.outcome) == ("discharged", "left_early")
    assert "Left the program early" in client.get(url).text
    assert get(db, Consent, scene["until_end"]).ended_with_program is True
    assert "program_completed" not in {k for k, _v, _r in milestones(db, scene["patient"])}
    client.cookies.clear()
    login(client, scene["patient"].email)
    today = client.get("/today").text
    assert "You finished your program" not in today and "Your aftercare plan" in today


def test_a_therapist_needs_the_group_attendance_category_to_discharge(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t2@example.org")
    patient = db.make_user(Role.PATIENT, "p2@example.org", therapist=therapist)
    program = make_program(db)
    enrolment_id = enrol(db, patient.id, program.id, today_for(patient) - timedelta(weeks=2))
    login(client, therapist.email)
    response = post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
                         {"end_date": today_for(patient).isoformat(), "outcome": "completed"})  # fmt: skip
    assert response.status_code == 404
    assert get(db, Enrolment, enrolment_id).status == "active"


def test_the_clinics_alumni_program_reuses_the_schedule(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    patient, today = scene["patient"], scene["today"]
    alumni = make_program(db, name="Alumni circle", phases=[("Alumni", 1, 52, [(3, "19:00", "Alumni group")])])
    admin = db.make_user(Role.ADMIN, "admin@example.org")
    login(client, admin.email)
    page = client.get(f"/admin/programs/{alumni.id}")
    assert "This is our alumni program" in page.text
    form = {"name": "Alumni circle", "timezone": "America/New_York", "active": "on", "alumni": "on"}
    assert post_form(client, f"/admin/programs/{alumni.id}", form).status_code == 303
    assert "Alumni program" in client.get("/admin/programs").text
    # Before anyone joins, an alumnus's Today offers the group.
    client.cookies.clear()
    login(client, scene["therapist"].email)
    assert "Also enrol them in Alumni circle" in client.get(f"/therapist/patients/{patient.id}/schedule").text
    post_form(client, f"/therapist/patients/{patient.id}/schedule/discharge",
              {"end_date": (today - timedelta(days=1)).isoformat(), "outcome": "completed"})  # fmt: skip
    client.cookies.clear()
    login(client, patient.email)
    assert "Your clinic has an alumni group, Alumni circle." in client.get("/today").text
    # Discharging with "also enrol": the alumni enrolment starts the next day and Today's next group is theirs.
    db.execute("UPDATE enrolment SET status = 'active', outcome = '', end_date = NULL WHERE id = :e",
               e=scene["enrolment_id"])  # fmt: skip
    # (The first discharge ended the therapist's "until the end of my program" consent, so the admin records it.)
    client.cookies.clear()
    login(client, admin.email)
    url = f"/admin/programs/{scene['program'].id}/enrolments/{scene['enrolment_id']}"
    assert "Also enrol them in Alumni circle" in client.get(url).text
    response = post_form(client, f"{url}/end",
                         {"end_date": today.isoformat(), "outcome": "completed", "join_alumni": "yes"})  # fmt: skip
    assert response.status_code == 303
    joined = db.scalar("SELECT start_date FROM enrolment WHERE patient_id = :p AND program_id = :a",
                       p=patient.id, a=alumni.id)  # fmt: skip
    assert str(joined)[:10] == (today + timedelta(days=1)).isoformat()
    client.cookies.clear()
    login(client, patient.email)
    page = client.get("/today").text
    assert "You finished your program" in page  # the alumni enrolment doesn't hide the discharge
    assert "Your clinic has an alumni group" not in page
    assert "Alumni group" in client.get("/schedule").text  # its sessions are on their schedule (and reminders)
