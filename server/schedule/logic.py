"""Turning programs into dated group sessions. This is the schedule's public API; other domains call it.

A program's weekly groups are kept as patterns in the program's own IANA timezone ("Mondays 18:00 in
America/New_York"). Each occurrence is built from a local date and local time and only then converted to UTC,
so a group stays at 18:00 local on both sides of a daylight-saving change while its UTC instant shifts.

Which groups a patient has in a given week follows their enrolment: program week n (1-based, counted from the
enrolment's start date) uses the phase whose weeks include n; weeks added by an extension repeat the last
phase. One-off changes (cancelled, moved, holiday, extra) are applied on top.

Public functions (all take an AsyncSession and timezone-aware UTC datetimes; windows are [start, end) on the
session's start time):

- `sessions_for_patient(db, patient_id, start_utc, end_utc) -> list[Occurrence]` (cancelled ones included,
  flagged, so calendars can show them as cancelled)
- `next_session(db, patient_id, now_utc) -> Occurrence | None`
- `attendance_summary(db, patient_id, start_utc, end_utc) -> AttendanceSummary`
- `completed_phases(db, patient_id, now_utc) -> list[tuple[str, date]]`
- `program_completed(db, patient_id, now_utc) -> tuple[str, date] | None`
- `occurrences_starting_between(db, start_utc, end_utc) -> list[tuple[int, Occurrence]]` (for reminders;
  a fixed number of queries however many patients are enrolled)
- `family_info_for_patient(db, patient_id, now_utc) -> list[tuple[str, str]]` (program name, the program's
  information for families) for the programs the patient is in or about to start
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Date, Integer, Select, and_, bindparam, case, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.db import (
    compose,
    from_json,
    insert_or_existing,
    json_text_rows,
    pk,
    put_newest,
    read_composed,
    table_of,
    utcnow,
)
from server.localtime import as_utc, local_to_utc
from server.localtime import zone_for as zone
from server.schedule.models import (
    Attendance,
    Enrolment,
    GroupPattern,
    Program,
    ProgramPhase,
    ScheduleRevision,
    SessionException,
)

# Phases may run to week 52 and extensions add at most 52 more weeks, so no enrolment that started more than
# this long ago can still have sessions: it bounds the enrolment query for reminders.
MAX_PROGRAM_WEEKS = 52
MAX_EXTENSION_WEEKS = 52
_LONGEST_ENROLMENT = timedelta(weeks=MAX_PROGRAM_WEEKS + MAX_EXTENSION_WEEKS)
# Local dates can be up to 14 hours away from the UTC date, so every UTC window is widened by a day on each side
# before it is turned into local dates (exact filtering on the UTC instant happens afterwards).
_DATE_MARGIN = timedelta(days=1)


def pattern_occurrence_id(pattern_id: int, original_date: date) -> str:
    return f"g{pattern_id}-{original_date:%Y%m%d}"


def extra_occurrence_id(exception_id: int) -> str:
    return f"x{exception_id}"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One dated group session for one enrolment.

    `occurrence_id` is stable: a weekly group's id is its pattern and ORIGINAL local date, so moving the session
    keeps its id (calendar UIDs and attendance stay attached); an extra session's id is its change row.
    """

    occurrence_id: str
    title: str
    starts_at: datetime  # UTC, aware
    ends_at: datetime  # UTC, aware
    local_start: datetime  # aware, in the program's timezone
    timezone: str  # the program's IANA timezone
    location: str
    video_url: str
    facilitator: str
    program_id: int
    program_name: str
    phase_name: str
    week: int  # program week (1-based) of the enrolment this session belongs to
    enrolment_id: int
    pattern_id: int | None = None
    cancelled: bool = False
    moved: bool = False
    extra: bool = False
    note: str = ""

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    def starts_in(self, timezone: str) -> datetime:
        """The start as wall-clock time in another timezone (e.g. the patient's own)."""
        return self.starts_at.astimezone(zone(timezone))


class AttendanceSummary(TypedDict):
    scheduled: int  # sessions that were not cancelled, plus any session with an attendance mark
    attended: int
    missed: int
    unmarked: int


