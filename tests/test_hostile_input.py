"""Each input that an outside review turned into an HTTP 500, as a regression test on both databases: the answer is
a 4xx with a plain message (422 with the field's error inline for forms, what was typed kept), never a 5xx."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from server.accounts.models import Role
from tests.conftest import Database, csrf_token, login, post_form
from tests.support.checkins import checkin_data, signed_in_patient
from tests.test_sharing_support import share

HUGE_IDS = ["2147483648", "9223372036854775807", "9223372036854775808", "1" * 30]
LONG_ZONE = "Europe/" + "x" * 300


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_ids_no_database_could_hold_are_404_in_paths_and_422_in_queries(
    client: TestClient, db: Database, huge: str
) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    login(client, therapist.email)
    for path in (f"/therapist/patients/{huge}", f"/therapist/patients/{huge}/weeks/2026-W47.csv",
                 f"/therapist/patients/{huge}/schedule", f"/checkins/{huge}", f"/cravings/{huge}"):  # fmt: skip
        assert client.get(path).status_code == 404, path
    assert client.get("/sharing/consent/new", params={"therapist": huge}).status_code in (403, 404, 422)
    client.cookies.clear()
    admin = db.make_user(Role.ADMIN, "a@example.org")
    login(client, admin.email)
    assert post_form(client, f"/admin/programs/{huge}/phases", {"name": "x"}).status_code == 404
    assert client.get("/admin/programs", params={"program_id": huge}).status_code == 422


def test_an_iso_week_out_of_range_is_refused_on_the_summary_and_its_exports(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org")
    patient = db.make_user(Role.PATIENT, "p@example.org", therapist=therapist)
    share(db, patient, therapist)
    login(client, therapist.email)
    for week in ("9999-W52", "0001-W01", "2026-W54", "20260-W01"):
        page = client.get(f"/therapist/patients/{patient.id}", params={"week": week})
        assert page.status_code in (404, 422), week
        for suffix in ("csv", "pdf"):
            assert client.get(f"/therapist/patients/{patient.id}/weeks/{week}.{suffix}").status_code in (404, 422)


def test_a_300_character_time_zone_is_a_field_error(client: TestClient, db: Database) -> None:
    admin = db.make_user(Role.ADMIN, "a@example.org", name="Ada")
    login(client, admin.email)
    profile = post_form(client, "/account/profile", {"name": "Ada", "timezone": LONG_ZONE, "locale": "en"})
    assert profile.status_code == 422 and "Please pick a time zone from the list." in profile.text
    clinic = post_form(client, "/admin/clinic", {"name": "Clinic", "timezone": LONG_ZONE})
    assert clinic.status_code == 422, clinic.status_code
    program = post_form(client, "/admin/programs", {"name": "Evening IOP", "timezone": LONG_ZONE})
    assert program.status_code == 422, program.status_code
    client.cookies.clear()
    joined = post_form(client, "/join", {"code": "x" * 10, "name": "N", "email": "n@example.org",
                                         "password": "a long enough pass", "timezone": LONG_ZONE})  # fmt: skip
    assert joined.status_code == 422


def test_static_paths_with_a_null_byte_are_404(client: TestClient) -> None:
    for path in ("/static/css/app.css%00.js", "/static/%00", "/today%00"):
        assert client.get(path).status_code == 404, path


def test_skill_practice_in_year_one_is_refused_kindly(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    answer = post_form(client, "/skills/urge-surfing/practice", {
        "started_at": "0001-01-01T00:00:00", "client_created_at": "0001-01-01T00:00:00+14:00",
        "distress_before": "6", "idempotency_key": "0a0a0a0a-1111-4222-8333-444455556666",
    })  # fmt: skip
    assert answer.status_code < 500
    assert db.scalar("SELECT count(*) FROM skill_practice WHERE started_at < '2000-01-01'") == 0


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x07", "line\x1bbreak"])
def test_control_characters_in_free_text_are_a_field_error_not_a_lost_change(
    client: TestClient, db: Database, bad: str
) -> None:
    user = signed_in_patient(client, db)
    note = post_form(client, "/checkin", checkin_data(note=f"felt {bad} okay"))
    assert note.status_code == 422 and "felt" in note.text  # what was typed is still there
    assert db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=user.id) == 0
    profile = post_form(client, "/account/profile", {"name": f"Sam{bad}", "timezone": "America/New_York",
                                                     "locale": "en"})  # fmt: skip
    assert profile.status_code == 422
    assert db.scalar("SELECT display_name FROM user_account WHERE id = :u", u=user.id) != f"Sam{bad}"
    client.cookies.clear()
    signin = client.post("/login", data={"_csrf_token": csrf_token(client), "email": f"pat{bad}@example.org",
                                         "password": "whatever"}, follow_redirects=False)  # fmt: skip
    assert signin.status_code in (422, 429)


def test_new_lines_and_tabs_in_notes_are_kept(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    saved = post_form(client, "/checkin", checkin_data(note="first line\nsecond\tline"))
    assert saved.status_code == 303
    assert db.scalar("SELECT note FROM checkin WHERE user_id = :u", u=user.id) == "first line\nsecond\tline"


def test_ids_past_int32_in_forms_are_a_choice_error(client: TestClient, db: Database) -> None:
    """PostgreSQL's integer stops at 2,147,483,647: a form naming a bigger id is refused before any query."""
    from tests.test_schedule_helpers import make_program

    admin = db.make_user(Role.ADMIN, "a@example.org")
    program = make_program(db)
    login(client, admin.email)
    for huge in ("2147483648", "9223372036854775808"):
        answer = post_form(client, f"/admin/programs/{program.id}/enrolments",
                           {"patient_id": huge, "start_date": "2026-11-30"})  # fmt: skip
        assert answer.status_code == 422, answer.status_code
