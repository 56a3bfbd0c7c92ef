"""Daily check-ins, craving logs, sobriety dates and resets.

Tables (all rows belong to one patient, `user_id` → `user_account.id` ON DELETE CASCADE):

``checkin`` — :class:`CheckIn`, one per patient per *local* calendar day, unique (user_id, local_date).
    id, user_id, local_date (date: the patient's own calendar day, in `user.timezone`),
    mood 0–10, craving 0–10, triggers (JSON list of trigger ids, see ``server.checkins.triggers``),
    used (bool: used a substance that day), substances (text, '' unless used), amount (text, optional),
    sleep_hours (float 0–24 or NULL), medication ('yes' | 'no' | 'na' | '' = not answered),
    note (text ≤ 5000),
    DBT diary card (all NULL when the diary card is off or was skipped; `diary` tells whether it was filled):
        diary (bool), emo_sadness, emo_anger, emo_fear, emo_shame, emo_joy (0–5),
        urge_use, urge_self_harm, urge_quit_treatment (0–5),
        acted_use, acted_self_harm, acted_quit_treatment (bool),
        skills_used (0–7, the standard DBT diary-card scale),
    late (bool: first saved after its local day had ended), client_created_at (UTC, phone time of the
    submission that last wrote the row), created_at, updated_at (UTC, server),
    idempotency_key (key of the submission that last wrote the row; unique per user).

``checkin_submission`` — :class:`CheckInSubmission`, every accepted check-in POST (first save and edits),
    unique (user_id, idempotency_key): id, user_id, idempotency_key, payload_hash (sha256 of the normalised
    payload), checkin_id (→ checkin.id, CASCADE), client_created_at, created_at. Makes replays idempotent.

``craving_log`` — :class:`CravingLog`, any number a day: id, user_id, occurred_at (UTC, phone time),
    local_date (the patient's calendar day of occurred_at), intensity 0–10, triggers (JSON list of ids),
    where_with (text), action ('skill' | 'called' | 'left' | 'nothing'), skill_card_id (catalogue id or NULL),
    outcome ('passed' | 'used' | '' = still going when logged), intensity_after 0–10 or NULL, note (text ≤ 2000),
    idempotency_key (unique per user), payload_hash, created_at.

``trigger_hit`` — :class:`TriggerHit`, one row per trigger ticked on a check-in or craving log (kept in step
    by ``server.checkins.logic``), so trigger statistics are plain SQL GROUP BYs on both databases:
    id, user_id, local_date, trigger_id, intensity (the check-in's craving or the craving log's intensity),
    checkin_id (→ checkin.id, CASCADE) or craving_id (→ craving_log.id, CASCADE).

``sobriety_date`` — :class:`SobrietyDate`, unique (user_id, substance): id, user_id, substance
    (label, '' = all substances / overall), started_on (date, may be back-dated), created_at, updated_at.
    Sober days = (patient's local today − started_on).days — use ``server.checkins.sober.sober_days``.

``sober_reset`` — :class:`SoberReset`, history of resets: id, user_id, substance, reset_on (date the count
    restarted from, = the new started_on), previous_started_on, previous_days (length of the run that ended),
    note (text ≤ 2000: what happened / what I learned, editable later), created_at, updated_at.

``trigger_preference`` — :class:`TriggerPreference`, one row per patient (user_id is the key):
    custom (JSON list of {"id": "custom-…", "label": "…"}), hidden (JSON list of default trigger ids), updated_at.

``checkin_preference`` — :class:`CheckInPreference`, one row per patient (user_id is the key):
    diary_card (bool: show the DBT diary-card part of the check-in), updated_at.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.checkins.measures import MEASURES
from server.db import utc_field

NOTE_MAX = 5000
SHORT_NOTE_MAX = 2000
TEXT_MAX = 200


def _measure_columns() -> type[SQLModel]:
    """A base class with one column per measure in `server.checkins.measures.MEASURES`: a measure added there gets
    its column here without touching this file. `CheckIn` below also declares the measures that were here before
    the spec (code reads those by attribute, typed); a declaration there wins over the one made here."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__module__": __name__}
    for measure in MEASURES:
        if measure.kind == "choice":
            annotations[measure.name] = str
            width = max(len(str(value)) for value, _label in measure.choices)
            namespace[measure.name] = Field(default="", max_length=width)
        else:
            annotations[measure.name] = measure.python_type | None
            namespace[measure.name] = Field(default=None)
    namespace["__annotations__"] = annotations
    return type("MeasureColumns", (SQLModel,), namespace)


if TYPE_CHECKING:
    MeasureColumns = SQLModel
else:
    MeasureColumns = _measure_columns()


