"""Family use-cases: the patient's family circle (members, consent, pause, remove, good news, the log of what was
sent) and the family member's own view (feed, program information)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from litestar.exceptions import NotFoundException
from sqlalchemy import Select, String, and_, bindparam, cast, delete, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import FamilyLink, Invite, Role, User
from server.consent import service as consent_service
from server.consent.models import Consent, DisclosureLog
from server.db import id_col, pk, rowcount, utcnow
from server.family import rules
from server.family.milestones import (
    DISCLOSURE_SUBJECT,
    PUSH_PREFIX,
    fan_out,
    listeners,
    record_milestone,
)
from server.family.models import FamilyNotification, FamilyPreference, Milestone
from server.push.models import Reminder
from server.schedule.models import Enrolment, Program

# -- the patient's side --------------------------------------------------------------------------------------------


@dataclass
class Member:
    link: FamilyLink
    person: User
    paused: bool
    kinds: list[str]  # switched on and covered by the consent in force
    consent: Consent | None  # in force now
    consent_state: str  # 'none' | 'active' | 'expired' | 'revoked' | 'replaced' | 'upcoming'

    @property
    def sharing(self) -> bool:
        return bool(self.kinds) and self.consent is not None


async def members(db: AsyncSession, patient_id: int, now: datetime | None = None) -> list[Member]:
    """The patient's family members with what each may hear right now (three queries)."""
    now = now or utcnow()
    rows = await db.execute(
        select(FamilyLink, User, FamilyPreference)
        .join(User, col(User.id) == col(FamilyLink.family_id))
        .outerjoin(FamilyPreference, col(FamilyPreference.link_id) == col(FamilyLink.id))
        .where(col(FamilyLink.patient_id) == patient_id)
        .order_by(col(User.display_name), col(FamilyLink.id))
    )
    newest: dict[int, Consent] = {}
    for consent in await db.scalars(
        select(Consent)
        .where(col(Consent.patient_id) == patient_id, col(Consent.recipient_kind) == "family")
        .order_by(col(Consent.version))
    ):
        newest[consent.recipient_id] = consent
    found = []
    for link, person, pref in rows:
        current = newest.get(pk(person))
        state = current.state(now) if current is not None else "none"
        active = current if state == "active" else None
        kinds = [k for k in (pref.kinds if pref else []) if active is not None and k in active.categories]
        found.append(Member(link, person, bool(pref and pref.paused), kinds, active, state))
    return found


async def member_or_404(db: AsyncSession, patient_id: int, link_id: int) -> tuple[FamilyLink, User]:
    link = await db.get(FamilyLink, link_id)
    if link is None or link.patient_id != patient_id:
        raise NotFoundException()
    person = await db.get(User, link.family_id)
    if person is None:
        raise NotFoundException()
    return link, person


async def preference(db: AsyncSession, link_id: int) -> FamilyPreference:
    pref = await db.scalar(select(FamilyPreference).where(col(FamilyPreference.link_id) == link_id))
    return pref or FamilyPreference(link_id=link_id, kinds=[], paused=False)


async def save_kinds(db: AsyncSession, link: FamilyLink, kinds: list[str]) -> None:
    pref = await preference(db, pk(link))
    pref.kinds = list(kinds)
    pref.updated_at = utcnow()
    db.add(pref)
    await db.flush()
    if not kinds:
        await drop_pending_pushes(db, link)


async def set_paused(db: AsyncSession, link: FamilyLink, paused: bool) -> None:
    pref = await preference(db, pk(link))
    pref.paused = paused
    pref.updated_at = utcnow()
    db.add(pref)
    await db.flush()
    if paused:
        await drop_pending_pushes(db, link)


async def drop_pending_pushes(db: AsyncSession, link: FamilyLink, now: datetime | None = None) -> int:
    """Forget this family member's queued, not yet claimed milestone pushes about this patient (effective at once;
    one a worker already holds is stopped by the send-time check)."""
    now = now or utcnow()
    keys = (
        select(literal(PUSH_PREFIX) + cast(FamilyNotification.id, String))
        .join(Milestone, col(Milestone.id) == col(FamilyNotification.milestone_id))
        .where(col(FamilyNotification.family_id) == link.family_id, col(Milestone.patient_id) == link.patient_id)
    )
    return await rowcount(
        db,
        delete(Reminder).where(
            col(Reminder.user_id) == link.family_id,
            col(Reminder.kind) == "milestone",
            col(Reminder.status) == "pending",
            col(Reminder.attempts) == 0,
            or_(col(Reminder.claimed_until).is_(None), col(Reminder.claimed_until) < now),
            col(Reminder.dedupe_key).in_(keys),
        ),
    )


