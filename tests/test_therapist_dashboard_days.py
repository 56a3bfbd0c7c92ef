"""Issue 15 #3: the therapist dashboard shows the last 7 days by default (the clock is frozen on Tuesday
2026-11-24, so last week's flags must still show), keeps a flag until the therapist marks it reviewed (stored),
lets them pick a week or "since the last session", and the patient's summary links their groups page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from litestar.testing import TestClient

from server.localtime import local_today
from tests.conftest import Database, post_form
from tests.test_sharing_flows import as_user, setup_people
from tests.test_sharing_support import add_rows, checkin, share

# Dates, JSON columns and unique keys behave differently on the two databases: run on PostgreSQL too.
pytestmark = pytest.mark.dialect_sensitive


def _rows(client: TestClient, **params: str) -> str:
    page = client.get("/therapist", params=params)
    assert page.status_code == 200, page.text[:500]
    start = page.text.index('id="dashboard-rows"')
    return page.text[start:]


def test_last_weeks_flags_show_on_tuesday_until_reviewed(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    assert today == date(2026, 11, 24) and today.weekday() == 1  # a Tuesday
    add_rows(db, [checkin(patient, today - timedelta(days=d), 6, 2) for d in range(0, 9)])
    db.execute("UPDATE checkin SET used = :u WHERE local_date = :d", u=True, d=date(2026, 11, 22))  # last Sunday
    share(db, patient, therapist, data_from=today - timedelta(days=40))
    as_user(client, therapist)

    rows = _rows(client)
    assert "Used on 1 day" in rows  # last Sunday is within the last 7 days
    assert "Nov 18 – Nov 24" in rows
    assert db.scalar("SELECT subject FROM disclosure_log WHERE kind = 'dashboard'") == "2026-11-18/2026-11-24"
    # The current ISO week alone (Monday and Tuesday) has no use in it.
    assert "Used on" not in _rows(client, view="2026-W48")
    assert "Used on 1 day" in _rows(client, week="2026-W47")

    # Mark reviewed: stored, and the flag goes (the page answers 303 back to where the therapist was).
    reviewed = post_form(client, f"/therapist/patients/{patient.id}/reviewed", {"back": "/therapist?view=last7"})
    assert reviewed.status_code == 303 and reviewed.headers["location"] == "/therapist?view=last7"
    assert db.scalar("SELECT reviewed_through FROM flag_review WHERE patient_id = :p", p=patient.id) in (
        today, today.isoformat()
    )
    assert "Used on" not in _rows(client)
    assert "Used on 1 day" in _rows(client, view="2026-W47")  # a picked week still shows its own flags
    # Something new after the review: flagged again. The review never hides a later day.
    db.execute("UPDATE flag_review SET reviewed_through = :d", d=today - timedelta(days=1))
    db.execute("UPDATE checkin SET used = :u WHERE local_date = :d", u=True, d=today)
    assert "Used on 1 day" in _rows(client)
    # Someone else's patient, or a bad id: 404, and nothing stored.
    assert post_form(client, "/therapist/patients/999999/reviewed", {}).status_code == 404
    assert db.scalar("SELECT count(*) FROM flag_review") == 1


def test_an_unreviewed_flag_older_than_a_week_still_shows(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    add_rows(db, [checkin(patient, today - timedelta(days=d), 6, 2, used=d == 12) for d in range(0, 14)])
    share(db, patient, therapist, data_from=today - timedelta(days=40))
    as_user(client, therapist)
    rows = _rows(client)
    assert "Used on 1 day" in rows and "Mark reviewed" in rows
    # Filtering by the open flag finds the patient.
    assert "Sam Lee" in _rows(client, flag="use")
    post_form(client, f"/therapist/patients/{patient.id}/reviewed", {"back": "https://evil.example/"})
    assert "Used on" not in _rows(client)
    assert "No patient matches" in _rows(client, flag="use")


def test_since_the_last_session_and_the_groups_link(client: TestClient, db: Database) -> None:
    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    add_rows(db, [checkin(patient, today - timedelta(days=d), 6, 2) for d in range(0, 9)])
    share(db, patient, therapist, data_from=today - timedelta(days=40))
    as_user(client, therapist)
    # No group on record: "since the last session" falls back to the last 7 days.
    assert "Nov 18 – Nov 24" in _rows(client, view="since_session")
    # Bad values never 500.
    for params in ({"view": "nonsense"}, {"week": "2026-W99"}, {"view": "9999-W01"}, {"week": "x" * 300}):
        assert client.get("/therapist", params=params).status_code == 200
    page = client.get(f"/therapist/patients/{patient.id}")
    assert f'href="/therapist/patients/{patient.id}/schedule"' in page.text
    assert client.get(f"/therapist/patients/{patient.id}/schedule").status_code == 200


def test_since_the_last_session_starts_on_that_groups_day(client: TestClient, db: Database) -> None:
    from tests.test_schedule_helpers import enrol, make_program

    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    program = make_program(db, phases=[("Weeks 1-8", 1, 8, [(3, "18:00", "Mindfulness")])])  # Thursdays
    enrol(db, patient.id, program.id, date(2026, 11, 2))  # type: ignore[arg-type]
    add_rows(db, [checkin(patient, today - timedelta(days=d), 6, 2, used=d == 6) for d in range(0, 9)])
    share(db, patient, therapist, data_from=today - timedelta(days=40))
    as_user(client, therapist)
    rows = _rows(client, view="since_session")
    assert "Nov 19 – Nov 24" in rows  # from last Thursday's group to today
    assert db.scalar(
        "SELECT subject FROM disclosure_log WHERE kind = 'dashboard' ORDER BY id DESC LIMIT 1"
    ) == "2026-11-19/2026-11-24"
