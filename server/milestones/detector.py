"""Finding milestones in the patient's data (sobriety date, check-ins, program schedule).

This is the only place that reads clinical tables for family news. It turns what it finds into plain rows and
hands them to ``server.family.milestones`` to be recorded once and fanned out; the family package never
looks at the clinical data itself.

Two entry points:

* :func:`evaluate_all` — the daily (in practice hourly) batch for every patient who has a family member with
  updates on. A fixed number of set-based queries whatever the number of patients: patients + sobriety dates
  (1), check-in streaks as gaps-and-islands with a window function (1), enrolments + programs (1) with their
  phases (1) and group patterns (1), milestones already recorded for the candidates (1 per 1,000), then the
  multi-row inserts of the fan-out (1 per 500 rows).
* :func:`evaluate_patient` — the same for one patient, called right after a check-in or a sobriety-date change.

What counts:

* Sober days: the overall sobriety date ('' substance), in the keytag rhythm (see ``server.family.rules``).
  run_key is the sobriety date, so after a restart the same milestone can be earned again as a new one. A
  relapse itself is never news: the counter restarts quietly and nothing is recorded.
* Check-in streaks: consecutive local days with a check-in, ending today or yesterday; run_key is the first day.
* Phases and the program: from the schedule's phases and enrolments; run_key is the phase's / program's last day.

Only the biggest milestone reached in the last ``GRACE_DAYS`` days is recorded per kind, so a back-dated
sobriety date or a late check-in doesn't replay old news. And the same milestone (kind and value) is never
recorded twice within its own length (two "30 days" less than 30 days apart): that only happens when a date was
corrected or a streak grew backwards through a late check-in, never when it was earned again, and it keeps a
quick restart from showing through to the family. For the same reason, a new run's sober-days milestones stay
quiet until they pass everything the family could already know: every earlier run's sober milestones and, if
good news was shared during an earlier run, as many days as that run could have had ("1 day sober" under a post
"One month sober today!" would tell the family what happened). A count the family sees never goes down.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Integer, and_, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import FamilyLink, User
from server.checkins.events import PATIENT, Listener
from server.checkins.models import CheckIn, SoberReset, SobrietyDate
from server.db import id_col, utcnow
from server.family import milestones as family_milestones
from server.family.models import FamilyPreference, Milestone
from server.family.rules import GRACE_DAYS, STREAK_STEPS, latest_sober_milestone, latest_streak_milestone, parse_day
from server.localtime import zone_for
from server.schedule import logic as schedule
from server.schedule.models import Enrolment, Program
from server.web.logging import get_logger

log = get_logger("milestones")

# Check-ins older than this can't end in a streak milestone inside the grace window (the longest streak step,
# the grace days and a day either way for time zones), so the streak query never reads more history than this.
STREAK_LOOKBACK_DAYS = max(STREAK_STEPS) + GRACE_DAYS + 3
# After a restart, the new run's small milestones stay quiet for a while (see _drop_repeats).


@dataclass
class EvaluationReport:
    patients: int = 0  # patients looked at
    candidates: int = 0  # milestones found in the data (recorded before or not)
    recorded: int = 0  # new milestone rows
    notified: int = 0  # family feed rows (each with a push unless switched off)


@dataclass(frozen=True)
class _Patient:
    id: int
    timezone: str
    sober_since: date | None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _listening_patients() -> Any:
    """Patients with at least one family member whose updates aren't paused (nobody else needs detecting)."""
    return (
        select(col(FamilyLink.patient_id))
        .join(FamilyPreference, col(FamilyPreference.link_id) == col(FamilyLink.id))
        .where(col(FamilyPreference.paused).is_(False))
    )


async def _patients(db: AsyncSession, patient_id: int | None) -> list[_Patient]:
    query = (
        select(id_col(User.id), col(User.timezone), col(SobrietyDate.started_on))
        .outerjoin(SobrietyDate, and_(col(SobrietyDate.user_id) == col(User.id), col(SobrietyDate.substance) == ""))
        .where(col(User.id).in_(_listening_patients()))
    )
    if patient_id is not None:
        query = query.where(col(User.id) == patient_id)
    return [_Patient(pid, tz or "", since) for pid, tz, since in await db.execute(query)]


