"""What the check-in, craving, sobriety and trigger forms accept. Messages are kind and say how to fix a value."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, create_model, field_validator

from server.checkins.measures import BY_NAME, MEASURES, Measure
from server.checkins.models import NOTE_MAX, SHORT_NOTE_MAX, TEXT_MAX
from server.i18n import gettext as _
from server.web.forms import FormResult, ModelT, validate

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HIDDEN_FIELDS = ("idempotency_key", "client_created_at", "diary_section", "base")
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _clean_text(value: Any) -> Any:
    """Drop control characters (PostgreSQL refuses NUL) and trailing spaces; keep line breaks."""
    if isinstance(value, str):
        return _CONTROL.sub("", value).strip()
    return value


def _checkbox(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "yes", "on", "true")
    return value


Text = Annotated[str, BeforeValidator(_clean_text)]
Check = Annotated[bool, BeforeValidator(_checkbox)]
Scale10 = Annotated[int, Field(ge=0, le=10)]
Scale5 = Annotated[int, Field(ge=0, le=5)]


class Submission(BaseModel):
    """Fields every offline-capable form carries (filled by the server and app.js)."""

    idempotency_key: str | None = None
    client_created_at: str | None = Field(default=None, max_length=64)

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not KEY_RE.match(value):
            raise ValueError(_("This form is out of date. Please reload the page and try again."))
        return value


def _measure_field(measure: Measure) -> tuple[Any, Any]:
    """The form field for one measure: its type, bounds and whether it may be left out."""
    if measure.kind == "scale":
        kind: Any = Annotated[int, Field(ge=int(measure.lo), le=int(measure.hi))]
    elif measure.kind == "number":
        kind = Annotated[float, Field(ge=measure.lo, le=measure.hi, allow_inf_nan=False)]
    elif measure.kind == "choice":
        kind = Literal[tuple(str(value) for value, _label in measure.choices)]
    elif measure.kind == "yesno":
        kind = Literal["yes", "no"]
    else:
        return (Check, False)
    return (kind, ...) if measure.required else (kind | None, None)


if TYPE_CHECKING:
    MeasureFields = BaseModel
else:
    # One field per measure in `server.checkins.measures` (a new measure needs nothing here).
    MeasureFields = create_model("MeasureFields", **{m.name: _measure_field(m) for m in MEASURES})


class CheckInForm(Submission, MeasureFields):
    """The check-in: the measures (from the spec) plus the details that come with them."""

    date: dt.date | None = None
    # The version of the day's check-in the form was opened on (its key), empty for a new one. A save whose base
    # is not the stored version was filled in without seeing it (another device, or offline): both are kept.
    base: str | None = Field(default=None, max_length=64)
    triggers: list[str] = Field(default_factory=list, max_length=60)
    substances: Text = Field(default="", max_length=TEXT_MAX)
    amount: Text = Field(default="", max_length=TEXT_MAX)
    note: Text = Field(default="", max_length=NOTE_MAX)

    def measure_values(self) -> dict[str, Any]:
        """Every measure's answer as the column stores it."""
        return {m.name: m.stored(getattr(self, m.name)) for m in MEASURES}


class CravingForm(Submission):
    occurred_at: datetime | None = None
    intensity: Scale10
    triggers: list[str] = Field(default_factory=list, max_length=60)
    where_with: Text = Field(default="", max_length=TEXT_MAX)
    action: Literal["skill", "called", "left", "nothing"]
    skill_card_id: Text | None = Field(default=None, max_length=80)
    outcome: Literal["passed", "used"] | None = None
    intensity_after: Scale10 | None = None
    note: Text = Field(default="", max_length=SHORT_NOTE_MAX)

    @field_validator("occurred_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        # Far-off years can't be converted between time zones (and are never meant).
        if value is not None and not 2000 <= value.year <= 2999:
            raise ValueError(_("Please enter a date and time like 2026-11-23 20:30."))
        return value


class CravingUpdateForm(BaseModel):
    outcome: Literal["passed", "used"] | None = None
    intensity_after: Scale10 | None = None
    note: Text = Field(default="", max_length=SHORT_NOTE_MAX)


class SobrietyForm(BaseModel):
    substance: Text = Field(default="", max_length=80)
    started_on: date


class ResetForm(BaseModel):
    reset_on: date
    substance: list[str] = Field(default_factory=list, max_length=30)
    note: Text = Field(default="", max_length=SHORT_NOTE_MAX)


class ResetNoteForm(BaseModel):
    note: Text = Field(default="", max_length=SHORT_NOTE_MAX)


class TriggerAddForm(BaseModel):
    label: Text = Field(min_length=1, max_length=40)


class DiarySettingForm(BaseModel):
    diary_card: Check = False


def field_message(field: str, kind: str) -> str | None:
    if field in BY_NAME:
        return BY_NAME[field].message(kind)
    messages = {
        ("intensity", "missing"): _("Please pick how strong the craving is, from 0 to 10."),
        ("action", "missing"): _("Please pick what you did. “Nothing” is a fine answer."),
        ("date", "date_parsing"): _("Please enter a date like 2026-11-23."),
        ("date", "date_from_datetime_parsing"): _("Please enter a date like 2026-11-23."),
        ("started_on", "date_from_datetime_parsing"): _("Please enter a date like 2026-11-23."),
        ("reset_on", "date_from_datetime_parsing"): _("Please enter a date like 2026-11-23."),
        ("occurred_at", "datetime_from_date_parsing"): _("Please enter a date and time like 2026-11-23 20:30."),
        ("occurred_at", "datetime_parsing"): _("Please enter a date and time like 2026-11-23 20:30."),
    }
    return messages.get((field, kind))


def validate_form(model: type[ModelT], raw: dict[str, Any]) -> FormResult[ModelT]:
    """``server.web.forms.validate`` with kinder words for a few check-in fields."""
    return validate(model, raw, field_message=field_message, hidden_fields=HIDDEN_FIELDS)
