"""One-time invitations: who may invite whom, and redeeming a code exactly once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import CareTeam, FamilyLink, Invite, Role, User
from server.db import pk, rowcount, utcnow

# Who may create an invite for which role. Nobody signs up without one.
MAY_INVITE: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.THERAPIST, Role.PATIENT, Role.ADMIN}),
    Role.THERAPIST: frozenset({Role.PATIENT}),
    Role.PATIENT: frozenset({Role.FAMILY}),
    Role.FAMILY: frozenset(),
}
# Unambiguous letters for codes people may read aloud or type from paper.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def create_invite(
    db: AsyncSession, inviter: User, role: Role, *, valid_hours: int, note: str = ""
) -> tuple[Invite, str]:
    """Create an invite and return it with its plain code (shown once, never stored)."""
    if role not in MAY_INVITE[inviter.role]:
        raise PermissionError(role)
    code = new_code()
    invite = Invite(
        clinic_id=inviter.clinic_id,
        role=role,
        code_hash=code_hash(code),
        note=note[:120],
        invited_by_id=inviter.id,
        patient_id=inviter.id if role is Role.FAMILY else None,
        expires_at=utcnow() + timedelta(hours=valid_hours),
    )
    db.add(invite)
    await db.flush()
    return invite, code


async def find_usable_invite(db: AsyncSession, code: str) -> Invite | None:
    invite = await db.scalar(select(Invite).where(col(Invite.code_hash) == code_hash(code)))
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


async def redeem_invite(db: AsyncSession, invite: Invite, user: User) -> bool:
    """Mark the invite used by `user`; False if someone else redeemed it first (single use under races)."""
    updated = await rowcount(
        db,
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_at=utcnow(), used_by_id=user.id)
    )
    if updated != 1:
        return False
    inviter = await db.get(User, invite.invited_by_id) if invite.invited_by_id else None
    if user.role is Role.PATIENT and inviter is not None and inviter.role is Role.THERAPIST:
        db.add(CareTeam(patient_id=pk(user), therapist_id=pk(inviter)))
    if user.role is Role.FAMILY and invite.patient_id is not None:
        db.add(FamilyLink(patient_id=invite.patient_id, family_id=pk(user), relationship_label=invite.note))
    return True


async def invites_made_by(db: AsyncSession, inviter: User) -> list[Invite]:
    rows = await db.scalars(
        select(Invite).where(col(Invite.invited_by_id) == inviter.id).order_by(col(Invite.created_at).desc()).limit(50)
    )
    return list(rows)