async def stop_sharing(db: AsyncSession, patient: User, link: FamilyLink) -> None:
    """Revoke the consent (effective now) and switch every kind off; the link stays."""
    await consent_service.revoke_all_for_recipient(db, patient_id=pk(patient), recipient_id=link.family_id)
    await save_kinds(db, link, [])


async def remove_member(db: AsyncSession, patient: User, link: FamilyLink) -> None:
    """Revoke, forget their feed and queued pushes, and unlink. Their account stays theirs."""
    await consent_service.revoke_all_for_recipient(db, patient_id=pk(patient), recipient_id=link.family_id)
    await drop_pending_pushes(db, link)
    await db.execute(
        delete(FamilyNotification).where(
            col(FamilyNotification.family_id) == link.family_id,
            col(FamilyNotification.milestone_id).in_(
                select(col(Milestone.id)).where(col(Milestone.patient_id) == link.patient_id)
            ),
        )
    )
    await db.delete(link)
    await db.flush()


async def pending_invites(db: AsyncSession, patient_id: int, now: datetime | None = None) -> list[Invite]:
    now = now or utcnow()
    rows = await db.scalars(
        select(Invite)
        .where(
            col(Invite.invited_by_id) == patient_id,
            col(Invite.role) == Role.FAMILY,
            col(Invite.used_at).is_(None),
            col(Invite.expires_at) > now,
        )
        .order_by(col(Invite.created_at).desc())
        .limit(10)
    )
    return list(rows)


@dataclass
class GoodNews:
    milestone: Milestone | None
    told: int  # family members who will hear it
    error: str = ""


async def share_good_news(
    db: AsyncSession, patient: User, message: str, key: str, now: datetime | None = None
) -> GoodNews:
    """Record the patient's own good news once (the form's key makes replays and double taps harmless) and tell
    the family members who agreed to hear good news."""
    now = now or utcnow()
    assert patient.id is not None
    message = " ".join(message.split())
    made = await record_milestone(db, patient.id, "good_news", key, "note", now, message)
    if made is None:
        earlier = await db.scalar(
            select(Milestone).where(
                col(Milestone.patient_id) == patient.id, col(Milestone.kind) == "good_news", col(Milestone.value) == key
            )
        )
        if earlier is not None and earlier.message != message:
            return GoodNews(None, 0, "different")
        return GoodNews(earlier, 0)
    return GoodNews(made, await fan_out(db, made, now))


async def good_news_listeners(db: AsyncSession, patient_id: int, now: datetime | None = None) -> list[str]:
    return [
        w.family_name for w in await listeners(db, now or utcnow(), patient_ids=[patient_id]) if "good_news" in w.kinds
    ]


@dataclass(frozen=True)
class Disclosure:
    at: datetime
    viewer_name: str
    text: str


@functools.cache
def _milestones_read() -> Select[Milestone]:
    """Built once: an `in_()` made per request left its expanding parameter in reference cycles for the collector."""
    return select(Milestone).where(col(Milestone.id).in_(bindparam("ids", expanding=True)))


async def notification_log(db: AsyncSession, patient: User, limit: int = 100) -> list[Disclosure]:
    """Every notification sent to family about this patient, newest first, in the patient's own words."""
    rows = list(
        await db.scalars(
            select(DisclosureLog)
            .where(col(DisclosureLog.patient_id) == patient.id, col(DisclosureLog.kind) == "notification")
            .order_by(col(DisclosureLog.at).desc(), col(DisclosureLog.id).desc())
            .limit(limit)
        )
    )
    ids = {
        int(r.subject[len(DISCLOSURE_SUBJECT) :])
        for r in rows
        if r.subject.startswith(DISCLOSURE_SUBJECT) and r.subject[len(DISCLOSURE_SUBJECT) :].isdigit()
    }
    by_id = {m.id: m for m in await db.scalars(_milestones_read(), {"ids": sorted(ids)})} if ids else {}
    found = []
    for r in rows:
        mid = r.subject[len(DISCLOSURE_SUBJECT) :]
        m = by_id.get(int(mid)) if mid.isdigit() else None
        text = rules.headline(m.kind, m.value, m.run_key, patient.display_name) if m is not None else ""
        if m is not None and m.kind == "good_news":
            text = f"{text}: “{m.message}”"
        found.append(Disclosure(consent_service.as_utc(r.at), r.viewer_name, text))
    return found


