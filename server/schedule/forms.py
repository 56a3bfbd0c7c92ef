"""What the schedule forms accept. Field names are prefixed per form so several forms can share one page
without two inputs having the same id. Messages say how to fix the value."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.schedule.logic import MAX_EXTENSION_WEEKS, MAX_PROGRAM_WEEKS
from server.web.forms import RowId, TimeZoneName

WEEKDAYS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
WEEKDAYS_PLURAL = (
    _l("Mondays"),
    _l("Tuesdays"),
    _l("Wednesdays"),
    _l("Thursdays"),
    _l("Fridays"),
    _l("Saturdays"),
    _l("Sundays"),
)

_TIME = re.compile(r"^\s*(\d{1,2})(?:[:.h](\d{2}))?\s*([ap])?\.?\s*m?\.?\s*$", re.IGNORECASE)


def parse_time(value: Any) -> time:
    """'18:00', '6:30 pm', '6pm', '18.30' or a time; anything else gets a kind message."""
    if isinstance(value, time):
        return value
    match = _TIME.match(str(value or ""))
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        half = (match.group(3) or "").lower()
        if half and 1 <= hour <= 12:
            hour = hour % 12 + (12 if half == "p" else 0)
        elif half:
            hour = 99
        if 0 <= hour <= 23 and 0 <= minute <= 59:
            return time(hour, minute)
    raise ValueError(_("Please enter a time like 18:00 or 6:30 PM."))


def parse_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(_("Please enter a date like 2026-03-09.")) from None


def parse_weekday(value: Any) -> int:
    try:
        day = int(str(value).strip())
    except ValueError:
        day = -1
    if not 0 <= day <= 6:
        raise ValueError(_("Please pick a day of the week from the list."))
    return day


def check_link(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or " " in value:
        raise ValueError(_("Please paste the full video link, starting with https://"))
    return value


class ProgramForm(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=1000)
    timezone: TimeZoneName
    family_info: str = Field(default="", max_length=4000)
    # A checkbox: absent means "no". Only the edit form shows it; new programs start open.
    active: bool = False
    # The clinic's program for people after discharge (at most one per clinic; a checkbox on the edit form).
    alumni: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(_("Please fill this in."))
        return value.strip()


class PhaseForm(BaseModel):
    phase_name: str = Field(min_length=1, max_length=120)
    start_week: int = Field(ge=1, le=MAX_PROGRAM_WEEKS)
    end_week: int = Field(ge=1, le=MAX_PROGRAM_WEEKS)
    groups_per_week: int = Field(default=0, ge=0, le=21)


class GroupForm(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    weekday: int
    start_time: time
    duration_minutes: int = Field(ge=10, le=480)
    location: str = Field(default="", max_length=200)
    video_url: str = Field(default="", max_length=500)
    facilitator: str = Field(default="", max_length=120)

    _weekday = field_validator("weekday", mode="before")(parse_weekday)
    _time = field_validator("start_time", mode="before")(parse_time)
    _link = field_validator("video_url")(check_link)


class WeeklyGroupsForm(BaseModel):
    """A new weekly group on one or more weekdays (one pattern per day ticked, the rest shared)."""

    title: str = Field(min_length=1, max_length=120)
    weekday: list[int]
    start_time: time
    duration_minutes: int = Field(ge=10, le=480)
    location: str = Field(default="", max_length=200)
    video_url: str = Field(default="", max_length=500)
    facilitator: str = Field(default="", max_length=120)

    _time = field_validator("start_time", mode="before")(parse_time)
    _link = field_validator("video_url")(check_link)

    @field_validator("weekday", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[int]:
        values = value if isinstance(value, list) else [value]
        days = [parse_weekday(v) for v in values if str(v).strip() != ""][:14]
        if not days:
            raise ValueError(_("Please tick at least one day of the week."))
        return sorted(set(days))

    def for_day(self, day: int) -> GroupForm:
        return GroupForm.model_validate({**self.model_dump(exclude={"weekday"}), "weekday": day})


class SessionChangeForm(BaseModel):
    change_group: int
    change_date: date
    change_action: str = Field(pattern="^(cancel|move)$")
    move_date: date | None = None
    move_time: time | None = None
    change_note: str = Field(default="", max_length=200)

    _date = field_validator("change_date", mode="before")(parse_date)
    _move_date = field_validator("move_date", mode="before")(parse_date)
    _move_time = field_validator("move_time", mode="before")(parse_time)


class HolidayForm(BaseModel):
    holiday_date: date
    holiday_note: str = Field(default="", max_length=200)

    _date = field_validator("holiday_date", mode="before")(parse_date)


class ExtraForm(BaseModel):
    extra_title: str = Field(min_length=1, max_length=120)
    extra_date: date
    extra_time: time
    extra_duration: int = Field(ge=10, le=480)
    extra_location: str = Field(default="", max_length=200)
    extra_video_url: str = Field(default="", max_length=500)
    extra_facilitator: str = Field(default="", max_length=120)
    extra_note: str = Field(default="", max_length=200)

    _date = field_validator("extra_date", mode="before")(parse_date)
    _time = field_validator("extra_time", mode="before")(parse_time)
    _link = field_validator("extra_video_url")(check_link)


class EnrolForm(BaseModel):
    patient_id: RowId
    start_date: date

    _date = field_validator("start_date", mode="before")(parse_date)


class TherapistEnrolForm(BaseModel):
    program_id: RowId
    start_date: date

    _date = field_validator("start_date", mode="before")(parse_date)


class ExtendForm(BaseModel):
    extend_weeks: int = Field(ge=1, le=MAX_EXTENSION_WEEKS)


class EndForm(BaseModel):
    """A discharge: the program's last day and how it ended ("discharged" is the older word for leaving early)."""

    end_date: date
    outcome: str = Field(pattern="^(completed|stepped_down|left_early|transferred|discharged)$")
    join_alumni: bool = False  # also enrol them in the clinic's alumni program from the next day

    _date = field_validator("end_date", mode="before")(parse_date)


class AttendanceForm(BaseModel):
    occurrence_id: str = Field(min_length=2, max_length=40)
    status: str = Field(pattern="^(attended|missed)$")