@dataclass
class ProgramData:
    """A program with everything needed to expand it, loaded in a fixed number of queries."""

    program: Program
    phases: list[ProgramPhase] = field(default_factory=list)
    patterns: dict[int, list[GroupPattern]] = field(default_factory=dict)  # phase id → patterns
    changes: dict[tuple[int, date], SessionException] = field(default_factory=dict)  # cancelled / moved
    holidays: dict[date, SessionException] = field(default_factory=dict)
    moves_to: dict[date, list[SessionException]] = field(default_factory=dict)  # by new date
    extras: dict[date, list[SessionException]] = field(default_factory=dict)  # by date

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.program.timezone)

    @property
    def weeks(self) -> int:
        """How many weeks the program runs (the last phase's end week), before any extension."""
        return max((p.end_week for p in self.phases), default=0)

    def phase_for_week(self, week: int) -> ProgramPhase | None:
        if week < 1 or not self.phases:
            return None
        if week > self.weeks:
            # Extension weeks repeat the final step of the program.
            return max(self.phases, key=lambda p: p.end_week)
        for phase in self.phases:
            if phase.start_week <= week <= phase.end_week:
                return phase
        return None


def program_week(enrolment: Enrolment, day: date) -> int:
    return (day - enrolment.start_date).days // 7 + 1


def natural_last_day(enrolment: Enrolment, program_weeks: int) -> date | None:
    """The last day of the enrolment's weeks (program plus extension), ignoring any early end."""
    weeks = program_weeks + max(enrolment.extended_weeks, 0)
    if weeks <= 0:
        return None
    return enrolment.start_date + timedelta(days=weeks * 7 - 1)


def last_day(enrolment: Enrolment, program_weeks: int) -> date | None:
    """The last day the patient has sessions: the natural end, or the day the enrolment ended if earlier."""
    natural = natural_last_day(enrolment, program_weeks)
    if natural is None:
        return None
    if enrolment.end_date is not None and enrolment.end_date < natural:
        return enrolment.end_date
    return natural


def enrolment_state(enrolment: Enrolment, program_weeks: int, today: date) -> str:
    """'upcoming', 'active', 'completed' or 'discharged', as of a local date."""
    if enrolment.status == "discharged":
        return "discharged"
    if enrolment.status == "completed":
        return "completed"
    natural = natural_last_day(enrolment, program_weeks)
    if natural is not None and today > natural:
        return "completed"
    if today < enrolment.start_date:
        return "upcoming"
    return "active"


# --- loading ---------------------------------------------------------------------------------------------


async def load_programs(
    db: AsyncSession,
    programs: Iterable[Program],
    changes_between: tuple[date, date] | None = None,
    *,
    with_changes: bool = True,
) -> dict[int, ProgramData]:
    """Phases, patterns and one-off changes for these programs (three queries however many programs).

    With `changes_between`, only one-off changes that touch those local dates are loaded.
    """
    data = {p.id: ProgramData(program=p) for p in programs if p.id is not None}
    if not data:
        return {}
    ids = list(data)
    phases = list(await db.scalars(_phases_read(), {"programs": ids}))
    patterns: list[GroupPattern] = []
    if phases:
        patterns = list(await db.scalars(_patterns_read(), {"phases": [pk(phase) for phase in phases]}))
    changes: list[SessionException] = []
    if with_changes:
        params: dict[str, Any] = {"programs": ids}
        if changes_between is not None:
            params["first_day"], params["last_day"] = changes_between
        changes = list(await db.scalars(_changes_read(changes_between is not None), params))
    return programs_from(data, phases, patterns, changes)


# Built once (bound per call): built per call, their IN lists were left in reference cycles for the collector.
@functools.cache
def _phases_read() -> Select[ProgramPhase]:
    return (
        select(ProgramPhase)
        .where(col(ProgramPhase.program_id).in_(bindparam("programs", expanding=True)))
        .order_by(col(ProgramPhase.start_week))
    )


@functools.cache
def _patterns_read() -> Select[GroupPattern]:
    return (
        select(GroupPattern)
        .where(col(GroupPattern.phase_id).in_(bindparam("phases", expanding=True)))
        .order_by(col(GroupPattern.weekday), col(GroupPattern.start_time), col(GroupPattern.id))
    )


@functools.cache
def _changes_read(between: bool) -> Select[SessionException]:
    """The programs' one-off changes; `between`: only those touching the local dates `first_day`..`last_day`."""
    query = select(SessionException).where(col(SessionException.program_id).in_(bindparam("programs", expanding=True)))
    if between:
        first_day, last_day = bindparam("first_day", type_=Date()), bindparam("last_day", type_=Date())
        query = query.where(
            or_(
                col(SessionException.original_date).between(first_day, last_day),
                col(SessionException.new_date).between(first_day, last_day),
            )
        )
    return query


