"""The consent package: versions, supersession, revocation, immutability, the § 2.31 wording and the form checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Role, User
from server.consent import (
    THERAPIST_CATEGORIES,
    Consent,
    ConsentFormSpec,
    ConsentTerms,
    ImmutableConsentError,
    active_consent,
    active_consents,
    allowed_categories,
    consents_for_patient,
    disclosures_for_patient,
    record_disclosure,
    record_disclosures,
    redisclosure_notice,
    revoke,
    sign_consent,
    validate_consent_form,
)
from server.consent.models import DisclosureLog
from tests.conftest import Database

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _terms() -> ConsentTerms:
    return ConsentTerms(
        patient_name="Sam Lee",
        discloser="Test Clinic",
        recipient_name="Dr. Rivera",
        recipient_description="therapist at Test Clinic",
        purpose="Treatment: to help plan my individual sessions.",
        options=THERAPIST_CATEGORIES,
    )


def _spec(today: date = date(2026, 11, 20), program_end: date | None = None) -> ConsentFormSpec:
    return ConsentFormSpec(action="/sharing/consent", terms=_terms(), today=today, program_end=program_end)


async def _sign(db: AsyncSession, patient: User, therapist: User, categories: list[str], now: datetime) -> Consent:
    patient = await db.get(User, patient.id)  # type: ignore[assignment]
    therapist = await db.get(User, therapist.id)  # type: ignore[assignment]
    return await sign_consent(
        db,
        patient=patient,
        recipient=therapist,
        recipient_kind="therapist",
        categories=categories,
        purpose="treatment",
        data_from=now.date(),
        ends_at=now + timedelta(days=30),
        wording="text",
        signature=patient.display_name,
        now=now,
    )


def test_versions_supersede_and_revoke(db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST)
    patient = db.make_user(Role.PATIENT, name="Sam Lee", therapist=therapist)

    async def work(session: AsyncSession) -> None:
        first = await _sign(session, patient, therapist, ["mood_sleep", "attendance"], NOW)
        assert first.version == 1
        later = NOW + timedelta(hours=1)
        second = await _sign(session, patient, therapist, ["mood_sleep"], later)
        assert second.version == 2
        await session.refresh(first)
        assert first.superseded_by_id == second.id
        # Before the second version existed the first was in force; after, only the narrower one counts.
        assert (await active_consent(session, patient.id, therapist.id, NOW + timedelta(minutes=5))).id == first.id  # type: ignore[union-attr,arg-type]
        assert await allowed_categories(session, patient.id, therapist.id, later) == {"mood_sleep"}  # type: ignore[arg-type]
        assert set(await active_consents(session, therapist.id, later)) == {patient.id}  # type: ignore[arg-type]
        revoked_at = later + timedelta(minutes=1)
        assert await revoke(session, patient_id=patient.id, consent_id=second.id, now=revoked_at) is not None  # type: ignore[arg-type]
        assert await active_consent(session, patient.id, therapist.id, revoked_at) is None  # type: ignore[arg-type]
        assert await active_consents(session, therapist.id, revoked_at) == {}  # type: ignore[arg-type]
        # Expiry: the period is [starts_at, ends_at).
        assert await active_consent(session, patient.id, therapist.id, NOW + timedelta(days=31)) is None  # type: ignore[arg-type]
        states = [row.state for row in await consents_for_patient(session, patient.id, now=revoked_at)]  # type: ignore[arg-type]
        assert states == ["revoked", "replaced"]

    db.run(work)


def test_revoke_someone_elses_consent_does_nothing(db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST)
    patient = db.make_user(Role.PATIENT, therapist=therapist)
    other = db.make_user(Role.PATIENT)

    async def work(session: AsyncSession) -> None:
        consent = await _sign(session, patient, therapist, ["attendance"], NOW)
        assert await revoke(session, patient_id=other.id, consent_id=consent.id) is None  # type: ignore[arg-type]
        assert await active_consent(session, patient.id, therapist.id, NOW + timedelta(minutes=1)) is not None  # type: ignore[arg-type]

    db.run(work)


def test_signed_consent_cannot_be_edited(db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST)
    patient = db.make_user(Role.PATIENT, therapist=therapist)

    async def sign(session: AsyncSession) -> int:
        return (await _sign(session, patient, therapist, ["attendance"], NOW)).id  # type: ignore[return-value]

    consent_id = db.run(sign)

    async def tamper(session: AsyncSession) -> None:
        consent = await session.get(Consent, consent_id)
        assert consent is not None
        consent.categories = ["attendance", "notes"]
        session.add(consent)
        await session.flush()

    with pytest.raises(ImmutableConsentError):
        db.run(tamper)

    async def check(session: AsyncSession) -> list[str]:
        return (await session.scalar(select(Consent).where(Consent.id == consent_id))).categories  # type: ignore[union-attr]

    assert db.run(check) == ["attendance"]


def test_other_clinic_and_bad_periods_are_refused(db: Database) -> None:
    clinic2 = db.make_clinic("Other Clinic", clinic_id=2)
    therapist = db.make_user(Role.THERAPIST)
    outsider = db.make_user(Role.THERAPIST, clinic_id=clinic2.id)
    patient = db.make_user(Role.PATIENT)

    async def work(session: AsyncSession) -> None:
        with pytest.raises(ValueError):
            await _sign(session, patient, outsider, ["attendance"], NOW)
        with pytest.raises(ValueError):
            await _sign(session, patient, therapist, [], NOW)
        p = await session.get(User, patient.id)
        t = await session.get(User, therapist.id)
        with pytest.raises(ValueError):
            await sign_consent(
                session,
                patient=p,
                recipient=t,
                recipient_kind="therapist",
                categories=["attendance"],  # type: ignore[arg-type]
                purpose="x",
                data_from=NOW.date(),
                ends_at=NOW + timedelta(days=400),
                wording="x",
                signature="x",
                now=NOW,
            )

    db.run(work)


def test_disclosure_log_round_trip(db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, name="Dr. Rivera")
    patient = db.make_user(Role.PATIENT, therapist=therapist)

    async def work(session: AsyncSession) -> None:
        viewer = await session.get(User, therapist.id)
        await record_disclosure(
            session, patient_id=patient.id, viewer=viewer, kind="summary_view", subject="2026-W47", at=NOW
        )  # type: ignore[arg-type]
        await record_disclosure(
            session,
            patient_id=patient.id,
            viewer=viewer,
            kind="export_pdf",
            subject="2026-W47",
            at=NOW + timedelta(minutes=1),
        )  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await record_disclosure(session, patient_id=patient.id, viewer=viewer, kind="peek")  # type: ignore[arg-type]
        entries = await disclosures_for_patient(session, patient.id)  # type: ignore[arg-type]
        assert [(e.kind, e.viewer_name, e.subject) for e in entries] == [
            ("export_pdf", "Dr. Rivera", "2026-W47"),
            ("summary_view", "Dr. Rivera", "2026-W47"),
        ]

    db.run(work)


def test_many_disclosures_are_logged_in_one_statement_row_for_row(db: Database) -> None:
    """The dashboard's log: a row per patient shown, each with its own subject (cut to the column's 80), the viewer
    and the moment, in one INSERT (on PostgreSQL the rows travel as arrays), on both databases."""
    therapist = db.make_user(Role.THERAPIST, name="Dr. Rivera")
    patients = [db.make_user(Role.PATIENT, therapist=therapist) for _ in range(3)]
    shown = [(patients[0].id, None, "2026-W47"), (patients[1].id, None, "x" * 200), (patients[2].id, None, "")]

    async def work(session: AsyncSession) -> list[tuple[int, str, str, datetime, int | None, int | None]]:
        viewer = await session.get(User, therapist.id)
        statements: list[str] = []

        def heard(_connection: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
            statements.append(sql)

        engine = session.bind.sync_engine  # type: ignore[union-attr]
        event.listen(engine, "before_cursor_execute", heard)
        try:
            written = await record_disclosures(session, shown, viewer=viewer, kind="dashboard", at=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", heard)
        assert written == 3 and len([s for s in statements if s.startswith("INSERT")]) == 1
        rows = await session.execute(
            select(col(DisclosureLog.patient_id), col(DisclosureLog.viewer_name), col(DisclosureLog.subject),
                   col(DisclosureLog.at), col(DisclosureLog.consent_id), col(DisclosureLog.viewer_id))
            .where(col(DisclosureLog.kind) == "dashboard").order_by(col(DisclosureLog.patient_id))
        )  # fmt: skip
        return [tuple(row) for row in rows]  # type: ignore[misc]

    assert db.run(work) == [
        (patients[0].id, "Dr. Rivera", "2026-W47", NOW, None, therapist.id),
        (patients[1].id, "Dr. Rivera", "x" * 80, NOW, None, therapist.id),
        (patients[2].id, "Dr. Rivera", "", NOW, None, therapist.id),
    ]


def _patient(name: str = "Sam Lee") -> User:
    return User(
        id=5,
        clinic_id=1,
        email="s@example.org",
        display_name=name,
        role=Role.PATIENT,
        password_hash="x",
        timezone="America/New_York",
    )


def test_form_checks_name_dates_and_categories() -> None:
    spec = _spec()
    result = validate_consent_form(
        {"categories": [], "until": "date", "ends_on": "2026-11-19", "signature": " - "}, spec, _patient()
    )
    assert set(result.errors) == {"categories", "ends_on", "signature"}
    assert result.values["signature"] == "-"
    too_far = validate_consent_form(
        {"categories": ["mood_sleep"], "until": "date", "ends_on": "2027-11-20", "signature": "sam lee"},
        spec,
        _patient(),
    )
    assert set(too_far.errors) == {"ends_on"}
    smuggled = validate_consent_form(
        {"categories": ["mood_sleep", "passwords"], "until": "date", "ends_on": "2027-01-01", "signature": "SAM  LEE"},
        spec,
        _patient(),
    )
    assert set(smuggled.errors) == {"categories"}
    no_program = validate_consent_form(
        {"categories": ["mood_sleep"], "until": "program", "signature": "Sam Lee"}, spec, _patient()
    )
    assert set(no_program.errors) == {"until"}


def test_form_builds_the_full_section_2_31_wording() -> None:
    result = validate_consent_form(
        {"categories": ["mood_sleep", "substance_use"], "until": "program", "signature": " sam   lee "},
        _spec(program_end=date(2027, 2, 14)),
        _patient(),
    )
    assert result.errors == {}
    choice = result.choice
    assert choice is not None and choice.until_program_end and choice.ends_on == date(2027, 2, 14)
    # The consent lasts all of the last local day (New York), i.e. until 05:00 UTC the next morning.
    assert choice.ends_at == datetime(2027, 2, 15, 5, 0, tzinfo=UTC)
    text = choice.wording
    for element in (
        "Sam Lee",  # the patient
        "Test Clinic, through the Steady app",  # who discloses
        "Dr. Rivera, therapist at Test Clinic",  # the recipient
        "[x] Mood and sleep",
        "[x] Substance use",
        "[ ] My free-text notes",
        "substance use",  # said plainly
        "Treatment",  # purpose
        "at the end of my program, on February 14, 2027",  # until when
        "revoke this consent at any time, in one tap",  # the right to revoke and how
        "can't undo what was already seen",  # the exception
        "doesn't depend on it",
        "Signed electronically by typing my name: sam lee, on November 20, 2026",  # signature and date
    ):
        assert element in text, element


def test_program_end_is_capped_at_one_year() -> None:
    result = validate_consent_form(
        {"categories": ["attendance"], "until": "program", "signature": "Sam Lee"},
        _spec(program_end=date(2028, 6, 1)),
        _patient(),
    )
    assert result.choice is not None and result.choice.ends_on == date(2027, 11, 19)


def test_redisclosure_notice_is_verbatim() -> None:
    notice = redisclosure_notice()
    assert notice.startswith(
        "This information has been disclosed to you from records protected by federal confidentiality rules "
        "(42 CFR part 2)."
    )
    assert notice.endswith("except as provided at §§ 2.12(c)(5) and 2.65.")
    assert "NOT sufficient for this purpose (see § 2.31)" in notice
