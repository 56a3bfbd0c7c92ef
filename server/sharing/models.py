"""Sharing's own tables: the "please look at my week" nudges a patient sends their therapist, and how far a
therapist has reviewed each patient's flags.

``sharing_nudge`` — :class:`SharingNudge`, one per patient per local day (the rate limit is the unique key).
    id, patient_id → user_account (CASCADE), therapist_id → user_account (CASCADE), local_date (the patient's
    calendar day), created_at (UTC).
``flag_review`` — :class:`FlagReview`, one per therapist and patient: reviewed_through (the patient's local date),
    reviewed_at (UTC).

Consents and the access log live in `server.consent`; homework in `server.skills` (`SkillAssignment`); flag
thresholds in `Clinic.settings["flag_thresholds"]`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field


class SharingNudge(SQLModel, table=True):
    __tablename__ = "sharing_nudge"
    __table_args__ = (UniqueConstraint("patient_id", "local_date", name="uq_sharing_nudge_day"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    therapist_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    local_date: date
    created_at: datetime = utc_field(default_now=True)


class FlagReview(SQLModel, table=True):
    """How far a therapist has reviewed a patient's flags: flags on days up to `reviewed_through` (the patient's
    local date) stop showing on the dashboard; anything later keeps showing until marked reviewed again."""

    __tablename__ = "flag_review"
    __table_args__ = (UniqueConstraint("therapist_id", "patient_id", name="uq_flag_review_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    therapist_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    reviewed_through: date
    reviewed_at: datetime = utc_field(default_now=True)