def programs_from(
    data: dict[int, ProgramData],
    phases: list[ProgramPhase],
    patterns: list[GroupPattern],
    changes: list[SessionException],
) -> dict[int, ProgramData]:
    """Fill each program's `ProgramData` from rows already read (phases in start-week order, patterns by weekday,
    start time and id)."""
    phase_program: dict[int, int] = {}
    for phase in phases:
        if phase.program_id not in data:
            continue
        data[phase.program_id].phases.append(phase)
        data[phase.program_id].patterns[pk(phase)] = []
        phase_program[pk(phase)] = phase.program_id
    for pattern in patterns:
        if pattern.phase_id in phase_program:
            data[phase_program[pattern.phase_id]].patterns[pattern.phase_id].append(pattern)
    for change in changes:
        if change.program_id not in data:
            continue
        item = data[change.program_id]
        if change.kind in ("cancelled", "moved") and change.pattern_id is not None and change.original_date:
            item.changes[(change.pattern_id, change.original_date)] = change
            if change.kind == "moved" and change.new_date is not None:
                item.moves_to.setdefault(change.new_date, []).append(change)
        elif change.kind == "holiday" and change.original_date is not None:
            item.holidays[change.original_date] = change
        elif change.kind == "extra" and change.new_date is not None:
            item.extras.setdefault(change.new_date, []).append(change)
    return data


def _utc_dates(start_utc: datetime, end_utc: datetime) -> tuple[date, date]:
    """Every local date anywhere on Earth that the UTC window can touch."""
    return (as_utc(start_utc) - _DATE_MARGIN).date(), (as_utc(end_utc) + _DATE_MARGIN).date()


# --- expansion -------------------------------------------------------------------------------------------


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


@dataclass
class _Expansion:
    """One enrolment's sessions in a UTC window, collected day by day (see `expand`)."""

    data: ProgramData
    enrolment: Enrolment
    start_utc: datetime
    end_utc: datetime
    final: date
    found: list[Occurrence] = field(default_factory=list)

    def build(
        self,
        occurrence_id: str,
        day: date,
        at: time,
        minutes: int,
        source: GroupPattern | SessionException,
        week: int,
        phase_name: str,
        *,
        pattern_id: int | None = None,
        cancelled: bool = False,
        moved: bool = False,
        extra: bool = False,
        note: str = "",
    ) -> None:
        tz, program = self.data.tz, self.data.program
        starts = local_to_utc(day, at, tz)
        if not (self.start_utc <= starts < self.end_utc):
            return
        self.found.append(
            Occurrence(
                occurrence_id=occurrence_id,
                title=source.title,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=max(minutes, 0)),
                local_start=starts.astimezone(tz),
                timezone=program.timezone,
                location=source.location,
                video_url=source.video_url,
                facilitator=source.facilitator,
                program_id=pk(program),
                program_name=program.name,
                phase_name=phase_name,
                week=week,
                enrolment_id=pk(self.enrolment),
                pattern_id=pattern_id,
                cancelled=cancelled,
                moved=moved,
                extra=extra,
                note=note,
            )
        )

    def patterns(self, day: date, week: int) -> None:
        """The phase's weekly sessions on this day; a cancelled or holiday one flagged, a moved one left out."""
        phase = self.data.phase_for_week(week)
        if phase is None:
            return
        holiday = self.data.holidays.get(day)
        for pattern in self.data.patterns.get(pk(phase), []):
            if pattern.weekday != day.weekday():
                continue
            change = self.data.changes.get((pk(pattern), day))
            if change is not None and change.kind == "moved":
                continue  # shown on its new date (see `moves`)
            note = (change.note if change is not None else "") or (holiday.note if holiday is not None else "")
            self.build(
                pattern_occurrence_id(pk(pattern), day), day, pattern.start_time, pattern.duration_minutes, pattern,
                week, phase.name, pattern_id=pattern.id, cancelled=change is not None or holiday is not None,
                note=note,
            )  # fmt: skip

    def extras(self, day: date, week: int) -> None:
        for extra in self.data.extras.get(day, []):
            phase = self.data.phase_for_week(week)
            self.build(
                extra_occurrence_id(pk(extra)), day, extra.new_time or time(0, 0), extra.duration_minutes, extra,
                week, phase.name if phase else "", extra=True, note=extra.note,
            )  # fmt: skip

    def moves(self, day: date) -> None:
        """Sessions moved to this day keep the pattern and phase of their original date, so look that date up."""
        for move in self.data.moves_to.get(day, []):
            original = move.original_date
            if original is None or not self.enrolment.start_date <= original <= self.final:
                continue
            week = program_week(self.enrolment, original)
            phase = self.data.phase_for_week(week)
            if phase is None:
                continue
            pattern = next((p for p in self.data.patterns.get(pk(phase), []) if p.id == move.pattern_id), None)
            if pattern is None or pattern.weekday != original.weekday():
                continue
            self.build(
                pattern_occurrence_id(pk(pattern), original), day, move.new_time or pattern.start_time,
                pattern.duration_minutes, pattern, week, phase.name, pattern_id=pattern.id, moved=True,
                note=move.note,
            )  # fmt: skip


