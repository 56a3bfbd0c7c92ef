"""Crisis help end to end over real HTTP and SQL: the public /crisis page, the safety plan, clinic crisis lines."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.accounts.models import Role, User
from server.crisis import logic
from server.crisis.logic import (
    CrisisLine,
    DefaultLinesError,
    crisis_context,
    default_lines,
    load_default_lines,
    needs_crisis_help,
    phone_parts,
    save_plan,
    split_items,
)
from server.i18n import current_locale
from tests.conftest import PASSWORD, Database, htmx_post, login, post_form

US_LINKS = (
    'href="tel:988"',
    'href="sms:988"',
    'href="tel:18006624357"',
    'href="sms:741741?&amp;body=HOME"',
    'href="tel:911"',
)
OFFLINE_NOTE = "your safety plan may not open"

PLAN = {
    "warning_signs": "Skipping meals\n- Not answering texts\n\n",
    "coping_on_my_own": "Cold water on my face\nBox breathing",
    "distractions": "Heron Lake walking path",
    "people_to_ask": "Sister Maribel 555 201 7788",
    "professionals": "Sponsor Dee",
    "safe_environment": "Give my pills to Maribel",
    "reasons_for_recovery": "Teaching my niece to swim",
}


def hx_get(client: TestClient, url: str) -> Any:
    return client.get(url, headers={"HX-Request": "true"}, follow_redirects=False)


def set_phone(db: Database, user: User, phone: str) -> None:
    db.scalar("UPDATE user_account SET phone = :phone WHERE id = :id RETURNING id", phone=phone, id=user.id)


def set_clinic(db: Database, **values: Any) -> None:
    async def work(session: AsyncSession) -> None:
        from server.accounts.models import Clinic

        clinic = await session.get(Clinic, 1)
        assert clinic is not None
        for key, value in values.items():
            setattr(clinic, key, value)
        session.add(clinic)

    db.run(work)


def clinic_settings(db: Database) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        from server.accounts.models import Clinic

        clinic = await session.get(Clinic, 1)
        assert clinic is not None
        return dict(clinic.settings)

    return db.run(work)


# --------------------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("mood", "urge", "expected"),
    [
        (None, None, False),
        (5, 0, False),
        (2, 3, False),  # just above both thresholds
        (2, None, False),
        (None, 3, False),
        (1, None, True),  # mood 0-1
        (0, 0, True),
        (None, 4, True),  # urge 4-5
        (7, 5, True),
        (10, 6, True),  # past the end of the scale still counts
        (-1, None, True),
    ],
)
def test_needs_crisis_help_boundaries(mood: int | None, urge: int | None, expected: bool) -> None:
    assert needs_crisis_help(mood, urge) is expected


# --------------------------------------------------------------------------- lines and links


def test_default_lines_come_from_the_data_file_with_working_links() -> None:
    lines = default_lines("en")
    assert [line.href for line in lines] == [
        "tel:988",
        "sms:988",
        "tel:18006624357",
        "sms:741741?&body=HOME",
        "tel:911",
    ]
    assert "Press 2 for Spanish" in lines[0].note
    assert lines[3].action == "Text HOME to 741741"
    spanish = default_lines("es")
    assert spanish[0].label.startswith("988 Línea")
    assert default_lines("fr")[0].label == "988 Suicide & Crisis Lifeline"  # a missing language falls back


def test_broken_default_lines_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "lines.toml"
    path.write_text(
        '[[lines]]\nkind = "call"\nnumber = "988"\nlabel = { en = "988" }\n\n'
        '[[lines]]\nkind = "fax"\nnumber = "1"\nlabel = { en = "x" }\n'
    )
    with pytest.raises(DefaultLinesError, match=r"lines.toml: line #2: kind"):
        load_default_lines(path)
    path.write_text('[[lines]]\nkind = "call"\nnumber = "call me"\nlabel = { en = "x" }\n')
    with pytest.raises(DefaultLinesError, match="number"):
        load_default_lines(path)
    path.write_text('[[lines]]\nkind = "call"\nnumber = "911"\nlabel = { es = "Emergencias" }\n')
    with pytest.raises(DefaultLinesError, match="'en'"):
        load_default_lines(path)


def test_links_keep_only_digits_and_a_leading_plus() -> None:
    assert CrisisLine("Samaritans", "+44 (0) 116-123", "call").href == "tel:+440116123"
    assert CrisisLine("Line", "116 123", "text").href == "sms:116123"
    assert CrisisLine("Line", "116 123", "text").action == "Text 116 123"
    parts = phone_parts("Sister Maribel 555 201 7788 after 6")
    assert parts == [("Sister Maribel ", None), ("555 201 7788", "tel:5552017788"), (" after 6", None)]
    assert phone_parts("Room 12") == [("Room 12", None)]
    assert split_items("- one\r\n\r\n  * two \n3. three\n•four") == ["one", "two", "three", "•four"]


# --------------------------------------------------------------------------- the public crisis page


def test_crisis_page_works_signed_out_with_offline_headers(client: TestClient) -> None:
    response = client.get("/crisis")
    assert response.status_code == 200
    for link in US_LINKS:
        assert link in response.text
    assert "Press 2 for Spanish" in response.text
    assert response.headers["X-Steady-Offline"] == "page"
    assert response.headers["X-Steady-Public"] == "1"
    assert response.headers["Cache-Control"] == "private, no-cache"
    # The plan is loaded separately (htmx), with a plain link for no-JS and a note for when it can't load.
    assert 'hx-get="/crisis/plan"' in response.text and 'hx-trigger="load"' in response.text
    assert 'href="/crisis/plan"' in response.text and OFFLINE_NOTE in response.text


@pytest.mark.parametrize("role", ["admin", "therapist", "patient", "family"])
def test_crisis_page_works_for_every_role(client: TestClient, db: Database, role: str) -> None:
    patient = db.make_user(Role.PATIENT) if role == "family" else None
    user = db.make_user(role, patient=patient)
    login(client, user.email)
    response = client.get("/crisis")
    assert response.status_code == 200
    for link in US_LINKS:
        assert link in response.text
    assert response.headers["X-Steady-Public"] == "1"


def test_crisis_page_holds_no_personal_data_even_for_a_patient_with_a_plan(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, name="Dr Ingrid Faulk")
    set_phone(db, therapist, "555 010 9999")
    set_clinic(db, phone="555 020 3333")
    patient = db.make_user(Role.PATIENT, "rosalind.quill@example.org", name="Rosalind Quill", therapist=therapist)
    set_phone(db, patient, "555 030 1234")
    login(client, patient.email)
    assert post_form(client, "/crisis/plan/edit", PLAN).status_code == 303

    page = client.get("/crisis")
    assert page.status_code == 200
    personal = ["Rosalind", "rosalind.quill", "Ingrid", "555 010 9999", "5550109999", "555 020 3333", "555 030 1234"]
    personal += ["Maribel", "Heron Lake", "niece", "Cold water", "Skipping meals"]
    for word in personal:
        assert word not in page.text, word

    # ...the plan comes only from /crisis/plan, marked for offline use but not as public.
    plan = hx_get(client, "/crisis/plan")
    assert plan.status_code == 200
    assert 'id="plan-body"' in plan.text and "<html" not in plan.text
    for word in ["Heron Lake walking path", "Teaching my niece to swim", "Dr Ingrid Faulk", 'href="tel:5550109999"']:
        assert word in plan.text, word
    assert 'href="tel:5550203333"' in plan.text  # the clinic's phone
    assert 'href="tel:5552017788"' in plan.text  # a number written in the plan becomes a call link
    assert plan.headers["X-Steady-Offline"] == "page"
    assert "X-Steady-Public" not in plan.headers
    assert plan.headers["Cache-Control"] == "private, no-cache"


def test_crisis_page_still_opens_when_the_database_fails(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_args: Any) -> list[CrisisLine]:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr(logic, "lines_for", broken)
    response = client.get("/crisis")
    assert response.status_code == 200
    assert 'href="tel:988"' in response.text


def test_service_worker_precaches_the_crisis_page(client: TestClient) -> None:
    script = client.get("/sw.js").text
    assert 'var CRISIS_URL = "/crisis";' in script
    install = re.search(r"cache\.addAll\((.*)\);", script)
    assert install is not None and "CRISIS_URL" in install.group(1) and "OFFLINE_URL" in install.group(1)


# --------------------------------------------------------------------------- the safety plan


def test_safety_plan_edit_save_and_read(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    empty = client.get("/crisis/plan")
    assert empty.status_code == 200 and "haven't written your safety plan" in empty.text
    assert 'href="/crisis/plan/edit"' in empty.text

    form = client.get("/crisis/plan/edit")
    assert form.status_code == 200
    for name in PLAN:
        assert f'<label for="{name}">' in form.text  # a visible label for every section
    assert "Step 1: My warning signs" in form.text and "Step 6: Making my surroundings safe" in form.text

    saved = post_form(client, "/crisis/plan/edit", PLAN)
    assert saved.status_code == 303 and saved.headers["location"] == "/crisis/plan?saved=1"
    assert db.scalar("SELECT count(*) FROM safety_plan WHERE user_id = :id", id=patient.id) == 1

    async def stored(session: AsyncSession) -> Any:
        return await logic.get_plan(session, patient.id)  # type: ignore[arg-type]

    plan = db.run(stored)
    assert plan.warning_signs == ["Skipping meals", "Not answering texts"]  # bullets and blank lines dropped
    assert plan.reasons_for_recovery == ["Teaching my niece to swim"]

    shown = client.get("/crisis/plan?saved=1")
    assert "Your safety plan is saved." in shown.text and "Not answering texts" in shown.text
    assert shown.headers["X-Steady-Offline"] == "page"  # a phone with offline use on keeps the new plan
    notice = shown.text.index("Your safety plan is saved.")
    assert notice < shown.text.index('id="plan-body"')  # outside the part the crisis page picks up
    page = client.get("/crisis/plan")
    assert page.headers["X-Steady-Offline"] == "page" and "<h1>" in page.text
    again = client.get("/crisis/plan/edit")
    assert "Skipping meals\nNot answering texts</textarea>" in again.text

    # Editing replaces the plan in place: still one row, new words.
    post_form(client, "/crisis/plan/edit", {**PLAN, "distractions": "The library"})
    assert db.scalar("SELECT count(*) FROM safety_plan") == 1
    assert "The library" in client.get("/crisis/plan").text


def test_safety_plan_too_long_is_422_with_inline_error_and_kept_values(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    response = post_form(client, "/crisis/plan/edit", {**PLAN, "people_to_ask": "x" * 2001})
    assert response.status_code == 422
    assert 'id="people_to_ask-error"' in response.text and "2000 characters" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Heron Lake walking path" in response.text and "Teaching my niece to swim" in response.text
    assert db.scalar("SELECT count(*) FROM safety_plan") == 0

    # Browsers send line breaks as CRLF: they count once, as in the textarea's own limit.
    lines = "ok\r\n" * 600  # 2,400 characters on the wire, 1,800 as typed
    assert post_form(client, "/crisis/plan/edit", {"people_to_ask": lines}).status_code == 303


def test_a_patient_only_ever_sees_their_own_plan(client: TestClient, db: Database) -> None:
    first = db.make_user(Role.PATIENT)
    second = db.make_user(Role.PATIENT)
    login(client, first.email)
    post_form(client, "/crisis/plan/edit", PLAN)

    login(client, second.email)
    for response in (
        client.get("/crisis/plan"),
        hx_get(client, "/crisis/plan"),
        client.get(f"/crisis/plan?user_id={first.id}"),
        client.get("/crisis/plan/edit"),
    ):
        assert response.status_code == 200
        assert "Heron Lake" not in response.text and "Maribel" not in response.text
    post_form(client, "/crisis/plan/edit", {"distractions": "Bowling"})
    assert db.scalar("SELECT count(*) FROM safety_plan") == 2
    firsts = str(db.scalar("SELECT distractions FROM safety_plan WHERE user_id = :id", id=first.id))
    assert "Heron Lake" in firsts and "Bowling" not in firsts  # saving one plan never touches another


@pytest.mark.parametrize("role", ["family", "therapist", "admin"])
def test_only_patients_have_a_safety_plan(client: TestClient, db: Database, role: str) -> None:
    patient = db.make_user(Role.PATIENT)
    user = db.make_user(role, patient=patient if role == "family" else None)
    login(client, user.email)
    assert client.get("/crisis/plan/edit").status_code == 403
    assert post_form(client, "/crisis/plan/edit", PLAN).status_code == 403
    assert client.get("/crisis/plan").status_code == 403
    # Inside the public crisis page (htmx) they get a short note, never an error or a redirect.
    inline = hx_get(client, "/crisis/plan")
    assert inline.status_code == 200 and 'id="plan-body"' in inline.text and "HX-Redirect" not in inline.headers
    assert db.scalar("SELECT count(*) FROM safety_plan") == 0


def test_signed_out_plan_requests(client: TestClient) -> None:
    edit = client.get("/crisis/plan/edit", follow_redirects=False)
    assert edit.status_code == 303 and edit.headers["location"].startswith("/login?next=/crisis/plan/edit")
    plain = client.get("/crisis/plan", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].startswith("/login")
    # The crisis page's htmx load must not bounce someone in crisis to the sign-in page.
    inline = hx_get(client, "/crisis/plan")
    assert inline.status_code == 200 and "HX-Redirect" not in inline.headers
    assert "Sign in to see my safety plan" in inline.text


def test_deleting_the_account_deletes_the_plan(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    post_form(client, "/crisis/plan/edit", PLAN)
    response = post_form(client, "/account/delete", {"password": PASSWORD, "confirm": "DELETE"})
    assert response.status_code == 303
    assert db.scalar("SELECT count(*) FROM safety_plan") == 0


def test_two_first_saves_at_once_leave_one_plan(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)

    async def race() -> None:
        engine = create_async_engine(db.url, poolclass=NullPool)
        maker = async_sessionmaker(engine, expire_on_commit=False)

        async def save(words: str) -> None:
            async with maker() as session:
                await save_plan(session, patient.id, {"distractions": [words]})  # type: ignore[arg-type]
                await session.commit()

        try:
            await asyncio.gather(save("first"), save("second"))
        finally:
            await engine.dispose()

    # On a worker thread, like Database.run: after the browser tests this thread has a running event loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, race()).result()
    assert db.scalar("SELECT count(*) FROM safety_plan") == 1


# --------------------------------------------------------------------------- clinic crisis lines


def _line_form(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Harbour Recovery",
        "phone": "+44 20 7946 0000",
        "timezone": "Europe/London",
        "line_label": ["Samaritans", "Emergency", ""],
        "line_number": ["116 123", "999", ""],
        "line_kind": ["call", "call", "call"],
        "line_note": ["Free, any time", "", ""],
        "action": "save",
        **overrides,
    }


def test_clinic_lines_replace_the_us_defaults(client: TestClient, db: Database) -> None:
    admin = db.make_user(Role.ADMIN)
    patient = db.make_user(Role.PATIENT)
    set_clinic(db, settings={"flag_threshold": 3})
    login(client, admin.email)
    page = client.get("/admin/clinic")
    assert page.status_code == 200 and 'href="/admin/clinic"' in page.text  # linked from the admin nav
    assert post_form(client, "/admin/clinic", _line_form()).status_code == 303

    stored = clinic_settings(db)
    assert stored["flag_threshold"] == 3  # other clinic settings are kept
    assert [line["number"] for line in stored["crisis_lines"]] == ["116 123", "999"]
    assert db.scalar("SELECT timezone FROM clinic") == "Europe/London"
    assert db.scalar("SELECT name FROM clinic") == "Harbour Recovery"

    for who in (None, patient):
        if who is not None:
            login(client, who.email)
        crisis = client.get("/crisis")
        assert 'href="tel:116123"' in crisis.text and "Samaritans" in crisis.text and "Free, any time" in crisis.text
        assert 'href="tel:999"' in crisis.text
        assert 'href="tel:988"' not in crisis.text and "741741" not in crisis.text

    # The help-now partial shows the clinic's lines once crisis_context is merged in.
    async def context(session: AsyncSession) -> dict[str, Any]:
        return await crisis_context(session, patient)

    merged = db.run(context)
    assert [line.number for line in merged["crisis_lines"]] == ["116 123", "999"]
    html = client.app.template_engine.get_template("crisis/_help_now.html").render({**merged, "request": None})
    assert 'href="tel:116123"' in html and 'href="tel:988"' not in html

    # Removing every line brings the US numbers back.
    login(client, admin.email)
    removed = post_form(client, "/admin/clinic", _line_form(line_remove=["0", "1"]))
    assert removed.status_code == 303
    assert clinic_settings(db)["crisis_lines"] == []
    assert 'href="tel:988"' in client.get("/crisis").text


def test_help_now_partial_renders_with_only_the_request(client: TestClient) -> None:
    template = client.app.template_engine.get_template("crisis/_help_now.html")
    html = template.render({"request": None})
    assert "Thank you for telling us. You don't have to handle this alone." in html
    for link in US_LINKS:
        assert link in html
    assert 'href="/crisis/plan"' in html
    token = current_locale.set("es")
    try:
        assert "988 Línea de Prevención" in template.render({"request": None})
    finally:
        current_locale.reset(token)


def test_clinic_settings_422_inline_errors_and_kept_values(client: TestClient, db: Database) -> None:
    admin = db.make_user(Role.ADMIN)
    login(client, admin.email)
    bad = _line_form(
        name="",
        phone="call us",
        timezone="Mars/Olympus",
        line_label=["", "Emergency"],
        line_number=["116 123", "nine-nine-nine"],
        line_kind=["call", "fax"],
        line_note=["kept note", ""],
    )
    response = post_form(client, "/admin/clinic", bad)
    assert response.status_code == 422
    for field in ("name", "phone", "timezone", "line_label-0", "line_number-1", "line_kind-1"):
        assert f'id="{field}-error"' in response.text, field
    assert "Please use only digits, spaces and + - ( )" in response.text
    assert 'value="kept note"' in response.text and 'value="nine-nine-nine"' in response.text
    assert 'value="call us"' in response.text
    assert clinic_settings(db) == {} and db.scalar("SELECT name FROM clinic") == "Test Clinic"

    too_many = _line_form(
        line_label=[f"Line {i}" for i in range(11)],
        line_number=["123"] * 11,
        line_kind=["call"] * 11,
        line_note=[""] * 11,
    )
    response = post_form(client, "/admin/clinic", too_many)
    assert response.status_code == 422 and "10 crisis lines or fewer" in response.text


def test_clinic_settings_add_line_without_javascript_saves_nothing(client: TestClient, db: Database) -> None:
    admin = db.make_user(Role.ADMIN)
    login(client, admin.email)
    response = post_form(client, "/admin/clinic", _line_form(action="add_line"))
    assert response.status_code == 200
    assert 'id="line_label-3"' in response.text  # two lines + the spare row + one more
    assert 'value="Samaritans"' in response.text and "Nothing is saved" in response.text
    assert clinic_settings(db) == {}


@pytest.mark.parametrize("role", ["therapist", "patient"])
def test_clinic_settings_are_for_admins_only(client: TestClient, db: Database, role: str) -> None:
    user = db.make_user(role)
    login(client, user.email)
    assert client.get("/admin/clinic").status_code == 403
    assert post_form(client, "/admin/clinic", _line_form()).status_code == 403
    assert clinic_settings(db) == {}


def test_unusable_stored_lines_fall_back_to_the_defaults(client: TestClient, db: Database) -> None:
    db.make_user(Role.ADMIN)
    set_clinic(db, settings={"crisis_lines": [{"label": "", "number": "x", "kind": "call"}, "nonsense"]})
    response = client.get("/crisis")
    assert response.status_code == 200 and 'href="tel:988"' in response.text


def test_htmx_plan_save_redirects_with_hx_location(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    response = htmx_post(client, "/crisis/plan/edit", PLAN)
    assert response.status_code == 200 and json.loads(response.headers["HX-Location"])["path"] == "/crisis/plan?saved=1"
    assert db.scalar("SELECT count(*) FROM safety_plan") == 1


def test_migration_creates_safety_plan_with_cascade(db: Database) -> None:
    if db.url.startswith("sqlite"):
        sql = "SELECT sql FROM sqlite_master WHERE name = 'safety_plan'"
        assert "ON DELETE CASCADE" in str(db.scalar(sql))
    else:
        sql = "SELECT confdeltype::text FROM pg_constraint WHERE conrelid = 'safety_plan'::regclass AND contype = 'f'"
        assert db.scalar(sql) == "c"
