"""The registry of reminder kinds. `push` delivers them and never names one: each domain registers its own.

A kind says how a reminder of it is delivered (how long it stays worth sending, whether a newer one replaces an
older one still waiting on the phone), how it is labelled in the delivery counts, and whether the person can
switch it off (whether it starts on, who sees the switch, and any options such as a time of day). Register at
import time of the module that queues it:

    from server.push.kinds import ReminderKind, register_kind
    register_kind(ReminderKind("questionnaire", _l("Questionnaires"), window=timedelta(hours=24)))

Queuing a reminder of a kind nobody registered raises ValueError.

Where each person's choices are kept is not push's business: the domain that stores them registers a
`SwitchReader` (`register_switch_reader`), and push asks `switched_off(db, pairs)` when it queues and again when it
sends. Without a reader, every switchable kind follows its `default_on`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from server.i18n import lazy_gettext as _l

__all__ = [
    "KindOption",
    "ReminderKind",
    "SwitchReader",
    "all_kinds",
    "get_kind",
    "register_kind",
    "register_switch_reader",
    "switchable_kinds",
    "switched_off",
]


@dataclass(frozen=True)
class KindOption:
    """A setting that comes with a switchable kind, e.g. how many minutes before a group, or at what time."""

    name: str  # the form field is f"{kind}_{name}", e.g. "group_minutes_before"
    label: Any  # lazy
    type: Literal["minutes", "time"]
    default: Any  # minutes: an int; time: "HH:MM"
    lo: int = 0
    hi: int = 1440
    hint: Any = ""


@dataclass(frozen=True)
class ReminderKind:
    name: str  # at most 16 characters: stored in reminder.kind and reminder_delivery.kind
    label: Any  # a lazy translation: shown in the admin's delivery counts
    window: timedelta = timedelta(hours=12)  # how long a reminder stays worth sending (and the push TTL)
    replaceable: bool = False  # a newer reminder of this kind replaces one still waiting (RFC 8030 Topic)
    switchable: bool = False  # the person can turn it off
    default_on: bool = True  # whether a person who never chose gets it
    setting_label: Any = None  # lazy: the switch's words on the person's reminder settings
    roles: tuple[str, ...] = ()  # who sees the switch (account roles, e.g. "patient")
    options: tuple[KindOption, ...] = ()
    badge: bool = False  # something is waiting to be done: the push also sets the app icon's badge


# (user id, kind) pairs -> the ones that person switched off
SwitchReader = Callable[[AsyncSession, Collection[tuple[int, str]]], Awaitable[set[tuple[int, str]]]]

_REGISTRY: dict[str, ReminderKind] = {}
_READERS: list[SwitchReader] = []


def register_kind(kind: ReminderKind) -> ReminderKind:
    """Add a kind; registering the same definition twice is harmless, a different one under a taken name is not."""
    if not kind.name or len(kind.name) > 16:
        raise ValueError("a reminder kind's name is 1-16 characters")
    existing = _REGISTRY.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"reminder kind {kind.name!r} is already registered differently")
    _REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> ReminderKind:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown reminder kind {name!r}; registered: {sorted(_REGISTRY)}") from None


def all_kinds() -> tuple[ReminderKind, ...]:
    return tuple(_REGISTRY.values())


def switchable_kinds() -> tuple[ReminderKind, ...]:
    """The kinds a person can turn off, in registration order."""
    return tuple(k for k in _REGISTRY.values() if k.switchable)


def register_switch_reader(reader: SwitchReader) -> SwitchReader:
    if reader not in _READERS:
        _READERS.append(reader)
    return reader


async def switched_off(db: AsyncSession, pairs: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (user id, kind) pairs the person turned off (kinds that can't be switched off never are)."""
    asked = {(user_id, kind) for user_id, kind in pairs if kind in _REGISTRY and _REGISTRY[kind].switchable}
    if not asked:
        return set()
    if not _READERS:
        return {(user_id, kind) for user_id, kind in asked if not _REGISTRY[kind].default_on}
    off: set[tuple[int, str]] = set()
    for reader in _READERS:
        off |= await reader(db, asked)
    return off


# The one kind push owns: the test notification a person asks for on /reminders.
register_kind(ReminderKind("test", _l("Test notifications"), window=timedelta(minutes=10), replaceable=True))