def expand(data: ProgramData, enrolment: Enrolment, start_utc: datetime, end_utc: datetime) -> list[Occurrence]:
    """The enrolment's sessions starting in [start_utc, end_utc), cancelled ones included and flagged."""
    start_utc, end_utc = as_utc(start_utc), as_utc(end_utc)
    if end_utc <= start_utc:
        return []
    final = last_day(enrolment, data.weeks)
    if final is None:
        return []
    first = max((start_utc.astimezone(data.tz) - _DATE_MARGIN).date(), enrolment.start_date)
    last = min((end_utc.astimezone(data.tz) + _DATE_MARGIN).date(), final)
    run = _Expansion(data, enrolment, start_utc, end_utc, final)
    for day in _days(first, last):
        week = program_week(enrolment, day)
        run.patterns(day, week)
        run.extras(day, week)
        run.moves(day)
    run.found.sort(key=lambda o: (o.starts_at, o.title, o.occurrence_id))
    return run.found


def _dedupe(items: Iterable[Occurrence]) -> list[Occurrence]:
    seen: set[str] = set()
    result = []
    for item in sorted(items, key=lambda o: (o.starts_at, o.title, o.occurrence_id)):
        if item.occurrence_id not in seen:
            seen.add(item.occurrence_id)
            result.append(item)
    return result


async def enrolments_with_programs(db: AsyncSession, patient_id: int) -> list[tuple[Enrolment, Program]]:
    rows = await db.execute(
        select(Enrolment, Program)
        .join(Program, col(Program.id) == col(Enrolment.program_id))
        .where(col(Enrolment.patient_id) == patient_id)
        .order_by(col(Enrolment.start_date), col(Enrolment.id))
    )
    return [(e, p) for e, p in rows.all()]


async def sessions_for_patient(
    db: AsyncSession, patient_id: int, start_utc: datetime, end_utc: datetime
) -> list[Occurrence]:
    """Every session of the patient starting in [start_utc, end_utc), oldest first; cancelled ones flagged."""
    pairs = await enrolments_with_programs(db, patient_id)
    if not pairs:
        return []
    first, last = _utc_dates(start_utc, end_utc)
    data = await load_programs(db, {p.id: p for _e, p in pairs}.values(), (first, last))
    return _dedupe(occ for e, p in pairs for occ in expand(data[pk(p)], e, start_utc, end_utc))


# How far ahead the next session is looked for: a little way first (the usual case), then further out for gaps
# such as a holiday week.
NEXT_HORIZONS = (timedelta(days=8), timedelta(days=120))
IN_PROGRESS_LOOKBACK = timedelta(hours=12)


async def next_session(
    db: AsyncSession, patient_id: int, now_utc: datetime, *, include_in_progress: bool = False
) -> Occurrence | None:
    """The next session that isn't cancelled (optionally one already under way), or None."""
    now_utc = as_utc(now_utc)
    lookback = IN_PROGRESS_LOOKBACK if include_in_progress else timedelta(0)
    for horizon in NEXT_HORIZONS:
        found = _next_in(await sessions_for_patient(db, patient_id, now_utc - lookback, now_utc + horizon), now_utc,
                         include_in_progress)
        if found is not None:
            return found
    return None


