"""Triggers: a default set (HALT plus common ones) that each patient can extend with their own and trim.

Trigger ids are stored on check-ins and craving logs. Default ids are fixed words; a patient's own triggers
get ids starting with ``custom-``. Hidden or removed triggers keep their label for old entries.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from babel.support import LazyProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.checkins.models import TriggerPreference
from server.db import utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l

DEFAULT_TRIGGERS: tuple[tuple[str, LazyProxy], ...] = (
    ("hungry", _l("Hungry")),
    ("angry", _l("Angry")),
    ("lonely", _l("Lonely")),
    ("tired", _l("Tired")),
    ("stress", _l("Stress")),
    ("conflict", _l("Conflict")),
    ("boredom", _l("Boredom")),
    ("people", _l("Certain people")),
    ("places", _l("Certain places")),
    ("pain", _l("Pain")),
    ("celebration", _l("Celebration")),
    ("money", _l("Money worries")),
    ("sleep", _l("Sleep problems")),
    ("social-media", _l("Social media")),
)
DEFAULT_IDS = frozenset(tid for tid, _label in DEFAULT_TRIGGERS)
HALT_IDS = ("hungry", "angry", "lonely", "tired")
CUSTOM_PREFIX = "custom-"
MAX_CUSTOM = 30
MAX_LABEL = 40


@dataclass(frozen=True)
class Trigger:
    id: str
    label: str
    custom: bool = False
    hidden: bool = False


@dataclass
class TriggerSet:
    """One patient's triggers: `visible` are offered as chips; `known` also covers hidden and removed ones."""

    visible: list[Trigger]
    all: list[Trigger]
    labels: dict[str, str]

    def label(self, trigger_id: str) -> str:
        return self.labels.get(trigger_id) or trigger_id.removeprefix(CUSTOM_PREFIX).replace("-", " ")

    @property
    def visible_ids(self) -> set[str]:
        return {t.id for t in self.visible}


def default_label(trigger_id: str) -> str | None:
    for tid, label in DEFAULT_TRIGGERS:
        if tid == trigger_id:
            return str(label)
    return None


async def preference(db: AsyncSession, user_id: int) -> TriggerPreference | None:
    return await db.get(TriggerPreference, user_id)


def build_set(pref: TriggerPreference | None) -> TriggerSet:
    return set_of(pref.custom if pref else None, pref.hidden if pref else None)


def set_of(custom_list: list[dict[str, Any]] | None, hidden_list: list[str] | None) -> TriggerSet:
    """The set from a preference row's two JSON columns (None for both when the patient has no row)."""
    hidden = set(hidden_list or [])
    custom: list[dict[str, Any]] = list(custom_list or [])
    everything: list[Trigger] = [Trigger(tid, str(label), False, tid in hidden) for tid, label in DEFAULT_TRIGGERS]
    everything += [Trigger(str(c["id"]), str(c["label"]), True, bool(c.get("removed"))) for c in custom if c.get("id")]
    labels = {t.id: t.label for t in everything}
    return TriggerSet(visible=[t for t in everything if not t.hidden], all=everything, labels=labels)


async def trigger_set(db: AsyncSession, user_id: int) -> TriggerSet:
    return build_set(await preference(db, user_id))


def preference_reads(user: ColumnElement[int]) -> dict[str, ColumnElement[Any]]:
    """The patient's trigger list as two columns of a composed read (server/db.py's `compose`); `set_from` makes
    the set from the values read."""

    def column_of(column: Any) -> ColumnElement[Any]:
        return select(column).where(col(TriggerPreference.user_id) == user).scalar_subquery()

    return {
        "trigger_custom": column_of(col(TriggerPreference.custom)),
        "trigger_hidden": column_of(col(TriggerPreference.hidden)),
    }


def set_from(values: Mapping[str, Any]) -> TriggerSet:
    """The set from the values of `preference_reads`."""
    return set_of(values["trigger_custom"], values["trigger_hidden"])


def slugify(label: str) -> str:
    text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40]
    return slug or "trigger"


def clean_label(label: str) -> str:
    return " ".join(label.split())


async def _pref_for_update(db: AsyncSession, user_id: int) -> TriggerPreference:
    pref = await db.get(TriggerPreference, user_id)
    if pref is None:
        pref = TriggerPreference(user_id=user_id, custom=[], hidden=[])
        db.add(pref)
    return pref


async def add_custom(db: AsyncSession, user_id: int, label: str) -> str | None:
    """Add a patient's own trigger. Returns an error message, or None when it was added (or already there)."""
    label = clean_label(label)
    if not label:
        return _("Please type a word or two for your trigger.")
    if len(label) > MAX_LABEL:
        return _("Please keep this to %(n)s characters or fewer.") % {"n": MAX_LABEL}
    pref = await _pref_for_update(db, user_id)
    custom = [dict(c) for c in pref.custom]
    for existing in custom:
        if str(existing.get("label", "")).casefold() == label.casefold():
            existing.pop("removed", None)
            pref.custom = custom
            pref.updated_at = utcnow()
            return None
    for tid, default in DEFAULT_TRIGGERS:
        if str(default).casefold() == label.casefold() or tid == label.casefold():
            pref.hidden = [h for h in pref.hidden if h != tid]
            pref.updated_at = utcnow()
            return None
    if sum(1 for c in custom if not c.get("removed")) >= MAX_CUSTOM:
        return _("You have %(n)s triggers of your own already. Remove one to add another.") % {"n": MAX_CUSTOM}
    base = CUSTOM_PREFIX + slugify(label)
    taken = {str(c.get("id")) for c in custom}
    new_id, n = base, 2
    while new_id in taken:
        new_id, n = f"{base}-{n}", n + 1
    custom.append({"id": new_id, "label": label})
    pref.custom = custom
    pref.updated_at = utcnow()
    return None


async def set_hidden(db: AsyncSession, user_id: int, trigger_id: str, hidden: bool) -> bool:
    """Hide or show a trigger. A patient's own trigger is marked removed (old entries keep its name)."""
    pref = await _pref_for_update(db, user_id)
    if trigger_id in DEFAULT_IDS:
        current = [h for h in pref.hidden if h != trigger_id]
        pref.hidden = [*current, trigger_id] if hidden else current
    else:
        custom = [dict(c) for c in pref.custom]
        found = False
        for item in custom:
            if item.get("id") == trigger_id:
                found = True
                if hidden:
                    item["removed"] = True
                else:
                    item.pop("removed", None)
        if not found:
            return False
        pref.custom = custom
    pref.updated_at = utcnow()
    return True
