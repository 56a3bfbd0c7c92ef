"""Which day counts are milestones, and how a milestone reads. Pure functions: no database, no clinical data.

Sober-days milestones follow the recovery-keytag rhythm people know: 1, 7, 14, 30, 60 and 90 days, then
6 and 9 months, 1 year, 18 months, and every year after that. Months are calendar months from the sobriety
date (31 January + 1 month = 28 or 29 February), so "6 months" lands on the day people expect.
Check-in streaks are celebrated at 7, 30, 60 and 90 days in a row.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from server.i18n import gettext as _
from server.i18n import ngettext

SOBER_DAY_STEPS: tuple[int, ...] = (1, 7, 14, 30, 60, 90)
SOBER_MONTH_STEPS: tuple[int, ...] = (6, 9, 12, 18)  # then every 12 months: 24, 36, …
STREAK_STEPS: tuple[int, ...] = (7, 30, 60, 90)
# A milestone reached while nobody looked (the server was down, a check-in was added a few days late) is still
# good news for this long; older ones are left alone, so a back-dated sobriety date doesn't replay history.
GRACE_DAYS = 7


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later, or the month's last day if it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _month_candidates(started_on: date, first: date, last: date) -> list[int]:
    """Month-based milestones that could land in [first, last]: 6, 9, 12, 18, then whole years near the window
    (never a walk through decades of anniversaries)."""
    low = max(2, first.year - started_on.year - 1)
    high = last.year - started_on.year + 1
    return [*SOBER_MONTH_STEPS, *(12 * years for years in range(low, high + 1))]


def sober_milestones_between(started_on: date, first: date, last: date) -> list[tuple[date, int]]:
    """(day reached, days sober) for every sober-days milestone reached on a day in [first, last], oldest first."""
    found: set[tuple[date, int]] = set()
    for days in SOBER_DAY_STEPS:
        reached = started_on + timedelta(days=days)
        if first <= reached <= last:
            found.add((reached, days))
    for months in _month_candidates(started_on, first, last):
        reached = add_months(started_on, months)
        if first <= reached <= last:
            found.add((reached, (reached - started_on).days))
    return sorted(found)


def latest_sober_milestone(started_on: date, today: date, grace: int = GRACE_DAYS) -> tuple[date, int] | None:
    """The biggest sober-days milestone reached in the last `grace` days (today included), or None."""
    reached = sober_milestones_between(started_on, today - timedelta(days=grace), today)
    return reached[-1] if reached else None


def latest_streak_milestone(
    first_day: date, last_day: date, today: date, grace: int = GRACE_DAYS
) -> tuple[date, int] | None:
    """For a run of consecutive days [first_day, last_day]: the biggest streak milestone reached in the last
    `grace` days, or None. Day n of the run is first_day + n - 1."""
    length = (last_day - first_day).days + 1
    best: tuple[date, int] | None = None
    for steps in STREAK_STEPS:
        if steps > length:
            break
        reached = first_day + timedelta(days=steps - 1)
        if today - timedelta(days=grace) <= reached <= today:
            best = (reached, steps)
    return best


def sober_months(days: int, started_on: date | None) -> int | None:
    """How many calendar months `days` is, when the milestone is one of the month-based ones."""
    if started_on is None:
        return None
    reached = started_on + timedelta(days=days)
    months = (reached.year - started_on.year) * 12 + reached.month - started_on.month
    if months >= 6 and add_months(started_on, months) == reached and (months in SOBER_MONTH_STEPS or months % 12 == 0):
        return months
    return None


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def sober_phrase(days: int, started_on: date | None) -> str:
    """'30 days', '6 months', '1 year', '18 months', '3 years'."""
    months = sober_months(days, started_on) if days not in SOBER_DAY_STEPS else None
    if months is not None and months % 12 == 0:
        years = months // 12
        return ngettext("%(num)s year", "%(num)s years", years) % {"num": years}
    if months is not None:
        return ngettext("%(num)s month", "%(num)s months", months) % {"num": months}
    return ngettext("%(num)s day", "%(num)s days", days) % {"num": days}


def headline(kind: str, value: str, run_key: str, name: str) -> str:
    """The one sentence a family member reads, in the current language: "Sam reached 30 days sober"."""
    if kind == "sober_days" and value.isdigit():
        return _("%(name)s reached %(span)s sober") % {
            "name": name,
            "span": sober_phrase(int(value), parse_day(run_key)),
        }
    if kind == "checkin_streak" and value.isdigit():
        return _("%(name)s has taken time for themselves %(num)s days in a row") % {"name": name, "num": int(value)}
    if kind == "phase_completed":
        return _("%(name)s finished a stage of their program") % {"name": name}
    if kind == "program_completed":
        return _("%(name)s completed their program") % {"name": name}
    if kind == "good_news":
        return _("Good news from %(name)s") % {"name": name}
    return _("News from %(name)s") % {"name": name}


def push_body(kind: str) -> str:
    """The second line of the notification: an invitation, never a detail."""
    if kind == "good_news":
        return _("Open Steady to read it.")
    return _("Open Steady to send a kind word.")
