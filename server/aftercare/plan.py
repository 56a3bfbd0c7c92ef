"""The aftercare plan: the patient's own document for life after the program.

Written with the therapist before discharge and editable by the patient any time after: the next level of care and
appointments, the groups and meetings they mean to attend, the people who support them (call links), warning
signs and high-risk situations (linked to their own triggers), the skills that helped most (ranked from their own
practice by `server.skills`), what to do after a slip, and a link to the safety plan (`server.crisis`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.aftercare.models import ALL_DAYS, AftercarePlan
from server.checkins.triggers import TriggerSet, trigger_set
from server.crisis.logic import dial_string, valid_number
from server.db import utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.skills.logic import HelpfulCard, helpful_card_stats

MAX_TEXT = 2000
MAX_SUPPORTERS = 8
MAX_NAME = 80
MAX_PHONE = 40
SPARE_ROWS = 2
TOP_SKILLS = 5

TEXT_FIELDS = ("next_care", "appointments", "meetings", "warning_signs", "high_risk", "after_slip")
# (label, hint) per text section, in the order the plan shows them.
SECTION_TEXT: dict[str, tuple[Any, Any]] = {
    "next_care": (_l("My next level of care"), _l("For example: outpatient therapy with Dr Lee, weekly.")),
    "appointments": (_l("My appointments"), _l("One per line: when, where, with whom.")),
    "meetings": (_l("Groups and meetings I mean to go to"), _l("One per line. The meeting finder can help.")),
    "warning_signs": (_l("My warning signs"), _l("Thoughts, feelings or habits that tell me I'm slipping.")),
    "high_risk": (_l("High-risk situations"), _l("People, places and times to plan around.")),
    "after_slip": (
        _l("If I slip"),
        _l("What I'll do and who I'll call. A slip is a moment, not the end of my recovery."),
    ),
}
# Shown under "If I slip" when the person hasn't written their own words yet.
DEFAULT_AFTER_SLIP = _l(
    "A slip doesn't erase the work you've done. Be kind to yourself, get safe, and reach out to someone on this "
    "plan today. Write down what happened and what you'll try next time, then pick up where you left off."
)
WEEKDAY_NAMES = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"),
                 _l("Sunday"))  # fmt: skip


class PlanForm(BaseModel):
    next_care: str = Field(default="", max_length=MAX_TEXT)
    appointments: str = Field(default="", max_length=MAX_TEXT)
    meetings: str = Field(default="", max_length=MAX_TEXT)
    warning_signs: str = Field(default="", max_length=MAX_TEXT)
    high_risk: str = Field(default="", max_length=MAX_TEXT)
    after_slip: str = Field(default="", max_length=MAX_TEXT)
    trigger_ids: list[str] = Field(default_factory=list, max_length=60)
    checkin_days: list[str] = Field(default_factory=list, max_length=7)

    @field_validator("checkin_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        if any(day not in ALL_DAYS or len(day) != 1 for day in value):
            raise ValueError(_("Please choose days from the list."))
        if not value:
            raise ValueError(
                _("Please keep at least one day. You can turn check-in reminders off on the Reminders page.")
            )
        return value


@dataclass(frozen=True)
class Supporter:
    name: str
    phone: str

    @property
    def tel(self) -> str:
        return "tel:" + dial_string(self.phone) if self.phone else ""


def supporter_rows(values: dict[str, Any]) -> list[dict[str, str]]:
    names = values.get("supporter_name") or []
    phones = values.get("supporter_phone") or []
    rows = []
    for i in range(max(len(names), len(phones))):
        name = names[i] if i < len(names) and isinstance(names[i], str) else ""
        phone = phones[i] if i < len(phones) and isinstance(phones[i], str) else ""
        rows.append({"name": name, "phone": phone})
    return rows


def validate_supporters(rows: list[dict[str, str]]) -> tuple[list[Supporter], dict[str, str]]:
    """Blank rows are dropped; a number must be dialable. Errors are keyed 'supporter_<field>_<row>'."""
    people: list[Supporter] = []
    errors: dict[str, str] = {}
    filled = [(i, r) for i, r in enumerate(rows) if r["name"].strip() or r["phone"].strip()]
    if len(filled) > MAX_SUPPORTERS:
        errors["__all__"] = _("A plan can hold up to %(n)d people.") % {"n": MAX_SUPPORTERS}
    for i, row in filled[:MAX_SUPPORTERS]:
        name, phone = row["name"].strip(), row["phone"].strip()
        if not name:
            errors[f"supporter_name_{i}"] = _("Please add a name (a first name or a nickname is fine).")
        elif len(name) > MAX_NAME:
            errors[f"supporter_name_{i}"] = _("Please keep the name under %(n)d characters.") % {"n": MAX_NAME}
        if phone and (len(phone) > MAX_PHONE or not valid_number(phone)):
            errors[f"supporter_phone_{i}"] = _(
                "Please enter a phone number using digits, spaces, dashes or a leading +."
            )
        people.append(Supporter(name=name, phone=phone))
    return people, errors


async def get_plan(db: AsyncSession, patient_id: int) -> AftercarePlan | None:
    return (await db.scalars(select(AftercarePlan).where(col(AftercarePlan.patient_id) == patient_id))).first()


def form_values_of(plan: AftercarePlan | None) -> dict[str, Any]:
    if plan is None:
        return {"checkin_days": list(ALL_DAYS), "trigger_ids": []}
    values: dict[str, Any] = {name: getattr(plan, name) for name in TEXT_FIELDS}
    values["trigger_ids"] = list(plan.trigger_ids)
    values["checkin_days"] = list(plan.checkin_days)
    values["supporter_name"] = [s.get("name", "") for s in plan.supporters]
    values["supporter_phone"] = [s.get("phone", "") for s in plan.supporters]
    return values


async def save_plan(
    db: AsyncSession, patient: User, form: PlanForm, supporters: list[Supporter], triggers: TriggerSet
) -> AftercarePlan:
    assert patient.id is not None
    plan = await get_plan(db, patient.id) or AftercarePlan(patient_id=patient.id)
    for name in TEXT_FIELDS:
        setattr(plan, name, getattr(form, name).replace("\r\n", "\n").strip())
    known = {t.id for t in triggers.all}
    plan.trigger_ids = [tid for tid in dict.fromkeys(form.trigger_ids) if tid in known]
    plan.supporters = [{"name": s.name, "phone": s.phone} for s in supporters]
    plan.checkin_days = "".join(sorted(set(form.checkin_days)))
    plan.updated_at = utcnow()
    db.add(plan)
    await db.flush()
    return plan


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class PlanView:
    plan: AftercarePlan | None
    sections: dict[str, list[str]]
    supporters: list[Supporter]
    triggers: list[str]  # labels of the linked triggers
    skills: list[HelpfulCard]
    checkin_days: list[str]  # weekday names, or empty for every day
    updated_at: datetime | None

    @property
    def empty(self) -> bool:
        return self.plan is None or not (any(self.sections.values()) or self.supporters or self.triggers)


async def plan_view(db: AsyncSession, patient: User) -> PlanView:
    assert patient.id is not None
    plan = await get_plan(db, patient.id)
    triggers = await trigger_set(db, patient.id)
    sections = {name: lines(getattr(plan, name)) if plan else [] for name in TEXT_FIELDS}
    supporters = [Supporter(str(s.get("name", "")), str(s.get("phone", ""))) for s in (plan.supporters if plan else [])]
    days = plan.checkin_days if plan else ALL_DAYS
    return PlanView(
        plan=plan,
        sections=sections,
        supporters=supporters,
        triggers=[triggers.label(tid) for tid in (plan.trigger_ids if plan else [])],
        skills=await helpful_card_stats(db, patient.id, TOP_SKILLS),
        checkin_days=[] if days == ALL_DAYS else [str(WEEKDAY_NAMES[int(d)]) for d in days],
        updated_at=plan.updated_at if plan and plan.updated_at else None,
    )


async def export_section(db: AsyncSession, patient: User) -> dict[str, Any]:
    """The plan for the patient's own export (JSON): every field as stored, plus the ranked skills."""
    view = await plan_view(db, patient)
    plan = view.plan
    return {
        "aftercare_plan": None
        if plan is None
        else {
            **{name: getattr(plan, name) for name in TEXT_FIELDS},
            "supporters": list(plan.supporters),
            "triggers": view.triggers,
            "checkin_days": plan.checkin_days,
            "skills_that_helped_most": [
                {"card": s.card.id, "average_drop": s.avg_drop, "practices": s.count} for s in view.skills
            ],
            "updated_at": plan.updated_at.isoformat() if plan.updated_at else None,
        }
    }
