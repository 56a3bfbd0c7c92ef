"""Each person's reminder choices, one row per kind they changed.

``reminder_setting`` — :class:`ReminderSetting`, unique (user_id, kind): id, user_id (FK, CASCADE), kind (a kind
    registered with `server.push.kinds`, ≤ 16 characters), enabled (bool), options (JSON object: the kind's
    options as the person set them, e.g. {"minutes_before": 45} or {"time": "19:30"}), updated_at.
    No row means the kind's registered defaults. Quiet hours are not here: they are about delivery, so they stay
    with push (`reminder_preference`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.db import utc_field


class ReminderSetting(SQLModel, table=True):
    __tablename__ = "reminder_setting"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_reminder_setting_user_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = utc_field(default_now=True)
