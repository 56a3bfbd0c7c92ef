"""What the account forms accept. Messages are kind and say how to fix the value."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from server.accounts.passwords import MAX_LENGTH, password_problem
from server.i18n import gettext as _
from server.web.forms import TimeZoneName


def _check_email(value: str) -> str:
    value = value.strip()
    local, _sep, domain = value.partition("@")
    if not local or "." not in domain or " " in value:
        raise ValueError(_("Please enter an email address like name@example.org."))
    return value


def _check_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class LoginForm(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    next: str = ""


class SetupForm(BaseModel):
    clinic_name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_LENGTH)

    _email = field_validator("email")(_check_email)
    _pw = field_validator("password")(_check_password)


class JoinForm(BaseModel):
    code: str = Field(min_length=4, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_LENGTH)
    timezone: TimeZoneName

    _email = field_validator("email")(_check_email)
    _pw = field_validator("password")(_check_password)


class PasswordForm(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=MAX_LENGTH)

    _pw = field_validator("new_password")(_check_password)


class ProfileForm(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    timezone: TimeZoneName
    locale: str = Field(pattern="^(en|es)$")
    phone: str = Field(default="", max_length=40)



class InviteForm(BaseModel):
    role: str = Field(pattern="^(admin|therapist|patient|family)$")
    note: str = Field(default="", max_length=120)


class DeleteForm(BaseModel):
    password: str = Field(max_length=1024)
    confirm: str

    @field_validator("confirm")
    @classmethod
    def _must_confirm(cls, value: str) -> str:
        if value.strip().upper() != "DELETE":
            raise ValueError(_("Please type DELETE to confirm."))
        return value
