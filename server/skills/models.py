"""Skill practice records, favourites and therapist-assigned homework.

Tables (all user foreign keys point at ``user_account.id``):

``skill_practice`` — :class:`SkillPractice`, one practice of one card by a patient.
    id, user_id (FK, ON DELETE CASCADE, indexed), card_id (catalogue id, str ≤ 80),
    started_at (UTC, the phone's clock when the card was opened), ended_at (UTC, nullable),
    distress_before (int 0–10, nullable), distress_after (int 0–10, nullable),
    helped ('yes' | 'somewhat' | 'no' | NULL), note (≤ 2000, '' when none),
    idempotency_key (str ≤ 64; UNIQUE (user_id, idempotency_key)), created_at (UTC, server time).
    Index (user_id, started_at) for weekly / daily counts.

``skill_favourite`` — :class:`SkillFavourite`, a card the patient starred.
    id, user_id (FK, CASCADE, indexed), card_id, created_at; UNIQUE (user_id, card_id).

``skill_assignment`` — :class:`SkillAssignment`, homework from a therapist.
    id, patient_id (FK, CASCADE, indexed), therapist_id (FK, ON DELETE SET NULL, nullable, indexed),
    card_id, note (≤ 500), assigned_at (UTC), due_on (date, nullable), completed_at (UTC, nullable).
    Completed automatically when the patient saves a practice of that card started after ``assigned_at``.

Card ids are not foreign keys: the catalogue lives in ``server/skills/cards.toml`` and ids never change.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field

__all__ = ["HELPED_VALUES", "Helped", "SkillAssignment", "SkillFavourite", "SkillPractice"]

Helped = Literal["yes", "somewhat", "no"]
HELPED_VALUES: tuple[str, ...] = ("yes", "somewhat", "no")

CARD_ID_MAX = 80
NOTE_MAX = 2000
ASSIGNMENT_NOTE_MAX = 500
IDEMPOTENCY_KEY_MAX = 64


class SkillPractice(SQLModel, table=True):
    __tablename__ = "skill_practice"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_skill_practice_user_key"),
        Index("ix_skill_practice_user_started", "user_id", "started_at"),
        CheckConstraint(
            "distress_before IS NULL OR (distress_before >= 0 AND distress_before <= 10)",
            name="ck_skill_practice_before_range",
        ),
        CheckConstraint(
            "distress_after IS NULL OR (distress_after >= 0 AND distress_after <= 10)",
            name="ck_skill_practice_after_range",
        ),
        CheckConstraint(
            "helped IS NULL OR helped IN ('yes', 'somewhat', 'no')",
            name="ck_skill_practice_helped",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    card_id: str = Field(max_length=CARD_ID_MAX)
    started_at: datetime = utc_field()
    ended_at: datetime | None = utc_field(nullable=True)
    distress_before: int | None = Field(default=None)
    distress_after: int | None = Field(default=None)
    helped: str | None = Field(default=None, max_length=10)
    note: str = Field(default="", max_length=NOTE_MAX)
    idempotency_key: str = Field(max_length=IDEMPOTENCY_KEY_MAX)
    created_at: datetime = utc_field(default_now=True)

    @property
    def drop(self) -> int | None:
        """How much distress went down (negative if it went up); None unless both ratings exist."""
        if self.distress_before is None or self.distress_after is None:
            return None
        return self.distress_before - self.distress_after


class SkillFavourite(SQLModel, table=True):
    __tablename__ = "skill_favourite"
    __table_args__ = (UniqueConstraint("user_id", "card_id", name="uq_skill_favourite_user_card"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    card_id: str = Field(max_length=CARD_ID_MAX)
    created_at: datetime = utc_field(default_now=True)


class SkillAssignment(SQLModel, table=True):
    __tablename__ = "skill_assignment"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    therapist_id: int | None = Field(default=None, foreign_key="user_account.id", index=True, ondelete="SET NULL")
    card_id: str = Field(max_length=CARD_ID_MAX)
    note: str = Field(default="", max_length=ASSIGNMENT_NOTE_MAX)
    assigned_at: datetime = utc_field(default_now=True)
    due_on: date | None = Field(default=None)
    completed_at: datetime | None = utc_field(nullable=True)
