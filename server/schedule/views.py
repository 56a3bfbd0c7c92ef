"""What the schedule pages show: sessions put into words in the viewer's own timezone and language."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from babel.dates import format_date, format_time
from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.db import compose, from_json, json_rows, pk, read_composed, table_of, utcnow
from server.i18n import current_locale
from server.i18n import gettext as _
from server.schedule import logic
from server.schedule.discharge import OUTCOME_LABELS
from server.schedule.logic import Occurrence
from server.schedule.models import Attendance, CalendarFeed

_DAY_PATTERNS = {"en": "EEEE, MMMM d", "es": "EEEE, d 'de' MMMM"}
UPCOMING_DAYS = 14
PAST_DAYS = 14


def _locale() -> str:
    return current_locale.get()


def day_label(day: date | datetime) -> str:
    return _day_label(_locale(), day.date() if isinstance(day, datetime) else day)


def time_label(moment: datetime) -> str:
    return _time_label(_locale(), moment.hour, moment.minute)


# Babel takes ~20 µs a label; a page shows the same few days and times again and again.
@functools.lru_cache(maxsize=4096)
def _day_label(locale: str, day: date) -> str:
    return format_date(day, _DAY_PATTERNS.get(locale, "full"), locale=locale)


@functools.lru_cache(maxsize=4096)
def _time_label(locale: str, hour: int, minute: int) -> str:
    """The "short" time: hours and minutes only (no zone, no seconds) in every locale."""
    return format_time(time(hour, minute), "short", locale=locale)


def zone_city(timezone: str) -> str:
    return timezone.rsplit("/", 1)[-1].replace("_", " ")


def relative_day(day: date, today: date) -> str:
    if day == today:
        return _("Today")
    if day == today + timedelta(days=1):
        return _("Tomorrow")
    if day == today - timedelta(days=1):
        return _("Yesterday")
    return ""


@dataclass(frozen=True)
class SessionView:
    occ: Occurrence
    local_start: datetime  # in the viewer's timezone
    local_end: datetime
    day: str
    relative: str  # "Today", "Tomorrow", "Yesterday" or ""
    time: str
    end_time: str
    clinic_time: str  # the start in the program's timezone when the viewer lives elsewhere, else ""
    clinic_zone: str
    in_progress: bool
    started: bool
    mark: str  # "attended", "missed" or ""

    @property
    def when(self) -> str:
        """'Today, 6:00 PM' or 'Thursday, March 12, 6:00 PM'."""
        return _("%(day)s, %(time)s") % {"day": self.relative or self.day, "time": self.time}

    @property
    def dom_id(self) -> str:
        return "session-" + self.occ.occurrence_id


def session_view(
    occ: Occurrence, timezone: str, now_utc: datetime, marks: dict[str, Attendance] | None = None
) -> SessionView:
    local = occ.starts_in(timezone)
    end = occ.ends_at.astimezone(local.tzinfo)
    today = now_utc.astimezone(local.tzinfo).date()
    clinic = ""
    if local.utcoffset() != occ.local_start.utcoffset() or local.date() != occ.local_start.date():
        clinic = time_label(occ.local_start)
    mark = (marks or {}).get(occ.occurrence_id)
    return SessionView(
        occ=occ,
        local_start=local,
        local_end=end,
        day=day_label(local),
        relative=relative_day(local.date(), today),
        time=time_label(local),
        end_time=time_label(end),
        clinic_time=clinic,
        clinic_zone=zone_city(occ.timezone),
        in_progress=occ.starts_at <= now_utc < occ.ends_at,
        started=occ.starts_at <= now_utc,
        mark=mark.status if mark is not None else "",
    )


def group_by_day(views: Sequence[SessionView]) -> list[tuple[str, list[SessionView]]]:
    groups: list[tuple[str, list[SessionView]]] = []
    for view in views:
        label = view.relative + " · " + view.day if view.relative else view.day
        if groups and groups[-1][0] == label:
            groups[-1][1].append(view)
        else:
            groups.append((label, [view]))
    return groups


# The patient's schedule page reads everything in one statement: the enrolments and programs (`logic.today_reads`),
# the attendance marks around the window (a month's slack for moved sessions) and the calendar feed.
MARKS_SLACK = timedelta(days=30)


@functools.cache
def _page_statement() -> Select[Any]:
    patient = bindparam("schedule_patient", type_=Integer())
    marks_from = bindparam("schedule_marks_from", type_=DateTimeUTC(timezone=True))
    marks_to = bindparam("schedule_marks_to", type_=DateTimeUTC(timezone=True))
    return compose(
        {
            **logic.today_reads(),
            "schedule_marks": json_rows(
                select(*table_of(Attendance).c).where(
                    col(Attendance.patient_id) == patient, col(Attendance.starts_at).between(marks_from, marks_to)
                )
            ),
            "schedule_feed": json_rows(
                select(*table_of(CalendarFeed).c).where(col(CalendarFeed.patient_id) == patient)
            ),
        }
    )


async def schedule_page_context(
    db: AsyncSession, patient: User, now_utc: datetime | None = None
) -> tuple[dict[str, Any], CalendarFeed | None]:
    """Upcoming sessions (two weeks), recent ones with their attendance marks, and the current program; and the
    patient's calendar feed, if on. One statement."""
    now = now_utc or utcnow()
    start, end = now - timedelta(days=PAST_DAYS), now + timedelta(days=UPCOMING_DAYS)
    params = {
        **logic.window_params(pk(patient), start, end),
        "schedule_marks_from": start - MARKS_SLACK,
        "schedule_marks_to": end + MARKS_SLACK,
    }
    values = await read_composed(db, _page_statement(), params)
    enrolled = await logic.enrolled_from(db, values, params)
    occurrences = logic.sessions_from(enrolled, start, end)
    wanted = {o.occurrence_id for o in occurrences}
    marks = {m.occurrence_id: m for m in from_json(Attendance, values["schedule_marks"]) if m.occurrence_id in wanted}
    views = [session_view(o, patient.timezone, now, marks) for o in occurrences]
    upcoming = [v for v in views if not v.started or v.in_progress]
    past = [v for v in reversed(views) if v.started and not v.in_progress and not v.occ.cancelled]
    feeds = from_json(CalendarFeed, values["schedule_feed"])
    context = {
        "upcoming_days": group_by_day(upcoming),
        "past_sessions": past,
        "enrolments": enrolment_views_from(enrolled, now),
        "viewer_zone": zone_city(patient.timezone),
    }
    return context, feeds[0] if feeds else None


