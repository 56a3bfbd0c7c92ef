"""Progress figures, computed in SQL over the requested range only (a year of history is never loaded whole).

Public functions (the sharing engineer's weekly summaries can build on these):

* :func:`daily_points` — one :class:`DayPoint` per local date in a range (mood, craving, used, craving logs)
* :func:`range_summary` — check-in days, days used / not used, averages, craving-log outcomes in a range
* :func:`top_triggers` — the most frequent triggers in a range with their average craving
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Date, Float, Integer, Select, bindparam, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.checkins import measures
from server.checkins.measures import Measure
from server.checkins.models import CheckIn, CravingLog, TriggerHit
from server.checkins.triggers import TriggerSet, preference_reads, set_from
from server.db import as_date, compose, from_json, json_rows, read_composed, table_of
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
    values: dict[str, Any] = field(default_factory=dict)  # the Progress measures' answers (measures.on_progress)

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
    measures: tuple[tuple[Measure, Any], ...] = ()  # each Progress measure with its aggregate over the range


@dataclass(frozen=True)
class TriggerStat:
    trigger_id: str
    label: str
    count: int
    avg_craving: float


def _days(
    model: type[CheckIn] | type[CravingLog] | type[TriggerHit], user_id: int | Any, start: date | Any, end: date | Any
) -> tuple[ColumnElement[bool], ...]:
    """One person's rows from start to end (local days, inclusive)."""
    day = col(model.local_date)
    return (col(model.user_id) == user_id, day >= start, day <= end)


def _column(measure: Measure) -> ColumnElement[Any]:
    column: ColumnElement[Any] = table_of(CheckIn).c[measure.name]
    return column


async def daily_points(db: AsyncSession, user_id: int, start: date, end: date) -> list[DayPoint]:
    """One point per date from start to end (inclusive); days without a check-in have None values."""
    shown = measures.on_progress()
    checkins = (
        await db.execute(
            select(
                col(CheckIn.local_date),
                col(CheckIn.id),
                col(CheckIn.mood),
                col(CheckIn.craving),
                col(CheckIn.used),
                col(CheckIn.late),
                *(_column(m) for m in shown),
            ).where(*_days(CheckIn, user_id, start, end))
        )
    ).all()
    logs = (
        await db.execute(
            select(
                col(CravingLog.local_date),
                func.count(col(CravingLog.id)).label("logs"),
                func.max(col(CravingLog.intensity)).label("peak"),
            )
            .where(*_days(CravingLog, user_id, start, end))
            .group_by(col(CravingLog.local_date))
        )
    ).all()
    log_days = [(row.local_date, int(row.logs), row.peak) for row in logs]
    return _points([dict(row._mapping) for row in checkins], log_days, start, end)


def _points(
    checkins: list[dict[str, Any]], logs: list[tuple[date, int, int | None]], start: date, end: date
) -> list[DayPoint]:
    shown = measures.on_progress()
    by_day = {row["local_date"]: row for row in checkins}
    log_by_day = {day: (count, peak) for day, count, peak in logs}
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
                    checkin_id=row["id"],
                    mood=row["mood"],
                    craving=row["craving"],
                    used=bool(row["used"]),
                    late=bool(row["late"]),
                    craving_logs=count,
                    max_logged=peak,
                    values={m.name: row[m.name] for m in shown},
                )
            )
    return points


def _as_int(flag: bool | None) -> ColumnElement[int]:
    return case((col(flag) == True, 1), else_=0)  # noqa: E712  (SQL expression, not a Python comparison)


def _aggregate(measure: Measure) -> ColumnElement[Any]:
    """The measure's aggregate over a range, in SQL (ignoring days it wasn't answered); "last" is read apart."""
    column = _column(measure)
    if measure.aggregate == "mean":
        return func.avg(cast(column, Float)).label(measure.name)
    if measure.aggregate == "sum":
        return func.sum(column).label(measure.name)
    if measure.aggregate == "any":
        return func.max(case((column.is_(None), None), (column == True, 1), else_=0)).label(measure.name)  # noqa: E712
    if measure.aggregate == "count":
        # Days answered with something other than "none"; None when the question was never answered.
        answered = case((column.is_(None), None), (column == "", None), (column == measure.none, 0), else_=1)
        return func.sum(answered).label(measure.name)
    return func.max(column).label(measure.name)


