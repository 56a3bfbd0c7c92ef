"""The patient's own safety plan (the six steps of the Stanley–Brown safety plan plus reasons for recovery).

Clinic crisis numbers need no table: they live in `Clinic.settings["crisis_lines"]`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from server.db import utc_field

# The six steps in order, then the reasons. Column names double as form field names.
PLAN_SECTIONS: tuple[str, ...] = (
    "warning_signs",
    "coping_on_my_own",
    "distractions",
    "people_to_ask",
    "professionals",
    "safe_environment",
    "reasons_for_recovery",
)


def _items() -> list[str]:
    return []


class SafetyPlan(SQLModel, table=True):
    """One plan per patient; each section is a list of short items (one per line in the form)."""

    __tablename__ = "safety_plan"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", unique=True, ondelete="CASCADE")
    warning_signs: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    coping_on_my_own: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    distractions: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    people_to_ask: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    professionals: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    safe_environment: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    reasons_for_recovery: list[str] = Field(default_factory=_items, sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)

    def section(self, name: str) -> list[str]:
        value = getattr(self, name, None)
        return [str(item) for item in value] if isinstance(value, list) else []

    @property
    def is_empty(self) -> bool:
        return not any(self.section(name) for name in PLAN_SECTIONS)
