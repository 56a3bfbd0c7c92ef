"""Progress figures, computed in SQL over the requested range only (a year of history is never loaded whole).

Public functions (the sharing engineer's weekly summaries can build on these):

* :func:`daily_points` — one :class:`DayPoint` per local date in a range (mood, craving, used, craving logs)
* :func:`range_summary` — check-in days, days used / not used, averages, craving-log outcomes in a range
* :func:`top_triggers` — the most frequent triggers in a range with their average craving
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Integer, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.checkins.models import CheckIn, CravingLog, TriggerHit
from server.checkins.triggers import TriggerSet
from server.localtime import date_range

RANGES = (7, 30, 90)


@dataclass(frozen=True)
class DayPoint:
    day: date
    checkin_id: int | None = None
    mood: int | None = None
    craving: int | None = None
    used: bool | None = None
    late: bool = False
    craving_logs: int = 0
    max_logged: int | None = None

    @property
    def checked_in(self) -> bool:
        return self.checkin_id is not None


@dataclass(frozen=True)
class RangeSummary:
    start: date
    end: date
    days: int
    checkin_days: int
    used_days: int
    not_used_days: int
    missing_days: int
    avg_mood: float | None
    avg_craving: float | None
    craving_logs: int
    cravings_passed: int
    cravings_used: int
    late_days: int


@dataclass(frozen=True)
class TriggerStat:
    trigger_id: str
    label: str
    count: int
    avg_craving: float


async def daily_points(db: AsyncSession, user_id: int, start: date, end: date) -> list[DayPoint]:
    """One point per date from start to end (inclusive); days without a check-in have None values."""
    checkins = (
        await db.execute(
            select(CheckIn.local_date, CheckIn.id, CheckIn.mood, CheckIn.craving, CheckIn.used, CheckIn.late).where(
                CheckIn.user_id == user_id, CheckIn.local_date >= start, CheckIn.local_date <= end
            )
        )
    ).all()
    logs = (
        await db.execute(
            select(CravingLog.local_date, func.count(CravingLog.id), func.max(CravingLog.intensity))
            .where(CravingLog.user_id == user_id, CravingLog.local_date >= start, CravingLog.local_date <= end)
            .group_by(CravingLog.local_date)
        )
    ).all()
    by_day = {row[0]: row for row in checkins}
    log_by_day = {row[0]: (int(row[1]), row[2]) for row in logs}
    points = []
    for day in date_range(start, end):
        count, peak = log_by_day.get(day, (0, None))
        row = by_day.get(day)
        if row is None:
            points.append(DayPoint(day=day, craving_logs=count, max_logged=peak))
        else:
            points.append(
                DayPoint(
                    day=day,
                    checkin_id=row[1],
                    mood=row[2],
                    craving=row[3],
                    used=bool(row[4]),
                    late=bool(row[5]),
                    craving_logs=count,
                    max_logged=peak,
                )
            )
    return points


def _as_int(flag: object) -> object:
    return case((flag == True, 1), else_=0)  # noqa: E712  (SQL expression, not a Python comparison)


async def range_summary(db: AsyncSession, user_id: int, start: date, end: date) -> RangeSummary:
    row = (
        await db.execute(
            select(
                func.count(CheckIn.id),
                func.coalesce(func.sum(_as_int(CheckIn.used)), 0),
                func.coalesce(func.sum(_as_int(CheckIn.late)), 0),
                func.avg(cast(CheckIn.mood, Integer)),
                func.avg(cast(CheckIn.craving, Integer)),
            ).where(CheckIn.user_id == user_id, CheckIn.local_date >= start, CheckIn.local_date <= end)
        )
    ).one()
    logs = (
        await db.execute(
            select(
                func.count(CravingLog.id),
                func.coalesce(func.sum(case((CravingLog.outcome == "passed", 1), else_=0)), 0),
                func.coalesce(func.sum(case((CravingLog.outcome == "used", 1), else_=0)), 0),
            ).where(CravingLog.user_id == user_id, CravingLog.local_date >= start, CravingLog.local_date <= end)
        )
    ).one()
    days = (end - start).days + 1
    checkin_days, used_days = int(row[0]), int(row[1])
    return RangeSummary(
        start=start,
        end=end,
        days=days,
        checkin_days=checkin_days,
        used_days=used_days,
        not_used_days=checkin_days - used_days,
        missing_days=days - checkin_days,
        avg_mood=float(row[3]) if row[3] is not None else None,
        avg_craving=float(row[4]) if row[4] is not None else None,
        craving_logs=int(logs[0]),
        cravings_passed=int(logs[1]),
        cravings_used=int(logs[2]),
        late_days=int(row[2]),
    )


async def top_triggers(
    db: AsyncSession, user_id: int, start: date, end: date, labels: TriggerSet, limit: int = 5
) -> list[TriggerStat]:
    """Triggers ticked on check-ins and craving logs in the range, most frequent first, with the average
    craving (the check-in's craving, or the craving log's intensity) when they were ticked."""
    count = func.count(TriggerHit.id)
    rows = (
        await db.execute(
            select(TriggerHit.trigger_id, count, func.avg(cast(TriggerHit.intensity, Integer)))
            .where(TriggerHit.user_id == user_id, TriggerHit.local_date >= start, TriggerHit.local_date <= end)
            .group_by(TriggerHit.trigger_id)
            .order_by(count.desc(), TriggerHit.trigger_id)
            .limit(limit)
        )
    ).all()
    return [TriggerStat(tid, labels.label(tid), int(n), round(float(avg), 1)) for tid, n, avg in rows]


def range_start(end: date, days: int) -> date:
    return end - timedelta(days=days - 1)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def month_weeks(points: dict[date, DayPoint], year: int, month: int, today: date) -> list[list[DayPoint | None]]:
    """A Monday-first calendar grid for one month; None pads the first and last weeks."""
    first, last = month_bounds(year, month)
    weeks: list[list[DayPoint | None]] = []
    week: list[DayPoint | None] = [None] * first.weekday()
    for day in date_range(first, last):
        week.append(points.get(day, DayPoint(day=day)))
        if len(week) == 7:
            weeks.append(week)
            week = []
    if week:
        weeks.append(week + [None] * (7 - len(week)))
    return weeks