def _next_in(sessions: list[Occurrence], now_utc: datetime, include_in_progress: bool) -> Occurrence | None:
    for occ in sessions:
        if occ.cancelled:
            continue
        if occ.starts_at >= now_utc or (include_in_progress and occ.ends_at > now_utc):
            return occ
    return None


# The Today panel's reads, built once and bound per request (`today_params`): the patient's enrolments with their
# programs, phases and patterns, and the one-off changes near today, as columns of Today's composed statement.
_PATIENT = bindparam("schedule_patient", type_=Integer())
_CHANGES_FROM = bindparam("schedule_changes_from", type_=Date())
_CHANGES_TO = bindparam("schedule_changes_to", type_=Date())
# The schedule revision this process built the patient's window from (`_HELD`), or None.
_KNOWN = bindparam("schedule_known", type_=BigInteger())


def today_reads() -> dict[str, ColumnElement[Any]]:
    """The schedule's revision (`ScheduleRevision`), and the rows as JSON text (`json_text_rows`) only when it is not
    the one this process holds for the patient's window (`schedule_known`): otherwise NULL, and the database never
    builds them (both evaluate a CASE branch only when it is taken). `enrolled_from` builds from the rows, or takes
    what it built before."""
    revision = select(col(ScheduleRevision.revision)).where(col(ScheduleRevision.id) == 1).scalar_subquery()
    enrolled = select(col(Enrolment.program_id)).where(col(Enrolment.patient_id) == _PATIENT)
    phases = select(col(ProgramPhase.id)).where(col(ProgramPhase.program_id).in_(enrolled))
    rows = {
        "schedule_enrolments": select(*table_of(Enrolment).c).where(col(Enrolment.patient_id) == _PATIENT),
        "schedule_programs": select(*table_of(Program).c).where(col(Program.id).in_(enrolled)),
        "schedule_phases": select(*table_of(ProgramPhase).c).where(col(ProgramPhase.program_id).in_(enrolled)),
        "schedule_patterns": select(*table_of(GroupPattern).c).where(col(GroupPattern.phase_id).in_(phases)),
        "schedule_changes": select(*table_of(SessionException).c).where(
            col(SessionException.program_id).in_(enrolled),
            or_(
                col(SessionException.original_date).between(_CHANGES_FROM, _CHANGES_TO),
                col(SessionException.new_date).between(_CHANGES_FROM, _CHANGES_TO),
            ),
        ),
    }
    return {
        "schedule_revision": revision,
        **{name: case((revision == _KNOWN, null()), else_=json_text_rows(read)) for name, read in rows.items()},
    }


def window_params(patient_id: int, start_utc: datetime, end_utc: datetime) -> dict[str, Any]:
    """Binds `today_reads` to a patient and to the one-off changes that may touch [start_utc, end_utc)."""
    first, last = _utc_dates(start_utc, end_utc)
    held = _HELD.get((patient_id, first, last))
    return {
        "schedule_patient": patient_id,
        "schedule_changes_from": first,
        "schedule_changes_to": last,
        "schedule_known": None if held is None else held[0],
    }


def today_params(patient_id: int, now_utc: datetime) -> dict[str, Any]:
    return window_params(patient_id, now_utc - IN_PROGRESS_LOOKBACK, now_utc + NEXT_HORIZONS[-1])


def sessions_from(enrolled: Enrolled, start_utc: datetime, end_utc: datetime) -> list[Occurrence]:
    """`sessions_for_patient` over data already read (`enrolled_from`, bound with `window_params` for a window
    that covers [start_utc, end_utc))."""
    return _dedupe(occ for e, p in enrolled.pairs for occ in expand(enrolled.data[pk(p)], e, start_utc, end_utc))


