"""Sober-days counters: an optional sobriety date per patient (and per substance if they want), resets after a
recorded use (only once the patient confirms), the longest run, and a history of resets with notes.

Public functions other domains may call:

* :func:`sober_days` — whole local days from a sobriety date to a local day (DST-proof: date arithmetic)
* :func:`sober_counters` — every counter of a patient with today's count and the longest run
* :func:`milestone_for` / :data:`MILESTONES` — whether a day count is a milestone worth celebrating
* :func:`milestones_reached` — milestones a patient reached on a given local day (for family notifications)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server import localtime as dates
from server.accounts.models import User
from server.checkins.models import SoberReset, SobrietyDate
from server.db import as_date, compose, from_json, json_rows, pk, read_composed, table_of, utcnow
from server.i18n import gettext as _

#: Day counts worth celebrating; every whole year after the first is one too (see :func:`milestone_for`).
MILESTONES: tuple[int, ...] = (1, 7, 14, 30, 60, 90, 180, 270, 365, 500, 1000)
EARLIEST = date(1950, 1, 1)


@dataclass(frozen=True)
class SoberCounter:
    id: int
    substance: str  # '' = overall / all substances
    started_on: date
    days: int
    longest_days: int
    resets: int

    @property
    def label(self) -> str:
        return self.substance or _("Overall")


def sober_days(started_on: date, today: date) -> int:
    """Days sober: (local today − sobriety date), never negative. The day of the date itself counts as 0."""
    return dates.days_between(started_on, today)


def milestone_for(days: int) -> int | None:
    """`days` if it is a milestone (1, 7, 14, 30, 60, 90, 180, 270, 365, 500, 1000 or any whole year)."""
    if days in MILESTONES or (days > 0 and days % 365 == 0):
        return days
    return None


async def sobriety_dates(db: AsyncSession, user_id: int) -> list[SobrietyDate]:
    rows = await db.scalars(
        select(SobrietyDate).where(col(SobrietyDate.user_id) == user_id).order_by(col(SobrietyDate.substance))
    )
    return list(rows)


def counter_reads(user_id: Any) -> dict[str, ColumnElement[Any]]:
    """The counters' two reads as columns of a composed statement (Today's panel)."""
    return {
        "sobriety_dates": json_rows(
            select(
                col(SobrietyDate.id).label("id"),
                col(SobrietyDate.substance).label("substance"),
                col(SobrietyDate.started_on).label("started_on"),
            ).where(col(SobrietyDate.user_id) == user_id)
        ),
        "sober_resets": json_rows(_reset_stats(user_id)),
    }


def _reset_stats(user_id: Any) -> Any:
    return (
        select(
            col(SoberReset.substance).label("substance"),
            func.max(SoberReset.previous_days).label("longest"),
            func.count(col(SoberReset.id)).label("resets"),
        )
        .where(SoberReset.user_id == user_id)
        .group_by(SoberReset.substance)
    )


def counters_from(values: Mapping[str, Any], today: date) -> list[SoberCounter]:
    """`sober_counters` from `counter_reads`' values."""
    stats = {r["substance"]: (r["longest"] or 0, r["resets"] or 0) for r in values["sober_resets"]}
    rows = sorted(values["sobriety_dates"], key=lambda r: r["substance"])
    return _counters([(r["id"], r["substance"], as_date(r["started_on"])) for r in rows], stats, today)


def _counters(rows: list[tuple[int, str, date]], stats: dict[str, tuple[int, int]], today: date) -> list[SoberCounter]:
    counters = []
    for row_id, substance, started_on in rows:
        days = sober_days(started_on, today)
        longest, resets = stats.get(substance, (0, 0))
        counters.append(SoberCounter(row_id, substance, started_on, days, max(days, longest), resets))
    return counters


async def sober_counters(db: AsyncSession, user: User, today: date | None = None) -> list[SoberCounter]:
    """The patient's counters ('' / overall first), with today's count in their own timezone."""
    assert user.id is not None
    today = today or dates.local_today(user)
    rows = await sobriety_dates(db, user.id)
    if not rows:
        return []
    stats = {
        substance: (longest or 0, count or 0)
        for substance, longest, count in (await db.execute(_reset_stats(user.id))).all()
    }
    return _counters([(pk(row), row.substance, row.started_on) for row in rows], stats, today)


async def milestones_reached(db: AsyncSession, user: User, day: date | None = None) -> list[tuple[SoberCounter, int]]:
    """(counter, milestone) pairs for counters whose count on local `day` (default today) is a milestone."""
    counters = await sober_counters(db, user, day)
    return [(c, m) for c in counters if (m := milestone_for(c.days)) is not None]


