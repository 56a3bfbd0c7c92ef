"""The patient's personal calendar feed (.ics): secret addresses and the iCalendar document.

The address holds a token that is an HMAC of a random salt under the server's secret key. The database keeps
the salt and a SHA-256 of the token, so a copy of the database alone can't be used to read anyone's feed,
and the patient can still see their own address again later. Resetting draws a new salt: the old address
stops working at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar, Event
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.db import utcnow
from server.i18n import gettext as _
from server.schedule.logic import Occurrence
from server.schedule.models import CalendarFeed

TOKEN_LENGTH = 32  # URL-safe base64 characters: 192 bits
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
# What the feed covers: a little history (so today's earlier group is still there) and the months ahead.
FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)


def feed_token(secret_key: str, salt: str) -> str:
    mac = hmac.new(secret_key.encode(), f"steady-calendar-feed:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:TOKEN_LENGTH]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url}/calendar/{token}.ics"


def webcal_url(url: str) -> str:
    """The same address with the webcal scheme, which phones open in their calendar app."""
    return "webcal://" + url.split("://", 1)[1] if "://" in url else url


async def get_feed(db: AsyncSession, patient_id: int) -> CalendarFeed | None:
    return await db.scalar(select(CalendarFeed).where(col(CalendarFeed.patient_id) == patient_id))


async def token_for(db: AsyncSession, patient_id: int, secret_key: str) -> str | None:
    feed = await get_feed(db, patient_id)
    return feed_token(secret_key, feed.salt) if feed is not None else None


async def turn_on_or_reset(db: AsyncSession, patient_id: int, secret_key: str) -> str:
    """Give the patient a fresh feed address (the previous one, if any, stops working) and return its token."""
    for _attempt in range(3):
        salt = secrets.token_urlsafe(24)
        token = feed_token(secret_key, salt)
        feed = await get_feed(db, patient_id)
        try:
            async with db.begin_nested():
                if feed is None:
                    db.add(CalendarFeed(patient_id=patient_id, salt=salt, token_hash=token_hash(token)))
                else:
                    feed.salt = salt
                    feed.token_hash = token_hash(token)
                    feed.created_at = utcnow()
                    db.add(feed)
                await db.flush()
            return token
        except IntegrityError:
            continue  # a second tap created the row at the same moment: update it on the next try
    raise RuntimeError("could not store the calendar feed")


async def turn_off(db: AsyncSession, patient_id: int) -> None:
    await db.execute(delete(CalendarFeed).where(col(CalendarFeed.patient_id) == patient_id))


async def patient_for_token(db: AsyncSession, token: str) -> int | None:
    if not _TOKEN.match(token):
        return None
    found = select(col(CalendarFeed.patient_id)).where(col(CalendarFeed.token_hash) == token_hash(token))
    return await db.scalar(found)


@dataclass(frozen=True)
class CalendarItem:
    """Something other than a group session in the feed (e.g. a support meeting the patient added)."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str = ""
    url: str = ""


# Other domains add events to the patient's feed without the schedule importing them: `app.py` lists async
# callables (db, patient, start_utc, end_utc) -> [CalendarItem] in the application state under this key.
EXTRA_EVENTS_KEY = "calendar_extra_events"
ExtraEvents = Callable[[AsyncSession, User, datetime, datetime], Awaitable[list[CalendarItem]]]


def build_ics(occurrences: Sequence[Occurrence], *, base_url: str, extra: Sequence[CalendarItem] = ()) -> bytes:
    """An iCalendar document of the sessions. It says when and where, never why: no program or health words
    beyond the group's own title."""
    host = urlsplit(base_url).hostname or "steady"
    cal = Calendar()
    cal.add("prodid", "-//Steady//Group schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _("My groups (Steady)"))
    # Ask calendar apps to check for changes a few times a day.
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    stamp = utcnow().replace(microsecond=0)
    for occ in occurrences:
        event = Event()
        event.add("uid", f"{occ.occurrence_id}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", occ.starts_at)
        event.add("dtend", occ.ends_at)
        title = _("Cancelled: %(title)s") % {"title": occ.title} if occ.cancelled else occ.title
        event.add("summary", title)
        if occ.location or occ.video_url:
            event.add("location", occ.location or occ.video_url)
        if occ.video_url:
            event.add("url", occ.video_url)
        details = []
        if occ.facilitator:
            details.append(_("With %(name)s") % {"name": occ.facilitator})
        if occ.video_url:
            details.append(_("Video link: %(url)s") % {"url": occ.video_url})
        if occ.note:
            details.append(occ.note)
        if details:
            event.add("description", "\n".join(details))
        event.add("status", "CANCELLED" if occ.cancelled else "CONFIRMED")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    for item in extra:
        event = Event()
        event.add("uid", f"{item.uid}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.starts_at)
        event.add("dtend", item.ends_at)
        event.add("summary", item.title)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", item.url)
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
