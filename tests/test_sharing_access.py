"""Access control tried the way an attacker would: other patients' ids, weeks outside the consent, category
parameters, htmx requests, revoked and expired consents, another therapist and another clinic. Categories that
are switched off must leave no trace in the HTML, the CSV or the PDF."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from litestar.testing import TestClient
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.consent.models import Consent
from server.consent.service import redisclosure_notice
from server.db import utcnow
from tests.conftest import Database, login, post_form
from tests.test_sharing_support import add_rows, checkin, craving_log, local, mark, practice, share

W47 = "2026-W47"  # Mon 16 – Sun 22 November 2026, the week before "now" in these tests
NY = "America/New_York"
# Values that only exist in categories the patient did NOT share, chosen so that finding them means a leak.
SECRETS = (
    *("3.7", "11.5", "PURPLE-ELEPHANT-NOTE", "zz-substance", "Skill practice", "Practised", "Mood and sleep"),
    *("Substance use", "DBT diary card", "self-harm", "Self-harm", "Sleep", "Used on"),
)


@dataclass
class Scene:
    ana: User  # therapist P shares with
    ben: User  # another therapist of the same clinic
    cy: User  # a therapist of another clinic
    pat: User  # shares cravings and attendance with Ana
    quinn: User  # on Ana's care team, shares nothing
    riley: User  # a patient of the other clinic
    consent_id: int


@pytest.fixture
def scene(db: Database) -> Scene:
    if datetime.now().date() < date(2026, 11, 23):
        pytest.skip("the fixed week must be in the past")
    db.make_clinic("Test Clinic", clinic_id=1)
    db.make_clinic("Other Clinic", clinic_id=2)
    ana = db.make_user("therapist", "ana@example.org", name="Dr. Ana")
    ben = db.make_user("therapist", "ben@example.org", name="Dr. Ben")
    cy = db.make_user("therapist", "cy@example.org", name="Dr. Cy", clinic_id=2)
    pat = db.make_user("patient", "pat@example.org", name="Pat Doe", therapist=ana)
    quinn = db.make_user("patient", "quinn@example.org", name="Quinn Roe", therapist=ana)
    riley = db.make_user("patient", "riley@example.org", name="Riley Poe", clinic_id=2, therapist=cy)
    d = lambda day: date(2026, 11, day)  # noqa: E731
    add_rows(
        db,
        [
            checkin(pat, d(16), 2, 1, sleep_hours=11.5, note="PURPLE-ELEPHANT-NOTE"),
            checkin(pat, d(17), 2, 2, sleep_hours=11.5, used=True, substances="zz-substance", triggers=["boredom"]),
            checkin(pat, d(18), 7, 9, sleep_hours=11.5, diary=True, urge_self_harm=5, urge_use=5, acted_use=True),
            craving_log(pat, local(NY, d(18), 20, 0), d(18), 6, triggers=["boredom"], note="PURPLE-ELEPHANT-NOTE"),
            practice(pat, local(NY, d(19), 9, 0), "accepts", 9, 2),
            mark(pat, "g1-20261119", local(NY, d(19), 18, 0), "missed"),
            checkin(quinn, d(18), 4, 4),
            checkin(riley, d(18), 4, 4),
        ],
    )
    consent_id = share(db, pat, ana, ["cravings_triggers", "attendance"], data_from=date(2026, 11, 1))
    share(db, riley, cy, data_from=date(2026, 11, 1))
    return Scene(ana, ben, cy, pat, quinn, riley, consent_id)


def as_user(client: TestClient, user: User) -> TestClient:
    client.cookies.clear()
    login(client, user.email)
    return client


def no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def log_count(db: Database, patient: User, kind: str) -> int:
    return int(
        db.scalar("SELECT count(*) FROM disclosure_log WHERE patient_id = :p AND kind = :k", p=patient.id, k=kind)
    )


def test_only_consented_categories_reach_html_csv_and_pdf(client: TestClient, db: Database, scene: Scene) -> None:
    as_user(client, scene.ana)
    page = client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47})
    assert page.status_code == 200
    html = page.text
    # What she shares is there (so the absence checks below can fail)…
    assert "Cravings and triggers" in html and "Group attendance" in html
    assert "strongest 9 on Wednesday" in html and "Boredom (2)" in html
    assert "missed 1" in html
    assert redisclosure_notice() in html
    # …and nothing else: no mood (3.7 average, sleep 11.5), notes, use, diary card or skill practice.
    no_secrets(html)

    # Tampering with the query string or asking as htmx changes nothing.
    for params in ({"week": W47, "categories": "mood_sleep,notes"}, {"week": W47, "category": "substance_use"}):
        tampered = client.get(f"/therapist/patients/{scene.pat.id}", params=params, headers={"HX-Request": "true"})
        assert tampered.status_code == 200
        assert "<html" not in tampered.text and "strongest 9" in tampered.text
        no_secrets(tampered.text)

    exported = client.get(f"/therapist/patients/{scene.pat.id}/weeks/{W47}.csv", params={"categories": "notes"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert (
        "attachment" in exported.headers["content-disposition"] and "Pat" not in exported.headers["content-disposition"]
    )
    text = exported.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Notice", redisclosure_notice()]
    assert rows[1] == ["Patient", "Pat Doe"] and rows[2][:2] == ["Week", W47]
    header = rows.index(["Section", "Measure", "Value"])
    sections = {r[0] for r in rows[header + 1 :] if len(r) == 3 and r[0] not in ("Flag", "What stood out", "")}
    assert sections == {"Check-ins", "Cravings and triggers", "Group attendance"}
    assert ["Cravings and triggers", "Strongest craving", "9"] in rows
    assert rows[-1] == ["Notice", redisclosure_notice()]
    no_secrets(text)

    pdf = client.get(f"/therapist/patients/{scene.pat.id}/weeks/{W47}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    content = pdf_text(pdf.content)
    flat = " ".join(content.split())
    assert "Pat Doe" in flat and W47 in flat and "Cravings and triggers" in flat and "Strongest craving" in flat
    assert " ".join(redisclosure_notice().split()) in flat
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 1  # a one-page weekly summary
    for page_ in reader.pages:  # the notice is on every page
        assert "42 CFR part 2" in " ".join((page_.extract_text() or "").split())
    no_secrets(flat)

    # Every disclosure was logged, with who and which week.
    assert log_count(db, scene.pat, "summary_view") == 3
    assert log_count(db, scene.pat, "export_csv") == 1
    assert log_count(db, scene.pat, "export_pdf") == 1
    assert (
        db.scalar("SELECT count(*) FROM disclosure_log WHERE subject = :w AND viewer_id = :v", w=W47, v=scene.ana.id)
        == 5
    )


def test_dashboard_lists_only_sharing_patients(client: TestClient, db: Database, scene: Scene) -> None:
    as_user(client, scene.ana)
    page = client.get("/therapist")
    assert page.status_code == 200
    assert "Pat Doe" in page.text
    for name in ("Quinn Roe", "Riley Poe"):
        assert name not in page.text
    assert "1 more patient on your care team isn" in page.text
    assert "Not shared" in page.text  # mood: Pat doesn't share it
    assert log_count(db, scene.pat, "dashboard") == 1
    assert db.scalar("SELECT count(*) FROM disclosure_log WHERE patient_id <> :p", p=scene.pat.id) == 0
    # htmx filter: only the rows come back; a filter matching nobody shows nobody (and logs nothing new).
    filtered = client.get("/therapist", params={"flag": "self_harm"}, headers={"HX-Request": "true"})
    assert filtered.status_code == 200 and "<html" not in filtered.text and "Pat Doe" not in filtered.text
    assert log_count(db, scene.pat, "dashboard") == 1
    bogus = client.get("/therapist", params={"flag": "'; DROP TABLE consent; --"})
    assert bogus.status_code == 200 and "Pat Doe" in bogus.text


@pytest.mark.parametrize(
    "path",
    [
        "/therapist/patients/{quinn}",
        "/therapist/patients/{quinn}?week=2026-W47",
        "/therapist/patients/{quinn}/weeks/2026-W47.pdf",
        "/therapist/patients/{quinn}/weeks/2026-W47.csv",
        "/therapist/patients/{riley}",
        "/therapist/patients/{riley}/weeks/2026-W47.csv",
        "/therapist/patients/{ben}",
        "/therapist/patients/999999",
        "/therapist/patients/{pat}?week=2026-W40",  # before the consent's first day
        "/therapist/patients/{pat}?week=2027-W10",  # the future
        "/therapist/patients/{pat}?week=2026-W99",
        "/therapist/patients/{pat}?week=..%2F..%2Fetc",
        "/therapist/patients/{pat}/weeks/2026-W40.pdf",
        "/therapist/patients/{pat}/weeks/2026-W47.exe",
        "/therapist/patients/{pat}/weeks/2026-W47.pdf.csv",
    ],
)
def test_probing_ids_and_weeks_finds_nothing(client: TestClient, db: Database, scene: Scene, path: str) -> None:
    as_user(client, scene.ana)
    url = path.format(quinn=scene.quinn.id, riley=scene.riley.id, ben=scene.ben.id, pat=scene.pat.id)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 404, url
        assert "Quinn" not in response.text and "Riley" not in response.text
    assert db.scalar("SELECT count(*) FROM disclosure_log") == 0


def test_other_therapists_and_clinics_see_nothing(client: TestClient, db: Database, scene: Scene) -> None:
    # A consent that somehow names a therapist of another clinic must not open anything either.
    async def smuggle(session: AsyncSession) -> None:
        now = utcnow()
        session.add(
            Consent(
                patient_id=scene.riley.id,
                recipient_id=scene.ana.id,
                recipient_kind="therapist",
                version=1,  # type: ignore[arg-type]
                categories=["mood_sleep"],
                purpose="x",
                data_from=date(2026, 11, 1),
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=10),
                wording="x",
                signature="Riley Poe",
                signed_at=now - timedelta(hours=1),
            )
        )

    db.run(smuggle)
    for viewer, patient in ((scene.ben, scene.pat), (scene.cy, scene.pat), (scene.ana, scene.riley)):
        as_user(client, viewer)
        assert client.get(f"/therapist/patients/{patient.id}").status_code == 404
        assert client.get(f"/therapist/patients/{patient.id}/weeks/{W47}.pdf").status_code == 404
        assert patient.display_name not in client.get("/therapist").text
        homework = post_form(client, f"/therapist/patients/{patient.id}/homework", {"card_id": "stop"})
        assert homework.status_code == 404
    assert db.scalar("SELECT count(*) FROM skill_assignment") == 0
    # Patients and family can't reach the therapist side at all.
    as_user(client, scene.pat)
    assert client.get("/therapist").status_code == 403
    assert client.get(f"/therapist/patients/{scene.pat.id}").status_code == 403


def test_revocation_takes_effect_on_the_next_request(client: TestClient, db: Database, scene: Scene) -> None:
    as_user(client, scene.ana)
    assert client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47}).status_code == 200
    as_user(client, scene.pat)
    revoked = post_form(client, f"/sharing/consent/{scene.consent_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/sharing?notice=revoked"
    as_user(client, scene.ana)
    assert client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47}).status_code == 404
    assert client.get(f"/therapist/patients/{scene.pat.id}/weeks/{W47}.csv").status_code == 404
    assert "Pat Doe" not in client.get("/therapist").text
    assert log_count(db, scene.pat, "summary_view") == 1  # only the view before revoking


def test_narrowing_removes_a_category_immediately(client: TestClient, db: Database, scene: Scene) -> None:
    as_user(client, scene.pat)
    narrowed = post_form(client, f"/sharing/consent/{scene.consent_id}/narrow", {"category": "cravings_triggers"})
    assert narrowed.headers["location"] == "/sharing?notice=narrowed"
    versions = db.scalar("SELECT count(*) FROM consent WHERE patient_id = :p", p=scene.pat.id)
    assert versions == 2
    wording = db.scalar("SELECT wording FROM consent WHERE patient_id = :p AND version = 2", p=scene.pat.id)
    assert "[x] Group attendance" in wording and "[ ] Cravings and triggers" in wording
    assert "This version narrows version 1" in wording
    as_user(client, scene.ana)
    page = client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47})
    assert page.status_code == 200
    assert "Group attendance" in page.text
    assert "Cravings and triggers" not in page.text and "strongest 9" not in page.text
    csv_text = client.get(f"/therapist/patients/{scene.pat.id}/weeks/{W47}.csv").content.decode("utf-8-sig")
    assert "Strongest craving" not in csv_text and "Boredom" not in csv_text


def test_expired_consent_opens_nothing(client: TestClient, db: Database, scene: Scene) -> None:
    old = db.make_user("patient", "old@example.org", name="Olive Old", therapist=scene.ana)
    add_rows(db, [checkin(old, date(2026, 11, 18), 5, 5)])
    share(db, old, scene.ana, data_from=date(2026, 9, 1), signed_at=utcnow() - timedelta(days=40), days=30)
    as_user(client, scene.ana)
    assert client.get(f"/therapist/patients/{old.id}").status_code == 404
    assert client.get(f"/therapist/patients/{old.id}/weeks/{W47}.pdf").status_code == 404
    assert "Olive Old" not in client.get("/therapist").text


def test_patient_sees_the_access_log(client: TestClient, db: Database, scene: Scene) -> None:
    as_user(client, scene.ana)
    client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47})
    client.get(f"/therapist/patients/{scene.pat.id}/weeks/{W47}.pdf")
    as_user(client, scene.pat)
    page = client.get("/sharing")
    assert page.status_code == 200
    assert "Dr. Ana" in page.text
    assert "viewed your weekly summary" in page.text
    assert "downloaded your weekly summary (PDF)" in page.text
    assert page.text.count(W47) >= 2
    # Three looks at the same week on the same day are one line, counted.
    as_user(client, scene.ana)
    client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47})
    client.get(f"/therapist/patients/{scene.pat.id}", params={"week": W47})
    as_user(client, scene.pat)
    assert "viewed your weekly summary (3 times that day)" in client.get("/sharing").text