async def _streak_runs(db: AsyncSession, now: datetime, patient_id: int | None) -> dict[int, tuple[date, date]]:
    """patient id → (first day, last day) of their most recent run of consecutive check-in days, if it ended
    no earlier than the day before yesterday (UTC; each patient's own 'today' is applied afterwards).

    Gaps and islands: in a run of consecutive days, date − row_number() is the same for every row."""
    since = now.date() - timedelta(days=STREAK_LOOKBACK_DAYS)
    number = func.row_number().over(partition_by=col(CheckIn.user_id), order_by=col(CheckIn.local_date))
    if db.get_bind().dialect.name == "postgresql":
        island = CheckIn.local_date - cast(number, Integer)  # date − integer is a date
    else:
        island = func.julianday(CheckIn.local_date) - number
    rows = select(col(CheckIn.user_id), col(CheckIn.local_date), island.label("island")).where(
        col(CheckIn.local_date) >= since,
        col(CheckIn.user_id).in_(_listening_patients()),
    )
    if patient_id is not None:
        rows = rows.where(col(CheckIn.user_id) == patient_id)
    sub = rows.subquery()
    query = (
        select(sub.c.user_id, func.min(sub.c.local_date), func.max(sub.c.local_date))
        .group_by(sub.c.user_id, sub.c.island)
        .having(func.max(sub.c.local_date) >= now.date() - timedelta(days=2))
    )
    runs: dict[int, tuple[date, date]] = {}
    for user_id, first, last in await db.execute(query):
        first, last = _as_date(first), _as_date(last)
        if user_id not in runs or last > runs[user_id][1]:
            runs[user_id] = (first, last)
    return runs


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# -- the schedule, set-based ---------------------------------------------------------------------------------------


class _Enrolment(NamedTuple):
    """The enrolment columns the schedule's date helpers read (plain rows: 10,000 ORM objects cost seconds)."""

    patient_id: int
    program_id: int
    start_date: date
    extended_weeks: int
    end_date: date | None
    status: str


async def _program_news_all(db: AsyncSession, now: datetime) -> dict[int, list[tuple[str, str, date]]]:
    """patient id → [(kind, value, last day)] for phases and programs completed, for every listening patient, in
    four queries. Mirrors ``schedule.logic.completed_phases`` / ``program_completed`` (a test holds them equal)."""
    enrolments = [
        _Enrolment(*row)
        for row in await db.execute(
            select(
                col(Enrolment.patient_id),
                col(Enrolment.program_id),
                col(Enrolment.start_date),
                col(Enrolment.extended_weeks),
                col(Enrolment.end_date),
                col(Enrolment.status),
            )
            .where(col(Enrolment.patient_id).in_(_listening_patients()))
            .order_by(col(Enrolment.start_date), col(Enrolment.id))
        )
    ]
    if not enrolments:
        return {}
    programs = await db.scalars(select(Program).where(col(Program.id).in_({e.program_id for e in enrolments})))
    data = await schedule.load_programs(db, list(programs), with_changes=False)
    news: dict[int, list[tuple[str, str, date]]] = defaultdict(list)
    latest_program: dict[int, tuple[str, date]] = {}
    todays = {pid: now.astimezone(item.tz).date() for pid, item in data.items()}
    for enrolment in enrolments:
        item = data.get(enrolment.program_id)
        if item is None:
            continue
        today = todays[enrolment.program_id]
        for name, finished_on in schedule.phases_finished(enrolment, item, today):
            news[enrolment.patient_id].append(("phase_completed", name, finished_on))
        finished: date | None = None
        if enrolment.status == "completed" and enrolment.end_date is not None and enrolment.end_date <= today:
            finished = enrolment.end_date
        elif enrolment.status == "active":
            natural = schedule.natural_last_day(enrolment, item.weeks)
            if natural is not None and natural < today:
                finished = natural
        current = latest_program.get(enrolment.patient_id)
        if finished is not None and (current is None or finished >= current[1]):
            latest_program[enrolment.patient_id] = (item.program.name, finished)
    for patient_id, (name, finished) in latest_program.items():
        news[patient_id].append(("program_completed", name, finished))
    return news


async def _program_news_one(db: AsyncSession, patient_id: int, now: datetime) -> list[tuple[str, str, date]]:
    """The schedule's own per-patient answers (a handful of queries: fine for one patient)."""
    news = [("phase_completed", name, day) for name, day in await schedule.completed_phases(db, patient_id, now)]
    done = await schedule.program_completed(db, patient_id, now)
    if done is not None:
        news.append(("program_completed", done[0], done[1]))
    return news