class CheckIn(MeasureColumns, table=True):
    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("user_id", "local_date", name="uq_checkin_user_day"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_checkin_user_key"),
        # The forms validate first; these only guard against a bug ever storing nonsense.
        CheckConstraint("mood >= 0 AND mood <= 10", name="ck_checkin_mood"),
        CheckConstraint("craving >= 0 AND craving <= 10", name="ck_checkin_craving"),
        CheckConstraint("medication IN ('', 'yes', 'no', 'na')", name="ck_checkin_medication"),
        CheckConstraint("skills_used IS NULL OR (skills_used >= 0 AND skills_used <= 7)", name="ck_checkin_skills"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    local_date: date
    mood: int
    craving: int
    triggers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    used: bool = False
    substances: str = Field(default="", max_length=TEXT_MAX)
    amount: str = Field(default="", max_length=TEXT_MAX)
    sleep_hours: float | None = None
    medication: str = Field(default="", max_length=3)
    note: str = Field(default="", max_length=NOTE_MAX)
    # DBT diary card
    diary: bool = False
    emo_sadness: int | None = None
    emo_anger: int | None = None
    emo_fear: int | None = None
    emo_shame: int | None = None
    emo_joy: int | None = None
    urge_use: int | None = None
    urge_self_harm: int | None = None
    urge_quit_treatment: int | None = None
    acted_use: bool | None = None
    acted_self_harm: bool | None = None
    acted_quit_treatment: bool | None = None
    skills_used: int | None = None
    # "Did you go to a support meeting?" (server/checkins/measures.py; declared here for its column width)
    support_meeting: str = Field(default="", max_length=8)
    late: bool = False
    client_created_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)
    idempotency_key: str = Field(max_length=64)


class CheckInSubmission(SQLModel, table=True):
    __tablename__ = "checkin_submission"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_checkin_submission_user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    idempotency_key: str = Field(max_length=64)
    payload_hash: str = Field(max_length=64)
    checkin_id: int = Field(foreign_key="checkin.id", index=True, ondelete="CASCADE")
    client_created_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)


class CheckInRevision(SQLModel, table=True):
    """Answers for a day that are not the ones shown, kept where the person can see them: two devices checked in
    for the same day without seeing each other's answers (one of them offline). `reason` is "replaced" (these
    were shown until a later-filled check-in arrived) or "older" (these arrived after a later-filled one)."""

    __tablename__ = "checkin_revision"
    __table_args__ = (CheckConstraint("reason IN ('replaced', 'older')", name="ck_checkin_revision_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(foreign_key="checkin.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    answers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=16)
    client_created_at: datetime | None = utc_field(nullable=True)
    created_at: datetime = utc_field(default_now=True)


class CravingLog(SQLModel, table=True):
    __tablename__ = "craving_log"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_craving_log_user_key"),
        Index("ix_craving_log_user_day", "user_id", "local_date"),
        Index("ix_craving_log_user_time", "user_id", "occurred_at"),
        CheckConstraint("intensity >= 0 AND intensity <= 10", name="ck_craving_log_intensity"),
        CheckConstraint(
            "intensity_after IS NULL OR (intensity_after >= 0 AND intensity_after <= 10)", name="ck_craving_log_after"
        ),
        CheckConstraint("action IN ('skill', 'called', 'left', 'nothing')", name="ck_craving_log_action"),
        CheckConstraint("outcome IN ('', 'passed', 'used')", name="ck_craving_log_outcome"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    occurred_at: datetime = utc_field()
    local_date: date
    intensity: int
    triggers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    where_with: str = Field(default="", max_length=TEXT_MAX)
    action: str = Field(max_length=16)
    skill_card_id: str | None = Field(default=None, max_length=80)
    outcome: str = Field(default="", max_length=8)
    intensity_after: int | None = None
    note: str = Field(default="", max_length=SHORT_NOTE_MAX)
    idempotency_key: str = Field(max_length=64)
    payload_hash: str = Field(max_length=64)
    created_at: datetime = utc_field(default_now=True)


class TriggerHit(SQLModel, table=True):
    __tablename__ = "trigger_hit"
    __table_args__ = (Index("ix_trigger_hit_user_day", "user_id", "local_date"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    local_date: date
    trigger_id: str = Field(max_length=80)
    intensity: int
    checkin_id: int | None = Field(default=None, foreign_key="checkin.id", index=True, ondelete="CASCADE")
    craving_id: int | None = Field(default=None, foreign_key="craving_log.id", index=True, ondelete="CASCADE")


class SobrietyDate(SQLModel, table=True):
    __tablename__ = "sobriety_date"
    __table_args__ = (UniqueConstraint("user_id", "substance", name="uq_sobriety_date_user_substance"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    substance: str = Field(default="", max_length=80)
    started_on: date
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class SoberReset(SQLModel, table=True):
    __tablename__ = "sober_reset"
    __table_args__ = (Index("ix_sober_reset_user", "user_id", "reset_on"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    substance: str = Field(default="", max_length=80)
    reset_on: date
    previous_started_on: date
    previous_days: int
    note: str = Field(default="", max_length=SHORT_NOTE_MAX)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class TriggerPreference(SQLModel, table=True):
    __tablename__ = "trigger_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    custom: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    hidden: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_field(default_now=True)


class CheckInPreference(SQLModel, table=True):
    __tablename__ = "checkin_preference"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    diary_card: bool = False
    updated_at: datetime = utc_field(default_now=True)
