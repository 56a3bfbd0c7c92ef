"""Wall-clock time in a person's own IANA timezone, turned into UTC instants.

Everything is computed from a local date plus a local time, and only then converted, so "20:00" stays 20:00 on
the wall on both sides of a daylight-saving change while its UTC instant moves by an hour.

A local time that doesn't exist (inside a spring-forward gap, e.g. 02:30 on the night clocks jump from 02:00
to 03:00) follows PEP 495 with fold=0: it is read with the offset from before the jump, which lands the same
length of time after the jump (02:30 → 03:30). A time that happens twice (fall-back) means the first one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.localtime import as_utc, local_to_utc


def local_date(now_utc: datetime, tz: ZoneInfo) -> date:
    return as_utc(now_utc).astimezone(tz).date()


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the end of `day`, in UTC (a 23- or 25-hour day on DST days)."""
    return local_to_utc(day + timedelta(days=1), time(0, 0), tz)


def quiet_release(now_utc: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """If `now_utc` falls inside the quiet hours [start, end) on the person's wall clock, the UTC instant they
    end; otherwise None. start == end means no quiet hours. The hours may cross midnight (22:00–07:00)."""
    if start == end:
        return None
    local = as_utc(now_utc).astimezone(tz)
    today, wall = local.date(), local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= wall < end
        release_day = today
    elif wall >= start:
        inside, release_day = True, today + timedelta(days=1)
    else:
        inside, release_day = wall < end, today
    if not inside:
        return None
    release = local_to_utc(release_day, end, tz)
    # Only a gap in the wall clock could put this at or before now; never hold a reminder in the past.
    return release if release > now_utc else now_utc + timedelta(minutes=1)