# -- turning data into candidate milestones ----------------------------------------------------------------------


def _reached_day(kind: str, value: str, run_key: str) -> date | None:
    """The local day an already recorded sober/streak milestone was reached (from its run and length)."""
    start = parse_day(run_key)
    if start is None or not value.isdigit():
        return None
    return start + timedelta(days=int(value) - (1 if kind == "checkin_streak" else 0))


def _candidates(
    patients: list[_Patient],
    runs: dict[int, tuple[date, date]],
    program_news: dict[int, list[tuple[str, str, date]]],
    now: datetime,
) -> list[tuple[dict[str, Any], date | None]]:
    """(milestone row, day reached) for everything worth recording now; day reached only for sober/streak."""
    found: list[tuple[dict[str, Any], date | None]] = []
    for patient in patients:
        today = now.astimezone(zone_for(patient.timezone)).date()
        if patient.sober_since is not None and patient.sober_since <= today:
            hit = latest_sober_milestone(patient.sober_since, today)
            if hit is not None:
                row = family_milestones.milestone_row(
                    patient.id, "sober_days", str(hit[1]), patient.sober_since.isoformat(), now
                )
                found.append((row, hit[0]))
        run = runs.get(patient.id)
        if run is not None and today - timedelta(days=1) <= run[1] <= today:
            hit = latest_streak_milestone(run[0], run[1], today)
            if hit is not None:
                row = family_milestones.milestone_row(
                    patient.id, "checkin_streak", str(hit[1]), run[0].isoformat(), now
                )
                found.append((row, hit[0]))
        oldest = today - timedelta(days=GRACE_DAYS)
        for kind, value, last_day in program_news.get(patient.id, ()):
            # Completed the day after its last day; older news than the grace window stays unsaid.
            if last_day + timedelta(days=1) >= oldest:
                found.append(
                    (family_milestones.milestone_row(patient.id, kind, value, last_day.isoformat(), now), None)
                )
    return found


async def _drop_repeats(db: AsyncSession, candidates: list[tuple[dict[str, Any], date | None]]) -> list[dict[str, Any]]:
    """Leave out what would say more than the milestone itself (see the module docstring):

    * the same milestone recorded for another run less than its own length away (a corrected date, a streak
      that grew backwards through a late check-in);
    * after a restart, the new run's small sober-days milestones (under 30 days) while another run's sober
      milestone was reached in the last 90 days: "1 day sober" soon after "30 days sober" would tell the family
      what happened."""
    counted = [(row, day) for row, day in candidates if day is not None]
    if not counted:
        return [row for row, _day in candidates]
    patient_ids = sorted({row["patient_id"] for row, _day in counted})
    earlier: dict[tuple[int, str], list[tuple[str, str, date]]] = defaultdict(list)
    for start in range(0, len(patient_ids), 1000):
        rows = await db.execute(
            select(col(Milestone.patient_id), col(Milestone.kind), col(Milestone.value), col(Milestone.run_key)).where(
                col(Milestone.patient_id).in_(patient_ids[start : start + 1000]),
                col(Milestone.kind).in_(("sober_days", "checkin_streak")),
            )
        )
        for pid, kind, value, run_key in rows:
            reached = _reached_day(kind, value, run_key)
            if reached is not None:
                earlier[(pid, kind)].append((value, run_key, reached))
    known = await _what_family_could_know(db, patient_ids)
    keep: list[dict[str, Any]] = []
    for row, day in candidates:
        if day is not None:
            length = int(row["value"])
            others = [
                (value, reached)
                for value, run_key, reached in earlier.get((row["patient_id"], row["kind"]), ())
                if run_key != row["run_key"]
            ]
            if any(value == row["value"] and abs((day - reached).days) < length for value, reached in others):
                continue
            if row["kind"] == "sober_days" and length <= known.get(row["patient_id"], _Known()).bound(row["run_key"]):
                continue
        keep.append(row)
    return keep


