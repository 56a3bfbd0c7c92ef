"""The patient's consent flow (§ 2.31 screen, 422s, versions, narrowing, revoking), nudges, homework, the clinic's
flag thresholds and the dashboard's bounded number of SQL queries."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event

from server.accounts.models import User
from server.db import utcnow
from server.localtime import local_today
from tests.conftest import Database, login, post_form
from tests.test_sharing_support import add_rows, checkin, share


def setup_people(db: Database) -> tuple[User, User, User]:
    db.make_clinic("Hillside Recovery", clinic_id=1)
    db.make_clinic("Far Away Clinic", clinic_id=2)
    therapist = db.make_user("therapist", "rivera@example.org", name="Dr. Rivera")
    outsider = db.make_user("therapist", "far@example.org", name="Dr. Far", clinic_id=2)
    patient = db.make_user("patient", "sam@example.org", name="Sam Lee", therapist=therapist)
    return therapist, outsider, patient


def as_user(client: TestClient, user: User) -> None:
    client.cookies.clear()
    login(client, user.email)


def good_form(therapist: User, patient: User, **overrides: Any) -> dict[str, Any]:
    today = local_today(patient)
    data: dict[str, Any] = {
        "therapist": str(therapist.id),
        "categories": ["mood_sleep", "cravings_triggers", "attendance"],
        "until": "date",
        "ends_on": (today + timedelta(days=60)).isoformat(),
        "signature": "sam lee",
    }
    data.update(overrides)
    return data


def test_consent_screen_shows_every_section_2_31_element(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    as_user(client, patient)
    page = client.get("/sharing/consent/new", params={"therapist": therapist.id})
    assert page.status_code == 200
    html = page.text
    for element in (
        "Sam Lee",  # the patient's name
        "Hillside Recovery, through the Steady app",  # who discloses
        "Dr. Rivera, therapist at Hillside Recovery",  # the recipient, by name
        "Mood and sleep",
        "Cravings and triggers",
        "Substance use",
        "DBT diary card",
        "Skill practice",
        "Group attendance",
        "My free-text notes",  # what, specifically
        "information about your substance use",  # said plainly
        "Treatment: so that Dr. Rivera",  # the purpose
        "at most one year",  # until when
        "revoke this consent at any time, in one tap",  # the right to revoke, and how
        "can&#39;t undo what was already seen",  # the exception
        "Type your full name",  # the electronic signature
    ):
        assert element in html, element
    # Notes are off by default; everything else is ticked.
    assert 'value="notes" checked' not in html and 'value="mood_sleep" checked' in html
    assert 'name="_csrf_token"' in html


def test_consent_screen_only_for_therapists_of_my_clinic(client: TestClient, db: Database) -> None:
    therapist, outsider, patient = setup_people(db)
    as_user(client, patient)
    for value in (outsider.id, patient.id, 999999, "abc", ""):
        assert client.get("/sharing/consent/new", params={"therapist": value}).status_code == 404
    assert post_form(client, "/sharing/consent", good_form(outsider, patient)).status_code == 404
    assert db.scalar("SELECT count(*) FROM consent") == 0
    # Therapists can't use the patient's pages.
    as_user(client, therapist)
    assert client.get("/sharing").status_code == 403


def test_bad_consent_forms_are_422_with_values_kept(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    as_user(client, patient)
    today = local_today(patient)
    cases = [
        ({"signature": " 1 "}, "signature", "type your full name to sign"),
        ({"ends_on": (today - timedelta(days=1)).isoformat()}, "ends_on", "already passed"),
        ({"ends_on": (today + timedelta(days=400)).isoformat()}, "ends_on", "at most one year"),
        ({"ends_on": "not-a-date"}, "ends_on", "a date we can read"),
        ({"categories": []}, "categories", "at least one thing"),
        ({"categories": ["mood_sleep", "passwords"]}, "categories", "isn&#39;t available"),
        ({"until": "program"}, "until", "couldn&#39;t find a program"),
    ]
    for overrides, field, message in cases:
        response = post_form(client, "/sharing/consent", good_form(therapist, patient, **overrides))
        assert response.status_code == 422, overrides
        assert response.headers["content-type"].startswith("text/html")
        assert message in response.text, overrides
        assert f'id="{field}-error"' in response.text
        # What was typed or ticked is still there.
        if field != "signature":
            assert 'value="sam lee"' in response.text
        if field != "categories":
            assert 'value="attendance" checked' in response.text and 'value="diary_card" checked' not in response.text
    assert db.scalar("SELECT count(*) FROM consent") == 0


def test_signing_changing_and_revoking(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    as_user(client, patient)
    signed = post_form(client, "/sharing/consent", good_form(therapist, patient))
    assert signed.status_code == 303 and signed.headers["location"] == "/sharing?notice=signed"
    wording = db.scalar("SELECT wording FROM consent WHERE version = 1")
    assert "[x] Mood and sleep" in wording and "[ ] My free-text notes" in wording
    assert "Signed electronically by typing my name: sam lee" in wording
    assert "Dr. Rivera, therapist at Hillside Recovery" in wording
    overview = client.get("/sharing")
    assert "With Dr. Rivera" in overview.text and "Stop sharing with Dr. Rivera" in overview.text

    # Changing what is shared is a new version; the old one stays, marked as replaced.
    page = client.get("/sharing/consent/new", params={"therapist": therapist.id})
    assert "You already share with Dr. Rivera" in page.text and 'value="diary_card" checked' not in page.text
    changed = post_form(client, "/sharing/consent", good_form(therapist, patient, categories=["attendance"]))
    assert changed.status_code == 303
    assert db.scalar("SELECT count(*) FROM consent") == 2
    first_id = db.scalar("SELECT id FROM consent WHERE version = 1")
    second_id = db.scalar("SELECT id FROM consent WHERE version = 2")
    assert db.scalar("SELECT superseded_by_id FROM consent WHERE version = 1") == second_id
    record = client.get(f"/sharing/consent/{first_id}")
    assert (
        record.status_code == 200
        and "Replaced by a newer version" in record.text
        and "[x] Mood and sleep" in record.text
    )

    # Revoking someone else's consent, or an id that doesn't exist, is a 404.
    other = db.make_user("patient", "other@example.org", name="Other Person")
    other_consent = share(db, other, therapist)
    assert post_form(client, f"/sharing/consent/{other_consent}/revoke").status_code == 404
    assert post_form(client, "/sharing/consent/999999/revoke").status_code == 404
    assert client.get(f"/sharing/consent/{other_consent}").status_code == 404
    assert db.scalar("SELECT revoked_at FROM consent WHERE id = :i", i=other_consent) is None

    revoked = post_form(client, f"/sharing/consent/{second_id}/revoke")
    assert revoked.status_code == 303
    assert db.scalar("SELECT revoked_at FROM consent WHERE id = :i", i=second_id) is not None
    overview = client.get("/sharing")
    assert "You aren't sharing anything right now." in overview.text
    assert "Earlier consents" in overview.text and "Revoked" in overview.text


def test_narrowing_the_last_category_revokes(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    consent_id = share(db, patient, therapist, ["attendance"])
    as_user(client, patient)
    response = post_form(client, f"/sharing/consent/{consent_id}/narrow", {"category": "attendance"})
    assert response.headers["location"] == "/sharing?notice=revoked"
    assert db.scalar("SELECT count(*) FROM consent WHERE revoked_at IS NULL") == 0
    again = post_form(client, f"/sharing/consent/{consent_id}/narrow", {"category": "attendance"})
    assert again.headers["location"] == "/sharing?notice=unchanged"


def test_nudge_once_a_day_without_health_details(client: TestClient, db: Database) -> None:
    therapist, outsider, patient = setup_people(db)
    as_user(client, patient)
    # Not sharing yet: nothing is sent.
    assert (
        post_form(client, "/sharing/nudge", {"therapist": therapist.id})
        .headers["location"]
        .endswith("nudge_not_sharing")
    )
    share(db, patient, therapist)
    first = post_form(client, "/sharing/nudge", {"therapist": therapist.id})
    assert first.headers["location"] == "/sharing?notice=nudge_sent"
    second = post_form(client, "/sharing/nudge", {"therapist": therapist.id})
    assert second.headers["location"] == "/sharing?notice=nudge_already"
    assert (
        post_form(client, "/sharing/nudge", {"therapist": outsider.id})
        .headers["location"]
        .endswith("nudge_not_sharing")
    )
    assert db.scalar("SELECT count(*) FROM reminder WHERE kind = 'nudge'") == 1
    assert db.scalar("SELECT user_id FROM reminder WHERE kind = 'nudge'") == therapist.id
    title = db.scalar("SELECT title || ' ' || body FROM reminder WHERE kind = 'nudge'")
    assert "Sam" not in title and "Lee" not in title
    # The therapist's dashboard shows who asked.
    as_user(client, therapist)
    page = client.get("/therapist", params={"flag": "nudge"})
    assert "Sam Lee" in page.text and "Asked you to look" in page.text


def test_homework_assignment_and_reminder(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    share(db, patient, therapist, ["attendance"])
    as_user(client, therapist)
    bad = post_form(
        client, f"/therapist/patients/{patient.id}/homework", {"card_id": "no-such-card", "note": "Try it twice"}
    )
    assert bad.status_code == 422 and "Please pick a card from the list." in bad.text and "Try it twice" in bad.text
    past = (local_today(patient) - timedelta(days=1)).isoformat()
    late = post_form(client, f"/therapist/patients/{patient.id}/homework", {"card_id": "stop", "due_on": past})
    assert late.status_code == 422 and "today or a later day" in late.text
    ok = post_form(client, f"/therapist/patients/{patient.id}/homework", {"card_id": "stop", "note": "Before group"})
    assert ok.status_code == 303 and ok.headers["location"].startswith(
        f"/therapist/patients/{patient.id}?notice=assigned"
    )
    assert (
        db.scalar("SELECT card_id || '|' || note FROM skill_assignment WHERE patient_id = :p", p=patient.id)
        == "stop|Before group"
    )
    assert db.scalar("SELECT count(*) FROM reminder WHERE kind = 'homework' AND user_id = :p", p=patient.id) == 1
    # Skill practice isn't shared, so the therapist doesn't see whether it was done.
    page = client.get(f"/therapist/patients/{patient.id}")
    assert "STOP: pause before you act" in page.text and "Not yet" not in page.text
    # The patient sees it under "Assigned by my therapist".
    as_user(client, patient)
    assert "Assigned by my therapist" in client.get("/skills").text


def test_admin_sets_flag_thresholds(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    admin = db.make_user("admin", "admin@example.org", name="Alex Admin")
    db.execute("UPDATE clinic SET settings = :s WHERE id = 1", s='{"crisis_lines": [{"label": "x"}]}')
    as_user(client, therapist)
    assert client.get("/admin/flags").status_code == 403
    as_user(client, admin)
    assert client.get("/admin/flags").status_code == 200
    values = {
        **{"no_checkin_days": "3", "craving_level": "11", "craving_days": "2", "use_days": "1"},
        **{"self_harm_urge": "4", "missed_groups": "2", "mood_drop": "abc"},
    }
    bad = post_form(client, "/admin/flags", values)
    assert bad.status_code == 422 and 'value="abc"' in bad.text and 'id="craving_level-error"' in bad.text
    values.update(craving_level="6", mood_drop="2")
    assert post_form(client, "/admin/flags", values).headers["location"] == "/admin/flags?saved=1"
    stored = db.scalar("SELECT settings FROM clinic WHERE id = 1")
    settings = json.loads(stored) if isinstance(stored, str) else stored  # JSON arrives parsed on PostgreSQL
    assert settings["flag_thresholds"]["craving_level"] == 6 and settings["crisis_lines"] == [{"label": "x"}]
    # Therapists' views use them: two cravings of 6 in a week now raise a flag.
    add_rows(db, [checkin(patient, date(2026, 11, 17), 5, 6), checkin(patient, date(2026, 11, 19), 5, 6)])
    share(db, patient, therapist, data_from=date(2026, 11, 1))
    as_user(client, therapist)
    page = client.get(f"/therapist/patients/{patient.id}", params={"week": "2026-W47"})
    assert "Craving 6+ on 2 days" in page.text and "Mood down" not in page.text


LAST: list = []


def _queries_for_dashboard(client: TestClient, db: Database, therapist: User, patients: int) -> int:
    start = db.scalar("SELECT count(*) FROM user_account")
    today = utcnow().date()
    for i in range(patients):
        p = db.make_user("patient", f"p{start + i}@example.org", name=f"Patient {start + i:03d}", therapist=therapist)
        add_rows(
            db, [checkin(p, today - timedelta(days=d), (i + d) % 11, (i * d) % 11, used=d == 3) for d in range(1, 15)]
        )
        share(db, p, therapist, data_from=today - timedelta(days=60))
    engine = client.app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/therapist")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert response.text.count('class="sparkline chart-mood"') >= patients
    LAST.append(seen)

    return len(seen)


def test_dashboard_query_count_does_not_grow_with_patients(client: TestClient, db: Database) -> None:
    therapist, _outsider, _patient = setup_people(db)
    as_user(client, therapist)
    client.get("/therapist")  # warm up: the first request loads the session and the CSRF machinery
    few = _queries_for_dashboard(client, db, therapist, 3)
    more = _queries_for_dashboard(client, db, therapist, 27)  # 30 sharing patients in all
    assert few == more, (few, more, "\n".join(" ".join(q.split())[:110] for q in LAST[-1]))
    assert few <= 25


def test_demo_clinic_shares_two_of_three_patients(client: TestClient, db: Database, settings: Any) -> None:
    from server.demo import DEMO_PASSWORD
    from tests.support.demo_snapshot import load_demo_snapshot

    load_demo_snapshot(db, settings)
    login(client, "therapist@demo.steady", DEMO_PASSWORD)
    page = client.get("/therapist")
    assert page.status_code == 200
    assert "Sam" in page.text and "Jordan" in page.text and "Casey" not in page.text
    sam_categories = db.scalar(
        "SELECT categories FROM consent JOIN user_account u ON u.id = consent.patient_id"
        " WHERE u.email = 'sam@demo.steady'"
    )
    assert "notes" not in str(sam_categories) and "diary_card" in str(sam_categories)
    sam_id = db.scalar("SELECT id FROM user_account WHERE email = 'sam@demo.steady'")
    week = client.get(f"/therapist/patients/{sam_id}")
    assert week.status_code == 200 and "Skill practice" in week.text and "Notes" not in week.text


def test_consent_until_the_end_of_my_program(client: TestClient, db: Database) -> None:
    from datetime import time as dtime

    from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase
    from server.sharing.weeks import Week

    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    start = today - timedelta(days=14)
    last_day = start + timedelta(days=8 * 7 - 1)

    async def arrange(session: Any) -> None:
        program = Program(clinic_id=1, name="Evening IOP", timezone="America/New_York")
        session.add(program)
        await session.flush()
        phase = ProgramPhase(program_id=program.id, name="Weeks 1-8", start_week=1, end_week=8, groups_per_week=1)
        session.add(phase)
        await session.flush()
        session.add(GroupPattern(phase_id=phase.id, title="Skills group", weekday=1, start_time=dtime(18, 0)))
        session.add(Enrolment(patient_id=patient.id, program_id=program.id, start_date=start))

    db.run(arrange)
    as_user(client, patient)
    page = client.get("/sharing/consent/new", params={"therapist": therapist.id})
    assert "At the end of my program" in page.text and "From the start of my program" in page.text
    form = good_form(therapist, patient, until="program", data_from="program", ends_on="")
    assert post_form(client, "/sharing/consent", form).status_code == 303
    assert db.scalar("SELECT until_program_end FROM consent") in (True, 1)
    assert str(db.scalar("SELECT data_from FROM consent"))[:10] == start.isoformat()
    assert "at the end of my program" in db.scalar("SELECT wording FROM consent")
    ends_at = db.scalar("SELECT ends_at FROM consent")
    from server.consent.service import as_utc, local_midnight_after

    expected = local_midnight_after(patient, last_day)
    assert as_utc(ends_at if not isinstance(ends_at, str) else datetime.fromisoformat(ends_at)) == expected

    # The therapist can look back to the start of the program, and sees the groups that were on.
    as_user(client, therapist)
    last_week = Week.of(today).shift(-1)
    response = client.get(f"/therapist/patients/{patient.id}", params={"week": last_week.label})
    assert response.status_code == 200
    assert "Went to 0 of 1 groups so far; missed 0." in response.text
    before = Week.of(start).shift(-1)
    assert client.get(f"/therapist/patients/{patient.id}", params={"week": before.label}).status_code == 404


@pytest.mark.dialect_sensitive  # a NUL would break PostgreSQL: refused before it gets there
def test_signature_is_the_full_name_typed_not_the_display_name(client: TestClient, db: Database) -> None:
    """Issue 15 #1: a display name like "Taylor 🌱" must not stop "Taylor Quinn" from signing."""
    db.make_clinic("Hillside Recovery", clinic_id=1)
    therapist = db.make_user("therapist", "rivera@example.org", name="Dr. Rivera")
    taylor = db.make_user("patient", "taylor@example.org", name="Taylor 🌱", therapist=therapist)
    as_user(client, taylor)
    # Still bounded, control-character free and not blank or letterless.
    for bad, message in (
        ("", "type your full name"),
        ("  .  ", "type your full name"),
        ("T" * 121, "120 characters or fewer"),
        ("Taylor\x00Quinn", "unusual invisible characters"),
        ("Taylor Quinn\x1b", "unusual invisible characters"),
    ):
        response = post_form(client, "/sharing/consent", good_form(therapist, taylor, signature=bad))
        assert response.status_code == 422, bad
        assert message in response.text, bad
        assert 'id="signature-error"' in response.text
    assert db.scalar("SELECT count(*) FROM consent") == 0
    response = post_form(client, "/sharing/consent", good_form(therapist, taylor, signature="  Taylor   Quinn "))
    assert response.status_code == 303, response.text[:2000]
    assert db.scalar("SELECT signature FROM consent") == "Taylor Quinn"
    wording = str(db.scalar("SELECT wording FROM consent"))
    assert "Signed electronically by typing my name: Taylor Quinn" in wording
    assert "as it appears on your account" not in wording
