"""Questionnaires to come, for the patient's own export (JSON and zip); the answers themselves come from
`controllers.export_section`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.localtime import local_today
from server.questionnaires.service import due_for, schedules_for


async def upcoming_section(db: AsyncSession, patient: User) -> dict[str, Any]:
    today = local_today(patient)
    due = {d.instrument.code: d.due_on for d in await due_for(db, patient, today)}
    upcoming = []
    for schedule in await schedules_for(db, patient):
        upcoming_on = schedule.next_on(today)
        upcoming.append(
            {
                "instrument": schedule.instrument,
                "cadence": schedule.cadence,
                "due_on": due[schedule.instrument].isoformat() if schedule.instrument in due else None,
                "next_due_on": upcoming_on.isoformat() if upcoming_on else None,
            }
        )
    return {"questionnaires_upcoming": upcoming}