# -- the family member's side ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    id: int
    patient_name: str
    kind: str
    headline: str
    detail: str  # a phase name or the patient's good-news words
    at: datetime


async def feed(
    db: AsyncSession, member: User, now: datetime | None = None, limit: int = 50, *, patient_id: int | None = None
) -> list[FeedItem]:
    """Milestones sent to this family member, only while the patient's consent in force still covers them
    (`patient_id`: only that patient's, for the patient's own preview of what this person sees)."""
    now = now or utcnow()
    allowed = {w.patient_id: w.kinds for w in await listeners(db, now, family_id=member.id, include_paused=True)}
    if patient_id is not None:
        allowed = {pid: kinds for pid, kinds in allowed.items() if pid == patient_id}
    if not allowed:
        return []
    rows = await db.execute(
        select(id_col(FamilyNotification.id), col(FamilyNotification.created_at), Milestone, col(User.display_name))
        .join(Milestone, col(Milestone.id) == col(FamilyNotification.milestone_id))
        .join(
            FamilyLink,
            and_(
                col(FamilyLink.patient_id) == col(Milestone.patient_id),
                col(FamilyLink.family_id) == col(FamilyNotification.family_id),
            ),
        )
        .join(User, col(User.id) == col(Milestone.patient_id))
        .where(col(FamilyNotification.family_id) == member.id, col(Milestone.patient_id).in_(list(allowed)))
        .order_by(col(FamilyNotification.created_at).desc(), col(FamilyNotification.id).desc())
        .limit(limit)
    )
    items = []
    for nid, created, m, name in rows:
        if m.kind not in allowed.get(m.patient_id, ()):
            continue
        detail = m.message if m.kind == "good_news" else (m.value if m.kind == "phase_completed" else "")
        items.append(FeedItem(nid, name, m.kind, rules.headline(m.kind, m.value, m.run_key, name), detail, created))
    return items


@dataclass(frozen=True)
class Supported:
    name: str
    sharing: bool  # the patient switched at least one kind of news on for this family member


async def supported(db: AsyncSession, member: User, now: datetime | None = None) -> list[Supported]:
    now = now or utcnow()
    on = {w.patient_id for w in await listeners(db, now, family_id=member.id, include_paused=True)}
    rows = await db.execute(
        select(id_col(User.id), col(User.display_name))
        .join(FamilyLink, col(FamilyLink.patient_id) == col(User.id))
        .where(col(FamilyLink.family_id) == member.id)
        .order_by(User.display_name)
    )
    return [Supported(name, pid in on) for pid, name in rows]


@dataclass(frozen=True)
class ProgramInfo:
    name: str
    family_info: str


async def program_info(db: AsyncSession, member: User) -> list[ProgramInfo]:
    """The family information of the programs the family member's person is in, only while that person's
    consent is in force (which program someone attends is itself protected information)."""
    patients = {w.patient_id for w in await listeners(db, utcnow(), family_id=member.id, include_paused=True)}
    if not patients:
        return []
    rows = await db.execute(
        select(id_col(Program.id), col(Program.name), col(Program.family_info))
        .join(Enrolment, col(Enrolment.program_id) == col(Program.id))
        .where(
            col(Enrolment.patient_id).in_(patients),
            col(Enrolment.status) != "discharged",
            col(Program.active).is_(True),
        )
        .order_by(Program.name)
    )
    seen: dict[int, ProgramInfo] = {}
    for pid, name, info in rows:
        seen.setdefault(pid, ProgramInfo(name, info or ""))
    return list(seen.values())