@dataclass(frozen=True)
class Enrolled:
    """The patient's enrolments and their programs, expanded-ready, from `today_reads`' values.

    Shared by every request that read the same text (`enrolled_from`): read it, never change it."""

    pairs: list[tuple[Enrolment, Program]]
    data: dict[int, ProgramData]
    # The sessions around each UTC day, per horizon, expanded once (`upcoming`).
    _upcoming: dict[tuple[date, timedelta], list[Occurrence]] = field(default_factory=dict, compare=False, repr=False)

    def upcoming(self, now_utc: datetime, lookback: timedelta, horizon: timedelta) -> list[Occurrence]:
        """`sessions_from(self, now_utc - lookback, now_utc + horizon)` (lookback at most `IN_PROGRESS_LOOKBACK`),
        from the sessions of now's whole UTC day expanded once: a request only picks its window out of them."""
        now_utc = as_utc(now_utc)
        key = (now_utc.date(), horizon)
        around = self._upcoming.get(key)
        if around is None:
            if len(self._upcoming) >= 8:  # past days are not asked for again
                self._upcoming.clear()
            midnight = datetime.combine(key[0], time(0), UTC)
            around = sessions_from(self, midnight - IN_PROGRESS_LOOKBACK, midnight + timedelta(days=1) + horizon)
            self._upcoming[key] = around
        start, end = now_utc - lookback, now_utc + horizon
        return [occ for occ in around if start <= occ.starts_at < end]


# Enrolments, programs, phases and weekly groups change rarely, and a page reads them at every request. What is
# built from them is remembered per process twice over:
# - by patient and window, with the schedule revision it was read at (`_HELD`): the page's statement then sends no
#   rows while that revision holds, and a change made by any process or admin page changes the revision (the
#   database's triggers) and so sends the rows again at the next request; nothing is served stale;
# - by the rows' text (`_enrolled`): patients in the same programs share one build.
MAX_REMEMBERED_ENROLLED = 1024
MAX_HELD_WINDOWS = 10_000
_HELD: dict[tuple[int, date, date], tuple[int, Enrolled]] = {}


async def enrolled_from(db: AsyncSession, values: Mapping[str, Any], params: Mapping[str, Any]) -> Enrolled:
    """The patient's `Enrolled` from a statement with `today_reads`, bound with `params` (`window_params`)."""
    key = (params["schedule_patient"], params["schedule_changes_from"], params["schedule_changes_to"])
    revision = values["schedule_revision"]
    if values["schedule_enrolments"] is None:  # the revision this process holds: no rows sent
        held = _HELD.get(key)
        if held is not None and held[0] == revision:
            return held[1]
        # Let go of in between (or replaced by a newer read): read the rows this time.
        values = await read_composed(db, _rows_statement(), {**params, "schedule_known": None})
        revision = values["schedule_revision"]
    enrolled = _enrolled(
        values["schedule_enrolments"], values["schedule_programs"], values["schedule_phases"],
        values["schedule_patterns"], values["schedule_changes"],
    )  # fmt: skip
    if revision is not None:  # None: no revision row (deleted by hand), so nothing to hold it by
        put_newest(_HELD, key, (revision, enrolled), MAX_HELD_WINDOWS)
    return enrolled


@functools.cache
def _rows_statement() -> Select[Any]:
    return compose(today_reads())


@functools.lru_cache(maxsize=MAX_REMEMBERED_ENROLLED)
def _enrolled(
    enrolments_text: str, programs_text: str, phases_text: str, patterns_text: str, changes_text: str
) -> Enrolled:
    programs = {pk(p): p for p in from_json(Program, json.loads(programs_text))}
    enrolments = sorted(from_json(Enrolment, json.loads(enrolments_text)), key=lambda e: (e.start_date, pk(e)))
    phases = sorted(from_json(ProgramPhase, json.loads(phases_text)), key=lambda ph: (ph.start_week, pk(ph)))
    patterns = sorted(
        from_json(GroupPattern, json.loads(patterns_text)), key=lambda g: (g.weekday, g.start_time, pk(g))
    )
    changes = sorted(from_json(SessionException, json.loads(changes_text)), key=pk)
    pairs = [(e, programs[e.program_id]) for e in enrolments if e.program_id in programs]
    data = programs_from({pid: ProgramData(program=p) for pid, p in programs.items()}, phases, patterns, changes)
    return Enrolled(pairs, data)


def next_session_from(enrolled: Enrolled, now_utc: datetime, *, include_in_progress: bool = False) -> Occurrence | None:
    """`next_session` over data already read (`enrolled_from`)."""
    now_utc = as_utc(now_utc)
    lookback = IN_PROGRESS_LOOKBACK if include_in_progress else timedelta(0)
    for horizon in NEXT_HORIZONS:
        found = _next_in(enrolled.upcoming(now_utc, lookback, horizon), now_utc, include_in_progress)
        if found is not None:
            return found
    return None


