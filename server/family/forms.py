"""What the family forms accept. Messages say kindly how to fix the value."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from server.family.models import MESSAGE_MAX
from server.i18n import gettext as _
from server.web.forms import RowId

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _key(value: str) -> str:
    if not _KEY_RE.match(value):
        raise ValueError(_("This form is out of date. Please reload the page and try again."))
    return value


def _words(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError(_("Please write a few words first."))
    return value


class FamilyInviteForm(BaseModel):
    relationship: str = Field(default="", max_length=60)

    @field_validator("relationship")
    @classmethod
    def _tidy(cls, value: str) -> str:
        return " ".join(value.split())


class GoodNewsForm(BaseModel):
    message: str = Field(max_length=MESSAGE_MAX)
    idempotency_key: str

    @field_validator("message")
    @classmethod
    def _message(cls, value: str) -> str:
        return _words(value)

    @field_validator("idempotency_key")
    @classmethod
    def _idempotency(cls, value: str) -> str:
        return _key(value)


class PauseForm(BaseModel):
    paused: bool


class ReceiveForm(BaseModel):
    receive: bool


class RemoveForm(BaseModel):
    confirm: bool = Field(default=False, validate_default=True)  # an unticked box sends nothing at all

    @field_validator("confirm")
    @classmethod
    def _confirmed(cls, value: bool) -> bool:
        if not value:
            raise ValueError(_("Please tick the box to confirm."))
        return value


class EncourageForm(BaseModel):
    preset: str = Field(default="", max_length=MESSAGE_MAX)
    message: str = Field(default="", max_length=MESSAGE_MAX)
    patient_id: RowId | None = None
    idempotency_key: str

    @field_validator("idempotency_key")
    @classmethod
    def _idempotency(cls, value: str) -> str:
        return _key(value)

    def chosen_text(self) -> str:
        """Their own words win over a preset (someone who typed something means it)."""
        return " ".join((self.message or self.preset).split())
