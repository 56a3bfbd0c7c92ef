"""Spanish end to end over real HTTP: the language follows the person (chosen on the account page, first taken from
the browser at sign-up), and everything they receive is in it: pages, htmx fragments, field errors, the patient's
CSV, the calendar feed, the therapist's PDF and CSV (with the § 2.32 notice in English plus Spanish), the stored
consent text, the crisis lines and pushes decrypted by the loopback push service. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta

from icalendar import Calendar
from litestar.testing import TestClient
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.invites import create_invite
from server.accounts.models import Role, User
from server.consent.service import redisclosure_notice, redisclosure_translation
from server.db import utcnow
from server.milestones.hooks import with_milestone_hooks
from server.push.vapid import VapidKeys
from server.reminders import reminder_hooks
from server.reminders.planner import plan_checkin_reminders
from tests.conftest import Database, htmx_post, login, post_form
from tests.support.checkins import checkin_data, today_for
from tests.support.family import family_of, run_all, set_sober_since, today_of
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import add_device, drain, in_session, set_preferences
from tests.test_schedule_helpers import enrol, make_program
from tests.test_sharing_support import add_rows, checkin, share

SPANISH_BROWSER = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}


def speaks_spanish(db: Database, user: User) -> User:
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :id", id=user.id)
    return user


def test_a_spanish_browser_joins_in_spanish_and_can_switch_to_english(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "ana@example.org")

    async def invite(session: AsyncSession) -> str:
        inviter = await session.get(User, therapist.id)
        assert inviter is not None
        _row, code = await create_invite(session, inviter, Role.PATIENT, valid_hours=24)
        return code

    code = db.run(invite)
    page = client.get("/join", headers=SPANISH_BROWSER)
    assert '<html lang="es"' in page.text and "Únete a Steady" in page.text
    values = {"code": code, "name": "Lucía", "email": "lucia@example.org", "password": "una casa azul junto al mar",
              "timezone": "America/Mexico_City"}  # fmt: skip
    joined = post_form(client, "/join", values, headers=SPANISH_BROWSER)
    assert joined.status_code == 303
    assert db.scalar("SELECT locale FROM user_account WHERE email = 'lucia@example.org'") == "es"

    # Signed in, the account's language wins over the browser's.
    today = client.get("/today", headers={"Accept-Language": "en-US"})
    assert '<html lang="es"' in today.text and "Hoy" in today.text and "Today's check-in" not in today.text
    account = client.get("/account")
    assert "Idioma" in account.text
    post_form(client, "/account/profile", {"name": "Lucía", "timezone": "America/Mexico_City", "locale": "en",
                                           "phone": ""})  # fmt: skip
    assert db.scalar("SELECT locale FROM user_account WHERE email = 'lucia@example.org'") == "en"
    assert '<html lang="en"' in client.get("/today", headers=SPANISH_BROWSER).text


def test_errors_fragments_and_the_patients_csv_are_in_spanish(client: TestClient, db: Database) -> None:
    patient = speaks_spanish(db, db.make_user(Role.PATIENT, "pat@example.org"))
    login(client, patient.email)

    refused = post_form(client, "/checkin", checkin_data(mood="11"))
    assert refused.status_code == 422
    assert "Elige 10 o menos." in refused.text
    assert "Revisa los campos marcados. Todo lo que escribiste sigue aquí." in refused.text

    saved = htmx_post(client, "/checkin", checkin_data(note="un buen día"))
    assert saved.status_code in (200, 303)
    assert "<html" not in saved.text or saved.status_code == 303

    exported = client.get("/export.csv")
    header = next(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert header[:4] == ["Registro", "Número", "Día", "Ánimo"]
    assert "sí" in exported.text or "no" in exported.text


def test_crisis_help_and_skill_cards_speak_spanish(client: TestClient, db: Database) -> None:
    patient = speaks_spanish(db, db.make_user(Role.PATIENT, "pat@example.org"))
    login(client, patient.email)
    crisis = client.get("/crisis").text
    assert "988 Línea de Prevención del Suicidio y Crisis" in crisis
    assert "sms:988?&amp;body=AYUDA" in crisis or "sms:988?&body=AYUDA" in crisis
    assert "Escribe AYUDA al 988" in crisis
    skills = client.get("/skills").text
    assert "Tolerancia al malestar" in skills and "Surfear el impulso" in skills
    card = client.get("/skills/urge-surfing").text
    assert "Nota el impulso." in card


def test_the_calendar_feed_titles_follow_the_patient(client: TestClient, db: Database) -> None:
    patient = speaks_spanish(db, db.make_user(Role.PATIENT, "pat@example.org"))
    program = make_program(db, phases=[("All", 1, 52, [(d, "18:00", "Grupo de la tarde") for d in range(7)])])
    enrol(db, patient.id, program.id, today_for(patient) - timedelta(days=3))  # type: ignore[arg-type]
    login(client, patient.email)
    post_form(client, "/schedule/calendar")
    page = client.get("/schedule").text
    start = page.index("/calendar/")
    url = page[start : page.index(".ics", start) + 4]
    client.cookies.clear()
    feed = Calendar.from_ical(client.get(url, headers={"Accept-Language": "en"}).content)
    assert str(feed["X-WR-CALNAME"]) == "Mis grupos (Steady)"


def test_a_spanish_speaking_therapist_gets_spanish_exports_with_both_notices(client: TestClient, db: Database) -> None:
    therapist = speaks_spanish(db, db.make_user(Role.THERAPIST, "ana@example.org", name="Ana"))
    patient = db.make_user(Role.PATIENT, "pat@example.org", name="Pat Doe", therapist=therapist)
    monday = today_for(patient) - timedelta(days=today_for(patient).weekday() + 7)
    add_rows(db, [checkin(patient, monday + timedelta(days=d), 5, 3) for d in range(3)])
    share(db, patient, therapist, data_from=monday - timedelta(days=30))
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    login(client, therapist.email)
    english, spanish = redisclosure_notice(), redisclosure_translation("es")
    assert spanish and "42 CFR parte 2" in spanish

    page = client.get(f"/therapist/patients/{patient.id}", params={"week": week}).text
    assert english in page and spanish in page and f"Semana {week}" in page

    rows = list(csv.reader(io.StringIO(client.get(f"/therapist/patients/{patient.id}/weeks/{week}.csv")
                                       .content.decode("utf-8-sig"))))  # fmt: skip
    assert rows[0] == ["Aviso", english] and rows[1] == ["Aviso", spanish]
    assert rows[2] == ["Paciente", "Pat Doe"] and ["Sección", "Medida", "Valor"] in rows

    pdf = client.get(f"/therapist/patients/{patient.id}/weeks/{week}.pdf")
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Resumen semanal: Pat Doe" in text
    assert "federal confidentiality rules" in text and "normas federales de confidencialidad" in text


def test_a_consent_signed_in_spanish_stores_the_spanish_text(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "ana@example.org", name="Ana")
    patient = speaks_spanish(db, db.make_user(Role.PATIENT, "pat@example.org", name="Pat Doe", therapist=therapist))
    login(client, patient.email)
    form = client.get("/sharing/consent/new", params={"therapist": therapist.id})
    assert form.status_code == 200 and "Consentimiento para compartir" in form.text
    ends_on = (today_for(patient) + timedelta(days=30)).isoformat()
    signed = post_form(client, "/sharing/consent", {
        "therapist": str(therapist.id), "categories": ["mood_sleep"], "until": "date", "ends_on": ends_on,
        "signature": "Pat Doe",
    })  # fmt: skip
    assert signed.status_code == 303
    wording = db.scalar("SELECT wording FROM consent ORDER BY id DESC LIMIT 1")
    assert "Qué se comparte" in wording and "[x] Ánimo y sueño" in wording and "What is shared" not in wording


def test_pushes_reach_each_person_in_their_own_language(
    client: TestClient, db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    speaks_spanish(db, sam)
    robin = family_of(db, sam, name="Robin", locale="es")
    kim = family_of(db, sam, name="Kim", email="kim@example.org", locale="en")
    phones = {}
    for person in (sam, robin, kim):
        set_preferences(db.url, person.id, quiet_start=time(0, 0), quiet_end=time(0, 0))  # type: ignore[arg-type]
        phones[person.id] = push_service.new_subscription(keys.public_key)
        add_device(db.url, person.id, phones[person.id])  # type: ignore[arg-type]

    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)
    drain(db.url, keys, utcnow() + timedelta(seconds=5), hooks=with_milestone_hooks())
    assert [p.data["title"] for p in push_service.received(phones[robin.id].sub_id)] == [
        "Sam llegó a 30 días sin consumir"
    ]
    assert [p.data["title"] for p in push_service.received(phones[kim.id].sub_id)] == ["Sam reached 30 days sober"]

    noon = datetime.combine(today_for(sam), time(12, 0), tzinfo=UTC)
    in_session(db.url, lambda s: plan_checkin_reminders(s, noon, {sam.id}))  # type: ignore[arg-type]
    drain(db.url, keys, noon + timedelta(hours=14), hooks=reminder_hooks())
    titles = [p.data["title"] for p in push_service.received(phones[sam.id].sub_id)]
    assert "Es hora de tu chequeo diario" in titles


def test_every_spanish_message_keeps_the_english_placeholders() -> None:
    """The compiled catalogue answers in Spanish, plurals included (the gate test checks every message)."""
    from server.i18n import translations_for

    es = translations_for("es")
    assert es.gettext("Today") == "Hoy"
    assert es.ngettext("%(num)s day", "%(num)s days", 2) == "%(num)s días"


def test_pages_no_route_matched_answer_in_the_browsers_language_with_the_security_headers(
    client: TestClient,
) -> None:
    """Litestar runs middleware only for matched routes; 404 and 405 still get the language and the CSP."""
    for url in ("/no-such-page", "/export.csv/x"):
        missing = client.get(url, headers=SPANISH_BROWSER)
        assert missing.status_code == 404
        assert '<html lang="es"' in missing.text and "No pudimos encontrar esa página." in missing.text
        assert missing.headers["content-security-policy"].startswith("default-src 'self'")
        assert missing.headers["x-frame-options"] == "DENY"
    wrong_method = client.delete("/login", headers={"Accept-Language": "en-GB"})
    assert wrong_method.status_code == 405 and '<html lang="en"' in wrong_method.text
    assert wrong_method.headers["x-content-type-options"] == "nosniff"
