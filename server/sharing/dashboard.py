"""What the therapist's dashboard shows for each patient: which days, and which flags are still open.

- The days shown ("view"): the last 7 days up to each patient's local today (the default, so Tuesday still
  shows last week's flags), "since the last session" (from the day of the patient's last group before now, at
  most 28 days; only for patients who share attendance, others get the last 7 days), or an ISO week the
  therapist picks (`2026-W46`).
- Open flags: in the two rolling views a flag stays until the therapist marks the patient reviewed. They are
  computed over the days since the last review (at most the last 28 days, never before the consent's data-from
  day), so a flag from 10 days ago still puts the patient at the top; after "Mark reviewed" only new days count.
  A picked week shows that week's own flags.

Everything is loaded with one `load_week_data` call for both spans (a fixed number of queries), as brief
summaries: a row shows flags and a few figures, so neither the rows nor the rules behind the patient's week page
(highlights, notes, skills, measures, triggers) are read or computed for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.db import among_given, read_rows, table_of
from server.i18n import current_locale
from server.i18n import lazy_gettext as _l
from server.schedule import logic as schedule
from server.sharing.access import AccessGrant
from server.sharing.models import FlagReview
from server.sharing.summary import PatientData, WeeklySummary, WeekRequest, build_summary, load_week_data
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week, local_moment

OPEN_FLAG_DAYS = 28  # how far back an unreviewed flag is kept
VIEWS = {
    "last7": _l("Last 7 days"),
    "since_session": _l("Since the last session"),
}


@dataclass(frozen=True)
class PatientDays:
    summary: WeeklySummary  # the days shown
    flags_from: WeeklySummary  # where the open flags come from
    reviewed_through: date | None


async def reviewed_through(db: AsyncSession, therapist_id: int, patient_ids: Sequence[int]) -> dict[int, date]:
    if not patient_ids:
        return {}
    statement = _reviews_read(db.get_bind().dialect.name)
    rows = await read_rows(db, statement, {"therapist_id": therapist_id, "ids": list(patient_ids)})
    return {int(pid): day for pid, day in rows}


@lru_cache(maxsize=4)
def _reviews_read(dialect_name: str) -> Select[Any]:
    reviews = table_of(FlagReview).c
    return select(reviews.patient_id, reviews.reviewed_through).where(
        reviews.therapist_id == bindparam("therapist_id"), among_given(dialect_name, reviews.patient_id, "ids")
    )


async def mark_reviewed(db: AsyncSession, therapist_id: int, grant: AccessGrant, now: datetime) -> None:
    """Flags on days up to the patient's today stop showing (stored; a second tap just moves the date)."""
    existing = await db.scalar(
        select(FlagReview).where(
            col(FlagReview.therapist_id) == therapist_id, col(FlagReview.patient_id) == grant.patient_id
        )
    )
    if existing is None:
        try:
            async with db.begin_nested():
                db.add(
                    FlagReview(
                        therapist_id=therapist_id,
                        patient_id=grant.patient_id,
                        reviewed_through=grant.today,
                        reviewed_at=now,
                    )
                )
            return
        except IntegrityError:  # a second tab got there first: update that row instead
            existing = await db.scalar(
                select(FlagReview).where(
                    col(FlagReview.therapist_id) == therapist_id, col(FlagReview.patient_id) == grant.patient_id
                )
            )
    if existing is not None:
        existing.reviewed_through = grant.today
        existing.reviewed_at = now
        db.add(existing)


async def last_session_days(db: AsyncSession, grants: Sequence[AccessGrant], now: datetime) -> dict[int, date]:
    """The local day of each (attendance-sharing) patient's last group that started before now, within 28 days."""
    wanted = {g.patient_id: g for g in grants if "attendance" in g.categories}
    if not wanted:
        return {}
    found: dict[int, date] = {}
    for pid, occ in await schedule.occurrences_starting_between(db, now - timedelta(days=OPEN_FLAG_DAYS), now):
        grant = wanted.get(pid)
        if grant is not None:
            found[pid] = local_moment(occ.starts_at, grant.patient.timezone).date()  # sorted: the last one wins
    return found


