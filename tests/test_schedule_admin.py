"""Admins build programs over HTTP: programs, phases, weekly groups, one-off changes and enrolments, with kind
422s for bad input, 403 for other roles and 404 across clinics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.db import utcnow
from server.schedule import logic
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase, SessionException
from tests.conftest import Database, login, post_form
from tests.test_schedule_helpers import enrol, make_program


def rows(db: Database, model: type, **where: object) -> list:
    async def work(session: AsyncSession) -> list:
        query = select(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return list(await session.scalars(query.order_by(model.id)))

    return db.run(work)


@pytest.fixture
def admin(db: Database, client: TestClient) -> User:
    user = db.make_user(Role.ADMIN, "admin@example.org")
    login(client, user.email)
    return user


def test_admin_creates_a_program_with_phases_and_groups(client: TestClient, db: Database, admin: User) -> None:
    page = client.get("/admin/programs")
    assert page.status_code == 200 and "Create a program" in page.text
    response = post_form(
        client,
        "/admin/programs",
        {
            "name": "Evening IOP",
            "timezone": "America/Chicago",
            "description": "Evenings",
            "family_info": "Family night",
        },
    )
    assert response.status_code == 303
    [program] = rows(db, Program)
    assert (program.name, program.timezone, program.clinic_id, program.active) == (
        "Evening IOP",
        "America/Chicago",
        admin.clinic_id,
        True,
    )
    assert response.headers["location"].startswith(f"/admin/programs/{program.id}")

    response = post_form(
        client,
        f"/admin/programs/{program.id}/phases",
        {"phase_name": "Weeks 1-4", "start_week": "1", "end_week": "4", "groups_per_week": "4"},
    )
    assert response.status_code == 303
    [phase] = rows(db, ProgramPhase)
    assert (phase.start_week, phase.end_week, phase.groups_per_week) == (1, 4, 4)

    assert client.get(f"/admin/programs/{program.id}/phases/{phase.id}/groups/new").status_code == 200
    response = post_form(
        client,
        f"/admin/programs/{program.id}/phases/{phase.id}/groups",
        {
            "title": "Relapse prevention group",
            "weekday": "0",
            "start_time": "6:30 pm",
            "duration_minutes": "90",
            "location": "Room 2",
            "video_url": "https://meet.example.org/x",
            "facilitator": "Dr. Rivera",
        },
    )
    assert response.status_code == 303
    [group] = rows(db, GroupPattern)
    assert (group.weekday, group.start_time, group.duration_minutes) == (0, time(18, 30), 90)
    page = client.get(f"/admin/programs/{program.id}")
    assert "Relapse prevention group" in page.text and "Mondays" in page.text

    # Edit the group and the phase, then the program's details.
    response = post_form(
        client,
        f"/admin/programs/{program.id}/groups/{group.id}",
        {"title": "Relapse prevention", "weekday": "2", "start_time": "19:00", "duration_minutes": "60"},
    )
    assert response.status_code == 303
    [group] = rows(db, GroupPattern)
    assert (group.title, group.weekday, group.start_time, group.location) == ("Relapse prevention", 2, time(19), "")
    response = post_form(
        client,
        f"/admin/programs/{program.id}/phases/{phase.id}",
        {"phase_name": "Intensive", "start_week": "1", "end_week": "6"},
    )
    assert response.status_code == 303 and rows(db, ProgramPhase)[0].end_week == 6
    response = post_form(
        client, f"/admin/programs/{program.id}", {"name": "Evening IOP (new)", "timezone": "America/New_York"}
    )
    assert response.status_code == 303
    [program] = rows(db, Program)
    assert program.name == "Evening IOP (new)" and program.active is False  # unticked checkbox closes it

    # Remove the group, then the phase.
    assert post_form(client, f"/admin/programs/{program.id}/groups/{group.id}/delete").status_code == 303
    assert rows(db, GroupPattern) == []
    assert post_form(client, f"/admin/programs/{program.id}/phases/{phase.id}/delete").status_code == 303
    assert rows(db, ProgramPhase) == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start_time": "25:61"}, "start_time", "Please enter a time like 18:00"),
        ({"start_time": "soon"}, "start_time", "Please enter a time like 18:00"),
        ({"weekday": "9"}, "weekday", "Please pick a day of the week"),
        ({"weekday": "monday"}, "weekday", "Please pick a day of the week"),
        ({"duration_minutes": "0"}, "duration_minutes", "Please choose 10 or more"),
        ({"video_url": "javascript:alert(1)"}, "video_url", "starting with https://"),
        ({"title": ""}, "title", "Please fill this in"),
    ],
)
def test_bad_group_input_is_422_with_inline_errors_and_kept_values(
    client: TestClient, db: Database, admin: User, fields: dict[str, str], field: str, message: str
) -> None:
    program = make_program(db, phases=[("Weeks 1-4", 1, 4, [])])
    phase_id = program.phases["Weeks 1-4"]
    form = {
        "title": "Coping skills",
        "weekday": "1",
        "start_time": "18:00",
        "duration_minutes": "90",
        "location": "Room <2>",
        **fields,
    }
    response = post_form(client, f"/admin/programs/{program.id}/phases/{phase_id}/groups", form)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text and 'aria-invalid="true"' in response.text
    assert 'value="Room &lt;2&gt;"' in response.text  # kept, and escaped
    assert rows(db, GroupPattern) == []


def test_bad_program_and_phase_input(client: TestClient, db: Database, admin: User) -> None:
    response = post_form(client, "/admin/programs", {"name": "Day IOP", "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "Please pick a time zone from the list." in response.text and 'value="Day IOP"' in response.text
    response = post_form(client, "/admin/programs", {"name": "   ", "timezone": "UTC"})
    assert response.status_code == 422 and rows(db, Program) == []

    program = make_program(db)  # weeks 1-4, 5-8, 9-12
    url = f"/admin/programs/{program.id}/phases"
    response = post_form(client, url, {"phase_name": "Overlap", "start_week": "7", "end_week": "14"})
    assert response.status_code == 422 and "overlap" in response.text and "Weeks 5-8" in response.text
    response = post_form(client, url, {"phase_name": "Backwards", "start_week": "14", "end_week": "13"})
    assert response.status_code == 422 and "can&#39;t be before the first week" in response.text
    response = post_form(client, url, {"phase_name": "Too long", "start_week": "13", "end_week": "99"})
    assert response.status_code == 422 and "Please choose 52 or less." in response.text
    response = post_form(client, url, {"phase_name": "Typo", "start_week": "x", "end_week": "14"})
    assert response.status_code == 422 and "Please enter a whole number." in response.text
    assert 'value="Typo"' in response.text
    assert len(rows(db, ProgramPhase)) == 3
    # Editing a phase so it overlaps another is refused too.
    phase_id = program.phases["Weeks 9-12"]
    response = post_form(client, f"{url}/{phase_id}", {"phase_name": "Weeks 9-12", "start_week": "8", "end_week": "12"})
    assert response.status_code == 422 and "overlap" in response.text


def test_other_roles_are_refused(client: TestClient, db: Database) -> None:
    program = make_program(db)
    assert client.get("/admin/programs", follow_redirects=False).status_code in (302, 303)  # signed out: sign in
    for role in (Role.THERAPIST, Role.PATIENT, Role.FAMILY):
        user = db.make_user(role)
        login(client, user.email)
        assert client.get("/admin/programs").status_code == 403
        assert client.get(f"/admin/programs/{program.id}").status_code == 403
        response = post_form(client, "/admin/programs", {"name": "Sneaky", "timezone": "UTC"})
        assert response.status_code == 403
        client.cookies.clear()
    assert len(rows(db, Program)) == 1


def test_another_clinics_program_is_404(client: TestClient, db: Database, admin: User) -> None:
    db.make_clinic("Other clinic", clinic_id=2)
    theirs = make_program(db, clinic_id=2, name="Their IOP")
    mine = make_program(db, name="My IOP")
    phase_id = theirs.phases["Weeks 1-4"]
    group_id = theirs.groups[("Weeks 1-4", "Relapse prevention")]
    for url in (
        f"/admin/programs/{theirs.id}",
        f"/admin/programs/{theirs.id}/changes",
        f"/admin/programs/{theirs.id}/enrolments",
        f"/admin/programs/{theirs.id}/phases/{phase_id}",
        f"/admin/programs/{theirs.id}/groups/{group_id}",
        # their rows reached through my program's URL
        f"/admin/programs/{mine.id}/phases/{phase_id}",
        f"/admin/programs/{mine.id}/groups/{group_id}",
    ):
        assert client.get(url).status_code == 404, url
    for url, data in (
        (f"/admin/programs/{theirs.id}", {"name": "Mine now", "timezone": "UTC"}),
        (f"/admin/programs/{mine.id}/groups/{group_id}/delete", {}),
        (f"/admin/programs/{mine.id}/phases/{phase_id}/delete", {}),
        (f"/admin/programs/{theirs.id}/changes/holiday", {"holiday_date": "2026-12-25"}),
    ):
        assert post_form(client, url, data).status_code == 404, url
    assert "Their IOP" not in client.get("/admin/programs").text
    assert [p.name for p in rows(db, Program, clinic_id=2)] == ["Their IOP"]
    assert rows(db, SessionException) == []
    assert len(rows(db, GroupPattern)) == 2 * 9
    # A group of another clinic can't be cancelled through my program either.
    response = post_form(
        client,
        f"/admin/programs/{mine.id}/changes/session",
        {"change_group": str(group_id), "change_date": "2026-01-05", "change_action": "cancel"},
    )
    assert response.status_code == 422 and "Please pick one of this program" in response.text


def test_one_off_changes_through_the_admin_pages(client: TestClient, db: Database, admin: User) -> None:
    program = make_program(db)
    patient = db.make_user(Role.PATIENT)
    enrol(db, patient.id, program.id, date(2026, 1, 5))  # type: ignore[arg-type]
    relapse = program.groups[("Weeks 1-4", "Relapse prevention")]
    url = f"/admin/programs/{program.id}/changes"
    assert client.get(url).status_code == 200

    # A Tuesday is not a day this Monday group meets.
    response = post_form(
        client, f"{url}/session", {"change_group": str(relapse), "change_date": "2026-01-13", "change_action": "cancel"}
    )
    assert response.status_code == 422 and "meets on Mondays" in response.text
    # Moving without a new day or time.
    response = post_form(
        client, f"{url}/session", {"change_group": str(relapse), "change_date": "2026-01-12", "change_action": "move"}
    )
    assert (
        response.status_code == 422
        and 'id="move_date-error"' in response.text
        and 'id="move_time-error"' in response.text
    )
    response = post_form(
        client,
        f"{url}/session",
        {
            "change_group": str(relapse),
            "change_date": "2026-01-12",
            "change_action": "move",
            "move_date": "2026-01-14",
            "move_time": "17:00",
            "change_note": "Room change",
        },
    )
    assert response.status_code == 303
    response = post_form(client, f"{url}/holiday", {"holiday_date": "2026-01-19", "holiday_note": "MLK Day"})
    assert response.status_code == 303
    response = post_form(client, f"{url}/holiday", {"holiday_date": "19/01/2026"})
    assert response.status_code == 422 and "Please enter a date like 2026-03-09." in response.text
    response = post_form(
        client,
        f"{url}/extra",
        {"extra_title": "Family evening", "extra_date": "2026-01-17", "extra_time": "11:00", "extra_duration": "60"},
    )
    assert response.status_code == 303
    response = post_form(
        client,
        f"{url}/extra",
        {"extra_title": "Oops", "extra_date": "2026-01-17", "extra_time": "noon-ish", "extra_duration": "60"},
    )
    assert response.status_code == 422 and 'value="noon-ish"' in response.text

    window = (datetime(2026, 1, 11, tzinfo=UTC), datetime(2026, 1, 25, tzinfo=UTC))
    found = db.run(lambda s: logic.sessions_for_patient(s, patient.id, *window))  # type: ignore[arg-type]
    by_id = {o.occurrence_id: o for o in found}
    assert by_id[f"g{relapse}-20260112"].moved
    assert by_id[f"g{relapse}-20260112"].local_start.date() == date(2026, 1, 14)
    assert by_id[f"g{relapse}-20260119"].cancelled
    assert any(o.extra and o.title == "Family evening" for o in found)
    assert all(o.cancelled for o in found if o.local_start.date() == date(2026, 1, 19))

    # Cancelling the same session again replaces the move instead of adding a second change.
    response = post_form(
        client, f"{url}/session", {"change_group": str(relapse), "change_date": "2026-01-12", "change_action": "cancel"}
    )
    assert response.status_code == 303
    changes = rows(db, SessionException, pattern_id=relapse)
    assert [(c.kind, c.new_date) for c in changes] == [("cancelled", None)]
    # And undo.
    assert post_form(client, f"{url}/{changes[0].id}/delete").status_code == 303
    assert rows(db, SessionException, pattern_id=relapse) == []


def test_enrolments_discharge_extend_and_reopen(client: TestClient, db: Database, admin: User) -> None:
    program = make_program(db)
    patient = db.make_user(Role.PATIENT, name="Sam")
    url = f"/admin/programs/{program.id}/enrolments"
    today = utcnow().astimezone(logic.zone("America/New_York")).date()
    start = today - timedelta(days=today.weekday()) - timedelta(weeks=2)

    assert client.get(url).status_code == 200
    response = post_form(client, url, {"patient_id": str(patient.id), "start_date": start.isoformat()})
    assert response.status_code == 303
    [enrolment] = rows(db, Enrolment)
    assert (enrolment.patient_id, enrolment.start_date, enrolment.status) == (patient.id, start, "active")
    page = client.get(url)
    assert "Sam" in page.text and "week 3 of 12" in page.text

    # No second, overlapping enrolment; not a stranger; not staff.
    response = post_form(client, url, {"patient_id": str(patient.id), "start_date": today.isoformat()})
    assert response.status_code == 422 and "already enrolled" in response.text
    db.make_clinic("Other", clinic_id=2)
    stranger = db.make_user(Role.PATIENT, clinic_id=2)
    therapist = db.make_user(Role.THERAPIST)
    for person in (stranger, therapist):
        response = post_form(client, url, {"patient_id": str(person.id), "start_date": today.isoformat()})
        assert response.status_code == 422 and "Please pick a patient from the list." in response.text
    response = post_form(client, url, {"patient_id": str(patient.id), "start_date": "2020-01-01"})
    assert response.status_code == 422
    empty = make_program(db, name="Empty", phases=[])
    other = db.make_user(Role.PATIENT)
    response = post_form(
        client, f"/admin/programs/{empty.id}/enrolments", {"patient_id": str(other.id), "start_date": today.isoformat()}
    )
    assert response.status_code == 422 and "no phases yet" in response.text
    closed = make_program(db, name="Closed", active=False)
    response = post_form(
        client,
        f"/admin/programs/{closed.id}/enrolments",
        {"patient_id": str(other.id), "start_date": today.isoformat()},
    )
    assert response.status_code == 422 and "closed to new enrolments" in response.text
    assert len(rows(db, Enrolment)) == 1

    manage = f"{url}/{enrolment.id}"
    assert client.get(manage).status_code == 200
    response = post_form(client, f"{manage}/extend", {"extend_weeks": "0"})
    assert response.status_code == 422
    assert post_form(client, f"{manage}/extend", {"extend_weeks": "2"}).status_code == 303
    assert rows(db, Enrolment)[0].extended_weeks == 2
    response = post_form(
        client, f"{manage}/end", {"end_date": (start - timedelta(days=1)).isoformat(), "outcome": "discharged"}
    )
    assert response.status_code == 422 and "before the start date" in response.text
    response = post_form(client, f"{manage}/end", {"end_date": today.isoformat(), "outcome": "discharged"})
    assert response.status_code == 303
    ended = rows(db, Enrolment)[0]
    assert (ended.status, ended.end_date) == ("discharged", today)
    upcoming = db.run(
        lambda s: logic.sessions_for_patient(
            s,
            patient.id,
            utcnow() + timedelta(days=1),  # type: ignore[arg-type]
            utcnow() + timedelta(days=60),
        )
    )
    assert upcoming == []
    # Ended enrolments can't be extended until reopened.
    assert post_form(client, f"{manage}/extend", {"extend_weeks": "1"}).status_code == 422
    assert post_form(client, f"{manage}/reopen").status_code == 303
    reopened = rows(db, Enrolment)[0]
    assert (reopened.status, reopened.end_date) == ("active", None)
    # An enrolment of another program can't be reached through this one.
    assert client.get(f"/admin/programs/{empty.id}/enrolments/{enrolment.id}").status_code == 404


def test_one_form_makes_a_weekly_group_on_several_weekdays(client: TestClient, db: Database, admin: User) -> None:
    """Issue 15: a group that meets Monday, Wednesday and Thursday is one form, not three pages."""
    program = make_program(db, phases=[("Weeks 1-4", 1, 4, [])])
    phase_id = program.phases["Weeks 1-4"]
    page = client.get(f"/admin/programs/{program.id}/phases/{phase_id}/groups/new")
    assert page.status_code == 200
    assert page.text.count('type="checkbox" name="weekday"') == 7 and "Days of the week" in page.text
    form = {"title": "Coping skills", "weekday": ["0", "2", "3", "2"], "start_time": "9:30", "duration_minutes": "90"}
    response = post_form(client, f"/admin/programs/{program.id}/phases/{phase_id}/groups", form)
    assert response.status_code == 303 and "notice=groups-added" in response.headers["location"]
    made = rows(db, GroupPattern)
    assert sorted(g.weekday for g in made) == [0, 2, 3]  # a day ticked twice is one group
    assert {g.title for g in made} == {"Coping skills"} and {g.start_time for g in made} == {time(9, 30)}
    assert "3 groups added." in client.get(response.headers["location"]).text
    # None ticked, or a day that doesn't exist: 422, what was ticked stays ticked, nothing saved.
    for days, message in (([], "Please tick at least one day of the week."),
                          (["1", "9"], "Please pick a day of the week from the list.")):  # fmt: skip
        bad = post_form(client, f"/admin/programs/{program.id}/phases/{phase_id}/groups", {**form, "weekday": days})
        assert bad.status_code == 422 and message in bad.text and 'id="weekday-error"' in bad.text
        if days:
            assert 'value="1" checked' in bad.text
    assert len(rows(db, GroupPattern)) == 3
    # Editing one group still edits that one day.
    edit = client.get(f"/admin/programs/{program.id}/groups/{made[0].id}")
    assert '<select id="weekday" name="weekday"' in edit.text
