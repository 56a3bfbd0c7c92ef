"""Weekly summaries: what a therapist sees of one patient-week, built only from the categories the patient shares.

`weekly_summary(db, request, thresholds)` computes one patient-week; `weekly_summaries(db, requests, thresholds)`
computes many (the dashboard: many patients, each in their own current week) in a fixed number of queries
whatever the number of patients. Both load with the same `load_week_data` and build with the same
`build_summary`, so the two can never disagree.

Structure: `LOADERS` read one table group each (rows by column name), only for the patients who share the categories
it serves; `SECTIONS` pair each consent category with one small function that returns its `Section` (the facts it
sets on `WeeklySummary`, its flags and its highlights), run only when the patient shares that category. A new
category is one loader (if it reads a new table), one section and its row in `sharing/exports.py`.

Rules, in one place:
- A week is Monday–Sunday in the patient's timezone (`server.sharing.weeks.Week`). Only days from the consent's
  `data_from` up to the patient's local today are counted ("visible days"); nothing outside them is loaded.
- Check-in adherence counts check-ins on visible days; it is shown with any check-in category.
- Mood: average, lowest and highest of the week's check-ins, a value per day, and the change from the previous
  week's average (the previous week is also cut at `data_from`). Sleep: average hours.
- Cravings: average of the check-ins' craving; the peak is the highest of check-in cravings and craving logs
  (a craving log gives the time of day and its triggers). A "high day" has a craving ≥ the clinic's level in
  either. Top triggers count trigger ticks on check-ins and craving logs.
- Substance use: days whose check-in says used, plus days with a craving log that ended in use.
- Diary card: highest urge of each kind (0–5) and whether any was acted on, per day.
- Skill practice: practices started in the week's UTC window, most practised cards, average distress drop;
  homework completed in the week and still open at its end.
- Attendance: sessions that started in the week before now (not cancelled) plus any marked; attended / missed
  as marked.
- Notes: check-in notes and craving-log notes, only with the "notes" category.
- Flags (clinic thresholds): no check-in for N+ days in a row (finished days only); craving ≥ level on M+ days;
  any use; self-harm urge ≥ K; missed ≥ G groups; mood average down ≥ D points from the previous week.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from babel.dates import format_date
from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.checkins import measures
from server.checkins.measures import Measure
from server.checkins.models import CheckIn, CravingLog, SobrietyDate, TriggerPreference
from server.checkins.triggers import TriggerSet, build_set
from server.consent.wording import THERAPIST_CATEGORY_IDS
from server.db import (
    among_given,
    epoch_microseconds,
    from_epoch_days,
    from_epoch_microseconds,
    json_value,
    read_rows,
    read_together,
    rows_text,
    table_of,
)
from server.i18n import current_locale, ngettext
from server.i18n import gettext as _
from server.schedule import logic as schedule
from server.schedule.models import Attendance
from server.sharing.thresholds import Thresholds
from server.sharing.weeks import Week, local_midnight, local_moment
from server.skills.logic import card_title
from server.skills.models import SkillAssignment, SkillPractice

CHECKIN_CATEGORIES = frozenset({"mood_sleep", "cravings_triggers", "substance_use", "diary_card", "notes"})
URGE_KINDS = ("use", "self_harm", "quit_treatment")


# --- what is asked, and what comes back --------------------------------------------------------------------


@dataclass(frozen=True)
class WeekRequest:
    patient_id: int
    timezone: str
    week: Week
    categories: frozenset[str]
    data_from: date  # the consent's first visible local day
    today: date  # the patient's local today
    now: datetime  # UTC
    history_days: int = 0  # extra days of mood/craving before the week (dashboard sparklines)
    # The dashboard's rows: only the flags and the figures a row shows are computed (see `build_summary`), and
    # `load_week_data` reads only what those need when every request of a batch is brief.
    brief: bool = False
    # False for a row's days shown when its flags come from another span (the dashboard's open flags): only the
    # figures the row shows are computed (`ROW_SECTIONS`), no flag. Such a request is brief too.
    flags: bool = True
    # Worked out once when made (the request is frozen): a dashboard's loaders ask each of its 200 requests for them
    # many times, and Python 3.11's cached_property takes a lock at each first read. `load_from` is the oldest local
    # day any rule looks at: the previous week (mood change) or the sparkline history.
    visible_from: date = field(init=False, repr=False, compare=False)
    visible_to: date = field(init=False, repr=False, compare=False)
    load_from: date = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        monday = self.week.monday
        object.__setattr__(self, "visible_from", max(monday, self.data_from))
        object.__setattr__(self, "visible_to", min(self.week.sunday, self.today))
        object.__setattr__(self, "load_from", max(self.data_from, monday - timedelta(days=max(7, self.history_days))))

    @property
    def key(self) -> tuple[int, date]:
        return (self.patient_id, self.week.monday)

    @cached_property
    def brief_key(self) -> tuple[Any, ...]:
        """Everything of a brief request its summary depends on: every field but `now`, which a brief summary never
        reads (`now` only bounds the scheduled groups counted, and a brief load expands no schedule)."""
        if not self.brief:
            raise ValueError("only a brief summary is independent of now")
        return (self.patient_id, self.timezone, self.week, self.categories, self.data_from, self.today,
                self.history_days, self.flags)  # fmt: skip

    def shares(self, *categories: str) -> bool:
        return not self.categories.isdisjoint(categories)


@dataclass(frozen=True)
class Flag:
    key: str  # no_checkin | cravings | use | self_harm | missed_groups | mood_drop
    label: str


@dataclass(frozen=True)
class DiaryDay:
    day: date
    urges: dict[str, int | None]
    acted: dict[str, bool | None]
    skills_used: int | None


@dataclass
class WeeklySummary:
    patient_id: int
    week: Week
    categories: frozenset[str]
    visible_from: date
    visible_to: date
    days_counted: int = 0
    # adherence (any check-in category)
    checkin_days: int | None = None
    checkin_dates: list[date] = field(default_factory=list)
    # mood_sleep
    mood_avg: float | None = None
    mood_min: int | None = None
    mood_max: int | None = None
    mood_by_day: list[tuple[date, int | None]] = field(default_factory=list)
    mood_prev_avg: float | None = None
    mood_change: float | None = None
    # cravings_triggers
    craving_avg: float | None = None
    craving_peak: int | None = None
    craving_peak_day: date | None = None
    craving_peak_when: str = ""
    craving_high_days: int = 0
    craving_by_day: list[tuple[date, int | None]] = field(default_factory=list)
    craving_logs: int = 0
    top_triggers: list[tuple[str, int]] = field(default_factory=list)
    # substance_use
    use_days: list[date] | None = None
    # diary_card
    diary_days: list[DiaryDay] = field(default_factory=list)
    urge_max: dict[str, int | None] = field(default_factory=dict)
    acted_on: dict[str, bool] = field(default_factory=dict)
    # skill_practice
    skills_count: int | None = None
    skills_top: list[tuple[str, int]] = field(default_factory=list)
    skills_avg_drop: float | None = None
    homework_done: list[str] = field(default_factory=list)
    homework_open: list[str] = field(default_factory=list)
    # attendance
    groups_scheduled: int | None = None
    groups_attended: int = 0
    groups_missed: int = 0
    # notes
    notes: list[tuple[date, str]] = field(default_factory=list)
    # history for sparklines (dashboard): (day, value) from load_from to visible_to
    mood_history: list[tuple[date, int | None]] = field(default_factory=list)
    craving_history: list[tuple[date, int | None]] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)
    # the spec's measures with `summary=True` in a shared category: name -> the week's aggregate
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def sleep_avg(self) -> float | None:
        value = self.measures.get("sleep_hours")
        return float(value) if value is not None else None

    def measure_figures(self, category: str) -> list[tuple[Measure, Any]]:
        """The category's generic measures with their aggregate for the week (only if the category is shared)."""
        if not self.shares(category):
            return []
        return [(m, self.measures.get(m.name)) for m in measures.for_category(category, summary=True)]

    @property
    def empty_window(self) -> bool:
        return self.visible_from > self.visible_to

    def shares(self, *categories: str) -> bool:
        return not self.categories.isdisjoint(categories)

    @property
    def shows_adherence(self) -> bool:
        return bool(self.categories & CHECKIN_CATEGORIES)


