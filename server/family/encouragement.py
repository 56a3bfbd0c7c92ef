"""Encouragement: a kind word from a family member, delivered to the patient as a push and shown on Today.

The patient can switch incoming encouragement off at any time (``FamilyPatientSetting``); while it is off,
nothing is accepted and nothing queued is sent.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Integer, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.accounts.models import FamilyLink, User
from server.db import as_utc, compose, dialect_insert, id_col, json_rows, read_composed, rowcount, table_of, utcnow
from server.family.models import Encouragement, FamilyPatientSetting
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.push.service import enqueue_reminder

PUSH_PREFIX = "family-encouragement:"
DAILY_LIMIT = 10  # per family member and patient: enough for warmth, not enough to flood a phone
SHOWN_FOR = timedelta(days=14)  # unread words stay on Today this long

PRESETS = (
    _l("Thinking of you today."),
    _l("I'm proud of you."),
    _l("One day at a time. I'm here for you."),
    _l("I believe in you."),
    _l("Sending you a big hug."),
)


def preset_messages() -> list[str]:
    return [str(p) for p in PRESETS]


def new_key() -> str:
    return uuid.uuid4().hex


async def receives_encouragement(db: AsyncSession, patient_id: int) -> bool:
    setting = await db.get(FamilyPatientSetting, patient_id)
    return setting is None or setting.receive_encouragement


async def set_receive_encouragement(db: AsyncSession, patient_id: int, on: bool) -> None:
    setting = await db.get(FamilyPatientSetting, patient_id)
    if setting is None:
        setting = FamilyPatientSetting(patient_id=patient_id)
    setting.receive_encouragement = on
    setting.updated_at = utcnow()
    db.add(setting)
    await db.flush()


@dataclass
class Sent:
    encouragement: Encouragement | None
    error: str = ""  # a message for the form, when nothing was sent


async def send(
    db: AsyncSession, member: User, patient: User, message: str, key: str, now: datetime | None = None
) -> Sent:
    """Store and push one encouragement. A replay of the same key returns the first one; the same key with
    other words is refused. The caller has checked that `member` is linked to `patient`."""
    now = now or utcnow()
    assert member.id is not None and patient.id is not None
    message = " ".join(message.split())
    if not await receives_encouragement(db, patient.id):
        return Sent(None, _("%(name)s isn't receiving messages in the app right now.") % {"name": patient.display_name})
    existing = await db.scalar(
        select(Encouragement).where(
            col(Encouragement.family_id) == member.id, col(Encouragement.idempotency_key) == key
        )
    )
    if existing is not None:
        if existing.message == message and existing.patient_id == patient.id:
            return Sent(existing)
        return Sent(None, _("This form was already sent with other words. Please reload the page and try again."))
    recent = await db.scalar(
        select(func.count(col(Encouragement.id))).where(
            col(Encouragement.family_id) == member.id,
            col(Encouragement.patient_id) == patient.id,
            col(Encouragement.created_at) > now - timedelta(days=1),
        )
    )
    if (recent or 0) >= DAILY_LIMIT:
        return Sent(None, _("You've sent a lot of kind words today. Please try again tomorrow."))
    new_id = await db.scalar(
        dialect_insert(db, Encouragement)
        .values(family_id=member.id, patient_id=patient.id, message=message, idempotency_key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["family_id", "idempotency_key"])
        .returning(table_of(Encouragement).c.id)
    )
    if new_id is None:  # a double tap won the race a moment ago
        return await send(db, member, patient, message, key, now)
    from server.family.milestones import in_locale

    with in_locale(patient.locale):
        title = _("A kind word from %(name)s") % {"name": member.display_name}
        body = _("Open Steady to read it.")
    await enqueue_reminder(
        db,
        user_id=patient.id,
        kind="encouragement",
        dedupe_key=f"{PUSH_PREFIX}{new_id}",
        title=title,
        body=body,
        url="/today",
        due_at=now,
    )
    return Sent(await db.get(Encouragement, new_id))


@dataclass(frozen=True)
class Received:
    id: int
    sender_name: str
    message: str
    created_at: datetime


def _unread(patient_id: Any, since: Any, limit: int) -> Any:
    return (
        select(
            id_col(Encouragement.id).label("id"),
            col(User.display_name).label("sender_name"),
            col(Encouragement.message).label("message"),
            col(Encouragement.created_at).label("created_at"),
        )
        .join(User, col(User.id) == col(Encouragement.family_id))
        .where(
            col(Encouragement.patient_id) == patient_id,
            col(Encouragement.read_at).is_(None),
            col(Encouragement.created_at) > since,
        )
        .order_by(col(Encouragement.created_at).desc())
        .limit(limit)
    )


async def unread_for_patient(
    db: AsyncSession, patient_id: int, now: datetime | None = None, limit: int = 5
) -> list[Received]:
    rows = await db.execute(_unread(patient_id, (now or utcnow()) - SHOWN_FOR, limit))
    return [Received(*row) for row in rows]


async def mark_all_read(db: AsyncSession, patient_id: int, now: datetime | None = None) -> int:
    return await rowcount(
        db,
        update(Encouragement)
        .where(col(Encouragement.patient_id) == patient_id, col(Encouragement.read_at).is_(None))
        .values(read_at=now or utcnow()),
    )


async def linked_patients(db: AsyncSession, family_id: int) -> list[User]:
    rows = await db.scalars(
        select(User)
        .join(FamilyLink, col(FamilyLink.patient_id) == col(User.id))
        .where(col(FamilyLink.family_id) == family_id)
        .order_by(col(User.display_name), col(User.id))
    )
    return list(rows)


async def sent_recently(db: AsyncSession, family_id: int, limit: int = 10) -> list[tuple[str, str, datetime]]:
    """(patient name, message, when) of what this family member sent lately: their own words only."""
    rows = await db.execute(
        select(col(User.display_name), col(Encouragement.message), col(Encouragement.created_at))
        .join(User, col(User.id) == col(Encouragement.patient_id))
        .where(col(Encouragement.family_id) == family_id)
        .order_by(col(Encouragement.created_at).desc())
        .limit(limit)
    )
    return [(name, message, at) for name, message, at in rows]


_PATIENT = bindparam("family_patient", type_=Integer())
_SINCE = bindparam("family_since", type_=DateTimeUTC(timezone=True))


def today_reads() -> dict[str, ColumnElement[Any]]:
    """Today's encouragement panel as columns of Today's one composed statement (server/today/controllers.py),
    bound with `today_params`."""
    return {
        "family_receives": select(col(FamilyPatientSetting.receive_encouragement))
        .where(col(FamilyPatientSetting.patient_id) == _PATIENT)
        .scalar_subquery(),
        "family_unread": json_rows(_unread(_PATIENT, _SINCE, 5)),
    }


def today_params(user: User, now: datetime) -> dict[str, Any]:
    return {"family_patient": user.id, "family_since": now - SHOWN_FOR}


def today_panel(values: Mapping[str, Any]) -> dict[str, object]:
    """What `family/_today_encouragement.html` needs, from `today_reads`' values."""
    if values["family_receives"] is not None and not values["family_receives"]:
        return {"family_encouragement": []}
    unread = [
        Received(r["id"], r["sender_name"], r["message"], as_utc(r["created_at"])) for r in values["family_unread"]
    ]
    unread.sort(key=lambda r: r.created_at, reverse=True)
    return {"family_encouragement": unread}


@functools.cache
def _today_statement() -> Select[Any]:
    return compose(today_reads())


async def today_context(db: AsyncSession, user: User) -> dict[str, object]:
    """What `family/_today_encouragement.html` needs on the patient's Today page (as one statement of its own)."""
    return today_panel(await read_composed(db, _today_statement(), today_params(user, utcnow())))
