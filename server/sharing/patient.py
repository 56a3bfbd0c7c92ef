"""The patient's side of sharing: whom they can share with, the consent screen's facts, narrowing, nudges."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Clinic, Role, User
from server.checkins import measures
from server.consent.forms import ConsentFormSpec, ends_label_for
from server.consent.models import Consent
from server.consent.program import program_bounds
from server.consent.service import active_consent, as_utc, sign_consent
from server.consent.wording import (
    THERAPIST_CATEGORIES,
    CategoryOption,
    ConsentTerms,
    consent_sections,
    long_date,
    plain_text,
)
from server.db import pk, utcnow
from server.i18n import gettext as _
from server.localtime import local_datetime, local_today
from server.sharing.models import SharingNudge
from server.sharing.notify import nudge_therapist


async def clinic_therapists(db: AsyncSession, patient: User) -> list[User]:
    rows = await db.scalars(
        select(User)
        .where(col(User.clinic_id) == patient.clinic_id, col(User.role) == Role.THERAPIST)
        .order_by(col(User.display_name), col(User.id))
    )
    return list(rows)


async def clinic_therapist(db: AsyncSession, patient: User, therapist_id: int | None) -> User | None:
    """A therapist of the patient's own clinic, or None (callers answer 404)."""
    if therapist_id is None:
        return None
    therapist = await db.get(User, therapist_id)
    if therapist is None or therapist.role != Role.THERAPIST or therapist.clinic_id != patient.clinic_id:
        return None
    return therapist


def purpose_text(therapist: User) -> str:
    return _(
        "Treatment: so that %(name)s can see how my weeks are going and use it in my individual sessions and "
        "treatment planning."
    ) % {"name": therapist.display_name}


def therapist_options() -> tuple[CategoryOption, ...]:
    """The consent's categories, each hint also naming the check-in measures its own words don't cover yet
    (a measure's `consent_phrase` in server/checkins/measures.py), in the reader's language."""
    options = []
    for option in THERAPIST_CATEGORIES:
        extra = measures.consent_phrases(option.id)
        if extra:
            also = _("It also includes: %(list)s.") % {"list": ", ".join(extra)}
            option = replace(option, hint=f"{option.hint} {also}")
        options.append(option)
    return tuple(options)


def consent_title(therapist: User) -> str:
    return _("Consent to share my Steady information with %(name)s") % {"name": therapist.display_name}


async def consent_spec(db: AsyncSession, patient: User, therapist: User) -> ConsentFormSpec:
    clinic = await db.get(Clinic, patient.clinic_id)
    clinic_name = clinic.name if clinic is not None else ""
    today = local_today(patient)
    start, end = await program_bounds(db, patient, today)
    terms = ConsentTerms(
        patient_name=patient.display_name,
        discloser=clinic_name,
        recipient_name=therapist.display_name,
        recipient_description=_("therapist at %(clinic)s") % {"clinic": clinic_name},
        purpose=purpose_text(therapist),
        options=therapist_options(),
        what_notes=(
            _(
                "With any of mood and sleep, cravings, substance use, the diary card or notes, %(name)s also sees on "
                "which days you checked in."
            )
            % {"name": therapist.display_name},
        ),
    )
    return ConsentFormSpec(
        action="/sharing/consent",
        terms=terms,
        today=today,
        title=consent_title(therapist),
        submit_label=_("Sign and share"),
        program_start=start,
        program_end=end,
        hidden={"therapist": str(therapist.id)},
    )


async def narrow(
    db: AsyncSession, patient: User, consent: Consent, category: str, *, now: datetime | None = None
) -> Consent | None:
    """Stop sharing one category: a new version without it, same period, recorded as a partial revocation.

    Taking something away needs no new signature (revoking never does); the new version's text says so and
    names the version it narrows. None when the consent isn't in force or the category isn't in it.
    """
    now = as_utc(now or utcnow())
    current = await active_consent(db, pk(patient), consent.recipient_id, now)
    if current is None or current.id != consent.id or category not in consent.categories:
        return None
    remaining = [c for c in consent.categories if c != category]
    if not remaining:
        return None
    therapist = await db.get(User, consent.recipient_id)
    if therapist is None:
        return None
    spec = await consent_spec(db, patient, therapist)
    last_day = local_datetime(patient, as_utc(consent.ends_at) - timedelta(seconds=1)).date()
    ends_label = ends_label_for(last_day, consent.until_program_end)
    terms = spec.terms.with_choices(
        chosen=frozenset(remaining),
        data_from=consent.data_from,
        ends_label=ends_label,
        signature=consent.signature,
        signed_on=spec.today,
    )
    note = _(
        "This version narrows version %(version)s, signed by %(name)s on %(day)s: it removes one category and "
        "changes nothing else. Removing what is shared is a partial revocation and needs no new signature."
    ) % {"version": consent.version, "name": consent.signature, "day": _local_text(patient, consent.signed_at)}
    wording = plain_text(spec.heading, consent_sections(terms)) + "\n" + note + "\n"
    return await sign_consent(
        db,
        patient=patient,
        recipient=therapist,
        recipient_kind=consent.recipient_kind,
        categories=remaining,
        purpose=consent.purpose,
        data_from=consent.data_from,
        ends_at=consent.ends_at,
        until_program_end=consent.until_program_end,
        wording=wording,
        signature=consent.signature,
        locale=consent.locale,
        now=now,
    )


def _local_text(patient: User, moment: datetime) -> str:
    return long_date(local_datetime(patient, moment).date())


@dataclass(frozen=True)
class NudgeResult:
    status: str  # 'sent' | 'already' | 'not_sharing'


async def send_nudge(db: AsyncSession, patient: User, therapist_id: int, *, now: datetime | None = None) -> NudgeResult:
    """Ask a therapist the patient shares with to look at their week; at most once per local day."""
    now = as_utc(now or utcnow())
    therapist = await clinic_therapist(db, patient, therapist_id)
    if therapist is None or await active_consent(db, pk(patient), pk(therapist), now) is None:
        return NudgeResult("not_sharing")
    today = local_today(patient, now)
    try:
        async with db.begin_nested():
            db.add(SharingNudge(patient_id=pk(patient), therapist_id=pk(therapist), local_date=today, created_at=now))
            await db.flush()
    except IntegrityError:
        return NudgeResult("already")
    await nudge_therapist(db, therapist, pk(patient), today)
    return NudgeResult("sent")


async def nudged_today(db: AsyncSession, patient: User) -> bool:
    today = local_today(patient)
    found = await db.scalar(
        select(col(SharingNudge.id)).where(
            col(SharingNudge.patient_id) == patient.id, col(SharingNudge.local_date) == today
        )
    )
    return found is not None
