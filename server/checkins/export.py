"""Export of everything a patient recorded here: check-ins, craving logs, sobriety dates, resets, triggers, and
what other domains add as export sections (skill practice, the safety plan, questionnaires, the aftercare plan).

CSV: one file, one row per record, a `record` column says which kind (check-ins, cravings and sober days only).
ZIP: one CSV per record type (every list in the JSON) plus the whole JSON as steady.json. In every CSV, cells that a
spreadsheet would run as a formula are prefixed with an apostrophe. JSON: one object with a list per kind.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.checkins import measures
from server.checkins.models import CheckIn, CheckInPreference, CravingLog, SoberReset, SobrietyDate, TriggerPreference
from server.checkins.triggers import build_set
from server.db import utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l

# Every measure of the spec (server/checkins/measures.py), with the details that come with a check-in.
CHECKIN_FIELDS = (
    "local_date", *measures.names(), "triggers", "substances", "amount", "note", "diary", "late",
    "client_created_at", "created_at", "updated_at",
)  # fmt: skip
CRAVING_FIELDS = (
    "occurred_at", "local_date", "intensity", "triggers", "where_with", "action", "skill_card_id", "outcome",
    "intensity_after", "note", "created_at",
)  # fmt: skip
SOBRIETY_FIELDS = ("substance", "started_on", "created_at", "updated_at")
RESET_FIELDS = ("substance", "reset_on", "previous_started_on", "previous_days", "note", "created_at")
CSV_COLUMNS = ("record", "id", *dict.fromkeys(CHECKIN_FIELDS + CRAVING_FIELDS + SOBRIETY_FIELDS + RESET_FIELDS))
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The CSV's first row, in the person's language; the JSON export keeps the field names, which programs read.
COLUMN_LABELS = {
    **{m.name: m.label for m in measures.MEASURES},
    "record": _l("Record"), "id": _l("Number"), "local_date": _l("Day"), "triggers": _l("Triggers"),
    "substances": _l("What was used"), "amount": _l("How much"), "note": _l("Note"), "diary": _l("Diary card"),
    "late": _l("Filled in later"), "client_created_at": _l("Written on the phone at"),
    "created_at": _l("Saved at"), "updated_at": _l("Changed at"), "occurred_at": _l("When"),
    "intensity": _l("Strength"), "where_with": _l("Where and who with"), "action": _l("What I did"),
    "skill_card_id": _l("Skill card"), "outcome": _l("How it ended"), "intensity_after": _l("Strength afterwards"),
    "substance": _l("Substance"), "started_on": _l("Sobriety date"), "reset_on": _l("Restarted on"),
    "previous_started_on": _l("Earlier sobriety date"), "previous_days": _l("Days in the earlier run"),
    # the zip's other files
    "card_id": _l("Skill card"), "started_at": _l("Started at"), "ended_at": _l("Ended at"),
    "distress_before": _l("Distress before"), "distress_after": _l("Distress afterwards"), "helped": _l("Helped"),
    "instrument": _l("Questionnaire"), "instrument_version": _l("Version"), "total": _l("Total score"),
    "completed_at": _l("Completed at"), "answers": _l("Answers"), "score": _l("Score"), "due_on": _l("Due on"),
    "next_due_on": _l("Next due"), "cadence": _l("How often"), "section": _l("Section"), "item": _l("Item"),
    "label": _l("Label"), "own": _l("My own"), "hidden": _l("Hidden"), "field": _l("Field"), "value": _l("Value"),
}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(record: str, obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"record": record, "id": obj.id}
    for name in fields:
        out[name] = _plain(getattr(obj, name))
    return out


async def iter_records(db: AsyncSession, user_id: int) -> AsyncIterator[dict[str, Any]]:
    """Every record of the patient, streamed from the database kind by kind."""
    queries: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        (
            "checkin",
            select(CheckIn).where(col(CheckIn.user_id) == user_id).order_by(col(CheckIn.local_date)),
            CHECKIN_FIELDS,
        ),
        (
            "craving",
            select(CravingLog).where(col(CravingLog.user_id) == user_id).order_by(col(CravingLog.occurred_at)),
            CRAVING_FIELDS,
        ),
        ("sobriety_date", select(SobrietyDate).where(col(SobrietyDate.user_id) == user_id), SOBRIETY_FIELDS),
        (
            "sober_reset",
            select(SoberReset).where(col(SoberReset.user_id) == user_id).order_by(col(SoberReset.reset_on)),
            RESET_FIELDS,
        ),
    )
    for record, query, fields in queries:
        result = await db.stream_scalars(query.execution_options(yield_per=200))
        async for obj in result:
            yield _row(record, obj, fields)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def csv_chunks(db: AsyncSession, user_id: int) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    buffer.write("\ufeff")  # so spreadsheet apps read UTF-8
    csv.writer(buffer).writerow([str(COLUMN_LABELS.get(name, name)) for name in CSV_COLUMNS])
    async for row in iter_records(db, user_id):
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        if buffer.tell() > 32_000:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


# Other domains add their own part of the JSON export (e.g. the aftercare plan) without check-ins importing them:
# `app.py` lists async callables (db, user) -> {key: data} in the application state under this key.
EXPORT_SECTIONS_KEY = "patient_export_sections"
ExportSection = Callable[[AsyncSession, User], Awaitable[dict[str, Any]]]


async def export_data(db: AsyncSession, user: User, sections: Sequence[ExportSection] = ()) -> dict[str, Any]:
    assert user.id is not None
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "timezone": user.timezone,
        "checkins": [],
        "cravings": [],
        "sobriety_dates": [],
        "sober_resets": [],
    }
    keys = {"checkin": "checkins", "craving": "cravings", "sobriety_date": "sobriety_dates",
            "sober_reset": "sober_resets"}  # fmt: skip
    async for row in iter_records(db, user.id):
        record = row.pop("record")
        data[keys[record]].append(row)
    pref = await db.get(TriggerPreference, user.id)
    trigger_set = build_set(pref)
    data["triggers"] = [{"id": t.id, "label": t.label, "own": t.custom, "hidden": t.hidden} for t in trigger_set.all]
    checkin_pref = await db.get(CheckInPreference, user.id)
    data["diary_card_on"] = bool(checkin_pref and checkin_pref.diary_card)
    for section in sections:
        data.update(await section(db, user))
    return data


async def export_json_bytes(db: AsyncSession, user: User, sections: Sequence[ExportSection] = ()) -> bytes:
    return json.dumps(await export_data(db, user, sections), ensure_ascii=False, indent=1).encode()


def _table(value: Any) -> list[dict[str, Any]] | None:
    """A JSON value as CSV rows: a list of records as is; a plan of lists (the safety plan) as section/item rows;
    any other object as field/value rows. Plain values (the export time, the time zone) have no file of their own."""
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"value": v} for v in value]
    if isinstance(value, dict):
        if value and all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in value.values()):
            return [{"section": name, "item": item} for name, items in value.items() for item in items]
        return [{"field": name, "value": v} for name, v in value.items()]
    return None


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    columns = list(dict.fromkeys(name for row in rows for name in row)) or ["value"]
    buffer = io.StringIO()
    buffer.write("\ufeff")  # so spreadsheet apps read UTF-8
    writer = csv.writer(buffer)
    writer.writerow([str(COLUMN_LABELS.get(name, name)) for name in columns])
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in columns])
    return buffer.getvalue().encode()


async def export_zip_bytes(db: AsyncSession, user: User, sections: Sequence[ExportSection] = ()) -> bytes:
    """One CSV per record type (each list or object in the JSON export) plus the JSON itself, zipped with the
    standard library. Built in memory: a person's own records are small."""
    data = await export_data(db, user, sections)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("steady.json", json.dumps(data, ensure_ascii=False, indent=1))
        for key, value in data.items():
            rows = _table(value)
            if rows is not None:
                archive.writestr(f"{key}.csv", _csv_bytes(rows))
    return out.getvalue()
