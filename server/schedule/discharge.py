"""Discharge: staff record the end of a person's program (completed, stepped down to another level of care, left
early, transferred) with its last day.

The enrolment keeps the outcome, who recorded it and when; its `end_date` makes every later session leave the
schedule, so group reminders stop (the planner never sees them, and a reminder already queued is dropped). Other
domains react through `server.schedule.events` (an "until the end of my program" consent ends that day; family
milestones carry on as the patient chose), wired in `app.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.db import pk, utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.schedule import logic
from server.schedule.models import DISCHARGE_OUTCOMES, FINISHING_OUTCOMES, Enrolment, Program

# A discharge may be written down ahead of time (a step-down agreed for Friday), but not months ahead.
MAX_DAYS_AHEAD = 14

OUTCOME_LABELS = {
    "completed": _l("Completed the program"),
    "stepped_down": _l("Stepped down to another level of care"),
    "left_early": _l("Left the program early"),
    "transferred": _l("Transferred to another provider"),
}


def outcome_options() -> list[tuple[str, str]]:
    return [(key, str(OUTCOME_LABELS[key])) for key in DISCHARGE_OUTCOMES]


def normalise_outcome(outcome: str) -> str:
    return "left_early" if outcome == "discharged" else outcome


def discharge_errors(enrolment: Enrolment, end_date: date, program_weeks: int, today: date) -> dict[str, str]:
    """The last day must fall inside the enrolment: not before it started, not after its natural end, and not
    more than two weeks ahead."""
    if enrolment.status != "active":
        return {"end_date": _("This enrolment has already ended.")}
    if end_date < enrolment.start_date:
        return {
            "end_date": _("The last day can't be before the start date (%(date)s).")
            % {"date": enrolment.start_date.isoformat()}
        }
    natural = logic.natural_last_day(enrolment, program_weeks)
    if natural is not None and end_date > natural:
        return {
            "end_date": _("The last day can't be after the program's own last day (%(date)s).")
            % {"date": natural.isoformat()}
        }
    if end_date > today + timedelta(days=MAX_DAYS_AHEAD):
        return {"end_date": _("A discharge can be recorded up to two weeks ahead.")}
    return {}


async def record_discharge(
    db: AsyncSession, enrolment: Enrolment, *, outcome: str, end_date: date, by: User, now: datetime | None = None
) -> Enrolment:
    """End the enrolment on `end_date` with this outcome (flushed in the caller's transaction)."""
    outcome = normalise_outcome(outcome)
    if outcome not in DISCHARGE_OUTCOMES:
        raise ValueError(outcome)
    enrolment.end_date = end_date
    enrolment.status = "completed" if outcome in FINISHING_OUTCOMES else "discharged"
    enrolment.outcome = outcome
    enrolment.discharged_by_id = by.id
    enrolment.discharged_at = now or utcnow()
    db.add(enrolment)
    await db.flush()
    return enrolment


def reopen(enrolment: Enrolment) -> None:
    enrolment.end_date = None
    enrolment.status = "active"
    enrolment.outcome = ""
    enrolment.discharged_by_id = None
    enrolment.discharged_at = None


@dataclass(frozen=True)
class DischargeView:
    """The patient's most recent discharge, as other domains need it."""

    enrolment_id: int
    program_name: str
    outcome: str
    last_day: date
    finished: bool  # completed or stepped down (the warm "You finished your program" moment)

    @property
    def outcome_label(self) -> str:
        return str(OUTCOME_LABELS.get(self.outcome, ""))


async def latest_discharge(db: AsyncSession, patient_id: int) -> DischargeView | None:
    """The patient's most recent recorded discharge, or None (never discharged, or enrolled again since)."""
    rows = (
        await db.execute(
            select(Enrolment, Program)
            .join(Program, col(Program.id) == col(Enrolment.program_id))
            .where(col(Enrolment.patient_id) == patient_id)
        )
    ).all()
    return discharge_from([(enrolment, program) for enrolment, program in rows])


def discharge_from(pairs: list[tuple[Enrolment, Program]]) -> DischargeView | None:
    """`latest_discharge` over the patient's enrolments and programs already read (Today's composed statement)."""
    newest_first = sorted(
        ((e, p) for e, p in pairs if not p.alumni), key=lambda pair: (pair[0].start_date, pair[0].id), reverse=True
    )
    for enrolment, program in newest_first:
        if enrolment.outcome and enrolment.end_date is not None:
            return DischargeView(
                enrolment_id=pk(enrolment),
                program_name=program.name,
                outcome=enrolment.outcome,
                last_day=enrolment.end_date,
                finished=enrolment.outcome in FINISHING_OUTCOMES,
            )
        if enrolment.status == "active" and not enrolment.outcome:
            return None  # in a program now (or about to start one)
    return None


# --- the clinic's alumni program ---------------------------------------------------------------------------


async def alumni_program(db: AsyncSession, clinic_id: int) -> Program | None:
    """The clinic's alumni program, if it has one that is open."""
    return (
        await db.scalars(
            select(Program).where(
                col(Program.clinic_id) == clinic_id, col(Program.alumni).is_(True), col(Program.active).is_(True)
            )
        )
    ).first()


async def set_alumni_program(db: AsyncSession, program: Program, alumni: bool) -> None:
    """Make this the clinic's alumni program (the one it had before stops being it), or stop it being one."""
    if alumni and not program.alumni:
        for other in await db.scalars(
            select(Program).where(col(Program.clinic_id) == program.clinic_id, col(Program.alumni).is_(True))
        ):
            other.alumni = False
            db.add(other)
    program.alumni = alumni


async def join_alumni(db: AsyncSession, patient_id: int, clinic_id: int, last_day: date) -> Enrolment | None:
    """Enrol the person in the clinic's alumni program from the day after their last day (once)."""
    program = await alumni_program(db, clinic_id)
    if program is None:
        return None
    already = (
        await db.scalars(
            select(Enrolment).where(
                col(Enrolment.patient_id) == patient_id,
                col(Enrolment.program_id) == program.id,
                col(Enrolment.status) == "active",
            )
        )
    ).first()
    if already is not None:
        return already
    enrolment = Enrolment(patient_id=patient_id, program_id=pk(program), start_date=last_day + timedelta(days=1))
    db.add(enrolment)
    await db.flush()
    return enrolment
