"""Issue 15 #3: the therapist dashboard shows the last 7 days by default (the clock is frozen on Tuesday
2026-11-24, so last week's flags must still show), keeps a flag until the therapist marks it reviewed (stored),
lets them pick a week or "since the last session", and the patient's summary links their groups page."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from litestar.testing import TestClient

from server.accounts.models import User
from server.accounts.sessions import forget
from server.localtime import local_today
from server.sharing.weeks import Week
from tests.conftest import Database, post_form
from tests.test_sharing_flows import as_user, setup_people
from tests.test_sharing_support import ALL_CATEGORIES, add_rows, checkin, share

# Dates, JSON columns and unique keys behave differently on the two databases: run on PostgreSQL too.
pytestmark = pytest.mark.dialect_sensitive


def _rows(client: TestClient, **params: str) -> str:
    page = client.get("/therapist", params=params)
    assert page.status_code == 200, page.text[:500]
    start = page.text.index('id="dashboard-rows"')
    return page.text[start:]


def _signed_in_with_checkins(
    client: TestClient, db: Database, days_ago: range, *, shared_days: int
) -> tuple[User, User, date]:
    """A therapist signed in, their patient sharing everything from `shared_days` ago, with a check-in (mood 6,
    craving 2) on each of `days_ago`."""
    therapist, _outsider, patient = setup_people(db)
    today = local_today(patient)
    add_rows(db, [checkin(patient, today - timedelta(days=d), 6, 2) for d in days_ago])
    share(db, patient, therapist, data_from=today - timedelta(days=shared_days))
    as_user(client, therapist)
    return therapist, patient, today


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


def _without_csrf(rows: str) -> str:
    return re.sub(r'name="_csrf_token" value="[^"]*"', "", rows)


def test_a_row_shows_what_changed_at_the_next_request(client: TestClient, db: Database) -> None:
    """A row's summaries and sparklines are remembered under what they were built from (server/sharing/dashboard.py):
    a value changed in place, a deleted day and a narrower consent each show at the very next request."""
    therapist, patient, today = _signed_in_with_checkins(client, db, range(0, 9), shared_days=40)
    rows = _rows(client)
    assert "7 of 7 days" in rows and "avg 6.0<" in rows and "peak 2<" in rows and "Craving 8+" not in rows
    assert _without_csrf(_rows(client)) == _without_csrf(rows)  # nothing changed: the same row

    db.execute("UPDATE checkin SET craving = 9 WHERE local_date >= :d", d=today - timedelta(days=1))
    db.execute("UPDATE checkin SET mood = 1 WHERE local_date = :d", d=today)
    rows = _rows(client)
    assert "Craving 8+ on 2 days" in rows and "peak 9<" in rows and "avg 5.3<" in rows  # (6 × 6 + 1) / 7
    assert "latest 1." in rows and "latest 9." in rows  # the sparklines' descriptions too
    db.execute("DELETE FROM checkin WHERE local_date = :d", d=today - timedelta(days=3))
    assert "6 of 7 days" in _rows(client)
    # The patient stops sharing cravings: that column and its flag go at the next request.
    share(db, patient, therapist, [c for c in ALL_CATEGORIES if c != "cravings_triggers"],
          data_from=today - timedelta(days=40))  # fmt: skip
    rows = _rows(client)
    assert "Craving 8+" not in rows and "peak" not in rows and "chart-craving" not in rows and "Not shared" in rows


def test_remembered_rows_are_what_a_fresh_build_gives(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Served from what was remembered (no summary built), the rows are byte for byte those built afresh, in both
    rolling views, a picked week and a flag filter, in English and Spanish."""
    from server.sharing import charts, dashboard

    therapist, _outsider, patient = setup_people(db)
    other = db.make_user("patient", "other@example.org", therapist=therapist, timezone="Pacific/Auckland")
    today = local_today(patient)
    add_rows(db, [checkin(patient, today - timedelta(days=d), 3 + d % 5, d % 11, used=d == 4) for d in range(0, 30)])
    add_rows(db, [checkin(other, today - timedelta(days=d), 7, 9) for d in range(0, 30, 2)])
    share(db, patient, therapist, data_from=today - timedelta(days=40))
    share(db, other, therapist, ["mood_sleep", "attendance"], data_from=today - timedelta(days=20))
    as_user(client, therapist)
    built: list[object] = []
    build = dashboard.build_summary
    monkeypatch.setattr(dashboard, "build_summary", lambda *args: built.append(args) or build(*args))

    for params in ({}, {"view": "since_session"}, {"week": "2026-W47"}, {"flag": "use"}):
        dashboard._remembered.clear()
        charts._sparkline.cache_clear()
        # Spanish after English: the language is part of what a row is remembered under.
        for language, words in (("en", "Used on 1 day"), ("es", "Consumió 1 día")):
            db.execute("UPDATE user_account SET locale = :l WHERE id = :t", l=language, t=therapist.id)
            # Changed behind the app's back: without this process's guess of the session (in the old language),
            # the request below is the only one to build rows (a dropped run on the guess would build them first).
            forget(client.cookies["steady_session"])
            built.clear()
            fresh = _without_csrf(_rows(client, **params))
            assert built and "Sam Lee" in fresh and words in fresh
            built.clear()
            assert _without_csrf(_rows(client, **params)) == fresh
            assert built == []


def test_a_rows_remembered_html_follows_every_change_on_the_next_request(client: TestClient, db: Database) -> None:
    """Each row's HTML is remembered between requests (`DashboardRow.shown`): a new figure, a renamed patient, a new
    flag, a picked week or the therapist's language each show at once, and what the row showed comes back when its
    inputs do."""
    therapist, patient, today = _signed_in_with_checkins(client, db, range(1, 5), shared_days=4)
    first = _rows(client)
    assert "Sam Lee" in first and "4 of 5 days" in first and "avg 6" in first and "Mark reviewed" not in first
    assert _rows(client) == first  # the same inputs: the same HTML
    add_rows(db, [checkin(patient, today, 9, 9)])
    assert "5 of 5 days" in _rows(client) and "peak 9" in _rows(client)
    db.execute("UPDATE user_account SET display_name = 'Sam Rivers' WHERE id = :p", p=patient.id)
    assert "Sam Rivers" in _rows(client) and "Sam Lee" not in _rows(client)
    db.execute("UPDATE checkin SET used = :u WHERE local_date = :d", u=True, d=today)
    flagged = _rows(client)
    assert "Used on 1 day" in flagged and "Mark reviewed" in flagged
    assert "Mark reviewed" not in _rows(client, view=Week.of(today).label)  # a picked week: no review button
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :t", t=therapist.id)
    assert "Marcar como revisado" in _rows(client) and "Mark reviewed" not in _rows(client)
    db.execute("UPDATE user_account SET locale = 'en' WHERE id = :t", t=therapist.id)
    db.execute("DELETE FROM checkin WHERE local_date = :d", d=today)
    db.execute("UPDATE user_account SET display_name = 'Sam Lee' WHERE id = :p", p=patient.id)
    assert _rows(client) == first  # back to the first inputs: the first HTML
