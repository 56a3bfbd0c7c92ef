"""Helpers shared by the sharing tests (no tests here): people, consents and a week of data arranged directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.checkins.models import CheckIn, CravingLog, SobrietyDate, TriggerHit
from server.consent.models import Consent
from server.consent.service import sign_consent
from server.db import utcnow
from server.schedule.models import Attendance
from server.skills.models import SkillAssignment, SkillPractice
from tests.conftest import Database

ALL_CATEGORIES = [
    "mood_sleep",
    "cravings_triggers",
    "substance_use",
    "diary_card",
    "skill_practice",
    "attendance",
    "notes",
    "questionnaires",
]


def key() -> str:
    return uuid.uuid4().hex


def local(tz: str, day: date, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock time as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def share(
    db: Database,
    patient: User,
    therapist: User,
    categories: Iterable[str] = ALL_CATEGORIES,
    *,
    data_from: date | None = None,
    signed_at: datetime | None = None,
    days: int = 90,
) -> int:
    """Sign a consent directly (the HTTP flow has its own tests); returns its id."""

    async def work(session: AsyncSession) -> int:
        p = await session.get(User, patient.id)
        t = await session.get(User, therapist.id)
        now = signed_at or utcnow() - timedelta(minutes=1)
        consent = await sign_consent(
            session,
            patient=p,  # type: ignore[arg-type]
            recipient=t,  # type: ignore[arg-type]
            recipient_kind="therapist",
            categories=list(categories),
            purpose="Treatment",
            data_from=data_from or date(2026, 1, 1),
            ends_at=now + timedelta(days=days),
            wording="(test consent)",
            signature=p.display_name,  # type: ignore[union-attr]
            now=now,
        )
        return consent.id  # type: ignore[return-value]

    return db.run(work)


def consent_row(db: Database, consent_id: int) -> Consent:
    async def work(session: AsyncSession) -> Consent:
        return await session.get(Consent, consent_id)  # type: ignore[return-value]

    return db.run(work)


def add_rows(db: Database, rows: Iterable[Any]) -> None:
    async def work(session: AsyncSession) -> None:
        for row in rows:
            session.add(row)
            await session.flush()
            if isinstance(row, CheckIn):
                for trigger in row.triggers:
                    session.add(
                        TriggerHit(
                            user_id=row.user_id,
                            local_date=row.local_date,
                            trigger_id=trigger,
                            intensity=row.craving,
                            checkin_id=row.id,
                        )
                    )
            if isinstance(row, CravingLog):
                for trigger in row.triggers:
                    session.add(
                        TriggerHit(
                            user_id=row.user_id,
                            local_date=row.local_date,
                            trigger_id=trigger,
                            intensity=row.intensity,
                            craving_id=row.id,
                        )
                    )

    db.run(work)


def checkin(user: User, day: date, mood: int, craving: int, **fields: Any) -> CheckIn:
    return CheckIn(user_id=user.id, local_date=day, mood=mood, craving=craving, idempotency_key=key(), **fields)  # type: ignore[arg-type]


def craving_log(user: User, at: datetime, day: date, intensity: int, **fields: Any) -> CravingLog:
    return CravingLog(
        user_id=user.id,  # type: ignore[arg-type]
        occurred_at=at,
        local_date=day,
        intensity=intensity,
        action=fields.pop("action", "nothing"),
        idempotency_key=key(),
        payload_hash="x",
        **fields,
    )


def practice(user: User, at: datetime, card: str, before: int | None = None, after: int | None = None) -> SkillPractice:
    return SkillPractice(
        user_id=user.id,  # type: ignore[arg-type]
        card_id=card,
        started_at=at,
        ended_at=at + timedelta(minutes=5),
        distress_before=before,
        distress_after=after,
        idempotency_key=key(),
        created_at=at + timedelta(minutes=5),
    )


def assignment(
    patient: User, therapist: User, card: str, assigned: datetime, done: datetime | None = None
) -> SkillAssignment:
    return SkillAssignment(
        patient_id=patient.id,
        therapist_id=therapist.id,
        card_id=card,
        assigned_at=assigned,  # type: ignore[arg-type]
        completed_at=done,
    )


def mark(patient: User, occurrence: str, at: datetime, status: str) -> Attendance:
    return Attendance(patient_id=patient.id, occurrence_id=occurrence, starts_at=at, status=status)  # type: ignore[arg-type]


def sober_since(user: User, day: date) -> SobrietyDate:
    return SobrietyDate(user_id=user.id, substance="", started_on=day)  # type: ignore[arg-type]
