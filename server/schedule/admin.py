"""Use-cases behind the admin and therapist schedule pages: loading rows within one clinic, and the checks that
need the database (overlapping phases, a group's weekday, double enrolments). Each check returns form errors
keyed by field name, ready to show next to the field."""

from __future__ import annotations

from datetime import date, timedelta

from litestar.exceptions import NotFoundException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import CareTeam, Role, User
from server.db import get_owned_or_404, pk, utcnow
from server.i18n import gettext as _
from server.schedule import logic
from server.schedule.forms import (
    WEEKDAYS_PLURAL,
    ExtraForm,
    GroupForm,
    HolidayForm,
    PhaseForm,
    SessionChangeForm,
)
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase, SessionException

# How far from today an enrolment may start: late paperwork, or a place booked months ahead.
START_DATE_SLACK = timedelta(days=366)


async def program_or_404(db: AsyncSession, clinic_id: int, program_id: int) -> Program:
    return await get_owned_or_404(db, Program, program_id, clinic_id, owner_field="clinic_id")


async def phase_or_404(db: AsyncSession, program: Program, phase_id: int) -> ProgramPhase:
    return await get_owned_or_404(db, ProgramPhase, phase_id, pk(program), owner_field="program_id")


async def group_or_404(db: AsyncSession, program: Program, group_id: int) -> tuple[GroupPattern, ProgramPhase]:
    group = await db.get(GroupPattern, group_id)
    phase = await db.get(ProgramPhase, group.phase_id) if group is not None else None
    if group is None or phase is None or phase.program_id != program.id:
        raise NotFoundException()
    return group, phase


async def change_or_404(db: AsyncSession, program: Program, change_id: int) -> SessionException:
    return await get_owned_or_404(db, SessionException, change_id, pk(program), owner_field="program_id")


async def enrolment_or_404(db: AsyncSession, program: Program, enrolment_id: int) -> tuple[Enrolment, User]:
    enrolment = await db.get(Enrolment, enrolment_id)
    patient = await db.get(User, enrolment.patient_id) if enrolment is not None else None
    if enrolment is None or patient is None or enrolment.program_id != program.id:
        raise NotFoundException()
    return enrolment, patient


async def care_team_patient_or_404(db: AsyncSession, therapist: User, patient_id: int) -> User:
    """The patient only if this therapist is on their care team (anything else looks like a missing page)."""
    linked = await db.scalar(
        select(col(CareTeam.id)).where(
            col(CareTeam.patient_id) == patient_id,
            col(CareTeam.therapist_id) == therapist.id,
        )
    )
    patient = await db.get(User, patient_id) if linked else None
    if patient is None or patient.role is not Role.PATIENT or patient.clinic_id != therapist.clinic_id:
        raise NotFoundException()
    return patient


async def clinic_programs(db: AsyncSession, clinic_id: int, *, open_only: bool = False) -> list[Program]:
    query = select(Program).where(col(Program.clinic_id) == clinic_id)
    if open_only:
        query = query.where(col(Program.active).is_(True))
    return list(await db.scalars(query.order_by(col(Program.name), col(Program.id))))


async def clinic_patients(db: AsyncSession, clinic_id: int) -> list[User]:
    return list(
        await db.scalars(
            select(User).where(
                col(User.clinic_id) == clinic_id,
                col(User.role) == Role.PATIENT,
            ).order_by(col(User.display_name))
        )
    )


async def program_counts(db: AsyncSession, program_ids: list[int]) -> dict[int, tuple[int, int]]:
    """program id → (phases, enrolments) for the programs list."""
    if not program_ids:
        return {}
    phases = dict(
        (
            await db.execute(
                select(col(ProgramPhase.program_id), func.count())
                .where(col(ProgramPhase.program_id).in_(program_ids))
                .group_by(col(ProgramPhase.program_id))
            )
        ).all()
    )
    enrolled = dict(
        (
            await db.execute(
                select(col(Enrolment.program_id), func.count())
                .where(col(Enrolment.program_id).in_(program_ids), col(Enrolment.status) == "active")
                .group_by(col(Enrolment.program_id))
            )
        ).all()
    )
    return {pid: (phases.get(pid, 0), enrolled.get(pid, 0)) for pid in program_ids}


def today_in(program: Program) -> date:
    return utcnow().astimezone(logic.zone(program.timezone)).date()


# --- checks that need the database -----------------------------------------------------------------------


async def phase_errors(db: AsyncSession, program: Program, form: PhaseForm, phase_id: int | None) -> dict[str, str]:
    if form.end_week < form.start_week:
        return {"end_week": _("The last week can't be before the first week.")}
    others = await db.scalars(
        select(ProgramPhase).where(col(ProgramPhase.program_id) == program.id, col(ProgramPhase.id) != (phase_id or 0))
    )
    for other in others:
        if form.start_week <= other.end_week and other.start_week <= form.end_week:
            return {
                "start_week": _(
                    "These weeks overlap “%(name)s” (weeks %(start)d–%(end)d). Each week belongs to one phase."
                )
                % {"name": other.name, "start": other.start_week, "end": other.end_week}
            }
    return {}


