"""Send-time checks for family pushes: a push queued a minute ago is dropped if, meanwhile, the patient paused or
removed the family member, revoked or narrowed the consent, or turned incoming encouragement off. Registered as
the dispatcher's "still wanted?" hooks (see ``server.milestones.hooks``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.family.encouragement import PUSH_PREFIX as ENCOURAGEMENT_PREFIX
from server.family.milestones import PUSH_PREFIX as MILESTONE_PREFIX
from server.family.milestones import listeners
from server.family.models import Encouragement, FamilyNotification, FamilyPatientSetting, Milestone


def _ids(reminders: list[Any], prefix: str) -> dict[int, int]:
    """reminder id → our row id, for the reminders that are ours (others pass untouched)."""
    found: dict[int, int] = {}
    for r in reminders:
        key: str = r.dedupe_key
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            found[r.id] = int(key[len(prefix) :])
    return found


async def milestone_still_wanted(db: AsyncSession, reminders: list[Any], now: datetime) -> set[int]:
    ours = _ids(reminders, MILESTONE_PREFIX)
    keep = {r.id for r in reminders if r.id not in ours}
    if not ours:
        return keep
    rows = await db.execute(
        select(
            col(FamilyNotification.id),
            col(FamilyNotification.family_id),
            col(Milestone.patient_id),
            col(Milestone.kind),
        )
        .join(Milestone, col(Milestone.id) == col(FamilyNotification.milestone_id))
        .where(col(FamilyNotification.id).in_(set(ours.values())))
    )
    notes = {nid: (fid, pid, kind) for nid, fid, pid, kind in rows}
    allowed = {
        (who.patient_id, who.family_id): who.kinds
        for who in await listeners(db, now, patient_ids={pid for _f, pid, _k in notes.values()})
    }
    for reminder_id, nid in ours.items():
        note = notes.get(nid)
        if note is not None and note[2] in allowed.get((note[1], note[0]), frozenset()):
            keep.add(reminder_id)
    return keep


async def encouragement_still_wanted(db: AsyncSession, reminders: list[Any], now: datetime) -> set[int]:
    ours = _ids(reminders, ENCOURAGEMENT_PREFIX)
    keep = {r.id for r in reminders if r.id not in ours}
    if not ours:
        return keep
    rows = await db.execute(
        select(col(Encouragement.id), col(FamilyPatientSetting.receive_encouragement))
        .outerjoin(FamilyPatientSetting, col(FamilyPatientSetting.patient_id) == col(Encouragement.patient_id))
        .where(col(Encouragement.id).in_(set(ours.values())))
    )
    open_ids = {eid for eid, receive in rows if receive is not False}
    keep.update(rid for rid, eid in ours.items() if eid in open_ids)
    return keep
