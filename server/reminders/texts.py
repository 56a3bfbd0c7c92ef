"""Lock-screen wording, in the recipient's own language. Plain and kind, and never a health detail:
what is coming up, not how anyone is doing."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_time

from server.i18n import gettext as _
from server.i18n import using_locale as using_locale  # re-exported: callers write texts.using_locale


def clock(moment: datetime, locale: str) -> str:
    """A wall-clock time the way the person reads it ("6:00 PM", "18:00")."""
    return format_time(moment, format="short", locale=locale)


def group_text(local_start: datetime, locale: str) -> tuple[str, str]:
    # The group's name stays off the lock screen: it can say what the program treats.
    return (
        _("Your group starts at %(time)s") % {"time": clock(local_start, locale)},
        _("Tap to see where it is and how to join."),
    )


def checkin_text() -> tuple[str, str]:
    return _("Time for your daily check-in"), _("It takes about a minute. Tap to start.")


def homework_text() -> tuple[str, str]:
    return _("Something new to practise"), _("Your therapist shared a skill with you. Tap to open it.")


def milestone_text() -> tuple[str, str]:
    return _("Good news to share"), _("Someone you support shared an update with you. Tap to see it.")


def encouragement_text() -> tuple[str, str]:
    return _("Someone is cheering you on"), _("A message of support is waiting for you. Tap to read it.")


def nudge_text() -> tuple[str, str]:
    return _("Something to look at in Steady"), _("Tap to open your list.")
