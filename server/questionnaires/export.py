"""Questionnaires in the patient's own export (JSON and zip): every completed one as stored, and what comes next."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.localtime import local_today
from server.questionnaires.models import Response
from server.questionnaires.service import due_for, schedules_for


async def export_section(db: AsyncSession, patient: User) -> dict[str, Any]:
    today = local_today(patient)
    rows = await db.scalars(
        select(Response)
        .where(col(Response.user_id) == patient.id, col(Response.status) == "complete")
        .order_by(col(Response.completed_at), col(Response.id))
    )
    done = [
        {
            "id": r.id,
            "instrument": r.instrument,
            "instrument_version": r.instrument_version,
            "local_date": r.local_date.isoformat() if r.local_date else None,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
            "total": r.total,
            "answers": r.answers,
            "score": r.score,
        }
        for r in rows
    ]
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
    return {"questionnaires": done, "questionnaires_upcoming": upcoming}
