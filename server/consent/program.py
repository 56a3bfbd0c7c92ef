"""The patient's current program, for "from the start of my program" and "until the end of my program"."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.db import pk
from server.schedule import logic as schedule


async def program_bounds(db: AsyncSession, patient: User, today: date) -> tuple[date | None, date | None]:
    """(start, last day) of the enrolment the patient is in or about to start, as local dates; (None, None)
    when there is none. The end is computed now, at signing, and stored on the consent as a date."""
    assert patient.id is not None
    pairs = await schedule.enrolments_with_programs(db, patient.id)
    if not pairs:
        return None, None
    data = await schedule.load_programs(db, {p.id: p for _e, p in pairs}.values(), with_changes=False)
    best: tuple[date, date] | None = None
    for enrolment, program in pairs:
        if enrolment.status == "discharged":
            continue
        item = data.get(pk(program))
        if item is None:
            continue
        end = schedule.last_day(enrolment, item.weeks)
        if end is None or end < today:
            continue
        if best is None or enrolment.start_date > best[0]:
            best = (enrolment.start_date, end)
    return best if best is not None else (None, None)


async def end_consents_with_program(db: AsyncSession, patient_id: int, last_day: date) -> None:
    """Listener for a discharge (`server.schedule.events`): "until the end of my program" consents end that day."""
    from server.consent.service import end_with_program

    patient = await db.get(User, patient_id)
    if patient is not None:
        await end_with_program(db, patient, last_day)
