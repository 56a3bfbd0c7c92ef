"""Weeks as the patient lives them: Monday 00:00 to the next Monday 00:00 in the patient's own timezone.

Check-ins carry a local date, so a week is a range of local dates; timestamped rows (skill practice, craving logs,
attendance) are compared with the UTC instants of those two local midnights, which DST makes 167 or 169 hours
apart twice a year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from server.localtime import zone_for

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week (Monday + 7 days), or, for the dashboard's "last 7 days" and "since the last session", a span of
    `length` days starting on any day (`Week.ending`). `monday` is then simply the first day, `sunday` the last."""

    monday: date
    length: int = 7
    # Worked out once when made: a dashboard's loaders and rules ask its 200 week requests for it thousands of times.
    sunday: date = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sunday", self.monday + timedelta(days=self.length - 1))

    @classmethod
    def ending(cls, last: date, length: int = 7) -> Week:
        """The `length` days up to and including `last`."""
        length = max(1, length)
        return cls(last - timedelta(days=length - 1), length)

    @property
    def is_iso(self) -> bool:
        return self.length == 7 and self.monday.weekday() == 0

    @classmethod
    def of(cls, day: date) -> Week:
        return cls(day - timedelta(days=day.weekday()))

    @classmethod
    def parse(cls, label: str | None) -> Week | None:
        """'2026-W47' → Week; None for anything else (callers answer 404, never 500)."""
        match = _WEEK_RE.match((label or "").strip())
        if match is None:
            return None
        year = int(match.group(1))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            return None  # no one shares data from year 1 or 9999, and date arithmetic there overflows
        try:
            return cls(date.fromisocalendar(year, int(match.group(2)), 1))
        except ValueError:
            return None

    @property
    def label(self) -> str:
        """'2026-W47' for an ISO week; '2026-11-18/2026-11-24' (an ISO 8601 interval) for any other span."""
        return _label(self.monday, self.length)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(self.length)]

    def shift(self, weeks: int) -> Week:
        return Week(self.monday + timedelta(weeks=weeks), self.length)

    def utc_bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """[local first-day 00:00, local 00:00 after the last day) as UTC instants."""
        end = self.monday + timedelta(days=self.length)
        return local_midnight(self.monday, timezone), local_midnight(end, timezone)


@lru_cache(maxsize=1024)
def _label(monday: date, length: int) -> str:
    """`Week.label`, written once per span: the dashboard labels each of its hundred rows' spans, mostly the same."""
    week = Week(monday, length)
    if not week.is_iso:
        return f"{monday.isoformat()}/{week.sunday.isoformat()}"
    year, number, _day = monday.isocalendar()
    return f"{year}-W{number:02d}"


@lru_cache(maxsize=4096)
def local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone_for(timezone)).astimezone(UTC)


def local_today(timezone: str, now: datetime) -> date:
    return now.astimezone(zone_for(timezone)).date()


def local_moment(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone_for(timezone))
