"""The therapist's and admin's side of questionnaires over real HTTP, both databases: the same-day follow-up flag
at the top of the dashboard (shared under consent, or shared once) until a follow-up is recorded, questionnaire
flags with the clinic's thresholds, the per-patient page and CSV, the week's page, PDF and CSV, assigning,
the clinic default, discharge stopping everything, the consent gate and the access log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.questionnaires import service, therapist
from server.sharing.weeks import Week
from tests.conftest import Database, login, post_form
from tests.support.checkins import today_for
from tests.test_questionnaires import PHQ9_MILD, answer_all, assign
from tests.test_sharing_support import share

# JSON answers, a unique key under concurrent replays, booleans and dates in SQL: run on PostgreSQL too.
pytestmark = pytest.mark.dialect_sensitive


CATEGORIES = ["mood_sleep", "questionnaires"]


def log_kinds(db: Database, patient: User) -> list[str]:
    async def work(session: AsyncSession) -> list[str]:
        from sqlalchemy import text

        rows = await session.execute(text("SELECT kind FROM disclosure_log WHERE patient_id = :p ORDER BY id"),
                                     {"p": patient.id})  # fmt: skip
        return [r[0] for r in rows]

    return db.run(work)


@pytest.fixture
def scene(db: Database) -> dict[str, Any]:
    t = db.make_user(Role.THERAPIST, "t@example.org", name="Dr Tam")
    admin = db.make_user(Role.ADMIN, "a@example.org", name="Ada Admin")
    sharing = db.make_user(Role.PATIENT, "s@example.org", name="Sam Shares", therapist=t)
    private = db.make_user(Role.PATIENT, "q@example.org", name="Quinn Private", therapist=t)
    mood_only = db.make_user(Role.PATIENT, "m@example.org", name="Mo Moodonly", therapist=t)
    start = today_for(sharing) - timedelta(days=30)
    share(db, sharing, t, CATEGORIES, data_from=start)
    share(db, mood_only, t, ["mood_sleep"], data_from=start)
    for p in (sharing, private, mood_only):
        assign(db, p)
    return {"therapist": t, "admin": admin, "sharing": sharing, "private": private, "mood_only": mood_only}


def test_item9_flag_tops_the_dashboard_until_the_follow_up_is_recorded(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    login(client, scene["sharing"].email)
    answer_all(client, "phq9", {**PHQ9_MILD, "9": 1})
    login(client, scene["mood_only"].email)
    answer_all(client, "phq9", {**PHQ9_MILD, "9": 2})  # shares mood only: no flag for the therapist
    login(client, scene["therapist"].email)
    page = client.get("/therapist").text
    assert "Same-day follow-up" in page
    top = page.index("Same-day follow-up")
    assert top < page.index("dashboard-rows")  # above the patient list
    assert "Sam Shares" in page[top : page.index("dashboard-rows")]
    assert "Mo Moodonly" not in page[top : page.index("dashboard-rows")]
    assert "q_view" in log_kinds(db, scene["sharing"]) and "q_view" not in log_kinds(db, scene["mood_only"])
    rid = db.scalar("SELECT id FROM questionnaire_response WHERE user_id = :u", u=scene["sharing"].id)
    # Another patient's result (not visible to this therapist) cannot be marked.
    other = db.scalar("SELECT id FROM questionnaire_response WHERE user_id = :u", u=scene["mood_only"].id)
    assert post_form(client, f"/therapist/questionnaires/{other}/followed-up", {"note": "x"}).status_code == 404
    done = post_form(
        client, f"/therapist/questionnaires/{rid}/followed-up", {"note": "Called, safe", "back": "/therapist"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/therapist"
    assert "Same-day follow-up" not in client.get("/therapist").text
    assert "q_followup" in log_kinds(db, scene["sharing"])
    # The patient sees the look and the follow-up in their access log.
    login(client, scene["sharing"].email)
    sharing_page = client.get("/sharing").text
    assert "looked at your questionnaire results" in sharing_page
    assert "recorded that they followed up on your questionnaire" in sharing_page


def test_a_result_shared_once_reaches_only_that_result(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    login(client, scene["private"].email)
    answer_all(client, "phq9", {**PHQ9_MILD, "9": 1})
    rid = db.scalar("SELECT id FROM questionnaire_response WHERE user_id = :u", u=scene["private"].id)
    login(client, scene["therapist"].email)
    assert "Same-day follow-up" not in client.get("/therapist").text  # not shared: nothing
    assert client.get(f"/therapist/patients/{scene['private'].id}/questionnaires").status_code == 404
    login(client, scene["private"].email)
    post_form(client, f"/questionnaires/results/{rid}/share", {"therapist_id": scene["therapist"].id})
    login(client, scene["therapist"].email)
    page = client.get("/therapist").text
    assert "Same-day follow-up" in page and "Quinn Private" in page and "shared once with you" in page
    assert client.get(f"/therapist/patients/{scene['private'].id}/questionnaires").status_code == 404  # one result only
    assert post_form(client, f"/therapist/questionnaires/{rid}/followed-up", {}).status_code == 303
    assert "Same-day follow-up" not in client.get("/therapist").text


def test_patient_page_csv_and_week_exports(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    patient = scene["sharing"]
    login(client, patient.email)
    answer_all(client, "phq9", {"1": 3, "2": 3, "3": 3, "4": 2, "5": 2, "6": 2, "7": 1, "8": 0, "9": 0})  # 16
    answer_all(client, "phq9", PHQ9_MILD)  # 6: down 10
    login(client, scene["therapist"].email)
    page = client.get(f"/therapist/patients/{patient.id}/questionnaires")
    assert page.status_code == 200
    text = page.text
    assert "16 of 27 (moderately severe)" in text and "6 of 27 (mild)" in text
    assert "-10 since the previous result; reliable change (6 points or more); response (a drop of 5 or more)" in text
    assert "PHQ-9 high" in text and "PHQ-9 over time" in text
    assert "1: 3, 2: 3, 3: 3" in text
    sheet = client.get(f"/therapist/patients/{patient.id}/questionnaires.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert "42 CFR" in rows[0][0]
    header = rows[3]
    data = [r for r in rows[4:] if r and r[1] == "PHQ-9"]
    assert len(data) == 2 and data[0][2].startswith("16 of 27") and data[0][header.index("1")] == "3"
    week = Week.of(today_for(patient)).label
    summary = client.get(f"/therapist/patients/{patient.id}", params={"week": week}).text
    assert "All questionnaire results and assignments" in summary and "6 of 27 (mild)" in summary
    week_csv = client.get(f"/therapist/patients/{patient.id}/weeks/{week}.csv").content.decode("utf-8-sig")
    assert "Questionnaires" in week_csv and "6 of 27 (mild)" in week_csv and "item answers" in week_csv
    pdf = client.get(f"/therapist/patients/{patient.id}/weeks/{week}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert {"q_view", "q_export", "export_csv", "export_pdf"} <= set(log_kinds(db, patient))
    # A patient who shares other things but not questionnaires: their week shows no questionnaire section.
    mood_week = client.get(f"/therapist/patients/{scene['mood_only'].id}").text
    assert "All questionnaire results and assignments" not in mood_week
    assert client.get(f"/therapist/patients/{scene['mood_only'].id}/questionnaires.csv").status_code == 404


def test_assigning_and_stopping(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    patient = scene["sharing"]
    login(client, scene["therapist"].email)
    url = f"/therapist/patients/{patient.id}/questionnaires/assign"
    today = today_for(patient)
    bad = post_form(client, url, {"instrument": "cssrs", "cadence": "daily", "starts_on": "soon"})
    assert bad.status_code == 422 and "Please pick a questionnaire from the list." in bad.text
    ok = post_form(client, url, {"instrument": "bam_iop", "cadence": "weekly", "starts_on": today.isoformat()})
    assert ok.status_code == 303
    login(client, patient.email)
    assert "Recovery check (Brief Addiction Monitor)" in client.get("/today").text
    login(client, scene["therapist"].email)
    post_form(client, url, {"instrument": "bam_iop", "cadence": "stop", "starts_on": today.isoformat()})
    login(client, patient.email)
    assert "Recovery check (Brief Addiction Monitor)" not in client.get("/today").text
    login(client, scene["therapist"].email)
    other = f"/therapist/patients/{scene['private'].id}/questionnaires/assign"
    data = {"instrument": "gad7", "cadence": "weekly", "starts_on": today.isoformat()}
    assert post_form(client, other, data).status_code == 404


def test_admin_defaults_and_thresholds(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    login(client, scene["admin"].email)
    assert client.get("/admin/questionnaires").status_code == 200
    rest = {"gad7_total": "15", "bam_use": "1", "bam_risk": "12", "bam_protective": "12"}
    bad = post_form(client, "/admin/questionnaires", {"default_gad7": "hourly", "phq9_total": "99", **rest})
    assert bad.status_code == 422 and "Please enter a whole number from 1 to 27." in bad.text
    saved = post_form(client, "/admin/questionnaires", {"default_gad7": "biweekly", "phq9_total": "5", **rest})
    assert saved.status_code == 303
    login(client, scene["sharing"].email)
    assert "Anxiety questionnaire (GAD-7)" in client.get("/today").text  # the clinic default
    answer_all(client, "phq9", PHQ9_MILD)  # 6: flagged with the threshold at 5
    login(client, scene["therapist"].email)
    page = client.get("/therapist").text
    assert "Questionnaire flags" in page and "PHQ-9 high" in page


def test_discharge_stops_what_is_due(db: Database, scene: dict[str, Any]) -> None:
    patient = scene["sharing"]

    async def work(session: AsyncSession) -> list[Any]:
        await therapist.program_ended(session, patient.id, today_for(patient) - timedelta(days=1))
        user = await session.get(User, patient.id)
        assert user is not None
        return await service.due_for(session, user)

    assert db.run(work) == []
    assert db.scalar("SELECT ends_on FROM questionnaire_assignment WHERE patient_id = :p", p=patient.id) in (
        today_for(patient),
        today_for(patient).isoformat(),
    )


def test_the_gate_route_walk_includes_the_questionnaire_routes(client: TestClient) -> None:
    from tests.test_therapist_gate import therapist_patient_routes

    paths = {p for _m, p in therapist_patient_routes(client.app)}
    assert "/therapist/patients/{patient_id:int}/questionnaires" in paths
    assert "/therapist/patients/{patient_id:int}/questionnaires.csv" in paths
    assert "/therapist/patients/{patient_id:int}/questionnaires/assign" in paths


def test_the_demo_clinic_shows_questionnaires(client: TestClient, db: Database, settings: Any) -> None:
    from server.demo import DEMO_PASSWORD
    from tests.support.demo_snapshot import load_demo_snapshot

    load_demo_snapshot(db, settings)
    sam = db.scalar("SELECT id FROM user_account WHERE email = 'sam@demo.steady'")
    login(client, "therapist@demo.steady", DEMO_PASSWORD)
    page = client.get("/therapist").text
    assert (
        "Same-day follow-up" in page and "Sam" in page[page.index("Same-day follow-up") : page.index("dashboard-rows")]
    )
    detail = client.get(f"/therapist/patients/{sam}/questionnaires")
    assert detail.status_code == 200 and "PHQ-9 over time" in detail.text and "BAM-IOP over time" in detail.text
    login(client, "casey@demo.steady", DEMO_PASSWORD)
    assert "GAD-7 over time" in client.get("/questionnaires").text


def test_the_chart_over_the_program_marks_its_phases(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    from server.schedule.models import Enrolment, Program, ProgramPhase

    patient = scene["sharing"]
    start = today_for(patient) - timedelta(days=28)

    async def enrol(session: AsyncSession) -> None:
        program = Program(clinic_id=patient.clinic_id, name="Evening IOP", timezone="America/New_York")
        session.add(program)
        await session.flush()
        session.add(ProgramPhase(program_id=program.id, name="Weeks 1-2", start_week=1, end_week=2))  # type: ignore[arg-type]
        session.add(ProgramPhase(program_id=program.id, name="Weeks 3-8", start_week=3, end_week=8))  # type: ignore[arg-type]
        session.add(Enrolment(patient_id=patient.id, program_id=program.id, start_date=start))  # type: ignore[arg-type]

    db.run(enrol)
    login(client, patient.email)
    answer_all(client, "phq9", PHQ9_MILD)
    login(client, scene["therapist"].email)
    page = client.get(f"/therapist/patients/{patient.id}/questionnaires").text
    assert page.count('class="q-phase"') == 2
    assert "Phases start on: Weeks 1-2" in page and "Weeks 3-8" in page
