"""Each person's reminder choices per kind (rows of `reminder_setting`), and the settings form built from the kinds
registered with `server.push.kinds`: a switchable kind brings its own switch and options, nothing here names one.

Public:

* :func:`choices` / :func:`choices_for` — one person's choices for every kind, or many people's for one kind
  (the registered defaults where they never chose)
* :func:`save_choices` — store choices; queued reminders of a kind just switched off are forgotten
* :func:`read_switched_off` — registered with push, which asks it when queuing and again when sending
* :func:`kinds_for`, :func:`form_model`, :func:`form_values`, :func:`choices_from_form` — the settings form
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from pydantic import BaseModel, Field, create_model, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.db import dialect_insert, table_of, utcnow
from server.i18n import gettext as _
from server.push.kinds import KindOption, ReminderKind, get_kind, register_switch_reader, switchable_kinds
from server.push.service import drop_pending
from server.reminders.models import ReminderSetting

SETTINGS = table_of(ReminderSetting)
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(:\d\d(\.\d+)?)?$")


@dataclass(frozen=True)
class KindChoice:
    enabled: bool
    options: dict[str, Any]  # minutes as int, times as datetime.time


def parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    match = _TIME_RE.match(str(value).strip())
    if not match:
        raise ValueError(_("Please enter a time like 20:00."))
    return time(int(match.group(1)), int(match.group(2)))


def _option_value(option: KindOption, raw: Any) -> Any:
    """A stored (JSON) or default option value as the planner uses it; a bad stored value falls back."""
    try:
        return parse_time(raw) if option.type == "time" else int(raw)
    except (TypeError, ValueError):
        return parse_time(option.default) if option.type == "time" else int(option.default)


def _stored(option: KindOption, value: Any) -> Any:
    """An option value as JSON keeps it."""
    if option.type == "time":
        value = parse_time(value)
        return f"{value.hour:02d}:{value.minute:02d}"
    return int(value)


def default_choice(kind: ReminderKind) -> KindChoice:
    return KindChoice(kind.default_on, {o.name: _option_value(o, o.default) for o in kind.options})


def _choice(kind: ReminderKind, enabled: bool, options: dict[str, Any] | None) -> KindChoice:
    options = options or {}
    return KindChoice(bool(enabled), {o.name: _option_value(o, options.get(o.name, o.default)) for o in kind.options})


# -- reading and writing ------------------------------------------------------------------------------------------


async def choices_for(db: AsyncSession, user_ids: Collection[int], kind_name: str) -> dict[int, KindChoice]:
    """{user id: choice} for one kind, for every one of `user_ids` (defaults where they never chose)."""
    kind = get_kind(kind_name)
    found = {uid: default_choice(kind) for uid in user_ids}
    ids = sorted(found)
    for start in range(0, len(ids), 500):
        rows = await db.execute(
            select(SETTINGS.c.user_id, SETTINGS.c.enabled, SETTINGS.c.options).where(
                SETTINGS.c.user_id.in_(ids[start : start + 500]), SETTINGS.c.kind == kind_name
            )
        )
        for row in rows:
            found[row.user_id] = _choice(kind, row.enabled, row.options)
    return found


async def choices(db: AsyncSession, user_id: int) -> dict[str, KindChoice]:
    """{kind: choice} for every switchable kind."""
    stored = {
        row.kind: row
        for row in await db.execute(
            select(SETTINGS.c.kind, SETTINGS.c.enabled, SETTINGS.c.options).where(SETTINGS.c.user_id == user_id)
        )
    }
    result: dict[str, KindChoice] = {}
    for kind in switchable_kinds():
        row = stored.get(kind.name)
        result[kind.name] = default_choice(kind) if row is None else _choice(kind, row.enabled, row.options)
    return result


async def save_choices(db: AsyncSession, user_id: int, changes: dict[str, KindChoice]) -> list[str]:
    """Store the choices (one row per kind); returns the kinds this switched off, whose queued reminders go."""
    if not changes:
        return []
    before = await choices(db, user_id)
    now = utcnow()
    rows = []
    for name, choice in changes.items():
        kind = get_kind(name)
        options = {o.name: _stored(o, choice.options.get(o.name, o.default)) for o in kind.options}
        rows.append(
            {"user_id": user_id, "kind": name, "enabled": choice.enabled, "options": options, "updated_at": now}
        )
    stmt = dialect_insert(db, SETTINGS).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "kind"],
        set_={"enabled": stmt.excluded.enabled, "options": stmt.excluded.options, "updated_at": now},
    )
    await db.execute(stmt)
    turned_off = [name for name, choice in changes.items() if before[name].enabled and not choice.enabled]
    await drop_pending(db, user_id, turned_off)
    return turned_off


async def read_switched_off(db: AsyncSession, pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """The (user id, kind) pairs switched off: a stored choice, else the kind's default."""
    asked = set(pairs)
    stored: dict[tuple[int, str], bool] = {}
    users = sorted({uid for uid, _k in asked})
    kinds = sorted({k for _u, k in asked})
    for start in range(0, len(users), 500):
        rows = await db.execute(
            select(col(ReminderSetting.user_id), col(ReminderSetting.kind), col(ReminderSetting.enabled)).where(
                col(ReminderSetting.user_id).in_(users[start : start + 500]), col(ReminderSetting.kind).in_(kinds)
            )
        )
        stored.update({(uid, kind): bool(enabled) for uid, kind, enabled in rows})
    return {pair for pair in asked if not stored.get(pair, get_kind(pair[1]).default_on)}


register_switch_reader(read_switched_off)


# -- the settings form --------------------------------------------------------------------------------------------


def kinds_for(role: str) -> tuple[ReminderKind, ...]:
    """The switchable kinds this role sees (and so may change)."""
    return tuple(k for k in switchable_kinds() if role in k.roles)


def enabled_field(kind: ReminderKind) -> str:
    return f"{kind.name}_enabled"


def option_field(kind: ReminderKind, option: KindOption) -> str:
    return f"{kind.name}_{option.name}"


def _fmt(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def form_model(kinds: Sequence[ReminderKind]) -> type[BaseModel]:
    """Quiet hours plus a switch and the options of each kind shown."""
    fields: dict[str, Any] = {"quiet_start": (time, ...), "quiet_end": (time, ...)}
    times = ["quiet_start", "quiet_end"]
    for kind in kinds:
        fields[enabled_field(kind)] = (bool, False)
        for option in kind.options:
            name = option_field(kind, option)
            if option.type == "time":
                fields[name] = (time, parse_time(option.default))
                times.append(name)
            else:
                fields[name] = (int, Field(default=int(option.default), ge=option.lo, le=option.hi))
    validators = {"_times": field_validator(*times, mode="before")(lambda value: parse_time(value))}
    model: type[BaseModel] = create_model("ReminderSettingsForm", __validators__=validators, **fields)
    return model


def form_values(kinds: Sequence[ReminderKind], chosen: dict[str, KindChoice]) -> dict[str, Any]:
    """The form's values (text and ticks) for these kinds' choices."""
    values: dict[str, Any] = {}
    for kind in kinds:
        choice = chosen[kind.name]
        values[enabled_field(kind)] = choice.enabled
        for option in kind.options:
            value = choice.options[option.name]
            values[option_field(kind, option)] = _fmt(value) if isinstance(value, time) else str(value)
    return values


def choices_from_form(kinds: Sequence[ReminderKind], data: dict[str, Any]) -> dict[str, KindChoice]:
    return {
        kind.name: KindChoice(
            bool(data[enabled_field(kind)]), {o.name: data[option_field(kind, o)] for o in kind.options}
        )
        for kind in kinds
    }
