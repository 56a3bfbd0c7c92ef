"""What the safety plan and clinic settings forms accept. Messages are kind and say how to fix the value."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from server.crisis.logic import (
    MAX_CLINIC_LINES,
    MAX_LABEL,
    MAX_NOTE,
    MAX_NUMBER,
    MAX_SECTION_CHARS,
    CrisisLine,
    valid_number,
)
from server.i18n import gettext as _
from server.web.forms import TimeZoneName, validate

LINE_FIELDS = ("line_label", "line_number", "line_kind", "line_note")


def _check_number(value: str) -> str:
    value = value.strip()
    if value and not valid_number(value):
        raise ValueError(_("Please use only digits, spaces and + - ( ), like +44 116 123 or 1-800-662-4357."))
    return value


class SafetyPlanForm(BaseModel):
    warning_signs: str = Field(default="", max_length=MAX_SECTION_CHARS)
    coping_on_my_own: str = Field(default="", max_length=MAX_SECTION_CHARS)
    distractions: str = Field(default="", max_length=MAX_SECTION_CHARS)
    people_to_ask: str = Field(default="", max_length=MAX_SECTION_CHARS)
    professionals: str = Field(default="", max_length=MAX_SECTION_CHARS)
    safe_environment: str = Field(default="", max_length=MAX_SECTION_CHARS)
    reasons_for_recovery: str = Field(default="", max_length=MAX_SECTION_CHARS)


class ClinicForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=MAX_NUMBER)
    timezone: TimeZoneName

    _phone = field_validator("phone")(_check_number)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return value.strip()


class CrisisLineForm(BaseModel):
    label: str = Field(min_length=1, max_length=MAX_LABEL)
    number: str = Field(max_length=MAX_NUMBER)
    kind: Literal["call", "text"]
    note: str = Field(default="", max_length=MAX_NOTE)

    _number = field_validator("number")(_check_number)

    @field_validator("label", "note")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


def line_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The crisis-line rows as typed: lists of repeated fields zipped by position (the order on the page)."""
    columns = {name: [str(v) for v in values.get(name) or []] for name in LINE_FIELDS}
    removed = {str(v) for v in values.get("line_remove") or []}
    count = max((len(column) for column in columns.values()), default=0)
    rows = []
    for index in range(count):
        row: dict[str, Any] = {
            name.removeprefix("line_"): (columns[name][index] if index < len(columns[name]) else "")
            for name in LINE_FIELDS
        }
        row["remove"] = str(index) in removed
        rows.append(row)
    return rows


def blank_row() -> dict[str, Any]:
    return {"label": "", "number": "", "kind": "call", "note": "", "remove": False}


def validate_lines(rows: list[dict[str, Any]]) -> tuple[list[CrisisLine], dict[str, str]]:
    """Check every kept row; errors are keyed `line_<field>-<row index>` so each shows next to its field.

    A row left completely empty (the spare row for a new line) or ticked "Remove" is skipped.
    """
    lines: list[CrisisLine] = []
    errors: dict[str, str] = {}
    for index, row in enumerate(rows):
        if row["remove"] or not any(str(row[k]).strip() for k in ("label", "number", "note")):
            continue
        result = validate(CrisisLineForm, {k: row[k] for k in ("label", "number", "kind", "note")})
        if not result.ok or result.data is None:
            for field, message in result.errors.items():
                errors[f"line_{field}-{index}"] = message
            continue
        form = result.data
        lines.append(CrisisLine(label=form.label, number=form.number, kind=form.kind, note=form.note))
    if len(lines) > MAX_CLINIC_LINES:
        errors["__all__"] = _("Please keep to %(n)d crisis lines or fewer, so the page stays quick to use.") % {
            "n": MAX_CLINIC_LINES
        }
    return lines, errors