@dataclass
class _Known:
    """What the family could already know of a patient's sober days before the run that is counting now: the
    sober milestones of other runs, and - if good news was shared during an earlier run - as many days as any run
    before could have had by then (the words of a post are the patient's own; assume they gave the count)."""

    other_runs: list[tuple[str, int]]  # (run_key, days) of sober milestones recorded
    resets: list[tuple[date, int]]  # (previous_started_on, previous_days)
    good_news: list[date]  # days good news was shared

    def __init__(self) -> None:
        self.other_runs, self.resets, self.good_news = [], [], []

    def bound(self, run_key: str) -> int:
        started = parse_day(run_key)
        highest = max((days for key, days in self.other_runs if key != run_key), default=0)
        before = [day for day in self.good_news if started is None or day < started]
        if before:
            parsed = [parse_day(key) for key, _days in self.other_runs if key != run_key]
            starts = [s for s in parsed if s is not None] + [start for start, _days in self.resets]
            highest = max(highest, *(days for _start, days in self.resets), 0)
            if starts:
                highest = max(highest, (max(before) - min(starts)).days)
        return highest


async def _what_family_could_know(db: AsyncSession, patient_ids: list[int]) -> dict[int, _Known]:
    """Three queries per 1,000 patients: earlier sober milestones, restarts, and good-news days."""
    known: dict[int, _Known] = defaultdict(_Known)
    for start in range(0, len(patient_ids), 1000):
        chunk = patient_ids[start : start + 1000]
        for pid, kind, value, run_key, achieved in await db.execute(
            select(
                col(Milestone.patient_id), col(Milestone.kind), col(Milestone.value), col(Milestone.run_key),
                col(Milestone.achieved_at),
            )
            .where(col(Milestone.patient_id).in_(chunk), col(Milestone.kind).in_(("sober_days", "good_news")))
        ):
            if kind == "sober_days":
                known[pid].other_runs.append((run_key, int(value)))
            else:
                known[pid].good_news.append(_aware(achieved).date())
        for pid, started, days in await db.execute(
            select(col(SoberReset.user_id), col(SoberReset.previous_started_on), col(SoberReset.previous_days)).where(
                col(SoberReset.user_id).in_(chunk)
            )
        ):
            known[pid].resets.append((_as_date(started), int(days)))
    return known


async def _evaluate(db: AsyncSession, now: datetime, patient_id: int | None) -> EvaluationReport:
    now = _aware(now)
    patients = await _patients(db, patient_id)
    report = EvaluationReport(patients=len(patients))
    if not patients:
        return report
    runs = await _streak_runs(db, now, patient_id)
    if patient_id is None:
        program_news = await _program_news_all(db, now)
    else:
        program_news = {patient_id: await _program_news_one(db, patient_id, now)}
    candidates = _candidates(patients, runs, program_news, now)
    report.candidates = len(candidates)
    rows = await _drop_repeats(db, candidates)
    report.recorded, report.notified = await family_milestones.record_and_fan_out(db, rows, now)
    return report


async def evaluate_all(db: AsyncSession, now_utc: datetime | None = None) -> EvaluationReport:
    """Detect and fan out milestones for every patient with a family member listening. Runs in the caller's
    transaction; commit afterwards. Safe to run as often as you like and from several processes at once."""
    report = await _evaluate(db, now_utc or utcnow(), None)
    log.info("milestones evaluated", extra={"event": "milestones", "count": report.recorded})
    return report


async def evaluate_patient(db: AsyncSession, patient_id: int, now_utc: datetime | None = None) -> EvaluationReport:
    """The same for one patient: call it after their check-in or sobriety date changed (same transaction)."""
    return await _evaluate(db, now_utc or utcnow(), patient_id)


def _anyone_listening() -> Any:
    """Whether the patient bound to `checkin.events.PATIENT` has a family member listening: exactly when
    `_patients` finds them, so when false `evaluate_patient` has nothing to look at."""
    return exists(
        _listening_patients().where(col(FamilyLink.patient_id) == PATIENT)
    )


def record_saved_listener() -> Listener:
    """What `app.py` registers for "a check-in or sobriety date was saved": the one-patient evaluation, asked for
    only when someone listens (the check-in save reads that in its own statement)."""
    return Listener(evaluate_patient_safely, _RECORD_SAVED_INTEREST)


async def evaluate_patient_safely(db: AsyncSession, patient_id: int, now_utc: datetime | None = None) -> None:
    """:func:`evaluate_patient` for request handlers: inside a savepoint, and a failure is logged, never raised,
    so good news can never break the check-in that triggered it (the hourly batch catches up)."""
    try:
        async with db.begin_nested():
            await evaluate_patient(db, patient_id, now_utc)
    except Exception:
        log.exception("milestone evaluation failed; the hourly batch will retry")


_RECORD_SAVED_INTEREST = _anyone_listening()  # built once: the check-in save keeps its statement per condition