async def _measure_figures(db: AsyncSession, user_id: int, start: date, end: date) -> tuple[tuple[Measure, Any], ...]:
    shown = measures.on_progress()
    if not shown:
        return ()
    in_range = _days(CheckIn, user_id, start, end)
    row = (await db.execute(select(*(_aggregate(m) for m in shown if m.aggregate != "last")).where(*in_range))).one()
    figures: list[tuple[Measure, Any]] = []
    for m in shown:
        if m.aggregate == "last":
            value = await db.scalar(
                select(_column(m))
                .where(*in_range, _column(m).is_not(None))
                .order_by(col(CheckIn.local_date).desc())
                .limit(1)
            )
        else:
            value = _figure(m, row._mapping[m.name])
        figures.append((m, value))
    return tuple(figures)


async def range_summary(db: AsyncSession, user_id: int, start: date, end: date) -> RangeSummary:
    row = (
        await db.execute(
            select(
                func.count(col(CheckIn.id)).label("checkins"),
                func.coalesce(func.sum(_as_int(CheckIn.used)), 0).label("used"),
                func.coalesce(func.sum(_as_int(CheckIn.late)), 0).label("late"),
                func.avg(cast(CheckIn.mood, Integer)).label("mood"),
                func.avg(cast(CheckIn.craving, Integer)).label("craving"),
            ).where(*_days(CheckIn, user_id, start, end))
        )
    ).one()
    logs = (
        await db.execute(
            select(
                func.count(col(CravingLog.id)).label("logs"),
                func.coalesce(func.sum(case((col(CravingLog.outcome) == "passed", 1), else_=0)), 0).label("passed"),
                func.coalesce(func.sum(case((col(CravingLog.outcome) == "used", 1), else_=0)), 0).label("used"),
            ).where(*_days(CravingLog, user_id, start, end))
        )
    ).one()
    return _summary(
        {**dict(row._mapping), "logs": logs.logs, "passed": logs.passed, "used_logs": logs.used},
        start,
        end,
        await _measure_figures(db, user_id, start, end),
    )


def _summary(row: dict[str, Any], start: date, end: date, figures: tuple[tuple[Measure, Any], ...]) -> RangeSummary:
    days = (end - start).days + 1
    checkin_days, used_days = int(row["checkins"]), int(row["used"] or 0)
    return RangeSummary(
        start=start,
        end=end,
        days=days,
        checkin_days=checkin_days,
        used_days=used_days,
        not_used_days=checkin_days - used_days,
        missing_days=days - checkin_days,
        avg_mood=float(row["mood"]) if row["mood"] is not None else None,
        avg_craving=float(row["craving"]) if row["craving"] is not None else None,
        craving_logs=int(row["logs"]),
        cravings_passed=int(row["passed"] or 0),
        cravings_used=int(row["used_logs"] or 0),
        late_days=int(row["late"] or 0),
        measures=figures,
    )


def _figure(measure: Measure, value: Any) -> Any:
    if measure.aggregate == "any" and value is not None:
        return bool(value)
    if measure.aggregate != "last" and isinstance(value, float | int) and not isinstance(value, bool):
        return round(float(value), 1)
    return value


async def top_triggers(
    db: AsyncSession, user_id: int, start: date, end: date, labels: TriggerSet, limit: int = 5
) -> list[TriggerStat]:
    """Triggers ticked on check-ins and craving logs in the range, most frequent first, with the average
    craving (the check-in's craving, or the craving log's intensity) when they were ticked."""
    count = func.count(col(TriggerHit.id))
    rows = (
        await db.execute(
            select(
                col(TriggerHit.trigger_id),
                count.label("times"),
                func.avg(cast(TriggerHit.intensity, Integer)).label("avg"),
            )
            .where(*_days(TriggerHit, user_id, start, end))
            .group_by(TriggerHit.trigger_id)
            .order_by(count.desc(), TriggerHit.trigger_id)
            .limit(limit)
        )
    ).all()
    return [
        TriggerStat(row.trigger_id, labels.label(row.trigger_id), int(row.times), round(float(row.avg), 1))
        for row in rows
    ]


# The Progress page's range reads in ONE statement, built once and bound per request (`page_params`): the daily
# points and craving logs as JSON lists, every summary figure as a typed scalar subquery, the top triggers and the
# sober counters.
_USER = bindparam("progress_user", type_=Integer())
_START = bindparam("progress_start", type_=Date())
_END = bindparam("progress_end", type_=Date())