async def schedule_context(db: AsyncSession, patient: User, now_utc: datetime | None = None) -> dict[str, Any]:
    """Upcoming sessions (two weeks), recent ones with their attendance marks, and the current program."""
    return (await schedule_page_context(db, patient, now_utc))[0]


@dataclass(frozen=True)
class EnrolmentView:
    enrolment_id: int
    program_name: str
    state: str  # upcoming, active, completed, discharged
    state_label: str
    week: int
    weeks: int
    phase_name: str
    start_day: str
    last_day: str
    extended_weeks: int
    outcome_label: str = ""
    alumni: bool = False


def state_label(state: str) -> str:
    return {
        "upcoming": _("Starts soon"),
        "active": _("In the program"),
        "completed": _("Completed"),
        "discharged": _("Ended early"),
    }.get(state, state)


async def enrolment_views(db: AsyncSession, patient_id: int, now_utc: datetime) -> list[EnrolmentView]:
    pairs = await logic.enrolments_with_programs(db, patient_id)
    data = await logic.load_programs(db, {p.id: p for _e, p in pairs}.values(), with_changes=False)
    return enrolment_views_from(logic.Enrolled(pairs, data), now_utc)


def enrolment_views_from(enrolled: logic.Enrolled, now_utc: datetime) -> list[EnrolmentView]:
    pairs, data = enrolled.pairs, enrolled.data
    result = []
    for enrolment, program in reversed(pairs):
        item = data[pk(program)]
        today = now_utc.astimezone(item.tz).date()
        state = logic.enrolment_state(enrolment, item.weeks, today)
        week = logic.program_week(enrolment, today)
        phase = item.phase_for_week(week) if state == "active" else None
        final = logic.last_day(enrolment, item.weeks)
        result.append(
            EnrolmentView(
                enrolment_id=pk(enrolment),
                program_name=program.name,
                state=state,
                state_label=state_label(state),
                week=week,
                weeks=item.weeks + enrolment.extended_weeks,
                phase_name=phase.name if phase else "",
                start_day=format_date(enrolment.start_date, "medium", locale=_locale()),
                last_day=format_date(final, "medium", locale=_locale()) if final else "",
                extended_weeks=enrolment.extended_weeks,
                outcome_label=str(OUTCOME_LABELS.get(enrolment.outcome, "")),
                alumni=program.alumni,
            )
        )
    return result


async def today_context(db: AsyncSession, patient: User) -> dict[str, Any]:
    """For the Today page: the next group (or the one happening now)."""
    now = utcnow()
    occ = await logic.next_session(db, pk(patient), now, include_in_progress=True)
    return {"next_group": session_view(occ, patient.timezone, now) if occ is not None else None}


def today_panel(patient: User, enrolled: logic.Enrolled, now: datetime) -> dict[str, Any]:
    """`today_context` from Today's composed statement (`logic.today_reads`, `logic.enrolled_from`)."""
    occ = logic.next_session_from(enrolled, now, include_in_progress=True)
    return {"next_group": session_view(occ, patient.timezone, now) if occ is not None else None}
