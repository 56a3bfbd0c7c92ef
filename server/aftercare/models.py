"""Life after the program: the patient's aftercare plan and the clinic's meeting list.

- `aftercare_plan` — :class:`AftercarePlan`, the patient's own document, one per patient, written with the
  therapist before discharge and editable any time after. id, patient_id → user_account (unique, CASCADE),
  next_care (next level of care), appointments, meetings (groups and meetings they mean to attend), supporters
  (JSON list of {"name", "phone"}), warning_signs, high_risk (high-risk situations), trigger_ids (JSON list of
  the person's own trigger ids the warning signs link to), after_slip (what to do after a slip), checkin_days
  (the weekdays, Monday = 0, an alumnus wants check-in reminders on: "0123456" is every day),
  celebrated_enrolment_id (the discharge whose "You finished your program" moment Today showed), updated_at.
- `meeting` — :class:`Meeting`, one support meeting imported from a Meeting Guide feed (code4recovery spec).
  id, clinic_id → clinic (CASCADE), slug (the feed's stable id; unique per clinic, so a re-import updates),
  name, day_mask (bit d set for Meeting Guide day d, 0 = Sunday … 6 = Saturday; 0 when the feed gives none),
  start_time, end_time (the feed's time and end_time, local wall clock, NULL when unknown), types (",O,ONL,":
  codes between commas, for LIKE),
  location, address (formatted_address, or address/city/state joined), region, conference_url, notes,
  updated_at.
- `meeting_favourite` — :class:`MeetingFavourite`, a patient's saved meeting. id, patient_id → user_account
  (CASCADE), meeting_id → meeting (CASCADE), in_calendar (also in the private calendar feed), created_at.
  Unique per (patient_id, meeting_id).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field

ALL_DAYS = "0123456"


class AftercarePlan(SQLModel, table=True):
    __tablename__ = "aftercare_plan"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", unique=True, ondelete="CASCADE")
    next_care: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    appointments: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    meetings: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    supporters: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    warning_signs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    high_risk: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    trigger_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    after_slip: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    checkin_days: str = Field(default=ALL_DAYS, max_length=7)
    # The enrolment whose "You finished your program" moment Today has shown (shown once per discharge).
    celebrated_enrolment_id: int | None = None
    updated_at: datetime = utc_field(default_now=True)


class Meeting(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("clinic_id", "slug", name="uq_meeting_clinic_slug"),
        Index("ix_meeting_clinic_start", "clinic_id", "start_time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", ondelete="CASCADE")
    slug: str = Field(max_length=200)
    name: str = Field(max_length=200)
    day_mask: int = Field(default=0)
    start_time: time | None = None
    end_time: time | None = None
    types: str = Field(default=",", max_length=300)
    location: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=300)
    region: str = Field(default="", max_length=200)
    conference_url: str = Field(default="", max_length=500)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime = utc_field(default_now=True)


class MeetingFavourite(SQLModel, table=True):
    __tablename__ = "meeting_favourite"
    __table_args__ = (UniqueConstraint("patient_id", "meeting_id", name="uq_meeting_favourite"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    meeting_id: int = Field(foreign_key="meeting.id", index=True, ondelete="CASCADE")
    in_calendar: bool = False
    created_at: datetime = utc_field(default_now=True)
