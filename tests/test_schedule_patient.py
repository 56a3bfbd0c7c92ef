"""The patient's and therapist's side over HTTP: upcoming sessions, the Today panel, attendance (plain POST and
htmx), the therapist's enrolment and marking within their care team, and the secret calendar feed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from icalendar import Calendar
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.db import utcnow
from server.schedule import logic
from server.schedule.models import Attendance, CalendarFeed, Enrolment, GroupPattern, SessionException
from tests.conftest import Database, htmx_post, login, post_form
from tests.test_schedule_helpers import enrol, make_program
from tests.test_sharing_support import share

EVERY_DAY = [("All", 1, 52, [(d, "18:00", "Evening group") for d in range(7)])]


def this_monday() -> date:
    today = utcnow().astimezone(logic.zone("America/New_York")).date()
    return today - timedelta(days=today.weekday())


def attendance(db: Database) -> list[Attendance]:
    async def work(session: AsyncSession) -> list[Attendance]:
        return list(await session.scalars(select(Attendance).order_by(Attendance.id)))

    return db.run(work)


def past_occurrence(db: Database, patient: User) -> logic.Occurrence:
    now = utcnow()
    found = db.run(lambda s: logic.sessions_for_patient(s, patient.id, now - timedelta(days=5), now))  # type: ignore[arg-type]
    done = [o for o in found if o.ends_at < now and not o.cancelled]
    return done[-1]


def pattern_on(db: Database, patient: User, day: date) -> int:
    """The weekly group the patient has on a local date (EVERY_DAY has one per weekday)."""
    now = utcnow()
    found = db.run(
        lambda s: logic.sessions_for_patient(s, patient.id, now - timedelta(days=1), now + timedelta(days=3))
    )  # type: ignore[arg-type]
    [occ] = [o for o in found if o.local_start.date() == day]
    return occ.pattern_id  # type: ignore[return-value]


def test_patient_sees_upcoming_and_next_group_in_their_timezone(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/Los_Angeles")
    program = make_program(db, phases=EVERY_DAY, location="Room 2", video_url="https://meet.example.org/abc")
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=3))  # type: ignore[arg-type]
    login(client, patient.email)

    page = client.get("/schedule")
    assert page.status_code == 200
    text = page.text.replace("\u202f", " ")
    assert "Evening group" in text and "3:00 PM" in text  # 18:00 in New York is 15:00 in Los Angeles
    assert "(6:00 PM New York time)" in text
    assert "Evening IOP · week 4 of 52" in text
    assert "Los Angeles" in text
    assert 'href="https://meet.example.org/abc"' in text

    today = client.get("/today")
    assert today.status_code == 200
    panel = today.text.replace("\u202f", " ")
    assert "Your next group" in panel or "Happening now" in panel
    assert "3:00 PM" in panel and "Evening group" in panel and "Where: Room 2" in panel
    assert 'href="/schedule"' in client.get("/more").text


def test_patient_without_a_program_gets_a_kind_empty_state(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    page = client.get("/schedule")
    assert page.status_code == 200 and "You're not in a program in Steady yet" in page.text
    assert "Your next group" not in client.get("/today").text


def test_cancelled_sessions_are_shown_as_cancelled(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY)
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=1))  # type: ignore[arg-type]
    tomorrow = utcnow().astimezone(logic.zone("America/New_York")).date() + timedelta(days=1)
    pattern_id = pattern_on(db, patient, tomorrow)

    async def cancel(session: AsyncSession) -> None:
        session.add(
            SessionException(
                program_id=program.id, pattern_id=pattern_id, kind="cancelled", original_date=tomorrow, note="Snow day"
            )
        )

    db.run(cancel)
    login(client, patient.email)
    page = client.get("/schedule")
    assert "Cancelled" in page.text and "Snow day" in page.text


def test_patient_marks_attendance_with_and_without_htmx(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY)
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=2))  # type: ignore[arg-type]
    occ = past_occurrence(db, patient)
    login(client, patient.email)
    page = client.get("/schedule")
    assert f'id="session-{occ.occurrence_id}"' in page.text and "I went" in page.text

    # Without JavaScript: a plain form post and a redirect back to the same session.
    response = post_form(client, "/schedule/attendance", {"occurrence_id": occ.occurrence_id, "status": "attended"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/schedule#session-{occ.occurrence_id}"
    [mark] = attendance(db)
    assert (mark.patient_id, mark.occurrence_id, mark.status, mark.marked_by_id) == (
        patient.id,
        occ.occurrence_id,
        "attended",
        patient.id,
    )
    assert mark.starts_at == occ.starts_at

    # With htmx: the updated item comes back, with a status message for screen readers.
    response = htmx_post(client, "/schedule/attendance", {"occurrence_id": occ.occurrence_id, "status": "missed"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li class="session" id="session-{occ.occurrence_id}"')
    assert "Marked: missed" in response.text and 'hx-swap-oob="true"' in response.text
    assert "<html" not in response.text
    assert [(m.status, m.occurrence_id) for m in attendance(db)] == [("missed", occ.occurrence_id)]

    # Bad input: kind 422, nothing saved. Unknown or future sessions: 404.
    response = post_form(client, "/schedule/attendance", {"occurrence_id": occ.occurrence_id, "status": "maybe"})
    assert response.status_code == 422 and "Please choose whether the session happened" in response.text
    now = utcnow()
    future = db.run(lambda s: logic.next_session(s, patient.id, now + timedelta(hours=2)))  # type: ignore[arg-type]
    assert future is not None
    for occurrence_id in (future.occurrence_id, "g999999-20260105", "x1"):
        response = post_form(client, "/schedule/attendance", {"occurrence_id": occurrence_id, "status": "attended"})
        assert response.status_code == 404, occurrence_id
    assert len(attendance(db)) == 1


def test_a_patient_cannot_mark_someone_elses_session(client: TestClient, db: Database) -> None:
    owner, other = db.make_user(Role.PATIENT), db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY)
    enrol(db, owner.id, program.id, this_monday() - timedelta(weeks=2))  # type: ignore[arg-type]
    other_program = make_program(
        db, name="Day IOP", phases=[("All", 1, 52, [(d, "10:00", "Day group") for d in range(7)])]
    )
    enrol(db, other.id, other_program.id, this_monday() - timedelta(weeks=2))  # type: ignore[arg-type]
    occ = past_occurrence(db, owner)
    login(client, other.email)
    response = post_form(client, "/schedule/attendance", {"occurrence_id": occ.occurrence_id, "status": "missed"})
    assert response.status_code == 404
    assert attendance(db) == []


def test_therapist_enrols_and_marks_attendance_for_own_patients_only(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST)
    patient = db.make_user(Role.PATIENT, therapist=therapist, name="Jordan")
    share(db, patient, therapist, ["attendance"], data_from=this_monday() - timedelta(weeks=4))
    not_mine = db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY)
    closed = make_program(db, name="Closed IOP", phases=EVERY_DAY, active=False)
    login(client, therapist.email)
    url = f"/therapist/patients/{patient.id}/schedule"

    page = client.get(url)
    assert page.status_code == 200 and "Not enrolled in a program yet." in page.text
    assert "Evening IOP" in page.text and "Closed IOP" not in page.text
    response = post_form(
        client, f"{url}/enrol", {"program_id": str(closed.id), "start_date": this_monday().isoformat()}
    )
    assert response.status_code == 422 and "Please pick a program from the list." in response.text
    response = post_form(client, f"{url}/enrol", {"program_id": str(program.id), "start_date": "someday"})
    assert response.status_code == 422 and 'value="someday"' in response.text
    start = this_monday() - timedelta(weeks=1)
    response = post_form(client, f"{url}/enrol", {"program_id": str(program.id), "start_date": start.isoformat()})
    assert response.status_code == 303
    [enrolment] = db.run(lambda s: _enrolments(s))
    assert (enrolment.patient_id, enrolment.program_id, enrolment.start_date) == (patient.id, program.id, start)

    occ = past_occurrence(db, patient)
    response = post_form(client, f"{url}/attendance", {"occurrence_id": occ.occurrence_id, "status": "attended"})
    assert response.status_code == 303 and response.headers["location"].startswith(url)
    response = htmx_post(client, f"{url}/attendance", {"occurrence_id": occ.occurrence_id, "status": "missed"})
    assert response.status_code == 200 and "Marked: missed" in response.text and ">Missed<" in response.text
    [mark] = attendance(db)
    assert (mark.patient_id, mark.status, mark.marked_by_id) == (patient.id, "missed", therapist.id)
    assert "0 attended, 1 missed" in client.get(url).text

    # A patient who isn't on this therapist's care team looks like a missing page, for every action.
    other_url = f"/therapist/patients/{not_mine.id}/schedule"
    assert client.get(other_url).status_code == 404
    assert (
        post_form(
            client, f"{other_url}/enrol", {"program_id": str(program.id), "start_date": start.isoformat()}
        ).status_code
        == 404
    )
    assert (
        post_form(
            client, f"{other_url}/attendance", {"occurrence_id": occ.occurrence_id, "status": "attended"}
        ).status_code
        == 404
    )
    assert client.get(f"/therapist/patients/{therapist.id}/schedule").status_code == 404
    # Patients and admins don't use the therapist pages.
    for role in (Role.PATIENT, Role.ADMIN):
        client.cookies.clear()
        login(client, db.make_user(role).email)
        assert client.get(url).status_code == 403


async def _enrolments(session: AsyncSession) -> list[Enrolment]:
    return list(await session.scalars(select(Enrolment)))


def _feed_url(client: TestClient) -> str:
    page = client.get("/schedule").text
    marker = 'id="feed_url" type="text" readonly value="'
    assert marker in page
    url = page.split(marker, 1)[1].split('"', 1)[0]
    assert url.startswith("http://127.0.0.1:8000/calendar/") and url.endswith(".ics")
    return url.removeprefix("http://127.0.0.1:8000")


def test_calendar_feed_parses_back_and_resets(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY, location="Room 2")
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=2))  # type: ignore[arg-type]
    tomorrow = utcnow().astimezone(logic.zone("America/New_York")).date() + timedelta(days=1)
    pattern_id = pattern_on(db, patient, tomorrow)

    async def cancel(session: AsyncSession) -> None:
        session.add(
            SessionException(program_id=program.id, pattern_id=pattern_id, kind="cancelled", original_date=tomorrow)
        )

    db.run(cancel)
    login(client, patient.email)
    assert 'id="feed_url"' not in client.get("/schedule").text  # off until the patient turns it on
    response = post_form(client, "/schedule/calendar")
    assert response.status_code == 303 and response.headers["location"] == "/schedule?notice=calendar-on#calendar"
    url = _feed_url(client)
    token = url.removeprefix("/calendar/").removesuffix(".ics")
    [feed] = db.run(lambda s: _feeds(s))
    assert token not in (feed.salt, feed.token_hash)  # the database alone never holds the address

    client.cookies.clear()  # calendar apps fetch without signing in
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    now = utcnow()
    assert len(events) > 30  # past 30 days and the months ahead, one group a day
    first_uids = [str(e["UID"]) for e in events]
    assert len(set(first_uids)) == len(first_uids)
    by_start = {e.decoded("DTSTART"): e for e in events}
    expected = db.run(lambda s: logic.sessions_for_patient(s, patient.id, now, now + timedelta(days=3)))  # type: ignore[arg-type]
    for occ in expected:
        event = by_start[occ.starts_at]
        assert str(event["SUMMARY"]) == ("Cancelled: Evening group" if occ.cancelled else "Evening group")
        assert event.decoded("DTEND") == occ.ends_at
        assert str(event["LOCATION"]) == "Room 2"
        assert str(event["STATUS"]) == ("CANCELLED" if occ.cancelled else "CONFIRMED")
        assert str(event["UID"]).startswith(occ.occurrence_id + "@")
    assert any(o.cancelled for o in expected)
    assert "Evening IOP" not in response.text  # no program name or other health details, only the group itself
    # UIDs are stable from one fetch to the next.
    again = Calendar.from_ical(client.get(url).content).walk("VEVENT")
    assert {str(e["UID"]) for e in again} == set(first_uids)

    # Reset: the old address stops working at once, the new one works.
    login(client, patient.email)
    response = post_form(client, "/schedule/calendar")
    assert response.headers["location"] == "/schedule?notice=calendar-reset#calendar"
    new_url = _feed_url(client)
    assert new_url != url
    assert client.get(url).status_code == 404
    assert client.get(new_url).status_code == 200
    # Turning it off removes the address altogether.
    assert post_form(client, "/schedule/calendar/off").status_code == 303
    assert client.get(new_url).status_code == 404
    for bogus in ("/calendar/nothing.ics", "/calendar/" + "A" * 32 + ".ics", "/calendar/" + token):
        assert client.get(bogus).status_code == 404


async def _feeds(session: AsyncSession) -> list[CalendarFeed]:
    return list(await session.scalars(select(CalendarFeed)))


def test_schedule_pages_are_for_patients_only(client: TestClient, db: Database) -> None:
    assert client.get("/schedule", follow_redirects=False).status_code in (302, 303)
    for role in (Role.THERAPIST, Role.ADMIN, Role.FAMILY):
        client.cookies.clear()
        login(client, db.make_user(role).email)
        assert client.get("/schedule").status_code == 403
        assert post_form(client, "/schedule/calendar").status_code == 403


def test_next_session_through_today_after_the_program_ends(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=[("Only", 1, 1, [(d, "18:00", "Last group") for d in range(7)])])
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=3))  # type: ignore[arg-type]
    login(client, patient.email)
    assert "Your next group" not in client.get("/today").text
    page = client.get("/schedule")
    assert "Your program has ended." in page.text


@pytest.mark.dialect_sensitive  # the schedule's reads come as JSON text on both databases (`json_text_rows`)
def test_today_shows_a_schedule_change_made_elsewhere_at_the_next_request(client: TestClient, db: Database) -> None:
    """Today remembers what it built from the schedule's rows per process, held by the schedule's revision (which
    the database's triggers change with every write): a change written by another process (here the test's own
    connection, not the app's) shows on the very next request."""
    patient = db.make_user(Role.PATIENT)
    program = make_program(db, phases=EVERY_DAY)
    enrol(db, patient.id, program.id, this_monday() - timedelta(weeks=1))  # type: ignore[arg-type]
    login(client, patient.email)
    assert "Evening group" in client.get("/today").text
    assert "Evening group" in client.get("/today").text  # now from what the first request built

    today = utcnow().astimezone(logic.zone("America/New_York")).date()
    pattern = pattern_on(db, patient, today)

    async def rename(session: AsyncSession) -> None:
        for group in await session.scalars(select(GroupPattern).where(GroupPattern.id == pattern)):
            group.title = "Renamed group"

    db.run(rename)
    assert "Renamed group" in client.get("/today").text

    async def cancel(session: AsyncSession) -> None:
        session.add(SessionException(program_id=program.id, pattern_id=pattern, kind="cancelled", original_date=today))

    db.run(cancel)
    page = client.get("/today").text
    assert "Renamed group" not in page and "Evening group" in page  # tomorrow's group is next now
