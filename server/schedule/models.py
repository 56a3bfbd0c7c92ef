"""Programs, their step-down phases and weekly groups, one-off changes, enrolments, attendance and calendar feeds.

Tables (all times of day and calendar dates are LOCAL to the program's IANA timezone; instants are UTC):

- `program` — a clinic's program, e.g. "Evening IOP".
  id, clinic_id → clinic, name, description, timezone (IANA, defaults to the clinic's), family_info (plain text
  shown to family members: family sessions, visiting hours), active, alumni (the clinic's program for people
  after discharge: its groups are offered to alumni, and being in it doesn't count as being in treatment),
  created_at.
- `program_phase` — a step of the program by program week (1-based, inclusive): "Weeks 1–4".
  id, program_id → program (CASCADE), name, start_week, end_week, groups_per_week (informational only).
  Phases of a program never overlap; an extension repeats the last phase.
- `group_pattern` — one weekly recurring group session inside a phase.
  id, phase_id → program_phase (CASCADE), title, weekday (0 = Monday … 6 = Sunday), start_time (local),
  duration_minutes, location, video_url, facilitator.
- `session_exception` — a one-off change that leaves the weekly pattern alone. `kind` is one of
  "cancelled" (pattern_id + original_date), "moved" (pattern_id + original_date → new_date/new_time),
  "holiday" (original_date: cancels every weekly group of the program that day; moved and extra sessions stay),
  "extra" (a one-off session for everyone enrolled that day: new_date, new_time, title, duration_minutes,
  location, video_url, facilitator). `note` is shown to patients ("Clinic closed for Thanksgiving").
  Unique per (pattern_id, original_date), so one occurrence has at most one change.
- `enrolment` — a patient in a program. id, patient_id → user_account (CASCADE), program_id → program
  (CASCADE), start_date (local date of program day 1, any weekday), extended_weeks (added after the last
  phase), end_date (last day, inclusive; set when the enrolment ends early), status ("active",
  "completed" = ended as completed, "discharged" = ended early), created_at.
  An active enrolment whose weeks have all passed counts as completed without anyone touching it.
- `attendance` — whether a patient went to one occurrence. id, patient_id → user_account (CASCADE),
  occurrence_id (see `logic.Occurrence`: "g<pattern id>-<YYYYMMDD original date>" or "x<exception id>"),
  starts_at (UTC, for reports), status ("attended" | "missed"), marked_by_id → user_account (SET NULL),
  marked_at. Unique per (patient_id, occurrence_id).
- `calendar_feed` — a patient's personal .ics feed, off until they turn it on. patient_id (unique, CASCADE),
  salt, token_hash, created_at. The secret URL token is HMAC(secret_key, salt), so the database alone never
  holds a working feed address; a reset draws a new salt and the old URL stops working.
- `schedule_revision` — one row (id 1): `revision`, a new random number whenever anything above but attendance
  and calendar feeds changes (database triggers, migration 0015). What a process built from those rows is reused
  while the revision it was read at holds (`logic.today_reads`).
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field

EXCEPTION_KINDS = ("cancelled", "moved", "holiday", "extra")
ENROLMENT_STATUSES = ("active", "completed", "discharged")
# How a program ended (recorded at discharge). The first two count as finishing it (status "completed": the
# family "finished the program" milestone, the "You finished your program" moment); the others end it early.
DISCHARGE_OUTCOMES = ("completed", "stepped_down", "left_early", "transferred")
FINISHING_OUTCOMES = ("completed", "stepped_down")
ATTENDANCE_STATUSES = ("attended", "missed")


class Program(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=1000)
    timezone: str = Field(default="America/New_York", max_length=64)
    family_info: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    active: bool = Field(default=True)
    alumni: bool = Field(default=False)
    created_at: datetime = utc_field(default_now=True)


class ProgramPhase(SQLModel, table=True):
    __tablename__ = "program_phase"

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    start_week: int
    end_week: int
    groups_per_week: int = Field(default=0)


class GroupPattern(SQLModel, table=True):
    __tablename__ = "group_pattern"

    id: int | None = Field(default=None, primary_key=True)
    phase_id: int = Field(foreign_key="program_phase.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=120)
    weekday: int
    start_time: time
    duration_minutes: int = Field(default=90)
    location: str = Field(default="", max_length=200)
    video_url: str = Field(default="", max_length=500)
    facilitator: str = Field(default="", max_length=120)


class SessionException(SQLModel, table=True):
    __tablename__ = "session_exception"
    __table_args__ = (UniqueConstraint("pattern_id", "original_date"),)

    id: int | None = Field(default=None, primary_key=True)
    program_id: int = Field(foreign_key="program.id", index=True, ondelete="CASCADE")
    pattern_id: int | None = Field(default=None, foreign_key="group_pattern.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    original_date: date | None = Field(default=None, index=True)
    new_date: date | None = Field(default=None, index=True)
    new_time: time | None = None
    title: str = Field(default="", max_length=120)
    duration_minutes: int = Field(default=0)
    location: str = Field(default="", max_length=200)
    video_url: str = Field(default="", max_length=500)
    facilitator: str = Field(default="", max_length=120)
    note: str = Field(default="", max_length=200)
    created_at: datetime = utc_field(default_now=True)


class Enrolment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    program_id: int = Field(foreign_key="program.id", index=True, ondelete="CASCADE")
    start_date: date = Field(index=True)
    extended_weeks: int = Field(default=0)
    end_date: date | None = None
    status: str = Field(default="active", max_length=16)
    outcome: str = Field(default="", max_length=16)
    discharged_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    discharged_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)


class Attendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("patient_id", "occurrence_id"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    occurrence_id: str = Field(max_length=40)
    starts_at: datetime = utc_field(index=True)
    status: str = Field(max_length=16)
    marked_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    marked_at: datetime = utc_field(default_now=True)


class CalendarFeed(SQLModel, table=True):
    __tablename__ = "calendar_feed"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", unique=True, ondelete="CASCADE")
    salt: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = utc_field(default_now=True)


class ScheduleRevision(SQLModel, table=True):
    """Written only by the triggers of migration 0015: a random number, so that a value once seen never comes back
    with other rows behind it (a restored backup's value comes back with its own rows)."""

    __tablename__ = "schedule_revision"

    id: int = Field(primary_key=True)
    revision: int = Field(sa_type=BigInteger)
