"""Questionnaire tables.

``questionnaire_assignment`` — :class:`Assignment`, one instrument a therapist assigned to one patient: instrument
    code ('phq9' | 'gad7' | 'bam_iop'), cadence ('weekly' | 'biweekly' | 'monthly'), starts_on (the patient's local
    date of the first one), ends_on (local date, exclusive: nothing is due from then on, e.g. discharge; NULL while
    open), assigned_by_id (→ user_account, SET NULL), created_at, updated_at. UNIQUE (patient_id, instrument): a
    new choice updates the row. The clinic's default assignments live in `Clinic.settings["questionnaire_defaults"]`
    and apply to patients without their own row for that instrument.

``questionnaire_response`` — :class:`Response`, one filling-in: a 'draft' (answers saved item by item, to resume
    later) that becomes 'complete' once, with its score. answers (JSON {item id: value}), idempotency_key (UNIQUE
    per user: a replayed offline submission returns the same row), payload_hash (of the completed answers),
    due_on (the due date it answers, or NULL), local_date (the patient's local date of completion), total (NULL for
    the BAM), score (JSON: total, band, subscales, safety), safety (PHQ-9 item 9 above 0).
    The item-9 path: shared_once_with_id / shared_once_at / shared_once_wording record a one-time consent to share
    this one result with a therapist (the text shown is stored as shown); followed_up_at / followed_up_by_id /
    followup_note record the therapist's same-day follow-up, which clears the flag.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field

CADENCES: tuple[str, ...] = ("weekly", "biweekly", "monthly")
STATUSES: tuple[str, ...] = ("draft", "complete")
INSTRUMENT_CODES: tuple[str, ...] = ("phq9", "gad7", "bam_iop")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Assignment(SQLModel, table=True):
    __tablename__ = "questionnaire_assignment"
    __table_args__ = (
        UniqueConstraint("patient_id", "instrument", name="uq_questionnaire_assignment"),
        CheckConstraint(_in("cadence", CADENCES), name="ck_questionnaire_assignment_cadence"),
        CheckConstraint(_in("instrument", INSTRUMENT_CODES), name="ck_questionnaire_assignment_instrument"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    instrument: str = Field(max_length=16)
    cadence: str = Field(max_length=16)
    starts_on: date
    ends_on: date | None = None
    assigned_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class Response(SQLModel, table=True):
    __tablename__ = "questionnaire_response"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_questionnaire_response_key"),
        Index("ix_questionnaire_response_user", "user_id", "instrument", "status", "completed_at"),
        CheckConstraint(_in("status", STATUSES), name="ck_questionnaire_response_status"),
        CheckConstraint(_in("instrument", INSTRUMENT_CODES), name="ck_questionnaire_response_instrument"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    instrument: str = Field(max_length=16)
    instrument_version: int = 1
    status: str = Field(default="draft", max_length=16)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(max_length=64)
    payload_hash: str | None = Field(default=None, max_length=64)
    due_on: date | None = None
    local_date: date | None = None
    total: int | None = None
    score: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    safety: bool = False
    started_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
    completed_at: datetime | None = utc_field(nullable=True)
    client_created_at: datetime | None = utc_field(nullable=True)
    shared_once_with_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    shared_once_at: datetime | None = utc_field(nullable=True)
    shared_once_wording: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    followed_up_at: datetime | None = utc_field(nullable=True)
    followed_up_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    followup_note: str = Field(default="", max_length=500)