async def attendance_marks(db: AsyncSession, patient_id: int, occurrence_ids: Sequence[str]) -> dict[str, Attendance]:
    if not occurrence_ids:
        return {}
    rows = await db.scalars(
        select(Attendance).where(
            col(Attendance.patient_id) == patient_id,
            col(Attendance.occurrence_id).in_(list(occurrence_ids)),
        )
    )
    return {row.occurrence_id: row for row in rows}


async def attendance_summary(
    db: AsyncSession, patient_id: int, start_utc: datetime, end_utc: datetime
) -> AttendanceSummary:
    """Sessions in the window and how many were marked attended or missed.

    A session with a mark always counts as scheduled, even if its group was later removed from the program,
    so history doesn't change when an admin edits the pattern.
    """
    start_utc, end_utc = as_utc(start_utc), as_utc(end_utc)
    scheduled = {
        o.occurrence_id for o in await sessions_for_patient(db, patient_id, start_utc, end_utc) if not o.cancelled
    }
    marks = await db.scalars(
        select(Attendance).where(
            col(Attendance.patient_id) == patient_id,
            or_(
                col(Attendance.occurrence_id).in_(list(scheduled) or [""]),
                and_(col(Attendance.starts_at) >= start_utc, col(Attendance.starts_at) < end_utc),
            ),
        )
    )
    status: dict[str, str] = {}
    for mark in marks:
        status[mark.occurrence_id] = mark.status
    every = scheduled | set(status)
    attended = sum(1 for s in status.values() if s == "attended")
    missed = sum(1 for s in status.values() if s == "missed")
    return AttendanceSummary(
        scheduled=len(every), attended=attended, missed=missed, unmarked=len(every) - attended - missed
    )


def phases_finished(enrolment: Enrolment, item: ProgramData, today: date) -> list[tuple[str, date]]:
    """(phase name, its last local day) for each phase of this enrolment that is over by `today`.

    A phase cut short by discharge doesn't count; the final phase ends after any extension weeks.
    """
    finished: list[tuple[str, date]] = []
    for phase in item.phases:
        end_week = phase.end_week + (enrolment.extended_weeks if phase.end_week == item.weeks else 0)
        finished_on = enrolment.start_date + timedelta(days=end_week * 7 - 1)
        if finished_on >= today:
            continue
        if enrolment.end_date is not None and enrolment.end_date < finished_on:
            continue
        finished.append((phase.name, finished_on))
    return finished


def _today(tz: ZoneInfo, now_utc: datetime) -> date:
    return as_utc(now_utc).astimezone(tz).date()


async def completed_phases(db: AsyncSession, patient_id: int, now_utc: datetime) -> list[tuple[str, date]]:
    """(phase name, local date of its last day) for each phase the patient has been through, oldest first.

    A phase counts once its last day is over; a phase cut short by discharge doesn't count. The final phase
    ends after any extension weeks.
    """
    pairs = await enrolments_with_programs(db, patient_id)
    data = await load_programs(db, {p.id: p for _e, p in pairs}.values(), with_changes=False)
    done: list[tuple[str, date]] = []
    for enrolment, program in pairs:
        item = data[pk(program)]
        done.extend(phases_finished(enrolment, item, _today(item.tz, now_utc)))
    done.sort(key=lambda pair: pair[1])
    return done


async def program_completed(db: AsyncSession, patient_id: int, now_utc: datetime) -> tuple[str, date] | None:
    """(program name, local completion date) of the patient's most recently completed program, or None.

    Completed means every week has passed (extension included) without a discharge, or staff ended the
    enrolment as completed.
    """
    pairs = await enrolments_with_programs(db, patient_id)
    data = await load_programs(db, {p.id: p for _e, p in pairs}.values(), with_changes=False)
    latest: tuple[str, date] | None = None
    for enrolment, program in pairs:
        item = data[pk(program)]
        today = _today(item.tz, now_utc)
        finished_on: date | None = None
        if enrolment.status == "completed" and enrolment.end_date is not None and enrolment.end_date <= today:
            finished_on = enrolment.end_date
        elif enrolment.status == "active":
            natural = natural_last_day(enrolment, item.weeks)
            if natural is not None and natural < today:
                finished_on = natural
        if finished_on is not None and (latest is None or finished_on >= latest[1]):
            latest = (program.name, finished_on)
    return latest


