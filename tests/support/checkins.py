"""Helpers for the check-in tests: a signed-in patient, valid form data, and direct row arrangement."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server import localtime as dates
from server.accounts.models import User
from server.checkins.models import CheckIn, CravingLog, TriggerHit
from tests.conftest import Database, login


def key() -> str:
    return str(uuid.uuid4())


def checkin_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"mood": "6", "craving": "3", "used": "no", "idempotency_key": key()}
    data.update(overrides)
    return data


def craving_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"intensity": "7", "action": "skill", "skill_card_id": "urge-surfing",
                            "outcome": "passed", "idempotency_key": key()}  # fmt: skip
    data.update(overrides)
    return data


def signed_in_patient(client: Any, db: Database, email: str = "pat@example.org", tz: str = "America/New_York") -> User:
    user = db.make_user("patient", email, timezone=tz)
    login(client, email)
    return user


def today_for(user: User) -> date:
    return dates.local_today(user)


def add_checkin(db: Database, user: User, day: date, **fields: Any) -> int:
    """Insert a check-in (and its trigger hits) directly, as if saved on that day."""

    async def work(session: AsyncSession) -> int:
        created = dates.start_of_local_day(user, day) + timedelta(hours=20)
        row = CheckIn(
            user_id=user.id,  # type: ignore[arg-type]
            local_date=day,
            mood=fields.pop("mood", 5),
            craving=fields.pop("craving", 3),
            idempotency_key=key(),
            created_at=created,
            updated_at=created,
            client_created_at=created,
            **fields,
        )
        session.add(row)
        await session.flush()
        for trigger_id in row.triggers:
            session.add(TriggerHit(user_id=row.user_id, local_date=day, trigger_id=trigger_id, intensity=row.craving,
                                   checkin_id=row.id))  # fmt: skip
        assert row.id is not None
        return row.id

    return db.run(work)


def add_craving(db: Database, user: User, occurred_at: datetime, **fields: Any) -> int:
    async def work(session: AsyncSession) -> int:
        row = CravingLog(
            user_id=user.id,  # type: ignore[arg-type]
            occurred_at=occurred_at,
            local_date=dates.local_date_of(user, occurred_at),
            intensity=fields.pop("intensity", 5),
            action=fields.pop("action", "nothing"),
            idempotency_key=key(),
            payload_hash="x",
            **fields,
        )
        session.add(row)
        await session.flush()
        for trigger_id in row.triggers:
            session.add(TriggerHit(user_id=row.user_id, local_date=row.local_date, trigger_id=trigger_id,
                                   intensity=row.intensity, craving_id=row.id))  # fmt: skip
        assert row.id is not None
        return row.id

    return db.run(work)


def count(db: Database, table: str, user: User | None = None) -> int:
    if user is None:
        return int(db.scalar(f"SELECT count(*) FROM {table}"))
    return int(db.scalar(f"SELECT count(*) FROM {table} WHERE user_id = :u", u=user.id))


def field_error(html: str, name: str) -> str | None:
    """The inline message shown next to field `name` (the macros give it id '<name>-error')."""
    match = re.search(rf'id="{re.escape(name)}-error"[^>]*>(.*?)</p>', html, re.S)
    return match.group(1).strip() if match else None


def get_row(db: Database, model: type[Any], row_id: int) -> Any:
    async def work(session: AsyncSession) -> Any:
        return await session.get(model, row_id)

    return db.run(work)
