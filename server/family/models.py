"""Family tables: milestones (good news only), the family feed, what each family member may hear, and
encouragement sent back to the patient.

``milestone`` — :class:`Milestone`, one piece of good news about a patient, recorded once.
    id, patient_id → user_account (CASCADE), kind ('sober_days' | 'checkin_streak' | 'phase_completed' |
    'program_completed' | 'good_news'), value (days as text for 'sober_days' / 'checkin_streak'; the phase or
    program name; a random key for 'good_news'), run_key (which run earned it: the sobriety start date, the
    streak's first day, the phase's or program's last day, or 'note' for good news; so a "30 days" earned
    again after a restart is a new milestone), message (only for 'good_news': the patient's own words,
    ≤ 280 characters), achieved_at (UTC). UNIQUE (patient_id, kind, value, run_key): a milestone found twice, by
    two processes at once or by a replayed request, is stored once.

``family_notification`` — :class:`FamilyNotification`, one milestone shown to one family member (their feed
    item and the reason for one push). id, milestone_id → milestone (CASCADE), family_id → user_account
    (CASCADE), created_at, pushed_at (when the push was queued; NULL if none was). UNIQUE (milestone_id,
    family_id).

``family_preference`` — :class:`FamilyPreference`, per family link: which milestone kinds the patient switched
    on (JSON list, empty = nothing), and whether the patient paused updates. id, link_id → family_link
    (CASCADE, unique), kinds, paused, updated_at. No row = nothing is shared. The signed consent
    (``server.consent``) must also cover a kind before anything is sent.

``encouragement`` — :class:`Encouragement`, a kind word from a family member to the patient.
    id, family_id → user_account (CASCADE), patient_id → user_account (CASCADE), message (≤ 280),
    idempotency_key (unique per family member: a double tap or a replay sends once), created_at, read_at.

``family_patient_setting`` — :class:`FamilyPatientSetting`, one row per patient (patient_id is the key):
    receive_encouragement (default on), updated_at.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field

KINDS: tuple[str, ...] = ("sober_days", "checkin_streak", "phase_completed", "program_completed", "good_news")
MESSAGE_MAX = 280
VALUE_MAX = 120
RUN_KEY_MAX = 40


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (
        UniqueConstraint("patient_id", "kind", "value", "run_key", name="uq_milestone_once"),
        Index("ix_milestone_patient_at", "patient_id", "achieved_at"),
        CheckConstraint("kind IN (" + ", ".join(repr(k) for k in KINDS) + ")", name="ck_milestone_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    kind: str = Field(max_length=24)
    value: str = Field(max_length=VALUE_MAX)
    run_key: str = Field(max_length=RUN_KEY_MAX)
    message: str = Field(default="", max_length=MESSAGE_MAX)
    achieved_at: datetime = utc_field()


class FamilyNotification(SQLModel, table=True):
    __tablename__ = "family_notification"
    __table_args__ = (
        UniqueConstraint("milestone_id", "family_id", name="uq_family_notification_once"),
        Index("ix_family_notification_feed", "family_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    milestone_id: int = Field(foreign_key="milestone.id", index=True, ondelete="CASCADE")
    family_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = utc_field(default_now=True)
    pushed_at: datetime | None = utc_field(nullable=True)


class FamilyPreference(SQLModel, table=True):
    __tablename__ = "family_preference"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="family_link.id", unique=True, ondelete="CASCADE")
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paused: bool = False
    updated_at: datetime = utc_field(default_now=True)


class Encouragement(SQLModel, table=True):
    __tablename__ = "encouragement"
    __table_args__ = (
        UniqueConstraint("family_id", "idempotency_key", name="uq_encouragement_key"),
        Index("ix_encouragement_patient_at", "patient_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    family_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    patient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    message: str = Field(max_length=MESSAGE_MAX)
    idempotency_key: str = Field(max_length=64)
    created_at: datetime = utc_field(default_now=True)
    read_at: datetime | None = utc_field(nullable=True)


class FamilyPatientSetting(SQLModel, table=True):
    __tablename__ = "family_patient_setting"

    patient_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    receive_encouragement: bool = True
    updated_at: datetime = utc_field(default_now=True)