async def occurrences_starting_between(
    db: AsyncSession, start_utc: datetime, end_utc: datetime, *, include_cancelled: bool = False
) -> list[tuple[int, Occurrence]]:
    """(patient id, occurrence) for every enrolled patient's session starting in [start_utc, end_utc).

    Four queries in all, whatever the number of patients: enrolments that can touch the window, then the
    phases, patterns and one-off changes of their programs.
    """
    start_utc, end_utc = as_utc(start_utc), as_utc(end_utc)
    if end_utc <= start_utc:
        return []
    first, last = _utc_dates(start_utc, end_utc)
    rows = (
        await db.execute(
            select(Enrolment, Program)
            .join(Program, col(Program.id) == col(Enrolment.program_id))
            .where(
                col(Enrolment.start_date) <= last,
                col(Enrolment.start_date) >= first - _LONGEST_ENROLMENT,
                or_(col(Enrolment.end_date).is_(None), col(Enrolment.end_date) >= first),
            )
            .order_by(col(Enrolment.patient_id), col(Enrolment.id))
        )
    ).all()
    pairs = [(e, p) for e, p in rows]
    if not pairs:
        return []
    data = await load_programs(db, {p.id: p for _e, p in pairs}.values(), (first, last))
    by_patient: dict[int, list[Occurrence]] = defaultdict(list)
    for enrolment, program in pairs:
        by_patient[enrolment.patient_id].extend(expand(data[pk(program)], enrolment, start_utc, end_utc))
    result: list[tuple[int, Occurrence]] = []
    for patient_id, items in by_patient.items():
        for occ in _dedupe(items):
            if include_cancelled or not occ.cancelled:
                result.append((patient_id, occ))
    result.sort(key=lambda pair: (pair[1].starts_at, pair[0]))
    return result


async def family_info_for_patient(db: AsyncSession, patient_id: int, now_utc: datetime) -> list[tuple[str, str]]:
    """(program name, information for families) of the patient's current or upcoming programs, newest first.

    Only what the clinic wrote for families; nothing about the patient's own attendance.
    """
    pairs = await enrolments_with_programs(db, patient_id)
    data = await load_programs(db, {p.id: p for _e, p in pairs}.values(), with_changes=False)
    found: list[tuple[str, str]] = []
    for enrolment, program in reversed(pairs):
        item = data[pk(program)]
        state = enrolment_state(enrolment, item.weeks, _today(item.tz, now_utc))
        if state in ("active", "upcoming") and program.family_info.strip():
            found.append((program.name, program.family_info))
    return found


# --- attendance --------------------------------------------------------------------------------------------

# How far back a session can still be marked (the patient sees two weeks; staff can fix a few weeks more).
MARKABLE_DAYS = 42


async def find_markable(db: AsyncSession, patient_id: int, occurrence_id: str, now_utc: datetime) -> Occurrence | None:
    """The patient's session with this id if it has started, isn't cancelled and is recent enough to mark."""
    now_utc = as_utc(now_utc)
    for occ in await sessions_for_patient(db, patient_id, now_utc - timedelta(days=MARKABLE_DAYS), now_utc):
        if occ.occurrence_id == occurrence_id and not occ.cancelled:
            return occ
    return None


async def mark_attendance(
    db: AsyncSession, patient_id: int, occurrence: Occurrence, status: str, marked_by_id: int | None
) -> Attendance:
    """Record attended/missed for one session, replacing an earlier mark (safe when two taps race)."""
    if status not in ("attended", "missed"):
        raise ValueError(status)

    async def current() -> Attendance | None:
        return await db.scalar(
            select(Attendance).where(
                col(Attendance.patient_id) == patient_id, col(Attendance.occurrence_id) == occurrence.occurrence_id
            )
        )

    existing = await current()
    if existing is None:
        row = Attendance(
            patient_id=patient_id,
            occurrence_id=occurrence.occurrence_id,
            starts_at=occurrence.starts_at,
            status=status,
            marked_by_id=marked_by_id,
        )
        # Someone marking it in the same instant wins the insert: then their row is updated instead.
        existing, created = await insert_or_existing(db, row, current)
        if created:
            return existing
    existing.status = status
    existing.starts_at = occurrence.starts_at
    existing.marked_by_id = marked_by_id
    existing.marked_at = utcnow()
    db.add(existing)
    await db.flush()
    return existing
