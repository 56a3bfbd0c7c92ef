"""Clinics, people, invitations and sign-in sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from advanced_alchemy.extensions.litestar.store import StoreModelMixin
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from server.db import utc_field


class Role(StrEnum):
    ADMIN = "admin"
    THERAPIST = "therapist"
    PATIENT = "patient"
    FAMILY = "family"

    @property
    def is_staff(self) -> bool:
        return self in (Role.ADMIN, Role.THERAPIST)


def role_column_type() -> SAEnum:
    """Roles stored as their lowercase values in a plain string column (no database enum type to migrate)."""
    return SAEnum(Role, native_enum=False, length=16, values_callable=lambda roles: [r.value for r in roles])


class Clinic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="America/New_York", max_length=64)
    phone: str = Field(default="", max_length=40)
    # Clinic-wide settings that later features read (crisis numbers, flag thresholds).
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = utc_field(default_now=True)


class User(SQLModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=120)
    role: Role = Field(sa_type=role_column_type())
    password_hash: str = Field(max_length=255)
    timezone: str = Field(default="America/New_York", max_length=64)
    locale: str = Field(default="en", max_length=8)
    phone: str = Field(default="", max_length=40)
    created_at: datetime = utc_field(default_now=True)


class Invite(SQLModel, table=True):
    """A one-time invitation. Only a hash of the code is stored, like a password."""

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinic.id", index=True)
    role: Role = Field(sa_type=role_column_type())
    code_hash: str = Field(max_length=64, unique=True)
    note: str = Field(default="", max_length=120)
    invited_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # For family invites: whose family member this will be.
    patient_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="CASCADE")
    created_at: datetime = utc_field(default_now=True)
    expires_at: datetime = utc_field()
    used_at: datetime | None = utc_field(nullable=True)
    used_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")


class UserSession(SQLModel, table=True):
    """A signed-in device. The cookie holds a random token; the row stores only its hash."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = utc_field(default_now=True)
    last_seen_at: datetime = utc_field(default_now=True)
    expires_at: datetime = utc_field()
    idle_seconds: int
    device_label: str = Field(default="", max_length=120)


class LoginFailure(SQLModel, table=True):
    """One failed sign-in, keyed by a hash of the account or the client address."""

    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, index=True)
    at: datetime = utc_field(index=True, default_now=True)


class CareTeam(SQLModel, table=True):
    """Which therapist looks after which patient (set at invite time, changeable by admins)."""

    __tablename__ = "care_team"
    __table_args__ = (UniqueConstraint("patient_id", "therapist_id"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    therapist_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")


class KeyValueStore(StoreModelMixin):
    """Backs Litestar's `Store` registry so every named store is shared across processes."""

    __tablename__ = "kv_store"


class FamilyLink(SQLModel, table=True):
    """A family member invited by a patient. What they may hear is decided elsewhere, by consent."""

    __tablename__ = "family_link"
    __table_args__ = (UniqueConstraint("patient_id", "family_id"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    family_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    relationship_label: str = Field(default="", max_length=60)
    created_at: datetime = utc_field(default_now=True)