# --- loading -------------------------------------------------------------------------------------------------


_NO_URGES: dict[str, Any] = dict.fromkeys(URGE_KINDS)
_NO_VALUES: dict[str, Any] = {}  # shared by rows without them: never mutated
_NO_TRIGGERS: list[str] = []  # the same
# Read for the week itself: the diary card's columns and every measure the summary shows generically.
_WEEK_MEASURES = tuple(
    dict.fromkeys(
        [*(f"urge_{k}" for k in URGE_KINDS), *(f"acted_{k}" for k in URGE_KINDS), "skills_used"]
        + [m.name for m in measures.MEASURES if m.summary]
    )
)


@dataclass(slots=True)
class _CheckinRow:
    """One check-in. Days outside the week itself carry only mood and craving (for trends and sparklines)."""

    day: date
    mood: int
    craving: int
    used: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # the spec's measures (server/checkins/measures.py)
    triggers: list[str] = field(default_factory=list)
    urges: dict[str, Any] = field(default_factory=lambda: _NO_URGES)
    acted: dict[str, Any] = field(default_factory=lambda: _NO_URGES)
    skills_used: int | None = None
    diary: bool = False


@dataclass(slots=True)
class _CravingRow:
    day: date
    at: datetime  # UTC
    intensity: int
    triggers: list[str]
    outcome: str


@dataclass
class PatientData:
    checkins: dict[date, _CheckinRow] = field(default_factory=dict)
    cravings: list[_CravingRow] = field(default_factory=list)
    notes: list[tuple[date, datetime | None, str]] = field(default_factory=list)
    practices: list[tuple[str, datetime, int | None, int | None]] = field(default_factory=list)
    assignments: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    occurrences: list[schedule.Occurrence] = field(default_factory=list)
    marks: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    triggers: TriggerSet | None = None
    # Rows kept per table exactly as the database gave them (`read`), made into the objects above only when a summary
    # is built (`unpacked`): the dashboard remembers most of its rows' summaries (server/sharing/dashboard.py). A
    # brief load (`brief` True) keeps every row it reads there: all a brief summary is built from (`read_key`).
    brief: bool = False
    read: dict[str, str] = field(default_factory=dict)  # table → its rows as read (`rows_text`: a JSON array's text)
    _unpacked: bool = False

    def read_key(self) -> tuple[Any, ...]:
        """What a brief load read for this patient, hashable: the same key means the same rows, so the same brief
        summaries. The loads read in a fixed order (ORDER BY): on PostgreSQL an unordered read may come back in
        another order once the planner changes its plan (an autoanalyze between two requests), a different key for
        the same rows."""
        if not self.brief:
            raise ValueError("only a brief load keeps every row it read")
        return tuple(self.read.items())

    def unpacked(self) -> PatientData:
        """Ready for the rules: the rows kept as read made into the objects above, once."""
        if not self._unpacked:
            self._unpacked = True
            for table, rows in self.read.items():
                _UNPACK[table](self, json.loads(rows))
        return self


def _brief(requests: Sequence[WeekRequest]) -> bool:
    """Whether a batch needs only what brief summaries use (a mixed batch is loaded in full)."""
    return all(r.brief for r in requests)


def _ids(requests: Sequence[WeekRequest], *categories: str) -> list[int]:
    return sorted({r.patient_id for r in requests if r.shares(*categories)})


