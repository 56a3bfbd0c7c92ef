"""Helpers for the family and milestone tests: link a family member with a signed consent, set a sobriety date,
run the detector, and read back what it recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server import localtime as dates
from server.accounts.models import FamilyLink, Role, User
from server.checkins.models import SobrietyDate
from server.consent.service import sign_consent
from server.db import utcnow
from server.family.models import KINDS, FamilyPreference
from server.milestones import EvaluationReport, evaluate_all, evaluate_patient
from tests.conftest import Database

ALL_KINDS: tuple[str, ...] = KINDS


def today_of(user: User, now: datetime | None = None) -> date:
    return dates.local_today(user, now)


def family_of(
    db: Database,
    patient: User,
    *,
    name: str = "Robin",
    kinds: Sequence[str] = ALL_KINDS,
    paused: bool = False,
    consent_days: int = 90,
    email: str | None = None,
    locale: str = "en",
) -> User:
    """A family member linked to `patient`, with a consent in force for `kinds` (none when empty)."""
    member = db.make_user(Role.FAMILY, email, name=name, patient=patient)

    async def work(session: AsyncSession) -> None:
        link = await session.scalar(
            select(FamilyLink).where(FamilyLink.patient_id == patient.id, FamilyLink.family_id == member.id)
        )
        assert link is not None
        person = await session.get(User, member.id)
        assert person is not None
        person.locale = locale
        if kinds:
            me = await session.get(User, patient.id)
            assert me is not None
            await sign_consent(
                session,
                patient=me,
                recipient=person,
                recipient_kind="family",
                categories=list(kinds),
                purpose="So they can share in my progress.",
                data_from=today_of(me),
                ends_at=utcnow() + timedelta(days=consent_days),
                wording="test consent",
                signature=me.display_name,
                now=utcnow() - timedelta(minutes=1),
            )
        session.add(FamilyPreference(link_id=link.id, kinds=list(kinds), paused=paused))  # type: ignore[arg-type]

    db.run(work)
    return member


def set_sober_since(db: Database, patient: User, started_on: date, substance: str = "") -> None:
    async def work(session: AsyncSession) -> None:
        row = await session.scalar(
            select(SobrietyDate).where(SobrietyDate.user_id == patient.id, SobrietyDate.substance == substance)
        )
        if row is None:
            session.add(SobrietyDate(user_id=patient.id, substance=substance, started_on=started_on))  # type: ignore[arg-type]
        else:
            row.started_on = started_on

    db.run(work)


def run_all(db: Database, now: datetime | None = None) -> EvaluationReport:
    async def work(session: AsyncSession) -> EvaluationReport:
        return await evaluate_all(session, now or utcnow())

    return db.run(work)


def run_patient(db: Database, patient: User, now: datetime | None = None) -> EvaluationReport:
    async def work(session: AsyncSession) -> EvaluationReport:
        return await evaluate_patient(session, patient.id, now or utcnow())  # type: ignore[arg-type]

    return db.run(work)


def milestones(db: Database, patient: User) -> list[tuple[str, str, str]]:
    """(kind, value, run_key) of every milestone recorded for the patient, oldest first."""

    async def work(session: AsyncSession) -> list[tuple[str, str, str]]:
        rows = await session.execute(
            text("SELECT kind, value, run_key FROM milestone WHERE patient_id = :p ORDER BY id"), {"p": patient.id}
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]

    return db.run(work)


def notifications(db: Database, member: User) -> list[tuple[str, str]]:
    """(kind, value) of every feed row of a family member."""

    async def work(session: AsyncSession) -> list[tuple[str, str]]:
        rows = await session.execute(
            text(
                "SELECT m.kind, m.value FROM family_notification n JOIN milestone m ON m.id = n.milestone_id "
                "WHERE n.family_id = :f ORDER BY n.id"
            ),
            {"f": member.id},
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]

    return db.run(work)


def count(db: Database, sql: str, **params: Any) -> int:
    return int(db.scalar(sql, **params) or 0)
