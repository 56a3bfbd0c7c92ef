"""Questionnaire reminders: one push per due questionnaire, on its due day at 18:00 on the patient's wall clock (or
as soon as it is planned, later that day), worth sending for a day. The lock screen says only that a short
questionnaire is ready: never which one, never a score. Not sent if it was answered (or stopped) in the meantime.

`with_questionnaire_hooks(hooks)` adds the planner and the send-time check to the push dispatcher's hooks (app.py
and `steady dispatch`). The batch runs at most once per UTC hour per process (due dates change by the day);
someone who just turned reminders on is planned for at once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Role, User
from server.i18n import gettext as _
from server.i18n import using_locale
from server.localtime import local_to_utc, local_today, zone_for
from server.push.dispatcher import ClaimedReminder, DispatcherHooks, StillWanted
from server.push.models import PushSubscription
from server.push.service import ReminderSpec, enqueue_reminders
from server.questionnaires import service

KIND = "questionnaire"
AT = time(18, 0)
_last_run_hour: dict[str, datetime] = {}


def reminder_key(code: str, due_on: date, user_id: int) -> str:
    return f"{KIND}:{code}-{due_on.isoformat()}:{user_id}"


def _parse_key(key: str) -> tuple[str, date] | None:
    try:
        middle = key.split(":", 1)[1].rsplit(":", 1)[0]
        return middle[:-11], date.fromisoformat(middle[-10:])
    except (IndexError, ValueError):
        return None


def reminder_text() -> tuple[str, str]:
    return _("A short questionnaire is ready"), _("Your care team asked for a few minutes of your time. Tap to start.")


async def plan_questionnaire_reminders(db: AsyncSession, now: datetime, user_ids: set[int] | None = None) -> int:
    if user_ids is None:
        hour = now.replace(minute=0, second=0, microsecond=0)
        if _last_run_hour.get("hour") == hour:
            return 0
        _last_run_hour["hour"] = hour
    stmt = select(User).where(
        col(User.role) == Role.PATIENT, exists().where(col(PushSubscription.user_id) == col(User.id))
    )
    if user_ids is not None:
        stmt = stmt.where(col(User.id).in_(user_ids))
    specs: list[ReminderSpec] = []
    for user in await db.scalars(stmt):
        assert user.id is not None
        today = local_today(user, now)
        for due in await service.due_for(db, user, today):
            tz = zone_for(user.timezone)
            expires = local_to_utc(due.due_on + timedelta(days=1), AT, tz)
            if expires <= now:
                continue
            with using_locale(user.locale):
                title, body = reminder_text()
            specs.append(
                ReminderSpec(
                    user_id=user.id,
                    kind=KIND,
                    dedupe_key=reminder_key(due.instrument.code, due.due_on, user.id),
                    title=title,
                    body=body,
                    url="/today",
                    due_at=max(local_to_utc(due.due_on, AT, tz), now),
                    expires_at=expires,
                )
            )
    return await enqueue_reminders(db, specs, replace=True, now=now) if specs else 0


async def questionnaire_still_wanted(db: AsyncSession, reminders: list[ClaimedReminder], now: datetime) -> set[int]:
    """Only while that questionnaire is still due (not answered, not stopped)."""
    keep: set[int] = set()
    for reminder in reminders:
        parsed = _parse_key(reminder.dedupe_key)
        user = await db.get(User, reminder.user_id)
        if parsed is None or user is None:
            continue
        code, due_on = parsed
        if any(d.instrument.code == code and d.due_on == due_on for d in await service.due_for(db, user)):
            keep.add(reminder.id)
    return keep


def with_questionnaire_hooks(hooks: DispatcherHooks) -> DispatcherHooks:
    still: dict[str, StillWanted] = dict(hooks.still_wanted)
    still[KIND] = questionnaire_still_wanted
    return replace(hooks, planners=[*hooks.planners, plan_questionnaire_reminders], still_wanted=still)
