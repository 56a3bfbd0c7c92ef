"""Push tables: devices, due reminders, the delivery log and each person's reminder settings.

``push_subscription`` — :class:`PushSubscription`, one browser/device that said yes to notifications.
    id, user_id (FK, CASCADE), endpoint (UNIQUE: the push service URL, a bearer capability: never logged),
    p256dh, auth (the browser's encryption keys), device_label, created_at, last_success_at.

``reminder`` — :class:`Reminder`, one notification for one person, fanned out to every device at send time.
    dedupe_key is UNIQUE ('group:<occurrence_id>:<user_id>', 'checkin:<local date>:<user_id>', …) so planning
    twice never duplicates. due_at / expires_at are UTC; a reminder past expires_at is dropped, never sent late.
    status: 'pending' → 'sent' | 'failed' | 'dropped'. A worker claims a pending row whose next_attempt_at has
    come by writing claimed_by and a lease (claimed_until, copied into next_attempt_at); a crashed worker's
    lease runs out and another worker takes the row over.

``reminder_delivery`` — :class:`ReminderDelivery`, the delivery log: one row per reminder per device per
    attempt outcome ('sent', 'retry', 'failed', 'pruned', 'dropped'). It holds no text, so no health details.
    A partial UNIQUE index on (reminder_id, subscription_id) WHERE outcome = 'sent' makes a second send to a
    device that already got the reminder impossible to record, and retries skip such devices.

``reminder_preference`` — :class:`ReminderPreference`, a person's quiet hours (when nothing is delivered).
    No row means the defaults below. What a person wants reminding of is not push's: the domain that keeps those
    choices answers `server.push.kinds.switched_off` (the app's: `server.reminders`, table `reminder_setting`).
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from server.db import utc_field

__all__ = [
    "DEFAULT_QUIET_END",
    "DEFAULT_QUIET_START",
    "OUTCOMES",
    "STATUSES",
    "PushSubscription",
    "Reminder",
    "ReminderDelivery",
    "ReminderPreference",
]

# Which kinds exist is the registry's (server/push/kinds.py), filled by the domains that own them: the database
# names none (queuing an unregistered kind is refused in server/push/service.py).
STATUSES: tuple[str, ...] = ("pending", "sent", "failed", "dropped")
OUTCOMES: tuple[str, ...] = ("sent", "retry", "failed", "pruned", "dropped")

DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(7, 0)

ENDPOINT_MAX = 1024
TITLE_MAX = 120
BODY_MAX = 240
URL_MAX = 300


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PushSubscription(SQLModel, table=True):
    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    endpoint: str = Field(max_length=ENDPOINT_MAX, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    device_label: str = Field(default="", max_length=80)
    created_at: datetime = utc_field(default_now=True)
    last_success_at: datetime | None = utc_field(nullable=True)


class Reminder(SQLModel, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        # The dispatcher's claim query: pending rows whose next attempt is due. Partial, so finished rows
        # cost nothing however many pile up.
        Index(
            "ix_reminder_pending_next",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        CheckConstraint(_in("status", STATUSES), name="ck_reminder_status"),
        CheckConstraint(_in("urgency", ("very-low", "low", "normal", "high")), name="ck_reminder_urgency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    dedupe_key: str = Field(max_length=160, unique=True)
    due_at: datetime = utc_field()
    expires_at: datetime = utc_field()
    urgency: str = Field(default="normal", max_length=10)
    topic: str | None = Field(default=None, max_length=32)
    title: str = Field(max_length=TITLE_MAX)
    body: str = Field(default="", max_length=BODY_MAX)
    url: str = Field(default="/", max_length=URL_MAX)
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    # When a worker may next look at the row: due_at at first, then the end of quiet hours, a retry's
    # backoff, or a claim's lease. The claim query reads only this column.
    next_attempt_at: datetime = utc_field()
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)
    finished_at: datetime | None = utc_field(nullable=True)


class ReminderDelivery(SQLModel, table=True):
    __tablename__ = "reminder_delivery"
    __table_args__ = (
        Index(
            "uq_reminder_delivery_sent_once",
            "reminder_id",
            "subscription_id",
            unique=True,
            postgresql_where=text("outcome = 'sent'"),
            sqlite_where=text("outcome = 'sent'"),
        ),
        CheckConstraint(_in("outcome", OUTCOMES), name="ck_reminder_delivery_outcome"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True, ondelete="CASCADE")
    # SET NULL: a pruned device disappears, its log rows stay for the counts.
    subscription_id: int | None = Field(
        default=None, foreign_key="push_subscription.id", index=True, ondelete="SET NULL"
    )
    kind: str = Field(max_length=16)
    outcome: str = Field(max_length=10)
    status_code: int | None = Field(default=None)
    at: datetime = utc_field(index=True, default_now=True)


class ReminderPreference(SQLModel, table=True):
    __tablename__ = "reminder_preference"
    __table_args__ = (UniqueConstraint("user_id", name="uq_reminder_preference_user"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    quiet_start: time = DEFAULT_QUIET_START
    quiet_end: time = DEFAULT_QUIET_END
    updated_at: datetime = utc_field(default_now=True)