def shown_span(grant: AccessGrant, view: str, picked: Week | None, session_days: dict[int, date]) -> Week:
    if picked is not None:
        return picked
    if view == "since_session" and grant.patient_id in session_days:
        first = max(session_days[grant.patient_id], grant.today - timedelta(days=OPEN_FLAG_DAYS - 1))
        return Week.ending(grant.today, (grant.today - first).days + 1)
    return Week.ending(grant.today, 7)


def open_flag_span(grant: AccessGrant, reviewed: date | None) -> Week:
    first = grant.today - timedelta(days=OPEN_FLAG_DAYS - 1)
    if reviewed is not None:
        first = max(first, reviewed + timedelta(days=1))
    first = max(first, grant.data_from)
    # A span of zero days (reviewed today): build_summary finds no visible day and raises nothing.
    return Week(first, max(0, (grant.today - first).days + 1))


async def dashboard_days(
    db: AsyncSession,
    therapist_id: int,
    grants: Sequence[AccessGrant],
    thresholds: Thresholds,
    *,
    view: str,
    picked: Week | None,
    sessions: dict[int, date],
    history_days: int,
) -> dict[int, PatientDays]:
    """Each row's summaries. Reads only through `read_rows` (the dashboard makes it with other reads together);
    `sessions` is `last_session_days` for the "since your last session" view, read before."""
    reviewed = await reviewed_through(db, therapist_id, [g.patient_id for g in grants])
    shown: list[WeekRequest] = []
    flags: list[WeekRequest | None] = []
    for grant in grants:
        span = shown_span(grant, view, picked, sessions)
        flag_span = None if picked is not None else open_flag_span(grant, reviewed.get(grant.patient_id))
        # With an open-flag span of its own, the days shown compute a row's figures only (no flags).
        shown.append(grant.week_request(span, history_days=history_days, brief=True, flags=flag_span is None))
        flags.append(None if flag_span is None else grant.week_request(flag_span, brief=True))
    data = await load_week_data(db, [*shown, *(f for f in flags if f is not None)])
    result: dict[int, PatientDays] = {}
    for grant, shown_request, flag_request in zip(grants, shown, flags, strict=True):
        summary, flag_summary = _summaries(shown_request, flag_request, data.get(grant.patient_id), thresholds)
        result[grant.patient_id] = PatientDays(summary, flag_summary, reviewed.get(grant.patient_id))
    return result


# A row's summaries, remembered per process under everything they are built from: both requests (but `now`, which a
# brief summary doesn't read), the thresholds, the language of the flags' words and the patient's rows exactly as
# read at this request. A check-in written anywhere, a narrower consent, new thresholds, a review or another day
# make a different key at the very next request: nothing to invalidate, nothing stale. A therapist's dashboard
# shows the same rows at most reloads (patients check in once a day), and each is ~70 µs of rules to build.
MAX_REMEMBERED_ROWS = 2048
_remembered: OrderedDict[tuple[Any, ...], tuple[WeeklySummary, WeeklySummary]] = OrderedDict()


def _summaries(
    shown: WeekRequest, flags: WeekRequest | None, data: PatientData | None, thresholds: Thresholds
) -> tuple[WeeklySummary, WeeklySummary]:
    """The days shown and where the open flags come from (the days shown themselves in a picked week). Shared
    between requests: read, never changed."""
    key = (shown.brief_key, flags and flags.brief_key, thresholds, current_locale.get(), data and data.read_key())
    found = _remembered.get(key)
    if found is not None:
        _remembered.move_to_end(key)
        return found
    summary = build_summary(shown, data, thresholds)
    found = _remembered[key] = (summary, build_summary(flags, data, thresholds) if flags else summary)
    if len(_remembered) > MAX_REMEMBERED_ROWS:
        _remembered.popitem(last=False)
    return found
