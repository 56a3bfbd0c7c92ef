"""Issue 15 #10: the patient's export holds skill practice, questionnaires (done and to come) and the safety plan,
and a zip offers one CSV per record type plus the full JSON."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import TestClient

from server.crisis.models import SafetyPlan
from server.questionnaires.models import Assignment, Response
from server.skills.models import SkillPractice
from tests.conftest import Database, post_form
from tests.support.checkins import checkin_data, craving_data, signed_in_patient, today_for

# Dates, JSON columns and unique keys behave differently on the two databases: run on PostgreSQL too.
pytestmark = pytest.mark.dialect_sensitive


def _seed(db: Database, user_id: int, other_id: int) -> None:
    async def work(session: object) -> None:
        add = session.add  # type: ignore[attr-defined]
        add(SkillPractice(user_id=user_id, card_id="tipp", started_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
                          ended_at=datetime(2026, 11, 20, 15, 5, tzinfo=UTC), distress_before=8, distress_after=4,
                          helped="yes", note="=cmd", idempotency_key="k1"))  # fmt: skip
        add(SkillPractice(user_id=other_id, card_id="tipp", started_at=datetime(2026, 11, 20, 15, tzinfo=UTC),
                          note="NOT MINE", idempotency_key="k2"))  # fmt: skip
        add(SafetyPlan(user_id=user_id, warning_signs=["Not sleeping", "Skipping meals"], reasons_for_recovery=["Kai"]))
        add(SafetyPlan(user_id=other_id, warning_signs=["NOT MINE"]))
        done = datetime(2026, 11, 10, 18, tzinfo=UTC)
        add(Response(user_id=user_id, instrument="phq9", status="complete", answers={"q1": 1}, idempotency_key="q1",
                     local_date=done.date(), total=7, completed_at=done))  # fmt: skip
        add(Assignment(patient_id=user_id, instrument="gad7", cadence="weekly", starts_on=datetime(2026, 11, 2).date()))
        await session.flush()  # type: ignore[attr-defined]

    db.run(work)


def test_export_zip_has_one_csv_per_record_type_and_the_json(client: TestClient, db: Database) -> None:
    other = db.make_user("patient", "other@example.org")
    user = signed_in_patient(client, db)
    post_form(client, "/checkin", checkin_data(note="day note"))
    post_form(client, "/cravings", craving_data(note="-1"))
    post_form(client, "/sober", {"started_on": (today_for(user) - timedelta(days=3)).isoformat()})
    _seed(db, user.id, other.id)  # type: ignore[arg-type]

    data = json.loads(client.get("/export.json").text)
    assert [p["card_id"] for p in data["skill_practice"]] == ["tipp"]
    assert data["skill_practice"][0]["distress_before"] == 8
    assert data["safety_plan"]["warning_signs"] == ["Not sleeping", "Skipping meals"]
    assert [q["instrument"] for q in data["questionnaires"]] == ["phq9"] and data["questionnaires"][0]["total"] == 7
    assert any(u["instrument"] == "gad7" and u["next_due_on"] for u in data["questionnaires_upcoming"])
    assert "NOT MINE" not in json.dumps(data)

    response = client.get("/export.zip")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"] and ".zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    expected = {"steady.json", "checkins.csv", "cravings.csv", "sobriety_dates.csv", "skill_practice.csv",
                "safety_plan.csv", "questionnaires.csv", "questionnaires_upcoming.csv", "triggers.csv"}  # fmt: skip
    assert expected <= names
    assert json.loads(archive.read("steady.json"))["skill_practice"] == data["skill_practice"]

    def rows(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))

    practice = rows("skill_practice.csv")
    assert len(practice) == 1 and practice[0]["Note"] == "'=cmd"  # never a formula in a spreadsheet
    assert rows("cravings.csv")[0]["Note"] == "'-1"
    checkins = rows("checkins.csv")
    assert len(checkins) == 1 and checkins[0]["Note"] == "day note" and "Mood" in checkins[0]
    plan = rows("safety_plan.csv")
    assert [(r["Section"], r["Item"]) for r in plan][:2] == [("warning_signs", "Not sleeping"),
                                                          ("warning_signs", "Skipping meals")]  # fmt: skip
    assert all("NOT MINE" not in archive.read(n).decode("utf-8-sig") for n in names)
    page = client.get("/export")
    assert 'href="/export.zip"' in page.text
