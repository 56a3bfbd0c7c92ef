"""What other domains call: queue a reminder, keep a person's devices and reminder settings.

Reminder text is shown on a lock screen, where anyone nearby can read it. Callers write plain, kind words that
say what to do, never how the person is doing: "Time for your evening check-in", not "your craving score was 9".
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.db import dialect_insert, rowcount, table_of, utcnow
from server.push.kinds import all_kinds, get_kind, switched_off
from server.push.models import (
    BODY_MAX,
    ENDPOINT_MAX,
    OUTCOMES,
    TITLE_MAX,
    URL_MAX,
    PushSubscription,
    Reminder,
    ReminderDelivery,
    ReminderPreference,
)
from server.push.sender import URGENCIES, sanitize_topic

# Push services that browsers use today. Over https only these hosts are accepted as endpoints, so a crafted
# "subscription" can't make the server POST into the clinic's own network. STEADY_PUSH_HOSTS adds more.
KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    ".push.services.mozilla.com",
    ".notify.windows.com",
    ".push.apple.com",
)


# -- reminders ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderSpec:
    """One reminder to queue. See `enqueue_reminder` for what each field means."""

    user_id: int
    kind: str
    dedupe_key: str
    title: str
    body: str = ""
    url: str = "/"
    due_at: datetime | None = None
    expires_at: datetime | None = None
    urgency: str = "normal"
    topic: str | None = None


def _safe_url(url: str) -> str:
    # Same-site paths only: a notification click must never lead off the app.
    if not url.startswith("/") or url.startswith("//") or "\\" in url or len(url) > URL_MAX:
        raise ValueError("reminder url must be a same-site path like /checkin")
    return url


def _row(spec: ReminderSpec, now: datetime) -> dict[str, Any]:
    kind = get_kind(spec.kind)  # ValueError for a kind nobody registered
    if spec.urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
    if not spec.dedupe_key or len(spec.dedupe_key) > 160:
        raise ValueError("dedupe_key must be 1-160 characters")
    title = spec.title.strip()
    if not title:
        raise ValueError("a reminder needs a title")
    due = spec.due_at or now
    if due.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")
    expires = spec.expires_at or due + kind.window
    if expires.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if expires <= due:
        raise ValueError("expires_at must be after due_at")
    # Every message carries a Topic (RFC 8030): the kind for kinds where the newest replaces the older, else the
    # reminder's own dedupe key, so a repeat after a crash replaces the first copy instead of stacking.
    topic = spec.topic or (spec.kind if kind.replaceable else spec.dedupe_key)
    return {
        "user_id": spec.user_id,
        "kind": spec.kind,
        "dedupe_key": spec.dedupe_key,
        "due_at": due,
        "next_attempt_at": due,
        "expires_at": expires,
        "urgency": spec.urgency,
        "topic": sanitize_topic(topic),
        "title": title[:TITLE_MAX],
        "body": spec.body.strip()[:BODY_MAX],
        "url": _safe_url(spec.url),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }


async def _switched_off(db: AsyncSession, specs: Sequence[ReminderSpec]) -> set[tuple[int, str]]:
    """(user_id, kind) pairs the people turned off (asked of whoever keeps those choices: see push/kinds.py)."""
    return await switched_off(db, {(s.user_id, s.kind) for s in specs})


async def enqueue_reminders(
    db: AsyncSession,
    specs: Iterable[ReminderSpec],
    *,
    replace: bool = False,
    respect_preferences: bool = True,
    now: datetime | None = None,
) -> int:
    """Queue many reminders in one statement; returns how many rows were written (new or replaced).

    A dedupe_key that is already queued is left alone, or with replace=True brought up to date while it is
    still pending and untouched by a worker (a group that moved, a check-in time that changed).
    """
    now = now or utcnow()
    unique: dict[str, ReminderSpec] = {}
    for spec in specs:
        unique[spec.dedupe_key] = spec  # one row per key per statement (PostgreSQL insists)
    if not unique:
        return 0
    off = await _switched_off(db, list(unique.values())) if respect_preferences else set()
    rows = [_row(s, now) for s in unique.values() if (s.user_id, s.kind) not in off]
    if not rows:
        return 0
    table = table_of(Reminder)
    written = 0
    for start in range(0, len(rows), 500):
        stmt = dialect_insert(db, table).values(rows[start : start + 500])
        if replace:
            new = stmt.excluded
            changed = or_(
                table.c.due_at != new.due_at,
                table.c.expires_at != new.expires_at,
                table.c.title != new.title,
                table.c.body != new.body,
                table.c.url != new.url,
            )
            untouched = and_(
                table.c.status == "pending",
                table.c.attempts == 0,
                or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["dedupe_key"],
                set_={
                    "due_at": new.due_at,
                    "next_attempt_at": new.next_attempt_at,
                    "expires_at": new.expires_at,
                    "title": new.title,
                    "body": new.body,
                    "url": new.url,
                    "urgency": new.urgency,
                    "topic": new.topic,
                },
                where=and_(untouched, changed),
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        written += max(await rowcount(db, stmt), 0)
    return written


async def enqueue_reminder(
    db: AsyncSession,
    *,
    user_id: int,
    kind: str,
    dedupe_key: str,
    title: str,
    body: str = "",
    url: str = "/",
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    urgency: str = "normal",
    topic: str | None = None,
    replace: bool = False,
    respect_preferences: bool = True,
) -> int | None:
    """Queue one push reminder for every device of `user_id`; returns its id, or None if not queued.

    kind: a kind registered with `server.push.kinds` (by the domain that queues it).
    dedupe_key: unique forever, e.g. f"milestone:{milestone_id}:{user_id}"; queuing the same key twice does
        nothing (replace=True updates a still-pending one instead).
    title / body: what the lock screen shows, in the recipient's language. No health details, ever.
    url: the same-site page a tap opens, e.g. "/checkin".
    due_at: when to send (UTC-aware; default now). expires_at: the end of its usefulness (default due_at plus
        the kind's registered window); a reminder that can't go out before then is dropped, never sent late.
    urgency: the Web Push Urgency ('very-low' | 'low' | 'normal' | 'high'). 'high' also means: if quiet hours
        would hold it past expires_at, send it during quiet hours rather than drop it.
    topic: replaces an undelivered older message with the same topic at the push service (default: the kind,
        for group/checkin/test).
    Returns None when the person switched this kind off (and respect_preferences is true).
    Runs in the caller's transaction: the reminder exists once the caller commits.
    """
    spec = ReminderSpec(user_id, kind, dedupe_key, title, body, url, due_at, expires_at, urgency, topic)
    written = await enqueue_reminders(db, [spec], replace=replace, respect_preferences=respect_preferences)
    if not written and respect_preferences and await _switched_off(db, [spec]):
        return None
    return await db.scalar(select(col(Reminder.id)).where(col(Reminder.dedupe_key) == dedupe_key))


async def drop_pending(db: AsyncSession, user_id: int, kinds: Iterable[str]) -> int:
    """Forget queued reminders of kinds the person just switched off."""
    kinds = list(kinds)
    if not kinds:
        return 0
    return await rowcount(
        db,
        delete(Reminder).where(
            col(Reminder.user_id) == user_id,
            col(Reminder.kind).in_(kinds),
            col(Reminder.status) == "pending",
            col(Reminder.attempts) == 0,
        ),
    )


# -- devices --------------------------------------------------------------------------------------------------
def _device(user_id: int, endpoint: str) -> ColumnElement[bool]:
    """This person's subscription at this endpoint (never anyone else's)."""
    return and_(col(PushSubscription.endpoint) == endpoint, col(PushSubscription.user_id) == user_id)




def allowed_push_hosts(env: dict[str, str] | Any) -> tuple[str, ...]:
    extra = [h.strip().lower() for h in str(env.get("STEADY_PUSH_HOSTS", "")).split(",") if h.strip()]
    return (*KNOWN_PUSH_HOSTS, *extra)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def endpoint_problem(endpoint: str, *, allow_loopback: bool, hosts: Sequence[str]) -> str | None:
    """Why this push endpoint can't be used, or None. Returns a reason for logs, not for people.

    Only https on a known push service (never the clinic's network, never cloud metadata addresses), whatever the
    server's own address; `allow_loopback` (a test-only setting) adds a push service on this machine."""
    if not endpoint or len(endpoint) > ENDPOINT_MAX:
        return "endpoint length"
    parts = urlsplit(endpoint)
    if not parts.hostname or parts.username or parts.password:
        return "endpoint host"
    if allow_loopback and parts.hostname.lower() in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return None
    if parts.scheme != "https":
        return "endpoint scheme"
    host = parts.hostname.lower()
    if any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts):
        return None
    return "endpoint host not a known push service"