async def set_sobriety_date(db: AsyncSession, user: User, substance: str, started_on: date) -> dict[str, str]:
    """Create or move a counter. Returns field errors (empty when saved)."""
    assert user.id is not None
    today = dates.local_today(user)
    if started_on > today:
        return {"started_on": _("This day hasn't come yet. Please pick today or an earlier day.")}
    if started_on < EARLIEST:
        return {"started_on": _("Please check the year of this date.")}
    substance = " ".join(substance.split())
    row = await db.scalar(
        select(SobrietyDate).where(col(SobrietyDate.user_id) == user.id, col(SobrietyDate.substance) == substance)
    )
    if row is None:
        db.add(SobrietyDate(user_id=user.id, substance=substance, started_on=started_on))
    else:
        row.started_on = started_on
        row.updated_at = utcnow()
    await db.flush()
    return {}


async def remove_sobriety_date(
    db: AsyncSession, user_id: int, date_id: int, *, confirmed: bool = True
) -> SobrietyDate | None:
    """The person's own counter (None for anyone else's), deleted only when `confirmed`."""
    row = await db.get(SobrietyDate, date_id)
    if row is None or row.user_id != user_id:
        return None
    if confirmed:
        await db.delete(row)
    return row


async def restore_sobriety_date(db: AsyncSession, user: User, substance: str, started_on: date) -> dict[str, str]:
    """Undo "stop counting": put the count back as it was. A count that exists again is left as it is."""
    assert user.id is not None
    substance = " ".join(substance.split())
    existing = await db.scalar(
        select(col(SobrietyDate.id)).where(
            col(SobrietyDate.user_id) == user.id, col(SobrietyDate.substance) == substance
        )
    )
    if existing is not None:
        return {}
    return await set_sobriety_date(db, user, substance, started_on)


async def counters_affected_by_use(db: AsyncSession, user: User, used_on: date) -> list[SoberCounter]:
    """Counters that a use on `used_on` would restart (those that started on or before that day)."""
    return [c for c in await sober_counters(db, user) if c.started_on <= used_on]


async def reset_counters(
    db: AsyncSession, user: User, substances: list[str], reset_on: date, note: str
) -> tuple[list[SoberReset], dict[str, str]]:
    """Restart the chosen counters from `reset_on` (confirmed by the patient) and keep a record of each
    run that ended. A second identical confirmation (double tap) changes nothing."""
    assert user.id is not None
    today = dates.local_today(user)
    if reset_on > today:
        return [], {"reset_on": _("This day hasn't come yet. Please pick today or an earlier day.")}
    if reset_on < today - timedelta(days=366):
        return [], {"reset_on": _("Please pick a day in the past year.")}
    rows = {r.substance: r for r in await sobriety_dates(db, user.id)}
    chosen = [rows[s] for s in dict.fromkeys(substances) if s in rows]
    if not chosen:
        return [], {"substance": _("Please choose which count to restart.")}
    made: list[SoberReset] = []
    for row in chosen:
        if reset_on < row.started_on:
            continue  # the count already starts after that day
        if reset_on == row.started_on:
            already = await db.scalar(
                select(col(SoberReset.id)).where(
                    col(SoberReset.user_id) == user.id,
                    col(SoberReset.substance) == row.substance,
                    col(SoberReset.reset_on) == reset_on,
                )
            )
            if already is not None:
                continue
        reset = SoberReset(
            user_id=user.id,
            substance=row.substance,
            reset_on=reset_on,
            previous_started_on=row.started_on,
            previous_days=sober_days(row.started_on, reset_on),
            note=note,
        )
        db.add(reset)
        row.started_on = reset_on
        row.updated_at = utcnow()
        made.append(reset)
    await db.flush()
    return made, {}


_USER = bindparam("sober_user", type_=Integer())


@functools.cache
def _page_statement() -> Select[Any]:
    """Built once: the Sober page's reads (the counters and every restart) as one composed statement."""
    history = select(*table_of(SoberReset).c).where(col(SoberReset.user_id) == _USER)
    return compose({**counter_reads(_USER), "sober_history": json_rows(history)})


async def page_data(db: AsyncSession, user: User, today: date) -> tuple[list[SoberCounter], list[SoberReset]]:
    """The Sober page's counters (as `sober_counters`) and restarts (as `reset_history`), in ONE read."""
    values = await read_composed(db, _page_statement(), {"sober_user": pk(user)})
    history = sorted(from_json(SoberReset, values["sober_history"]), key=lambda r: (r.reset_on, pk(r)), reverse=True)
    return counters_from(values, today), history


async def update_reset_note(db: AsyncSession, user_id: int, reset_id: int, note: str) -> SoberReset | None:
    row = await db.get(SoberReset, reset_id)
    if row is None or row.user_id != user_id:
        return None
    row.note = note
    row.updated_at = utcnow()
    return row
