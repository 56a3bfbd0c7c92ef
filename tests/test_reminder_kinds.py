"""The reminder-kind registry: push delivers the kinds the domains register and refuses any other."""

from __future__ import annotations

from datetime import timedelta

import pytest

import server.reminders  # noqa: F401  (registers the app's kinds, as create_app does)
from server.db import utcnow
from server.push.kinds import ReminderKind, all_kinds, get_kind, register_kind, switchable_kinds
from server.push.service import ReminderSpec, _row


def test_every_kind_the_app_sends_is_registered_by_its_owner() -> None:
    names = {k.name for k in all_kinds()}
    assert {"group", "checkin", "homework", "milestone", "encouragement", "nudge", "test"} <= names
    assert get_kind("checkin").replaceable and get_kind("checkin").window == timedelta(hours=4)
    switchable = {k.name: k for k in switchable_kinds()}
    assert switchable["group"].options[0].name == "minutes_before" and switchable["group"].roles == ("patient",)
    assert "test" not in switchable  # a test the person asked for can't be switched off


def test_unknown_kind_is_refused_and_a_name_cannot_be_taken_twice() -> None:
    with pytest.raises(ValueError, match="unknown reminder kind"):
        _row(ReminderSpec(user_id=1, kind="nosuchkind", dedupe_key="k", title="t"), utcnow())
    with pytest.raises(ValueError, match="already registered"):
        register_kind(ReminderKind("checkin", "other", window=timedelta(hours=1)))
    assert register_kind(get_kind("nudge")) is get_kind("nudge")  # the same definition again is harmless


def test_window_and_topic_follow_the_registered_kind() -> None:
    now = utcnow()
    row = _row(ReminderSpec(user_id=1, kind="homework", dedupe_key="hw:1", title="Practice"), now)
    assert row["expires_at"] - row["due_at"] == timedelta(hours=24)
    assert row["topic"] != "homework"  # not replaceable: its own key
    row = _row(ReminderSpec(user_id=1, kind="group", dedupe_key="group:1:1", title="Group"), now)
    assert row["topic"] == "group" and row["expires_at"] - row["due_at"] == timedelta(hours=1)