async def save_subscription(
    db: AsyncSession, user_id: int, *, endpoint: str, p256dh: str, auth: str, label: str
) -> PushSubscription:
    """Add or refresh a device. An endpoint belongs to one browser profile, so if someone else signed in
    on this phone before, the device moves to whoever subscribed it last."""
    existing = await db.scalar(select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint))
    if existing is None:
        existing = PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    existing.user_id = user_id
    existing.p256dh = p256dh
    existing.auth = auth
    existing.device_label = label.strip()[:80]
    db.add(existing)
    await db.flush()
    return existing


async def renew_subscription(
    db: AsyncSession, user_id: int, old_endpoint: str, *, old_auth: str, endpoint: str, p256dh: str, auth: str
) -> bool:
    """Swap in the browser's replacement subscription for a device this person has, once the caller proved it
    holds that device (its auth secret, which only the browser and Steady know); False otherwise. Nothing of
    anyone else's is touched."""
    device = await db.scalar(select(PushSubscription).where(_device(user_id, old_endpoint)))
    if device is None or not hmac.compare_digest(device.auth.encode(), old_auth.encode()):
        return False
    if endpoint != old_endpoint:
        taken = await db.scalar(select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint))
        if taken is not None and taken.user_id != user_id:
            return False  # another person's device: never replaced or removed from here
        # The new endpoint may already be this person's (a page re-subscribed first): keep one row for it.
        await db.execute(delete(PushSubscription).where(_device(user_id, endpoint)))
    device.endpoint, device.p256dh, device.auth = endpoint, p256dh, auth
    db.add(device)
    await db.flush()
    return True


