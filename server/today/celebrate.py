"""Celebration moments on Today: a sober-days milestone or a check-in streak step reached today.

The same steps the family hears about (server.family.rules), but this is the person's own screen, so it shows
whatever they reached, with no holding back. Nothing is stored: it is worked out from the Today panel's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.family.rules import STREAK_STEPS, sober_milestones_between, sober_phrase
from server.i18n import gettext as _
from server.i18n import ngettext


@dataclass(frozen=True)
class Celebration:
    kind: str  # "sober_days" or "checkin_streak" (the family feed's icon names)
    headline: str
    detail: str


def celebration(checkins_today: dict[str, Any]) -> Celebration | None:
    """The moment to celebrate today, if any (a sober milestone wins over a streak step)."""
    today = checkins_today["today"]
    primary = checkins_today.get("primary")
    if primary is not None and sober_milestones_between(primary.started_on, today, today):
        return Celebration(
            "sober_days",
            _("%(span)s sober today") % {"span": sober_phrase(primary.days, primary.started_on)},
            _("Look how far you've come. Every one of those days counts."),
        )
    streak = checkins_today.get("streak") or 0
    if checkins_today.get("done") and streak in STREAK_STEPS:
        return Celebration(
            "checkin_streak",
            ngettext("%(num)s day of check-ins in a row", "%(num)s days of check-ins in a row", streak)
            % {"num": streak},
            _("Showing up for yourself, day after day. That's worth celebrating."),
        )
    return None