async def session_change_errors(
    db: AsyncSession, program: Program, form: SessionChangeForm
) -> tuple[dict[str, str], GroupPattern | None]:
    group = await db.get(GroupPattern, form.change_group)
    phase = await db.get(ProgramPhase, group.phase_id) if group is not None else None
    if group is None or phase is None or phase.program_id != program.id:
        return {"change_group": _("Please pick one of this program's groups.")}, None
    errors: dict[str, str] = {}
    if form.change_date.weekday() != group.weekday:
        errors["change_date"] = _("“%(title)s” meets on %(days)s. Please pick one of those days.") % {
            "title": group.title,
            "days": str(WEEKDAYS_PLURAL[group.weekday]),
        }
    if form.change_action == "move":
        if form.move_date is None:
            errors["move_date"] = _("Please say which day the session moves to.")
        if form.move_time is None:
            errors["move_time"] = _("Please say what time the session starts on its new day.")
    return errors, group


async def save_session_change(
    db: AsyncSession, program: Program, group: GroupPattern, form: SessionChangeForm
) -> SessionException:
    """Cancel or move one occurrence, replacing any earlier change to the same occurrence."""
    change = await db.scalar(
        select(SessionException).where(
            col(SessionException.pattern_id) == group.id, col(SessionException.original_date) == form.change_date
        )
    )
    if change is None:
        change = SessionException(program_id=pk(program), pattern_id=pk(group), original_date=form.change_date, kind="")
    moving = form.change_action == "move"
    change.kind = "moved" if moving else "cancelled"
    change.new_date = form.move_date if moving else None
    change.new_time = form.move_time if moving else None
    change.note = form.change_note.strip()
    db.add(change)
    await db.flush()
    return change


async def save_holiday(db: AsyncSession, program: Program, form: HolidayForm) -> SessionException:
    change = await db.scalar(
        select(SessionException).where(
            col(SessionException.program_id) == program.id,
            col(SessionException.kind) == "holiday",
            col(SessionException.original_date) == form.holiday_date,
        )
    )
    if change is None:
        change = SessionException(program_id=pk(program), kind="holiday", original_date=form.holiday_date)
    change.note = form.holiday_note.strip()
    db.add(change)
    await db.flush()
    return change


async def save_extra(db: AsyncSession, program: Program, form: ExtraForm) -> SessionException:
    change = SessionException(
        program_id=pk(program),
        kind="extra",
        new_date=form.extra_date,
        new_time=form.extra_time,
        title=form.extra_title.strip(),
        duration_minutes=form.extra_duration,
        location=form.extra_location.strip(),
        video_url=form.extra_video_url.strip(),
        facilitator=form.extra_facilitator.strip(),
        note=form.extra_note.strip(),
    )
    db.add(change)
    await db.flush()
    return change


def apply_group(group: GroupPattern, form: GroupForm) -> None:
    group.title = form.title.strip()
    group.weekday = form.weekday
    group.start_time = form.start_time
    group.duration_minutes = form.duration_minutes
    group.location = form.location.strip()
    group.video_url = form.video_url.strip()
    group.facilitator = form.facilitator.strip()


async def program_weeks(db: AsyncSession, program_id: int) -> int:
    weeks = select(func.max(col(ProgramPhase.end_week))).where(col(ProgramPhase.program_id) == program_id)
    return int(await db.scalar(weeks) or 0)


async def enrol_errors(
    db: AsyncSession, program: Program, patient: User | None, start: date, *, today: date | None = None
) -> dict[str, str]:
    """Problems with enrolling `patient` in `program` from `start`, keyed by form field."""
    if patient is None or patient.role is not Role.PATIENT or patient.clinic_id != program.clinic_id:
        return {"patient_id": _("Please pick a patient from the list.")}
    if not program.active:
        return {"__all__": _("This program is closed to new enrolments. Open it in the program details first.")}
    weeks = await program_weeks(db, pk(program))
    if weeks == 0:
        return {"__all__": _("This program has no phases yet. Add a phase and its groups first.")}
    today = today or today_in(program)
    if abs((start - today).days) > START_DATE_SLACK.days:
        return {"start_date": _("Please pick a start date within a year of today.")}
    new_last = start + timedelta(days=weeks * 7 - 1)
    for enrolment, other in await logic.enrolments_with_programs(db, pk(patient)):
        other_last = logic.last_day(enrolment, await program_weeks(db, pk(other)))
        if other_last is None:
            continue
        if start <= other_last and enrolment.start_date <= new_last:
            return {
                "start_date": _(
                    "%(name)s is already enrolled in %(program)s from %(start)s to %(end)s. "
                    "End that enrolment first, or pick a start date after it."
                )
                % {
                    "name": patient.display_name,
                    "program": other.name,
                    "start": enrolment.start_date.isoformat(),
                    "end": other_last.isoformat(),
                }
            }
    return {}


async def enrol(db: AsyncSession, program: Program, patient: User, start: date) -> Enrolment:
    enrolment = Enrolment(patient_id=pk(patient), program_id=pk(program), start_date=start)
    db.add(enrolment)
    await db.flush()
    return enrolment


def extend_errors(enrolment: Enrolment, weeks: int) -> dict[str, str]:
    if enrolment.status != "active":
        return {"extend_weeks": _("This enrolment has ended. Reopen it first to extend it.")}
    if enrolment.extended_weeks + weeks > logic.MAX_EXTENSION_WEEKS:
        return {
            "extend_weeks": _("An enrolment can be extended by %(n)d weeks at most in all.")
            % {"n": logic.MAX_EXTENSION_WEEKS}
        }
    return {}
