"""The lighter check-in rhythm alumni may choose: reminders only on the weekdays they picked, after their last day.

Check-ins themselves stay open every day; only the reminder follows the chosen days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.aftercare.models import ALL_DAYS, AftercarePlan
from server.schedule.discharge import latest_discharge


async def alumni_checkin_days(db: AsyncSession, user_ids: Iterable[int]) -> dict[int, tuple[str, date]]:
    """user id → (weekdays wanted, Monday = '0', last program day) for alumni who chose fewer days than all."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    chosen: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        rows = await db.execute(
            select(col(AftercarePlan.patient_id), col(AftercarePlan.checkin_days)).where(
                col(AftercarePlan.patient_id).in_(ids[start : start + 500]),
                col(AftercarePlan.checkin_days) != ALL_DAYS,
            )
        )
        chosen.update({pid: days for pid, days in rows})
    found: dict[int, tuple[str, date]] = {}
    for pid, days in chosen.items():  # only people who picked a lighter rhythm: few
        discharge = await latest_discharge(db, pid)
        if discharge is not None:
            found[pid] = (days, discharge.last_day)
    return found


def reminder_wanted(cadence: dict[int, tuple[str, date]], user_id: int, day: date) -> bool:
    found = cadence.get(user_id)
    if found is None:
        return True
    days, last_day = found
    return day <= last_day or str(day.weekday()) in days
