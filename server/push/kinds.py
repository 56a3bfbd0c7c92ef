"""The registry of reminder kinds. `push` delivers them and never names one: each domain registers its own.

A kind says how a reminder of it is delivered (how long it stays worth sending, whether a newer one replaces an
older one still waiting on the phone), how it is labelled in the delivery counts, and whether the person can
switch it off (and if so whether it starts on). Register at import time of the module that queues it:

    from server.push.kinds import ReminderKind, register_kind
    register_kind(ReminderKind("questionnaire", _l("Questionnaires"), window=timedelta(hours=24)))

Queuing a reminder of a kind nobody registered raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from server.i18n import lazy_gettext as _l

__all__ = ["ReminderKind", "all_kinds", "get_kind", "register_kind", "switchable_kinds"]


@dataclass(frozen=True)
class ReminderKind:
    name: str  # at most 16 characters: stored in reminder.kind and reminder_delivery.kind
    label: Any  # a lazy translation: shown in the admin's delivery counts and the person's settings
    window: timedelta = timedelta(hours=12)  # how long a reminder stays worth sending (and the push TTL)
    replaceable: bool = False  # a newer reminder of this kind replaces one still waiting (RFC 8030 Topic)
    switch: str | None = None  # the person's setting that turns it off; None: cannot be switched off
    default_on: bool = True  # whether a person who never chose gets it
    options: dict[str, Any] = field(default_factory=dict)  # kind-specific defaults (e.g. minutes before)
    badge: bool = False  # something is waiting to be done: the push also sets the app icon's badge


_REGISTRY: dict[str, ReminderKind] = {}


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


def switchable_kinds() -> dict[str, str]:
    """{kind: the preference that switches it off} for the kinds a person can turn off."""
    return {k.name: k.switch for k in _REGISTRY.values() if k.switch}


# The one kind push owns: the test notification a person asks for on /reminders.
register_kind(ReminderKind("test", _l("Test notifications"), window=timedelta(minutes=10), replaceable=True))
