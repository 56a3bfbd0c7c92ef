"""Local calendar time for a person: days computed in the IANA zone stored on their account.

Everything here works on calendar dates, never on 24-hour blocks, so counts stay right across DST changes
(a spring-forward day has 23 hours and a fall-back day 25, but each is still one day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from server.clock import now as utcnow

# Offered first in time-zone pickers; any IANA name is accepted.
COMMON_TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/Mexico_City",
    "America/Bogota",
    "America/Toronto",
    "Europe/London",
    "Europe/Madrid",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def valid_timezone(name: str) -> bool:
    """A name from the IANA set, checked against it in memory: a hostile value never reaches the filesystem
    (a 300-character name used to raise OSError: File name too long)."""
    return isinstance(name, str) and len(name) <= 64 and name in _zone_names()


def timezone_choices(selected: str) -> list[str]:
    """The picker's zones: the common ones, with the current choice (kept as typed) first when it is another."""
    zones = list(COMMON_TIMEZONES)
    if selected and selected not in zones:
        zones.insert(0, selected)
    return zones


class HasTimezone(Protocol):
    timezone: str


@lru_cache(maxsize=512)
def zone_for(name: str) -> ZoneInfo:
    """The account's zone; an unknown or empty name falls back to UTC rather than failing a page."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def user_zone(user: HasTimezone) -> ZoneInfo:
    return zone_for(getattr(user, "timezone", "") or "")


def aware(moment: datetime) -> datetime:
    """Treat a naive datetime as UTC (the database and the phone both send UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (SQLite aggregates); aware ones are normalised to UTC."""
    return aware(moment).astimezone(UTC)


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a local calendar day, as a UTC instant (zoneinfo applies the day's DST offset)."""
    return datetime.combine(day, at).replace(tzinfo=tz).astimezone(UTC)


def local_today(user: HasTimezone, now: datetime | None = None) -> date:
    """The patient's calendar date right now (or at `now`, a UTC or aware datetime)."""
    return local_date_of(user, now or utcnow())


def local_date_of(user: HasTimezone, moment: datetime) -> date:
    """The patient's calendar date at an instant."""
    return aware(moment).astimezone(user_zone(user)).date()


def local_datetime(user: HasTimezone, moment: datetime) -> datetime:
    return aware(moment).astimezone(user_zone(user))


def start_of_local_day(user: HasTimezone, day: date) -> datetime:
    """The UTC instant at which `day` begins for the patient (handles 23- and 25-hour days)."""
    return datetime.combine(day, time.min, tzinfo=user_zone(user)).astimezone(UTC)


def from_local_naive(user: HasTimezone, naive: datetime) -> datetime:
    """A wall-clock time the patient typed (no zone) as a UTC instant. In a fall-back hour the first
    occurrence is taken; a time inside a spring-forward gap moves forward the way the clock did."""
    local = naive.replace(tzinfo=user_zone(user), fold=0)
    # Round-trip through UTC normalises times that fall in a DST gap.
    return local.astimezone(UTC)


def days_between(start: date, end: date) -> int:
    """Whole calendar days from `start` to `end` (0 on the same day, never negative)."""
    return max(0, (end - start).days)


def date_range(start: date, end: date) -> list[date]:
    """Every date from start to end inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