def _dates(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[date, date]:
    wanted = set(ids)
    chosen = [r for r in requests if r.patient_id in wanted]
    return min(r.load_from for r in chosen), max(r.visible_to for r in chosen)


def _week_dates(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[date, date]:
    wanted = set(ids)
    chosen = [r for r in requests if r.patient_id in wanted]
    return min(r.visible_from for r in chosen), max(r.visible_to for r in chosen)


def _utc_window(requests: Sequence[WeekRequest], ids: Iterable[int]) -> tuple[datetime, datetime]:
    wanted = set(ids)
    # Each first and last local day once per zone: a dashboard's 200 requests have a handful between them.
    firsts = {(r.visible_from, r.timezone) for r in requests if r.patient_id in wanted}
    lasts = {(r.visible_to, r.timezone) for r in requests if r.patient_id in wanted}
    start = min(local_midnight(day, timezone) for day, timezone in firsts)
    end = max(local_midnight(day + timedelta(days=1), timezone) for day, timezone in lasts)
    return start, end


# What a brief summary reads of a check-in: what its flags and the dashboard's figures need (no notes, triggers,
# measures, nor whether an urge was acted on), one narrow row per day over the whole span.
_BRIEF_COLUMNS = ("mood", "craving", "used", "diary", *(f"urge_{k}" for k in URGE_KINDS))


async def _load_checkins(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    """Two reads: mood and craving over the longer span (previous week, sparklines), then the rest of the columns
    over the weeks themselves only. A brief batch (the dashboard) reads one narrow row per day instead."""
    ids = _ids(live, *CHECKIN_CATEGORIES, *measures.checkin_categories())
    if not ids:
        return
    first, last = _dates(live, ids)
    if _brief(live):
        await _load_brief_checkins(db, ids, first, last, data)
        return
    dialect = _dialect(db)
    rows = await db.execute(_moods_read(dialect), {"ids": ids, "first": first, "last": last})
    for row in rows:
        data[row.user_id].checkins[row.local_date] = _CheckinRow(row.local_date, int(row.mood), int(row.craving))
    week_first, _week_last = _week_dates(live, ids)
    rows = await db.execute(_week_answers_read(dialect), {"ids": ids, "first": week_first, "last": last})
    for answers in rows.mappings():
        found = data[answers["user_id"]].checkins.get(answers["local_date"])
        if found is None:
            continue  # written between the two reads: leave it for the next request
        found.used = bool(answers["used"])
        found.triggers = list(answers["triggers"] or [])
        found.diary = bool(answers["diary"])
        found.values = {name: answers[name] for name in _WEEK_MEASURES}
        found.urges = {kind: answers[f"urge_{kind}"] for kind in URGE_KINDS}
        found.acted = {kind: answers[f"acted_{kind}"] for kind in URGE_KINDS}
        found.skills_used = answers["skills_used"]


# The single-patient reads (a patient's page, a report), each built once per database: a statement built per request
# left its parameters in reference cycles for the collector (about a hundred objects per patient page).


@lru_cache(maxsize=4)
def _moods_read(dialect_name: str) -> Select[Any]:
    c = table_of(CheckIn).c
    return select(c.user_id, c.local_date, c.mood, c.craving).where(*_days_of(dialect_name, c))


@lru_cache(maxsize=4)
def _week_answers_read(dialect_name: str) -> Select[Any]:
    c = table_of(CheckIn).c
    columns = (c.user_id, c.local_date, c.used, c.triggers, c.diary, *(c[name] for name in _WEEK_MEASURES))
    return select(*columns).where(*_days_of(dialect_name, c))


def _days_of(dialect_name: str, c: Any) -> tuple[ColumnElement[bool], ...]:
    """The patients `ids`' check-ins from `first` to `last`, both included."""
    return (
        among_given(dialect_name, c.user_id, "ids"),
        c.local_date >= bindparam("first"),
        c.local_date <= bindparam("last"),
    )


async def _load_brief_checkins(
    db: AsyncSession, ids: list[int], first: date, last: date, data: dict[int, PatientData]
) -> None:
    statement = _brief_checkins_read(_dialect(db))
    await _read_rows(db, statement, {"ids": ids, "first": first, "last": last}, data, "checkin")


# The bulk reads below are built once per dialect with their values as parameters, and give one row per patient:
# the text of that patient's rows as a JSON array (`rows_text`), in a fixed order. That text is what a remembered
# dashboard row is keyed by (`PatientData.read_key`): it comes from the driver as one string, and hashes and compares
# at C speed, where the same rows as Python values cost ~2 µs each to read and again to compare. It is parsed only
# when a summary is built from it (`PatientData.unpacked`).
@lru_cache(maxsize=4)
def _brief_checkins_read(dialect_name: str) -> Select[Any]:
    c = table_of(CheckIn).c
    rows = select(c.user_id, c.local_date, *(c[name] for name in _BRIEF_COLUMNS), c.id).where(
        among_given(dialect_name, c.user_id, "ids"),
        c.local_date >= bindparam("first"),
        c.local_date <= bindparam("last"),
    )
    values = ["local_date", *_BRIEF_COLUMNS]
    return rows_text(dialect_name, rows, by="user_id", values=values, order=["local_date", "id"])


def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


async def _read_rows(
    db: AsyncSession, statement: Select[Any], params: dict[str, Any], data: dict[int, PatientData], table: str
) -> None:
    """Each patient's rows of `table` as `statement` gives them, kept as read."""
    for patient_id, rows in await read_rows(db, statement, params):
        data[patient_id].read[table] = rows


def _unpack_brief_checkins(data: PatientData, rows: list[list[Any]]) -> None:
    checkins = data.checkins
    # Positional values and no per-row dicts for days without a diary card: a dashboard reads thousands of rows.
    for values in rows:
        day, mood, craving, used, diary = values[:5]
        local_day = from_epoch_days(day)
        urges = _by_kind(tuple(values[5:])) if diary else _NO_URGES
        # Every field given: the defaults' factories would run twice more per row.
        checkins[local_day] = _CheckinRow(
            local_day, int(mood), int(craving), bool(used), _NO_VALUES, _NO_TRIGGERS, urges, _NO_URGES, None,
            bool(diary),
        )  # fmt: skip


@lru_cache(maxsize=512)
def _by_kind(values: tuple[Any, ...]) -> dict[str, Any]:
    """{urge kind: value}, one shared (never mutated) dict per combination: urges run 0-5 and a dashboard reads
    thousands of diary days, so this saves as many small dicts for the garbage collector to walk."""
    return dict(zip(URGE_KINDS, values, strict=True))


async def _load_cravings(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    ids = _ids(live, "cravings_triggers", "substance_use")
    if not ids:
        return
    start, end = _utc_window(live, ids)
    statement = _cravings_read(_dialect(db), brief=_brief(live))
    await _read_rows(db, statement, {"ids": ids, "start": start, "end": end}, data, "craving_log")


@lru_cache(maxsize=8)
def _cravings_read(dialect_name: str, *, brief: bool) -> Select[Any]:
    c = table_of(CravingLog).c
    ticked = [] if brief else ["triggers"]  # brief summaries count no triggers: their JSON is not read
    rows = select(
        c.user_id, c.local_date, epoch_microseconds(c.occurred_at).label("at"), c.intensity, c.outcome,
        *(c[name] for name in ticked), c.occurred_at, c.id,
    ).where(
        among_given(dialect_name, c.user_id, "ids"),
        c.occurred_at >= bindparam("start"),
        c.occurred_at < bindparam("end"),
    )  # fmt: skip
    values = ["local_date", "at", "intensity", "outcome", *ticked]
    return rows_text(dialect_name, rows, by="user_id", values=values, order=["occurred_at", "id"])


def _unpack_cravings(data: PatientData, rows: list[list[Any]]) -> None:
    for day, at, intensity, outcome, *ticked in rows:
        triggers = list(json_value(ticked[0]) or ()) if ticked else _NO_TRIGGERS  # a brief load reads none
        data.cravings.append(
            _CravingRow(from_epoch_days(day), from_epoch_microseconds(at), int(intensity), triggers, outcome or "")
        )


async def _load_triggers(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    if _brief(live):
        return  # labels only name triggers, which brief summaries don't count
    ids = _ids(live, "cravings_triggers")
    if ids:
        prefs = await db.scalars(_trigger_preferences_read(_dialect(db)), {"ids": ids})
        for pref in prefs:
            data[pref.user_id].triggers = build_set(pref)  # patients without their own triggers use the default set


@lru_cache(maxsize=4)
def _trigger_preferences_read(dialect_name: str) -> Select[TriggerPreference]:
    return select(TriggerPreference).where(among_given(dialect_name, col(TriggerPreference.user_id), "ids"))


async def _load_notes(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    if _brief(live):
        return
    ids = _ids(live, "notes")
    if not ids:
        return
    first, last = _week_dates(live, ids)
    dialect = _dialect(db)
    rows = await db.execute(_checkin_notes_read(dialect), {"ids": ids, "first": first, "last": last})
    for row in rows:
        data[row.user_id].notes.append((row.local_date, None, row.note))
    start, end = _utc_window(live, ids)
    rows = await db.execute(_craving_notes_read(dialect), {"ids": ids, "start": start, "end": end})
    for row in rows:
        data[row.user_id].notes.append((row.local_date, row.occurred_at, row.note))


@lru_cache(maxsize=4)
def _checkin_notes_read(dialect_name: str) -> Select[Any]:
    c = table_of(CheckIn).c
    return select(c.user_id, c.local_date, c.note).where(*_days_of(dialect_name, c), c.note != "")


@lru_cache(maxsize=4)
def _craving_notes_read(dialect_name: str) -> Select[Any]:
    logs = table_of(CravingLog).c
    return select(logs.user_id, logs.local_date, logs.occurred_at, logs.note).where(
        among_given(dialect_name, logs.user_id, "ids"),
        logs.occurred_at >= bindparam("start"),
        logs.occurred_at < bindparam("end"),
        logs.note != "",
    )


async def _load_skills(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    if _brief(live):
        return
    ids = _ids(live, "skill_practice")
    if not ids:
        return
    start, end = _utc_window(live, ids)
    dialect = _dialect(db)
    rows = await db.execute(_practices_read(dialect), {"ids": ids, "start": start, "end": end})
    for row in rows:
        data[row.user_id].practices.append((row.card_id, row.started_at, row.distress_before, row.distress_after))
    rows = await db.execute(_assignments_read(dialect), {"ids": ids, "end": end})
    for row in rows:
        data[row.patient_id].assignments.append((row.card_id, row.assigned_at, row.completed_at))


@lru_cache(maxsize=4)
def _practices_read(dialect_name: str) -> Select[Any]:
    p = table_of(SkillPractice).c
    return select(p.user_id, p.card_id, p.started_at, p.distress_before, p.distress_after).where(
        among_given(dialect_name, p.user_id, "ids"), p.started_at >= bindparam("start"), p.started_at < bindparam("end")
    )


@lru_cache(maxsize=4)
def _assignments_read(dialect_name: str) -> Select[Any]:
    a = table_of(SkillAssignment).c
    return select(a.patient_id, a.card_id, a.assigned_at, a.completed_at).where(
        among_given(dialect_name, a.patient_id, "ids"), a.assigned_at < bindparam("end")
    )


async def _load_attendance(db: AsyncSession, live: Sequence[WeekRequest], data: dict[int, PatientData]) -> None:
    ids = _ids(live, "attendance")
    if not ids:
        return
    start, end = _utc_window(live, ids)
    wanted = set(ids)
    occurrences: list[tuple[int, schedule.Occurrence]] = []  # brief summaries count marks only: no schedule
    if _brief(live):
        pass
    elif len(ids) == 1:
        occurrences = [(ids[0], o) for o in await schedule.sessions_for_patient(db, ids[0], start, end)]
    else:
        occurrences = await schedule.occurrences_starting_between(db, start, end, include_cancelled=True)
    for uid, occ in occurrences:
        if uid in wanted:
            data[uid].occurrences.append(occ)
    statement = _marks_read(_dialect(db))
    await _read_rows(db, statement, {"ids": ids, "start": start, "end": end}, data, "attendance")


@lru_cache(maxsize=4)
def _marks_read(dialect_name: str) -> Select[Any]:
    m = table_of(Attendance).c
    at = epoch_microseconds(m.starts_at).label("at")
    rows = select(m.patient_id, m.occurrence_id, at, m.status, m.starts_at).where(
        among_given(dialect_name, m.patient_id, "ids"),
        m.starts_at >= bindparam("start"),
        m.starts_at < bindparam("end"),
    )
    values = ["occurrence_id", "at", "status"]
    return rows_text(dialect_name, rows, by="patient_id", values=values, order=["starts_at", "occurrence_id"])


def _unpack_marks(data: PatientData, rows: list[list[Any]]) -> None:
    for occurrence_id, starts_at, status in rows:
        data.marks[occurrence_id] = (from_epoch_microseconds(starts_at), status)


# How the rows kept of each table become what the rules read (`PatientData.unpacked`).
_UNPACK: dict[str, Callable[[PatientData, list[list[Any]]], None]] = {
    "checkin": _unpack_brief_checkins,
    "craving_log": _unpack_cravings,
    "attendance": _unpack_marks,
}


# One loader per table group; each reads only for the patients who share the categories it serves.
LOADERS = (_load_checkins, _load_cravings, _load_triggers, _load_notes, _load_skills, _load_attendance)


async def load_week_data(db: AsyncSession, requests: Sequence[WeekRequest]) -> dict[int, PatientData]:
    """Everything the rules need for these patient-weeks, in at most a dozen queries whatever their number.

    Each table is read only for the patients who share the category it belongs to, and only over the union of
    their visible windows; `build_summary` then keeps each request to its own window.
    """
    live = [r for r in requests if r.load_from <= r.visible_to]
    brief = _brief(live)
    data: dict[int, PatientData] = defaultdict(lambda: PatientData(brief=brief))
    if live and brief:
        # A brief batch (the dashboard) reads only through `read_rows`, one bulk read per table: all at once.
        await read_together(*(loader(db, live, data) for loader in LOADERS))
    elif live:
        for loader in LOADERS:
            await loader(db, live, data)
    return data


async def sober_days(db: AsyncSession, today: Mapping[int, date]) -> dict[int, int]:
    """Overall sober days (the patient's local today − sobriety date) for these patients ({id: their local today}:
    the caller passes only those who share substance use)."""
    if not today:
        return {}
    rows = await read_rows(db, _sobriety_dates_read(_dialect(db)), {"ids": sorted(today)})
    return {user_id: max(0, (today[user_id] - started_on).days) for user_id, started_on in rows}


@lru_cache(maxsize=4)
def _sobriety_dates_read(dialect_name: str) -> Select[Any]:
    s = table_of(SobrietyDate).c
    return select(s.user_id, s.started_on).where(among_given(dialect_name, s.user_id, "ids"), s.substance == "")


# --- the rules -----------------------------------------------------------------------------------------------


_DEFAULT_TRIGGERS: dict[str, TriggerSet] = {}


def default_triggers() -> TriggerSet:
    """The default trigger labels in the current language, built once per language."""
    locale = current_locale.get()
    if locale not in _DEFAULT_TRIGGERS:
        _DEFAULT_TRIGGERS[locale] = build_set(None)
    return _DEFAULT_TRIGGERS[locale]


def mean(values: Sequence[float]) -> float:
    # statistics.mean is exact (Fractions) and ten times slower; floats are plenty for one decimal place.
    return sum(values) / len(values)


def weekday_name(day: date) -> str:
    return _weekday_name(day, current_locale.get())


@lru_cache(maxsize=2048)
def _weekday_name(day: date, locale: str) -> str:
    # Babel's format_date costs ~20 µs; a dashboard names a few hundred days per request, mostly the same week.
    return format_date(day, "EEEE", locale=locale)


def _part_of_day(moment: datetime) -> str:
    hour = moment.hour
    day = weekday_name(moment.date())
    if 5 <= hour < 12:
        return _("%(day)s morning") % {"day": day}
    if 12 <= hour < 17:
        return _("%(day)s afternoon") % {"day": day}
    if 17 <= hour < 22:
        return _("%(day)s evening") % {"day": day}
    return _("%(day)s night") % {"day": day}


def _days_list(days: Sequence[date]) -> str:
    names = [weekday_name(d) for d in days]
    if len(names) <= 1:
        return "".join(names)
    return _("%(first)s and %(last)s") % {"first": ", ".join(names[:-1]), "last": names[-1]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 1)


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _in_days(day: date, first: date, last: date) -> bool:
    return first <= day <= last


@lru_cache(maxsize=1024)
def _day_range(first: date, last: date) -> tuple[date, ...]:
    """first … last, both included (empty if last is before first). Remembered: a dashboard asks for the same few
    spans for every patient (their todays differ only by timezone)."""
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


@dataclass
class Section:
    """What one category's rules found: facts (WeeklySummary fields), flags and highlights, in reading order."""

    facts: dict[str, Any] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    highlights: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Window:
    """One patient-week as every section sees it: only the visible days, and what was loaded for them."""

    request: WeekRequest
    data: PatientData
    t: Thresholds
    days: tuple[date, ...]
    week_days: list[date]  # the week's days up to the last visible one (before data_from too): the by-day lists
    # A full summary (the week page, exports) also gets highlights and the figures only the week page shows: the
    # by-day lists, the diary days, when cravings peaked. A brief one (a dashboard row) leaves those empty.
    full: bool
    checkins: dict[date, _CheckinRow]  # visible days only
    rows: list[_CheckinRow]  # the same, in day order
    cravings: list[_CravingRow]  # visible days only
    start_utc: datetime
    end_utc: datetime

    @property
    def last(self) -> date:
        return self.days[-1]

    def checked(self) -> list[_CheckinRow]:
        return self.rows

    def by_day(self, value: Callable[[_CheckinRow], Any]) -> list[tuple[date, Any]]:
        """(day, value) for each day of the week so far (None without a check-in)."""
        rows = self.checkins
        return [(d, value(rows[d]) if d in rows else None) for d in self.week_days]


def _window(request: WeekRequest, data: PatientData, thresholds: Thresholds) -> _Window:
    first, last = request.visible_from, request.visible_to
    start_utc = local_midnight(first, request.timezone)
    end_utc = local_midnight(last + timedelta(days=1), request.timezone)
    days = _day_range(first, last)
    loaded = data.checkins
    checkins = {d: loaded[d] for d in days if d in loaded}  # in day order
    return _Window(
        request=request,
        data=data,
        t=thresholds,
        days=days,
        week_days=[d for d in request.week.days if d <= last] if not request.brief else [],
        full=not request.brief,
        checkins=checkins,
        rows=list(checkins.values()),
        cravings=[c for c in data.cravings if first <= c.day <= last and start_utc <= c.at < end_utc],
        start_utc=start_utc,
        end_utc=end_utc,
    )


def _adherence(w: _Window) -> Section:
    """Days checked in; a gap of N+ finished days (today may still bring a check-in, but one today ends a gap)."""
    out = Section({"checkin_days": len(w.checkins)})
    if w.full:
        out.facts["checkin_dates"] = sorted(w.checkins)
    today, checked = w.request.today, w.checkins
    finished = [d for d in w.days if d < today or d in checked]
    run = longest = 0
    for day in finished:
        run = 0 if day in checked else run + 1
        if run > longest:
            longest = run
    if longest >= w.t.no_checkin_days:
        text = ngettext("No check-in for %(num)s day", "No check-in for %(num)s days", longest) % {"num": longest}
        out.flags.append(Flag("no_checkin", text))
    if not w.full:
        return out
    if not w.checkins and finished:
        out.highlights.append(_("No check-ins this week."))
    elif w.checkins and run >= 2:
        out.highlights.append(_("No check-ins since %(day)s.") % {"day": weekday_name(max(w.checkins))})
    return out


def _mood_avg(rows: Sequence[_CheckinRow]) -> float | None:
    return _round(mean([row.mood for row in rows])) if rows else None


def _mood(w: _Window) -> Section:
    moods = [row.mood for row in w.checked()]
    out = Section({"mood_by_day": w.by_day(lambda row: row.mood)} if w.full else {})
    if moods:
        low, high = min(moods), max(moods)
        out.facts.update(mood_avg=_mood_avg(w.checked()), mood_min=low, mood_max=high)
        if w.full:
            lowest = min((d for d in w.days if d in w.checkins), key=lambda d: (w.checkins[d].mood, d))
            out.highlights.append(
                _("Mood averaged %(avg)s out of 10, lowest on %(day)s (%(low)s).")
                % {"avg": _fmt(out.facts["mood_avg"] or 0), "day": weekday_name(lowest), "low": low}
            )
    monday = w.request.week.monday
    prev_first, prev_last = max(monday - timedelta(days=7), w.request.data_from), monday - timedelta(days=1)
    loaded = w.data.checkins
    prev = [loaded[d].mood for d in _day_range(prev_first, prev_last) if d in loaded]
    if prev:
        out.facts["mood_prev_avg"] = _round(mean(prev))
    if moods and prev:
        change = _round(mean(moods) - mean(prev)) or 0.0
        out.facts["mood_change"] = change
        if -change >= w.t.mood_drop:
            out.flags.append(Flag("mood_drop", _("Mood down %(n)s points") % {"n": _fmt(-change)}))
        if w.full and abs(change) >= w.t.mood_drop:
            word = _("down") if change < 0 else _("up")
            out.highlights.append(
                _("Mood is %(word)s %(n)s points on the week before.") % {"word": word, "n": _fmt(abs(change))}
            )
    return out


def _peak_level(w: _Window) -> int | None:
    """How strong the strongest craving was (check-ins and craving logs), without when."""
    return max([row.craving for row in w.checked()] + [c.intensity for c in w.cravings], default=None)


def _craving_peak(w: _Window, labels: TriggerSet) -> Section:
    """The strongest craving; a craving log wins a tie on the same day because it knows the time."""
    if not w.full:  # a dashboard row shows how strong only, not when
        return Section({"craving_peak": _peak_level(w)})
    candidates: list[tuple[int, int, date, datetime | None, list[str]]] = [
        (row.craving, 0, row.day, None, row.triggers) for row in w.checked()
    ]
    candidates += [(c.intensity, 1, c.day, c.at, c.triggers) for c in w.cravings]
    if not candidates:
        return Section()
    level, _log, day, at, triggers = max(candidates, key=lambda x: (x[0], x[1], -x[2].toordinal()))
    when = _part_of_day(local_moment(at, w.request.timezone)) if at else weekday_name(day)
    out = Section({"craving_peak": level, "craving_peak_day": day, "craving_peak_when": when})
    if level > 0:
        text = _("Cravings peaked on %(when)s (%(n)s out of 10)") % {"when": when, "n": level}
        if triggers:
            text = _("Cravings peaked on %(when)s (%(n)s out of 10), after “%(trigger)s”") % {
                "when": when,
                "n": level,
                "trigger": labels.label(triggers[0]),
            }
        out.highlights.append(text + ".")
    return out


def _cravings(w: _Window) -> Section:
    labels = w.data.triggers or default_triggers()
    values = [row.craving for row in w.checked()]
    high_days = {row.day for row in w.checked() if row.craving >= w.t.craving_level}
    high_days |= {c.day for c in w.cravings if c.intensity >= w.t.craving_level}
    out = _craving_peak(w, labels)
    out.facts.update(
        craving_avg=_round(mean(values)) if values else None,
        craving_logs=len(w.cravings),
        craving_high_days=len(high_days),
    )
    if w.full:
        out.facts["craving_by_day"] = w.by_day(lambda row: row.craving)
    if len(high_days) >= w.t.craving_days:
        text = _("Craving %(level)s+ on %(n)s days") % {"level": w.t.craving_level, "n": len(high_days)}
        out.flags.append(Flag("cravings", text))
    if not w.full:
        return out  # a brief load reads no triggers
    # Each check-in or craving log counts a trigger once.
    ticked = [row.triggers for row in w.checked()] + [c.triggers for c in w.cravings]
    ticks = Counter(t for triggers in ticked for t in set(triggers))
    top = sorted(ticks.items(), key=lambda kv: (-kv[1], labels.label(kv[0]).casefold()))[:3]
    out.facts["top_triggers"] = [(labels.label(tid), n) for tid, n in top]
    if top and top[0][1] >= 2:
        out.highlights.append(
            _("“%(trigger)s” came up %(n)s times.") % {"trigger": labels.label(top[0][0]), "n": top[0][1]}
        )
    return out


def _use(w: _Window) -> Section:
    used = {row.day for row in w.checked() if row.used} | {c.day for c in w.cravings if c.outcome == "used"}
    out = Section({"use_days": sorted(used)})
    if len(used) >= w.t.use_days:
        text = ngettext("Used on %(num)s day", "Used on %(num)s days", len(used)) % {"num": len(used)}
        out.flags.append(Flag("use", text))
    if w.full and used:
        out.highlights.append(_("Used on %(days)s.") % {"days": _days_list(sorted(used))})
    return out


def _diary(w: _Window) -> Section:
    cards = [row for row in w.checked() if row.diary]
    urge_max: dict[str, int | None] = {}
    for kind in URGE_KINDS:
        levels = [int(r.urges[kind]) for r in cards if r.urges[kind] is not None]
        urge_max[kind] = max(levels) if levels else None
    out = Section({"urge_max": urge_max})
    if w.full:
        out.facts["diary_days"] = [DiaryDay(r.day, r.urges, r.acted, r.skills_used) for r in cards]
        out.facts["acted_on"] = {kind: any(bool(r.acted[kind]) for r in cards) for kind in URGE_KINDS}
    self_harm = urge_max.get("self_harm")
    if self_harm is not None and self_harm >= w.t.self_harm_urge:
        out.flags.append(Flag("self_harm", _("Self-harm urge %(n)s of 5") % {"n": self_harm}))
        if w.full:
            day = min(r.day for r in cards if r.urges["self_harm"] == self_harm)
            out.highlights.append(
                _("The urge to self-harm reached %(n)s of 5 on %(day)s.") % {"n": self_harm, "day": weekday_name(day)}
            )
    if not w.full:
        return out
    acted_days = sorted({r.day for r in cards for kind in URGE_KINDS if r.acted[kind]})
    if acted_days:
        out.highlights.append(_("Acted on an urge on %(days)s.") % {"days": _days_list(acted_days)})
    return out


def _skills(w: _Window) -> Section:
    practices = [p for p in w.data.practices if w.start_utc <= p[1] < w.end_utc]
    counts = Counter(p[0] for p in practices)
    drops = [p[2] - p[3] for p in practices if p[2] is not None and p[3] is not None]
    avg_drop = _round(mean(drops)) if drops else None
    done = [card_title(c) for c, _a, at in w.data.assignments if at is not None and w.start_utc <= at < w.end_utc]
    still_open = [
        card_title(c)
        for c, assigned, at in w.data.assignments
        if assigned < w.end_utc and (at is None or at >= w.end_utc)
    ]
    out = Section(
        {
            "skills_count": len(practices),
            "skills_top": [
                (card_title(card), n)
                for card, n in sorted(counts.items(), key=lambda kv: (-kv[1], card_title(kv[0]).casefold()))[:3]
            ],
            "skills_avg_drop": avg_drop,
            "homework_done": done,
            "homework_open": still_open,
        }
    )
    if practices:
        text = ngettext("Practised skills %(num)s time", "Practised skills %(num)s times", len(practices)) % {
            "num": len(practices)
        }
        if avg_drop is not None:
            text += " " + _("(distress down %(n)s points on average)") % {"n": _fmt(avg_drop)}
        out.highlights.append(text + ".")
    if done or still_open:
        out.highlights.append(
            _("Finished %(done)s of %(total)s assigned skills.")
            % {"done": len(done), "total": len(done) + len(still_open)}
        )
    return out


def _attendance(w: _Window) -> Section:
    scheduled: set[str] = set()
    if w.data.occurrences:  # never in a brief load: a brief summary doesn't depend on now (`brief_key`)
        cutoff = min(w.end_utc, w.request.now)
        scheduled = {
            o.occurrence_id for o in w.data.occurrences if not o.cancelled and w.start_utc <= o.starts_at < cutoff
        }
    marks = {oid: status for oid, (at, status) in w.data.marks.items() if w.start_utc <= at < w.end_utc}
    every = scheduled | set(marks)
    attended = sum(1 for s in marks.values() if s == "attended")
    missed = sum(1 for s in marks.values() if s == "missed")
    scheduled_count = None if w.request.brief else len(every)  # a brief load expands no schedule
    out = Section({"groups_scheduled": scheduled_count, "groups_attended": attended, "groups_missed": missed})
    if missed >= w.t.missed_groups:
        text = ngettext("Missed %(num)s group", "Missed %(num)s groups", missed) % {"num": missed}
        out.flags.append(Flag("missed_groups", text))
    if w.full and every:
        out.highlights.append(_("Went to %(n)s of %(total)s groups.") % {"n": attended, "total": len(every)})
    return out


def _notes(w: _Window) -> Section:
    first, last = w.days[0], w.last
    kept = [(d, at, text) for d, at, text in w.data.notes if _in_days(d, first, last)]
    kept = [(d, at, text) for d, at, text in kept if at is None or w.start_utc <= at < w.end_utc]
    kept.sort(key=lambda n: (n[0], n[1] is not None, n[1] or datetime.min.replace(tzinfo=w.start_utc.tzinfo)))
    return Section({"notes": [(d, text) for d, _at, text in kept]})


def _measure_figures(w: _Window) -> Section:
    """Each spec measure shown in the summary (server/checkins/measures.py), in a category the patient shares."""
    figures = {
        m.name: m.aggregate_of([row.values.get(m.name) for row in w.checked()])
        for m in measures.MEASURES
        if m.summary and m.category and w.request.shares(m.category)
    }
    return Section({"measures": figures})


def _history(w: _Window) -> Section:
    """Mood and craving from the load window's start (dashboard sparklines)."""
    if not w.request.history_days:
        return Section()
    first = w.request.load_from
    span = _day_range(first, w.last)
    rows = w.data.checkins
    out = Section()
    if w.request.shares("mood_sleep"):
        out.facts["mood_history"] = [(d, rows[d].mood if d in rows else None) for d in span]
    if w.request.shares("cravings_triggers"):
        out.facts["craving_history"] = [(d, rows[d].craving if d in rows else None) for d in span]
    return out


def _row_figures(w: _Window) -> Section:
    """A dashboard row's figures for its days shown, when their flags come from another span: what `_adherence`,
    `_mood` and `_cravings` set for a brief summary, through the same helpers, and no flag."""
    shares, out = w.request.shares, Section()
    if shares(*CHECKIN_CATEGORIES):
        out.facts["checkin_days"] = len(w.checkins)
    if shares("mood_sleep"):
        out.facts["mood_avg"] = _mood_avg(w.checked())
    if shares("cravings_triggers"):
        out.facts["craving_peak"] = _peak_level(w)
    return out


# Each section with the categories that show it, in the order a therapist reads them (flags and highlights too).
SECTIONS: tuple[tuple[frozenset[str], Callable[[_Window], Section]], ...] = (
    (CHECKIN_CATEGORIES, _adherence),
    (frozenset({"mood_sleep"}), _mood),
    (frozenset({"cravings_triggers"}), _cravings),
    (frozenset({"substance_use"}), _use),
    (frozenset({"diary_card"}), _diary),
    (frozenset({"skill_practice"}), _skills),
    (frozenset({"attendance"}), _attendance),
    (frozenset({"notes"}), _notes),
    (THERAPIST_CATEGORY_IDS, _measure_figures),  # each measure checks its own category
    (THERAPIST_CATEGORY_IDS, _history),
)
# What a brief summary (a dashboard row) computes: every section that can raise a flag, and the sparklines.
BRIEF_SECTIONS = frozenset({_adherence, _mood, _cravings, _use, _diary, _attendance, _history})
# What a row's days shown compute when their flags come from another span (`WeekRequest.flags` False); each
# checks the categories itself.
ROW_SECTIONS = (_row_figures, _history)


def build_summary(request: WeekRequest, data: PatientData | None, thresholds: Thresholds) -> WeeklySummary:
    """Apply the rules to one patient-week, section by section. Reads nothing the request's categories don't
    cover: a section runs only when the patient shares one of its categories.

    A brief request (a dashboard row) gets the same flags and the same adherence, mood, craving, use, diary-urge
    and history figures, computed by the same sections; it has no highlights, notes, skills, measures, top
    triggers, by-day lists, check-in dates, diary days (nor acted-on), craving peak day and time or scheduled-group
    count (left empty, never shown from a brief summary). A request without flags (`WeekRequest.flags`) gets only
    a row's figures: check-ins, days counted, the mood average, the craving peak and the history."""
    summary = WeeklySummary(
        patient_id=request.patient_id,
        week=request.week,
        categories=request.categories,
        visible_from=request.visible_from,
        visible_to=request.visible_to,
    )
    if request.visible_from > request.visible_to:
        return summary
    w = _window(request, data.unpacked() if data else PatientData(), thresholds)
    summary.days_counted = len(w.days)
    sections = _sections_for(request.categories, request.brief) if request.flags else ROW_SECTIONS
    for section in sections:
        found = section(w)
        for name, value in found.facts.items():
            setattr(summary, name, value)
        summary.flags += found.flags
        summary.highlights += found.highlights
    return summary


@lru_cache(maxsize=256)
def _sections_for(categories: frozenset[str], brief: bool) -> tuple[Callable[[_Window], Section], ...]:
    """The sections a request runs, in order (a few sharing combinations recur across every patient)."""
    return tuple(
        section
        for shown_for, section in SECTIONS
        if not shown_for.isdisjoint(categories) and (not brief or section in BRIEF_SECTIONS)
    )


async def weekly_summaries(
    db: AsyncSession, requests: Sequence[WeekRequest], thresholds: Thresholds | dict[int, Thresholds]
) -> dict[tuple[int, date], WeeklySummary]:
    """Many patient-weeks at once, keyed by (patient id, Monday). A fixed number of queries."""
    data = await load_week_data(db, requests)
    result: dict[tuple[int, date], WeeklySummary] = {}
    for request in requests:
        t = thresholds.get(request.patient_id, Thresholds()) if isinstance(thresholds, dict) else thresholds
        result[request.key] = build_summary(request, data.get(request.patient_id), t)
    return result


async def weekly_summary(db: AsyncSession, request: WeekRequest, thresholds: Thresholds) -> WeeklySummary:
    """One patient-week (the same code path as the batch, with a batch of one)."""
    return (await weekly_summaries(db, [request], thresholds))[request.key]
