"""Consent records and the disclosure (access) log.

``consent`` — :class:`Consent`, one signed version of "patient P lets recipient R see categories C for purpose X
    from starts_at until ends_at". Immutable once written: only ``revoked_at`` and ``superseded_by_id`` may ever
    change (enforced by a ``before_update`` hook below). Narrowing or widening creates a new version that
    supersedes the old one; old versions stay for the record.
    id, patient_id → user_account (CASCADE), recipient_id → user_account (CASCADE), recipient_kind
    ('therapist' | 'family'), version (1, 2, … per patient+recipient; unique), categories (JSON list of ids),
    purpose (text), data_from (local date: the oldest day whose data the recipient may see), starts_at,
    ends_at (UTC instants; ends_at ≤ starts_at + 1 year), until_program_end (bool: the patient chose "end of my
    program" and ends_at was computed at signing), wording (the exact consent text shown, as plain text),
    signature (the typed name), signed_at (UTC), locale, revoked_at (UTC or NULL), superseded_by_id → consent
    (SET NULL) or NULL, ended_with_program (bool: a discharge ended an until-program-end consent; revoked_at is
    then the end of the program's last day and the state reads 'expired').

``disclosure_log`` — :class:`DisclosureLog`, one row per disclosure of shared data (a summary viewed, an export
    downloaded, a dashboard row shown, a family notification sent), written in the same transaction as the read.
    id, patient_id → user_account (CASCADE), viewer_id → user_account (SET NULL, so the patient's log survives
    the viewer's account), viewer_name (snapshot), consent_id → consent (SET NULL), kind ('summary_view' |
    'export_pdf' | 'export_csv' | 'dashboard' | 'notification'), subject (e.g. '2026-W47' or a milestone id),
    at (UTC).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, event, inspect
from sqlmodel import Field, SQLModel

from server.db import utc_field

RECIPIENT_KINDS = ("therapist", "family")
DISCLOSURE_KINDS = (
    "summary_view", "export_pdf", "export_csv", "dashboard", "notification", "attendance_view", "attendance_mark",
    "q_view", "q_export", "q_followup",
)  # fmt: skip
# The only columns a signed consent may ever change.
MUTABLE_COLUMNS = frozenset({"revoked_at", "superseded_by_id", "ended_with_program"})


class Consent(SQLModel, table=True):
    __tablename__ = "consent"
    __table_args__ = (
        UniqueConstraint("patient_id", "recipient_id", "version", name="uq_consent_version"),
        Index("ix_consent_recipient", "recipient_id", "patient_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    recipient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    recipient_kind: str = Field(max_length=16)
    version: int
    categories: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=500)
    data_from: date
    starts_at: datetime = utc_field()
    ends_at: datetime = utc_field()
    until_program_end: bool = False
    wording: str = Field(sa_column=Column(Text, nullable=False))
    signature: str = Field(max_length=120)
    signed_at: datetime = utc_field(default_now=True)
    locale: str = Field(default="en", max_length=8)
    revoked_at: datetime | None = utc_field(nullable=True)
    superseded_by_id: int | None = Field(default=None, foreign_key="consent.id", ondelete="SET NULL")
    # Set with revoked_at when a discharge ended an "until the end of my program" consent on its last day.
    ended_with_program: bool = False

    def state(self, now: datetime) -> str:
        """'active', 'upcoming', 'expired', 'revoked' or 'replaced' as of `now`."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "expired" if self.ended_with_program else "revoked"
        if self.superseded_by_id is not None:
            return "replaced"
        if now >= self.ends_at:
            return "expired"
        if now < self.starts_at:
            return "upcoming"
        return "active"


class DisclosureLog(SQLModel, table=True):
    __tablename__ = "disclosure_log"
    __table_args__ = (Index("ix_disclosure_log_patient_at", "patient_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    # Who viewed and under which consent, as plain ids: history, kept as it was after that account or consent is
    # gone (with the viewer's name as it was); no foreign key, whose trigger per row cost the dashboard ~2 ms a view
    # (migration 0014). Deleting the patient still deletes their log.
    viewer_id: int | None = Field(default=None)
    viewer_name: str = Field(default="", max_length=120)
    consent_id: int | None = Field(default=None)
    kind: str = Field(max_length=16)
    subject: str = Field(default="", max_length=80)
    at: datetime = utc_field(default_now=True)


class ImmutableConsentError(RuntimeError):
    """Raised when code tries to change a signed consent beyond revoking or superseding it."""


@event.listens_for(Consent, "before_update")
def _consent_is_immutable(_mapper: Any, _connection: Any, target: Consent) -> None:
    state = inspect(target)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    if changed - MUTABLE_COLUMNS:
        raise ImmutableConsentError(
            "a signed consent cannot be edited: " + ", ".join(sorted(changed - MUTABLE_COLUMNS))
        )
