"""The questionnaire reminder: "A short questionnaire is ready" — never which one, never a score."""

from __future__ import annotations

from datetime import timedelta

from server.i18n import lazy_gettext as _l
from server.push.kinds import ReminderKind, register_kind

QUESTIONNAIRE = register_kind(
    ReminderKind(
        "questionnaire",
        _l("Questionnaires from your care team"),
        window=timedelta(hours=24),
        replaceable=True,
        switchable=True,
        setting_label=_l("Remind me when a questionnaire from my care team is ready"),
        roles=("patient",),
    )
)