async def list_subscriptions(db: AsyncSession, user_id: int) -> list[PushSubscription]:
    rows = await db.scalars(
        select(PushSubscription)
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.created_at))
    )
    return list(rows)


async def subscription_known(db: AsyncSession, user_id: int, endpoint: str) -> bool:
    found = await db.scalar(select(col(PushSubscription.id)).where(_device(user_id, endpoint)))
    return found is not None


async def remove_subscription(db: AsyncSession, user_id: int, subscription_id: int) -> bool:
    return bool(
        await rowcount(
            db,
            delete(PushSubscription).where(
                col(PushSubscription.id) == subscription_id, col(PushSubscription.user_id) == user_id
            ),
        )
    )


async def remove_endpoint(db: AsyncSession, user_id: int, endpoint: str) -> bool:
    return bool(await rowcount(db, delete(PushSubscription).where(_device(user_id, endpoint))))


# -- preferences ----------------------------------------------------------------------------------------------


async def get_preferences(db: AsyncSession, user_id: int) -> ReminderPreference:
    """The person's delivery preferences (quiet hours), or the defaults (unsaved) if they never changed them."""
    pref = await db.scalar(select(ReminderPreference).where(col(ReminderPreference.user_id) == user_id))
    return pref or ReminderPreference(user_id=user_id)


async def save_quiet_hours(db: AsyncSession, user_id: int, start: time, end: time) -> None:
    """Store quiet hours; reminders held for the old ones are looked at again against the new ones."""
    pref = await get_preferences(db, user_id)
    changed = (pref.quiet_start, pref.quiet_end) != (start, end)
    pref.quiet_start, pref.quiet_end = start, end
    now = utcnow()
    pref.updated_at = now
    db.add(pref)
    await db.flush()
    if changed:
        await db.execute(
            update(Reminder)
            .where(
                col(Reminder.user_id) == user_id,
                col(Reminder.status) == "pending",
                col(Reminder.attempts) == 0,
                col(Reminder.next_attempt_at) > col(Reminder.due_at),
                or_(col(Reminder.claimed_until).is_(None), col(Reminder.claimed_until) < now),
            )
            .values(next_attempt_at=Reminder.due_at)
        )


# -- the delivery log, for admins -----------------------------------------------------------------------------


async def delivery_counts(db: AsyncSession, clinic_id: int, since: datetime) -> dict[str, dict[str, int]]:
    """{kind: {outcome: count}} for the clinic's people since `since`. Counts only: no names, no text."""
    rows = await db.execute(
        select(col(ReminderDelivery.kind), col(ReminderDelivery.outcome), func.count())
        .join(Reminder, col(Reminder.id) == col(ReminderDelivery.reminder_id))
        .join(User, col(User.id) == col(Reminder.user_id))
        .where(col(User.clinic_id) == clinic_id, col(ReminderDelivery.at) >= since)
        .group_by(ReminderDelivery.kind, ReminderDelivery.outcome)
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for kind, outcome, n in rows:
        counts[kind][outcome] = int(n)
    return {k.name: counts[k.name] for k in all_kinds() if k.name in counts}
