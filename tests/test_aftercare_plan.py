"""The aftercare plan over HTTP on both databases: the patient writes it (supporters with call links, warning signs
linked to their own triggers, a lighter check-in rhythm), bad input is a 422 that keeps what was typed, the
skills that helped most are ranked from their own practice, the page may be kept offline, and the JSON export
carries it. Alumni who chose fewer days get check-in reminders only on those days."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.db import utcnow
from server.reminders.planner import plan_checkin_reminders
from server.skills.models import SkillPractice
from tests.conftest import Database, login, post_form
from tests.support.checkins import field_error, today_for
from tests.support.push_tools import give_device, in_session, reminders_of
from tests.test_schedule_helpers import enrol, make_program

# SQL that differs by dialect (bit masks, bulk updates, booleans, time columns): both databases.
pytestmark = pytest.mark.dialect_sensitive

PLAN = {
    "next_care": "Outpatient therapy with Dr Lee, weekly",
    "appointments": "Dec 3, 4 pm: Dr Lee\nDec 10, 4 pm: Dr Lee",
    "meetings": "Tuesday SMART Recovery online",
    "warning_signs": "Skipping meals\nNot answering texts",
    "high_risk": "Friday paydays",
    "after_slip": "Call Ana, then write down what happened",
    "trigger_ids": ["stress", "lonely"],
    "checkin_days": ["0", "3"],
    "supporter_name": ["Ana", "", ""],
    "supporter_phone": ["+1 (555) 123-4567", "", ""],
}


def practise(db: Database, user: User, card_id: str, before: int, after: int, times: int = 1) -> None:
    async def work(session: AsyncSession) -> None:
        for n in range(times):
            session.add(SkillPractice(user_id=user.id, card_id=card_id, started_at=utcnow() - timedelta(days=n + 1),  # type: ignore[arg-type]
                                      distress_before=before, distress_after=after,
                                      idempotency_key=f"{card_id}-{n}"))  # fmt: skip

    db.run(work)


def test_an_empty_plan_is_warm_offline_ready_and_links_the_safety_plan(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    login(client, patient.email)
    page = client.get("/aftercare")
    assert page.status_code == 200
    assert page.headers["x-steady-offline"] == "page"
    assert page.headers["cache-control"] == "private, no-cache"
    assert "x-steady-public" not in page.headers  # personal: kept only when the person chose offline use
    assert "A slip doesn&#39;t erase the work you&#39;ve done" in page.text
    assert 'href="/crisis/plan"' in page.text
    assert "/aftercare" in client.get("/more").text


def test_the_patient_writes_the_plan_and_sees_it_with_call_links_triggers_and_ranked_skills(
    client: TestClient, db: Database
) -> None:
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    practise(db, patient, "stop", 8, 6, times=3)  # drop 2
    practise(db, patient, "urge-surfing", 9, 3)  # drop 6: first
    practise(db, patient, "tipp", 5, 7)  # distress went up: not "helped"
    login(client, patient.email)
    assert client.get("/aftercare/edit").status_code == 200
    response = post_form(client, "/aftercare/edit", PLAN)
    assert response.status_code == 303 and response.headers["location"] == "/aftercare?saved=1"
    page = client.get("/aftercare?saved=1").text
    assert "Your aftercare plan is saved." in page
    assert 'href="tel:+15551234567"' in page and "Call Ana" in page
    assert "Dec 10, 4 pm: Dr Lee" in page and "Friday paydays" in page
    assert "Stress" in page and "Lonely" in page
    assert "Call Ana, then write down what happened" in page
    assert "A slip doesn" not in page  # their own words replace the default
    assert page.index("/skills/urge-surfing") < page.index("/skills/stop")
    assert "/skills/tipp" not in page
    assert "Monday, Thursday" in page
    # Editing shows what is stored.
    edit = client.get("/aftercare/edit").text
    assert 'value="Ana"' in edit and 'value="stress" checked' in edit and 'value="3" checked' in edit


def test_bad_input_is_a_422_that_keeps_what_was_typed(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    login(client, patient.email)
    response = post_form(client, "/aftercare/edit", {**PLAN, "supporter_phone": ["call me maybe", "", ""]})
    assert response.status_code == 422
    assert field_error(response.text, "supporter_phone_0")
    assert 'value="call me maybe"' in response.text and "Friday paydays" in response.text
    response = post_form(client, "/aftercare/edit", {**PLAN, "supporter_name": ["", "", ""]})
    assert response.status_code == 422 and field_error(response.text, "supporter_name_0")
    response = post_form(client, "/aftercare/edit", {**PLAN, "checkin_days": []})
    assert response.status_code == 422 and field_error(response.text, "checkin_days")
    response = post_form(client, "/aftercare/edit", {**PLAN, "high_risk": "bad\x00byte"})
    assert response.status_code == 422 and field_error(response.text, "high_risk")
    response = post_form(client, "/aftercare/edit", {**PLAN, "meetings": "x" * 2001})
    assert response.status_code == 422 and field_error(response.text, "meetings")
    assert db.scalar("SELECT count(*) FROM aftercare_plan") == 0
    # Someone else's trigger ids are dropped, never stored.
    assert (
        post_form(client, "/aftercare/edit", {**PLAN, "trigger_ids": ["stress", "custom-not-mine"]}).status_code == 303
    )
    assert "custom-not-mine" not in str(db.scalar("SELECT trigger_ids FROM aftercare_plan"))


def test_the_json_export_carries_the_plan(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "pat@example.org")
    practise(db, patient, "urge-surfing", 9, 3)
    login(client, patient.email)
    assert json.loads(client.get("/export.json").content)["aftercare_plan"] is None
    post_form(client, "/aftercare/edit", PLAN)
    data: dict[str, Any] = json.loads(client.get("/export.json").content)["aftercare_plan"]
    assert data["supporters"] == [{"name": "Ana", "phone": "+1 (555) 123-4567"}]
    assert data["high_risk"] == "Friday paydays" and data["checkin_days"] == "03"
    assert data["skills_that_helped_most"][0]["card"] == "urge-surfing"


def _checkin_reminder_days(db: Database, user: User) -> list[str]:
    return [r.dedupe_key.split(":")[1] for r in reminders_of(db.url, user.id) if r.kind == "checkin"]


def test_alumni_get_check_in_reminders_only_on_the_days_they_chose(client: TestClient, db: Database) -> None:
    alumnus = db.make_user(Role.PATIENT, "alum@example.org")
    still_in = db.make_user(Role.PATIENT, "in@example.org")
    today = today_for(alumnus)  # a Tuesday (weekday 1)
    program = make_program(db)
    start = today - timedelta(weeks=3)
    enrol(db, alumnus.id, program.id, start, status="completed", outcome="completed",
          end_date=today - timedelta(days=1))  # fmt: skip
    enrol(db, still_in.id, program.id, start)
    for person in (alumnus, still_in):
        give_device(db.url, person.id)
        login(client, person.email)
        assert post_form(client, "/aftercare/edit", {**PLAN, "checkin_days": ["2"]}).status_code == 303  # Wednesday
        client.cookies.clear()
    in_session(db.url, lambda s: plan_checkin_reminders(s, utcnow()))
    tomorrow = today + timedelta(days=1)
    # Today is a Tuesday: the alumnus is reminded only for Wednesday; the person still in the program daily.
    assert _checkin_reminder_days(db, alumnus) == [tomorrow.isoformat()]
    assert _checkin_reminder_days(db, still_in) == [today.isoformat(), tomorrow.isoformat()]
