"""Ready-made reminders for other domains, worded safely in the recipient's language.

Each queues one push reminder with `server.push.service.enqueue_reminder` inside the caller's transaction (it goes
out once the caller commits) and returns the reminder id, or None if the person switched that kind off. The
`key` makes it happen once: calling again with the same key does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.push.service import enqueue_reminder
from server.reminders import texts


async def _queue(
    db: AsyncSession,
    user_id: int,
    kind: str,
    key: str,
    wording: Callable[[], tuple[str, str]],
    url: str,
    due_at: datetime | None,
) -> int | None:
    locale = await db.scalar(select(User.locale).where(User.id == user_id))
    if locale is None:
        return None  # no such person (any more)
    with texts.using_locale(locale):
        title, body = wording()
    return await enqueue_reminder(
        db,
        user_id=user_id,
        kind=kind,
        dedupe_key=f"{kind}:{key}:{user_id}",
        title=title,
        body=body,
        url=url,
        due_at=due_at,
    )


async def remind_homework(
    db: AsyncSession, patient_id: int, key: str, *, url: str = "/skills", due_at: datetime | None = None
) -> int | None:
    """A therapist gave the patient a skill to practise (key: e.g. the assignment id)."""
    return await _queue(db, patient_id, "homework", key, texts.homework_text, url, due_at)


async def remind_milestone(
    db: AsyncSession, family_id: int, key: str, *, url: str = "/family", due_at: datetime | None = None
) -> int | None:
    """A patient shared a milestone with this family member (key: e.g. the shared item's id)."""
    return await _queue(db, family_id, "milestone", key, texts.milestone_text, url, due_at)


async def send_encouragement(
    db: AsyncSession, patient_id: int, key: str, *, url: str = "/today", due_at: datetime | None = None
) -> int | None:
    """Family or the care team sent a word of support (key: e.g. the message id)."""
    return await _queue(db, patient_id, "encouragement", key, texts.encouragement_text, url, due_at)


async def send_nudge(
    db: AsyncSession, user_id: int, key: str, *, url: str = "/therapist", due_at: datetime | None = None
) -> int | None:
    """Something needs a look (e.g. a therapist's patient list has a new flag). key: what it is about."""
    return await _queue(db, user_id, "nudge", key, texts.nudge_text, url, due_at)
