"""Planning group and check-in reminders, and checking at send time that they are still wanted.

Group sessions: a reminder `minutes_before` (default 60) before each session, useful until the session
starts (so a reminder that couldn't go out in time is dropped, not sent late). It is urgent: if quiet hours would
hold it past the start, it goes out anyway; otherwise quiet hours hold it (group at 07:30, quiet until 07:00 →
it arrives at 07:00).

Daily check-in: at the chosen `time` on the person's wall clock (default 20:00), only if that day's check-in isn't
done, useful until local midnight. Planned for today and tomorrow, so the row is in place long before it's due.

Planning is idempotent: dedupe keys are 'group:<occurrence_id>:<user_id>' and 'checkin:<local date>:<user_id>',
and a re-plan only updates a still-pending row (a session that moved, a new check-in time).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Role, User
from server.aftercare.cadence import alumni_checkin_days, reminder_wanted
from server.checkins.models import CheckIn
from server.db import pk, utcnow
from server.localtime import local_to_utc
from server.localtime import zone_for as zone
from server.push.dispatcher import ClaimedReminder, DispatcherHooks
from server.push.models import PushSubscription
from server.push.service import ReminderSpec, drop_pending, enqueue_reminders
from server.push.timing import end_of_local_day, local_date
from server.reminders import texts
from server.reminders.preferences import KindChoice, choices_for
from server.schedule.logic import occurrences_starting_between

# Lead times go up to a day; look a little further so every reminder exists before it is due.
GROUP_LOOKAHEAD = timedelta(hours=26)
# A check-in reminder planned this long after its time (the person just switched it on at 23:00) isn't sent.
CHECKIN_LATE_PLAN = timedelta(minutes=30)
async def _people(
    db: AsyncSession, user_ids: set[int] | None, kind: str, *, role: Role | None = None
) -> dict[int, tuple[User, KindChoice]]:
    """People who could get a reminder: at least one device (someone without one is planned for as soon as they
    turn reminders on: the subscribe endpoint re-plans them), with their choice for this kind."""
    has_device = exists().where(col(PushSubscription.user_id) == col(User.id))
    stmt = select(User).where(has_device)
    if role is not None:
        stmt = stmt.where(col(User.role) == role)
    if user_ids is not None:
        stmt = stmt.where(col(User.id).in_(user_ids))
    users = {pk(user): user for user in await db.scalars(stmt)}
    chosen = await choices_for(db, users, kind)
    return {uid: (user, chosen[uid]) for uid, user in users.items()}


def group_key(occurrence_id: str, user_id: int) -> str:
    return f"group:{occurrence_id}:{user_id}"


def checkin_key(day: date, user_id: int) -> str:
    return f"checkin:{day.isoformat()}:{user_id}"


def _key_middle(dedupe_key: str) -> str:
    """'kind:<middle>:<user_id>' → middle (occurrence ids and dates hold no colons, but be safe anyway)."""
    return dedupe_key.split(":", 1)[1].rsplit(":", 1)[0]


async def plan_group_reminders(db: AsyncSession, now: datetime, user_ids: set[int] | None = None) -> int:
    sessions = await occurrences_starting_between(db, now, now + GROUP_LOOKAHEAD)
    if user_ids is not None:
        sessions = [(pid, occ) for pid, occ in sessions if pid in user_ids]
    if not sessions:
        return 0
    people = await _people(db, {pid for pid, _occ in sessions}, "group")
    specs: list[ReminderSpec] = []
    for patient_id, occ in sessions:
        found = people.get(patient_id)
        if found is None:
            continue
        user, pref = found
        if not pref.enabled or occ.starts_at <= now:
            continue
        due = occ.starts_at - timedelta(minutes=pref.options["minutes_before"])
        with texts.using_locale(user.locale) as locale:
            title, body = texts.group_text(occ.starts_at.astimezone(zone(user.timezone)), locale)
        specs.append(
            ReminderSpec(
                user_id=patient_id,
                kind="group",
                dedupe_key=group_key(occ.occurrence_id, patient_id),
                title=title,
                body=body,
                url="/schedule",
                due_at=due,
                expires_at=occ.starts_at,
                urgency="high",
            )
        )
    return await enqueue_reminders(db, specs, replace=True, now=now)


async def _checkins_done(db: AsyncSession, pairs: set[tuple[int, date]]) -> set[tuple[int, date]]:
    if not pairs:
        return set()
    done: set[tuple[int, date]] = set()
    # Chunked so the IN list stays small on either database.
    items = sorted(pairs)
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        rows = await db.execute(
            select(col(CheckIn.user_id), col(CheckIn.local_date)).where(
                tuple_(col(CheckIn.user_id), col(CheckIn.local_date)).in_(chunk)
            )
        )
        done.update((uid, day) for uid, day in rows)
    return done


async def plan_checkin_reminders(db: AsyncSession, now: datetime, user_ids: set[int] | None = None) -> int:
    people = await _people(db, user_ids, "checkin", role=Role.PATIENT)
    candidates: list[tuple[User, date, datetime, datetime]] = []
    for user, pref in people.values():
        if not pref.enabled:
            continue
        tz = zone(user.timezone)
        today = local_date(now, tz)
        for day in (today, today + timedelta(days=1)):
            due = local_to_utc(day, pref.options["time"], tz)
            expires = end_of_local_day(day, tz)
            if expires <= now or due < now - CHECKIN_LATE_PLAN:
                continue
            candidates.append((user, day, due, expires))
    done = await _checkins_done(db, {(pk(u), day) for u, day, _d, _e in candidates})
    # Alumni may have picked a lighter rhythm (fewer weekdays) for after their program.
    cadence = await alumni_checkin_days(db, {pk(u) for u, _day, _d, _e in candidates})
    specs: list[ReminderSpec] = []
    for user, day, due, expires in candidates:
        if (user.id, day) in done or not reminder_wanted(cadence, pk(user), day):
            continue
        with texts.using_locale(user.locale):
            title, body = texts.checkin_text()
        specs.append(
            ReminderSpec(
                user_id=pk(user),
                kind="checkin",
                dedupe_key=checkin_key(day, pk(user)),
                title=title,
                body=body,
                url="/checkin",
                due_at=due,
                expires_at=expires,
            )
        )
    return await enqueue_reminders(db, specs, replace=True, now=now)


async def checkin_still_wanted(db: AsyncSession, reminders: list[ClaimedReminder], now: datetime) -> set[int]:
    """Not if that day's check-in was done in the meantime, or an alumnus chose not to be reminded that weekday."""
    wanted: dict[tuple[int, date], list[int]] = defaultdict(list)
    keep: set[int] = set()
    for r in reminders:
        try:
            day = date.fromisoformat(_key_middle(r.dedupe_key))
        except ValueError:
            keep.add(r.id)  # not one of ours: let it go out
            continue
        wanted[(r.user_id, day)].append(r.id)
    done = await _checkins_done(db, set(wanted))
    cadence = await alumni_checkin_days(db, {uid for uid, _day in wanted})
    for pair, ids in wanted.items():
        if pair not in done and reminder_wanted(cadence, *pair):
            keep.update(ids)
    return keep


async def group_still_wanted(db: AsyncSession, reminders: list[ClaimedReminder], now: datetime) -> set[int]:
    """Not if the session was cancelled (or the person left the program) since it was planned."""
    latest = max(r.expires_at for r in reminders)
    sessions = await occurrences_starting_between(db, now, latest + GROUP_LOOKAHEAD)
    still = {(pid, occ.occurrence_id) for pid, occ in sessions}
    return {r.id for r in reminders if (r.user_id, _key_middle(r.dedupe_key)) in still}


async def program_ended(db: AsyncSession, patient_id: int, last_day: date) -> None:
    """Listener for a discharge (`server.schedule.events`): forget the person's queued group reminders and plan
    again, so only sessions still on their schedule (up to the last day, or an alumni group) keep one."""
    await drop_pending(db, patient_id, ["group"])
    await plan_group_reminders(db, utcnow(), {patient_id})


def reminder_hooks() -> DispatcherHooks:
    return DispatcherHooks(
        planners=[plan_group_reminders, plan_checkin_reminders],
        still_wanted={"checkin": checkin_still_wanted, "group": group_still_wanted},
    )
