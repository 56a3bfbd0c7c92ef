"""Alumni mode on Today: after discharge the home screen keeps what helps (check-ins, sober days, skills, the
aftercare plan, an alumni group) and says, once, "You finished your program"; when a discharge ended an
"until the end of my program" consent, Today says so and how to share again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.aftercare.models import AftercarePlan
from server.consent.models import Consent
from server.db import pk, utcnow
from server.i18n import current_locale
from server.localtime import user_zone
from server.schedule.discharge import DischargeView, alumni_program, latest_discharge
from server.schedule.models import Enrolment

# How long Today keeps saying that sharing ended with the program (unless the person shares again sooner).
SHARING_NOTICE_DAYS = 30


@dataclass(frozen=True)
class Alumni:
    discharge: DischargeView
    celebrate: bool  # show "You finished your program" (until the person closes it)
    ended_sharing_with: list[str]  # therapists whose "until the end of my program" consent ended
    alumni_group: str = ""  # the clinic's alumni program, when the person isn't in it yet

    @property
    def last_day_text(self) -> str:
        return format_date(self.discharge.last_day, "long", locale=current_locale.get())


def local_today(user: User) -> date:
    return utcnow().astimezone(user_zone(user)).date()


async def alumni_status(db: AsyncSession, user: User) -> DischargeView | None:
    """The person's discharge once its last day has come (they are an alumnus), else None."""
    assert user.id is not None
    found = await latest_discharge(db, user.id)
    if found is None or found.last_day > local_today(user):
        return None
    return found


async def _ended_sharing(db: AsyncSession, user: User, last_day: date) -> list[str]:
    if local_today(user) > last_day + timedelta(days=SHARING_NOTICE_DAYS):
        return []
    rows = (
        await db.execute(
            select(Consent, col(User.display_name))
            .join(User, col(User.id) == col(Consent.recipient_id))
            .where(col(Consent.patient_id) == user.id, col(Consent.recipient_kind) == "therapist")
            .order_by(col(Consent.version).desc())
        )
    ).all()
    newest: dict[int, tuple[Consent, str]] = {}
    for consent, name in rows:
        newest.setdefault(consent.recipient_id, (consent, name))
    # Only where the newest consent to that therapist is the one the discharge ended: a new one means they
    # already chose to share again.
    return sorted(name for consent, name in newest.values() if consent.ended_with_program)


async def _alumni_group_to_offer(db: AsyncSession, user: User) -> str:
    program = await alumni_program(db, user.clinic_id)
    if program is None:
        return ""
    enrolled = (
        await db.scalars(
            select(col(Enrolment.id)).where(
                col(Enrolment.patient_id) == user.id,
                col(Enrolment.program_id) == program.id,
                col(Enrolment.status) == "active",
            )
        )
    ).first()
    return "" if enrolled else program.name


async def today_context(db: AsyncSession, user: User) -> dict[str, Any]:
    """For Today: `alumni` (None while in a program or never discharged)."""
    return await today_panel(db, user, await latest_discharge(db, pk(user)))


async def today_panel(db: AsyncSession, user: User, found: DischargeView | None) -> dict[str, Any]:
    """`today_context` given the latest discharge already read (Today's composed statement); reads more only
    for an alumnus."""
    discharge = found if found is not None and found.last_day <= local_today(user) else None
    if discharge is None:
        return {"alumni": None}
    plan = (await db.scalars(select(AftercarePlan).where(col(AftercarePlan.patient_id) == user.id))).first()
    # Until the person says thanks (a reload or a second tab never eats the moment); then never again.
    celebrate = discharge.finished and (plan is None or plan.celebrated_enrolment_id != discharge.enrolment_id)
    alumni = Alumni(
        discharge=discharge,
        celebrate=celebrate,
        ended_sharing_with=await _ended_sharing(db, user, discharge.last_day),
        alumni_group=await _alumni_group_to_offer(db, user),
    )
    return {"alumni": alumni}


async def moment_seen(db: AsyncSession, user: User) -> None:
    """The person closed "You finished your program": Today stays calm from now on."""
    discharge = await alumni_status(db, user)
    if discharge is None:
        return
    plan = (await db.scalars(select(AftercarePlan).where(col(AftercarePlan.patient_id) == user.id))).first()
    plan = plan or AftercarePlan(patient_id=pk(user))
    plan.celebrated_enrolment_id = discharge.enrolment_id
    db.add(plan)
