"""The meeting finder: support meetings imported from a Meeting Guide feed (the code4recovery JSON specification),
searched by day, time of day, type and region, saved as favourites and added to the private calendar feed.

Import is all or nothing: a feed that isn't a list of meetings, an entry with a bad field (named with the entry's
number and slug) or a feed over the size limits imports nothing. A re-import matches meetings by their `slug`
(unique per clinic), so it updates them in place: no duplicates, and favourites stay attached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Clinic, User
from server.aftercare.models import Meeting, MeetingFavourite
from server.db import rowcount, table_of, utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.localtime import zone_for
from server.schedule.calendar import CalendarItem

MAX_FEED_BYTES = 8 * 1024 * 1024  # a 5,000-meeting feed is about 2 MB
MAX_MEETINGS = 20_000
PAGE_SIZE = 40
DEFAULT_MINUTES = 60

# Meeting Guide day numbers: 0 = Sunday … 6 = Saturday.
DAY_NAMES = (_l("Sunday"), _l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
             _l("Saturday"))  # fmt: skip
# The type codes people filter by most (the spec has more; any code in a feed is kept and shown as is).
TYPE_LABELS: dict[str, Any] = {
    "O": _l("Open (anyone welcome)"),
    "C": _l("Closed (for people who want to stop)"),
    "ONL": _l("Online"),
    "TC": _l("Location temporarily closed"),
    "S": _l("Spanish-speaking"),
    "W": _l("Women"),
    "M": _l("Men"),
    "BE": _l("Newcomer"),
    "YP": _l("Young people"),
    "LGBTQ": _l("LGBTQ"),
    "X": _l("Wheelchair access"),
    "ASL": _l("American Sign Language"),
    "CF": _l("Child-friendly"),
    "D": _l("Discussion"),
    "SP": _l("Speaker"),
    "B": _l("Big Book"),
    "ST": _l("Step study"),
    "MED": _l("Meditation"),
}
FILTER_TYPES = ("O", "C", "ONL", "S", "W", "M", "BE", "YP", "LGBTQ", "X", "ASL")
# Time of day: (label, from, until); "night" runs past midnight.
TIMES_OF_DAY: dict[str, tuple[Any, time, time]] = {
    "morning": (_l("Morning (before noon)"), time(4, 0), time(12, 0)),
    "afternoon": (_l("Afternoon (noon to 5 pm)"), time(12, 0), time(17, 0)),
    "evening": (_l("Evening (5 pm to 9 pm)"), time(17, 0), time(21, 0)),
    "night": (_l("Night (after 9 pm)"), time(21, 0), time(4, 0)),
}
_CODE = re.compile(r"^[A-Za-z0-9-]{1,12}$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?$")
TEXT_LIMITS = {"name": 200, "slug": 200, "location": 200, "address": 300, "region": 200, "conference_url": 500,
               "notes": 2000}  # fmt: skip


class FeedError(ValueError):
    """A feed that can't be imported; the message names the entry and the field, in the reader's language."""


@dataclass(frozen=True)
class ParsedMeeting:
    slug: str
    name: str
    day_mask: int
    start_time: time | None
    end_time: time | None
    types: str  # ",O,ONL,"
    location: str
    address: str
    region: str
    conference_url: str
    notes: str

    def row(self) -> dict[str, Any]:
        return {
            "slug": self.slug, "name": self.name, "day_mask": self.day_mask, "start_time": self.start_time,
            "end_time": self.end_time, "types": self.types, "location": self.location, "address": self.address,
            "region": self.region, "conference_url": self.conference_url, "notes": self.notes,
        }  # fmt: skip


def too_big() -> str:
    return _("This feed is larger than %(mb)d MB. Please split it or ask for a smaller region.") % {
        "mb": MAX_FEED_BYTES // (1024 * 1024)
    }


# --- parsing ---------------------------------------------------------------------------------------------------


def _where(index: int, entry: Any) -> str:
    slug = entry.get("slug") if isinstance(entry, dict) else None
    if isinstance(slug, str) and slug.strip():
        return _("Entry %(n)d (slug \u201c%(slug)s\u201d)") % {"n": index + 1, "slug": slug.strip()[:60]}
    return _("Entry %(n)d") % {"n": index + 1}


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = False, limit: int | None = None) -> str:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            raise FeedError(_("%(where)s: \u201c%(field)s\u201d is missing.") % {"where": where, "field": key})
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise FeedError(_("%(where)s: \u201c%(field)s\u201d must be text.") % {"where": where, "field": key})
    text = str(value).strip()
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise FeedError(
            _("%(where)s: \u201c%(field)s\u201d has invisible control characters.") % {"where": where, "field": key}
        )
    limit = limit or TEXT_LIMITS.get(key, 200)
    if len(text) > limit:
        raise FeedError(
            _("%(where)s: \u201c%(field)s\u201d is longer than %(n)d characters.")
            % {"where": where, "field": key, "n": limit}
        )
    return text


def _days(entry: dict[str, Any], where: str) -> int:
    value = entry.get("day")
    if value is None or value == "":
        return 0  # by appointment, or online at any time
    items = value if isinstance(value, list) else [value]
    mask = 0
    for item in items:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 6:
            raise FeedError(
                _("%(where)s: \u201cday\u201d must be a whole number from 0 (Sunday) to 6 (Saturday).")
                % {"where": where}
            )
        mask |= 1 << item
    return mask


def _clock(entry: dict[str, Any], key: str, where: str) -> time | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise FeedError(
            _("%(where)s: \u201c%(field)s\u201d must be a time like 19:30.") % {"where": where, "field": key}
        )
    return time(int(match.group(1)), int(match.group(2)))


def _types(entry: dict[str, Any], where: str) -> str:
    value = entry.get("types")
    if value is None or value == "":
        return ","
    if not isinstance(value, list) or not all(isinstance(v, str) and _CODE.match(v.strip()) for v in value):
        raise FeedError(
            _('%(where)s: \u201ctypes\u201d must be a list of short codes like ["O", "ONL"].') % {"where": where}
        )
    codes = list(dict.fromkeys(v.strip().upper() for v in value))
    joined = "," + ",".join(codes) + ","
    if len(joined) > 300:
        raise FeedError(_("%(where)s: \u201ctypes\u201d has too many codes.") % {"where": where})
    return joined


def _address(entry: dict[str, Any], where: str) -> str:
    formatted = _text(entry, "formatted_address", where, limit=300)
    if formatted:
        return formatted
    parts = [_text(entry, key, where, limit=120) for key in ("address", "city", "state", "postal_code")]
    return ", ".join(p for p in parts if p)[:300]


def _region(entry: dict[str, Any], where: str) -> str:
    regions = entry.get("regions")
    if isinstance(regions, list) and regions and all(isinstance(r, str) for r in regions):
        joined = " > ".join(r.strip() for r in regions if r.strip())
        if len(joined) <= 200:
            return joined
    return _text(entry, "region", where)


def _conference_url(entry: dict[str, Any], where: str) -> str:
    url = _text(entry, "conference_url", where)
    if url and (urlsplit(url).scheme != "https" or not urlsplit(url).hostname):
        raise FeedError(_("%(where)s: \u201cconference_url\u201d must start with https://.") % {"where": where})
    return url


def parse_feed(raw: bytes) -> list[ParsedMeeting]:
    """Every meeting of a Meeting Guide feed, or FeedError naming the first bad entry and field."""
    if len(raw) > MAX_FEED_BYTES:
        raise FeedError(too_big())
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise FeedError(_("This isn't a JSON file. A Meeting Guide feed is a JSON list of meetings.")) from None
    if not isinstance(data, list):
        raise FeedError(_("A Meeting Guide feed is a JSON list of meetings; this file holds something else."))
    if len(data) > MAX_MEETINGS:
        raise FeedError(_("This feed lists more than %(n)d meetings.") % {"n": MAX_MEETINGS})
    meetings: list[ParsedMeeting] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        where = _where(index, entry)
        if not isinstance(entry, dict):
            raise FeedError(_("%(where)s is not a meeting (an object with a name and a slug).") % {"where": where})
        slug = _text(entry, "slug", where, required=True)
        if slug in seen:
            raise FeedError(_("%(where)s: the slug is used twice in this feed.") % {"where": where})
        seen.add(slug)
        meetings.append(
            ParsedMeeting(
                slug=slug,
                name=_text(entry, "name", where, required=True),
                day_mask=_days(entry, where),
                start_time=_clock(entry, "time", where),
                end_time=_clock(entry, "end_time", where),
                types=_types(entry, where),
                location=_text(entry, "location", where),
                address=_address(entry, where),
                region=_region(entry, where),
                conference_url=_conference_url(entry, where),
                notes=_text(entry, "notes", where),
            )
        )
    return meetings


# --- importing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    added: int
    updated: int
    removed: int


async def import_meetings(
    db: AsyncSession, clinic_id: int, meetings: Sequence[ParsedMeeting], *, remove_missing: bool = False
) -> ImportReport:
    """Add new slugs, update known ones, and (if asked) remove this clinic's meetings the feed no longer lists.
    In the caller's transaction: a failure leaves the clinic's meetings as they were."""
    now = utcnow()
    existing = dict(
        (await db.execute(select(col(Meeting.slug), col(Meeting.id)).where(col(Meeting.clinic_id) == clinic_id))).all()
    )
    table = table_of(Meeting)
    new_rows = [{**m.row(), "clinic_id": clinic_id, "updated_at": now} for m in meetings if m.slug not in existing]
    changed = [{**m.row(), "b_id": existing[m.slug], "updated_at": now} for m in meetings if m.slug in existing]
    for start in range(0, len(new_rows), 1000):
        await db.execute(insert(table), new_rows[start : start + 1000])
    if changed:
        columns: dict[str, Any] = {k: bindparam(k) for k in changed[0] if k != "b_id"}
        statement = update(table).where(table.c.id == bindparam("b_id")).values(**columns)
        for start in range(0, len(changed), 1000):
            await db.execute(statement.execution_options(synchronize_session=False), changed[start : start + 1000])
    removed = 0
    if remove_missing:
        gone = [mid for slug, mid in existing.items() if slug not in {m.slug for m in meetings}]
        for start in range(0, len(gone), 1000):
            removed += await rowcount(db, delete(Meeting).where(col(Meeting.id).in_(gone[start : start + 1000])))
    return ImportReport(added=len(new_rows), updated=len(changed), removed=removed)


async def meeting_count(db: AsyncSession, clinic_id: int) -> int:
    return int(await db.scalar(select(func.count()).select_from(Meeting).where(col(Meeting.clinic_id) == clinic_id))
               or 0)  # fmt: skip


# --- searching -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    day: int | None = None
    time_of_day: str = ""
    type_code: str = ""
    region: str = ""
    page: int = 1

    def query(self, **change: Any) -> str:
        values = {"day": self.day, "time": self.time_of_day, "type": self.type_code, "region": self.region,
                  "page": self.page, **change}  # fmt: skip
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in values.items() if v not in (None, "", 1) or (k == "day" and v == 0)})


def parse_filters(params: dict[str, str]) -> tuple[Filters, dict[str, str]]:
    """Filters from the query string; anything out of bounds is an error on that field (422, never a 500)."""
    errors: dict[str, str] = {}
    day: int | None = None
    raw_day = params.get("day", "")
    if raw_day != "":
        if raw_day.isdigit() and 0 <= int(raw_day) <= 6:
            day = int(raw_day)
        else:
            errors["day"] = _("Please choose a day from the list.")
    time_of_day = params.get("time", "")
    if time_of_day and time_of_day not in TIMES_OF_DAY:
        errors["time"] = _("Please choose a time of day from the list.")
        time_of_day = ""
    type_code = params.get("type", "").strip().upper()
    if type_code and not _CODE.match(type_code):
        errors["type"] = _("Please choose a type from the list.")
        type_code = ""
    region = params.get("region", "").strip()
    if len(region) > 200 or any(ord(c) < 32 for c in region):
        errors["region"] = _("Please choose a region from the list.")
        region = ""
    raw_page = params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 1 <= int(raw_page) <= 1000 else 1
    return Filters(day, time_of_day, type_code, region, page), errors


def _filtered(stmt: Select[Any], clinic_id: int, f: Filters) -> Select[Any]:
    stmt = stmt.where(col(Meeting.clinic_id) == clinic_id)
    if f.day is not None:
        stmt = stmt.where(col(Meeting.day_mask).op("&")(1 << f.day) != 0)
    if f.time_of_day:
        _label, start, end = TIMES_OF_DAY[f.time_of_day]
        start_col = col(Meeting.start_time)
        if start < end:
            stmt = stmt.where(start_col >= start, start_col < end)
        else:
            stmt = stmt.where(or_(start_col >= start, start_col < end))
    if f.type_code:
        stmt = stmt.where(col(Meeting.types).like(f"%,{f.type_code},%"))
    if f.region:
        stmt = stmt.where(col(Meeting.region) == f.region)
    return stmt


async def search(db: AsyncSession, clinic_id: int, f: Filters) -> tuple[list[Meeting], bool]:
    """One page of matching meetings (by time, then name) and whether there are more. One query."""
    stmt = _filtered(select(Meeting), clinic_id, f).order_by(
        col(Meeting.start_time).is_(None), col(Meeting.start_time), col(Meeting.name), col(Meeting.id)
    )
    rows = list(await db.scalars(stmt.offset((f.page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


async def regions(db: AsyncSession, clinic_id: int) -> list[str]:
    rows = await db.scalars(
        select(col(Meeting.region))
        .where(col(Meeting.clinic_id) == clinic_id, col(Meeting.region) != "")
        .distinct()
        .order_by(col(Meeting.region))
        .limit(500)
    )
    return list(rows)


# --- favourites and the calendar ----------------------------------------------------------------------------------


async def meeting_in_clinic(db: AsyncSession, clinic_id: int, meeting_id: int) -> Meeting | None:
    meeting = await db.get(Meeting, meeting_id)
    return meeting if meeting is not None and meeting.clinic_id == clinic_id else None


async def favourites(db: AsyncSession, patient_id: int) -> dict[int, MeetingFavourite]:
    rows = await db.scalars(select(MeetingFavourite).where(col(MeetingFavourite.patient_id) == patient_id))
    return {f.meeting_id: f for f in rows}


async def favourite_meetings(db: AsyncSession, patient_id: int) -> list[tuple[Meeting, MeetingFavourite]]:
    rows = await db.execute(
        select(Meeting, MeetingFavourite)
        .join(MeetingFavourite, col(MeetingFavourite.meeting_id) == col(Meeting.id))
        .where(col(MeetingFavourite.patient_id) == patient_id)
        .order_by(col(Meeting.start_time), col(Meeting.name))
    )
    return [(m, f) for m, f in rows.all()]


async def set_favourite(db: AsyncSession, patient_id: int, meeting_id: int, *, on: bool) -> None:
    found = (
        await db.scalars(
            select(MeetingFavourite).where(
                col(MeetingFavourite.patient_id) == patient_id, col(MeetingFavourite.meeting_id) == meeting_id
            )
        )
    ).first()
    if on and found is None:
        db.add(MeetingFavourite(patient_id=patient_id, meeting_id=meeting_id))
    elif not on and found is not None:
        await db.delete(found)
    await db.flush()


async def set_in_calendar(db: AsyncSession, patient_id: int, meeting_id: int, *, on: bool) -> None:
    """Adding to the calendar also saves the meeting as a favourite."""
    found = (
        await db.scalars(
            select(MeetingFavourite).where(
                col(MeetingFavourite.patient_id) == patient_id, col(MeetingFavourite.meeting_id) == meeting_id
            )
        )
    ).first()
    if found is None:
        if not on:
            return
        found = MeetingFavourite(patient_id=patient_id, meeting_id=meeting_id)
    found.in_calendar = on
    db.add(found)
    await db.flush()


async def calendar_meetings(
    db: AsyncSession, patient: User, start_utc: datetime, end_utc: datetime
) -> list[CalendarItem]:
    """The meetings the patient added to their calendar, one event per day they meet, between two instants.
    Meeting times are wall-clock times in the clinic's time zone (a feed lists one area's meetings)."""
    rows = await db.execute(
        select(Meeting)
        .join(MeetingFavourite, col(MeetingFavourite.meeting_id) == col(Meeting.id))
        .where(col(MeetingFavourite.patient_id) == patient.id, col(MeetingFavourite.in_calendar).is_(True))
    )
    meetings = [m for (m,) in rows.all() if m.start_time is not None and m.day_mask]
    if not meetings:
        return []
    clinic = await db.get(Clinic, patient.clinic_id)
    tz = zone_for(clinic.timezone if clinic else patient.timezone)
    first, last = start_utc.astimezone(tz).date(), end_utc.astimezone(tz).date()
    found: list[CalendarItem] = []
    for meeting in meetings:
        day = first
        while day <= last:
            guide_day = (day.weekday() + 1) % 7  # Python's Monday = 0; Meeting Guide's Sunday = 0
            if meeting.day_mask & (1 << guide_day):
                item = _dated(meeting, day, tz)
                if start_utc <= item.starts_at < end_utc:
                    found.append(item)
            day += timedelta(days=1)
    return found


def _dated(meeting: Meeting, day: date, tz: Any) -> CalendarItem:
    assert meeting.start_time is not None
    starts = datetime.combine(day, meeting.start_time, tzinfo=tz)
    ends = datetime.combine(day, meeting.end_time, tzinfo=tz) if meeting.end_time else None
    if ends is None or ends <= starts:
        ends = starts + timedelta(minutes=DEFAULT_MINUTES)
    return CalendarItem(
        uid=f"m{meeting.id}-{day:%Y%m%d}",
        title=meeting.name,
        starts_at=starts.astimezone(UTC),
        ends_at=ends.astimezone(UTC),
        location=meeting.location or meeting.address,
        url=meeting.conference_url,
    )


def day_names(mask: int) -> list[str]:
    return [str(DAY_NAMES[d]) for d in range(7) if mask & (1 << d)]


def type_labels(types: str) -> list[str]:
    return [str(TYPE_LABELS.get(code, code)) for code in types.strip(",").split(",") if code]