def _scalar(expression: ColumnElement[Any], model: type[CheckIn] | type[CravingLog]) -> ColumnElement[Any]:
    return select(expression).where(*_days(model, _USER, _START, _END)).scalar_subquery()


@functools.cache
def _page_statement() -> Select[Any]:
    from server.checkins.sober import counter_reads  # sober imports progress's neighbours

    shown = measures.on_progress()
    in_range = _days(CheckIn, _USER, _START, _END)
    reads: dict[str, ColumnElement[Any]] = {
        "points_checkins": json_rows(
            select(
                col(CheckIn.local_date).label("local_date"),
                col(CheckIn.id).label("id"),
                col(CheckIn.mood).label("mood"),
                col(CheckIn.craving).label("craving"),
                col(CheckIn.used).label("used"),
                col(CheckIn.late).label("late"),
                *(_column(m).label(m.name) for m in shown),
            ).where(*in_range)
        ),
        "points_logs": json_rows(
            select(
                col(CravingLog.local_date).label("local_date"),
                func.count(col(CravingLog.id)).label("logs"),
                func.max(col(CravingLog.intensity)).label("peak"),
            )
            .where(*_days(CravingLog, _USER, _START, _END))
            .group_by(col(CravingLog.local_date))
        ),
        "checkins": _scalar(func.count(col(CheckIn.id)), CheckIn),
        "used": _scalar(func.coalesce(func.sum(_as_int(CheckIn.used)), 0), CheckIn),
        "late": _scalar(func.coalesce(func.sum(_as_int(CheckIn.late)), 0), CheckIn),
        "mood": _scalar(func.avg(cast(CheckIn.mood, Integer)), CheckIn),
        "craving": _scalar(func.avg(cast(CheckIn.craving, Integer)), CheckIn),
        "logs": _scalar(func.count(col(CravingLog.id)), CravingLog),
        "passed": _scalar(func.sum(case((col(CravingLog.outcome) == "passed", 1), else_=0)), CravingLog),
        "used_logs": _scalar(func.sum(case((col(CravingLog.outcome) == "used", 1), else_=0)), CravingLog),
        "top_triggers": json_rows(
            select(
                col(TriggerHit.trigger_id).label("trigger_id"),
                func.count(col(TriggerHit.id)).label("times"),
                func.avg(cast(TriggerHit.intensity, Integer)).label("avg"),
            )
            .where(*_days(TriggerHit, _USER, _START, _END))
            .group_by(TriggerHit.trigger_id)
        ),
        **counter_reads(_USER),
        **preference_reads(_USER),  # the trigger list, for the top triggers' names
    }
    for m in shown:
        if m.aggregate == "last":
            reads[f"measure_{m.name}"] = (
                select(_column(m))
                .where(*in_range, _column(m).is_not(None))
                .order_by(col(CheckIn.local_date).desc())
                .limit(1)
                .scalar_subquery()
            )
        else:
            reads[f"measure_{m.name}"] = select(_aggregate(m)).where(*in_range).scalar_subquery()
    return compose(reads)


@dataclass(frozen=True)
class PageFigures:
    series: list[DayPoint]
    summary: RangeSummary
    top: list[TriggerStat]
    values: dict[str, Any]  # the raw values, for the sober counters (sober.counters_from)


async def page_figures(db: AsyncSession, user_id: int, start: date, end: date) -> PageFigures:
    """`daily_points`, `range_summary` and `top_triggers` for the Progress page, in one statement."""
    params = {"progress_user": user_id, "progress_start": start, "progress_end": end}
    values = await read_composed(db, _page_statement(), params)
    labels = set_from(values)
    checkins = [
        {field: getattr(c, field) for field in ("local_date", "id", "mood", "craving", "used", "late")}
        | {m.name: getattr(c, m.name) for m in measures.on_progress()}
        for c in from_json(CheckIn, values["points_checkins"])
    ]
    logs = [(as_date(r["local_date"]), int(r["logs"]), r["peak"]) for r in values["points_logs"]]
    figures = tuple((m, _figure(m, values[f"measure_{m.name}"])) for m in measures.on_progress())
    ranked = sorted(values["top_triggers"], key=lambda r: (-int(r["times"]), r["trigger_id"]))[:5]
    top = [
        TriggerStat(r["trigger_id"], labels.label(r["trigger_id"]), int(r["times"]), round(float(r["avg"]), 1))
        for r in ranked
    ]
    return PageFigures(_points(checkins, logs, start, end), _summary(values, start, end, figures), top, values)


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
