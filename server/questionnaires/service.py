"""What questionnaires do: who has which one when (assignments, the clinic default, cadence, end date), drafts
saved item by item, completing exactly once per idempotency key (offline replays), the item-9 safety path
(who can see it, a one-time share, the therapist's push and follow-up), and results over time.

Everything here flushes in the caller's transaction and never commits. "Now" comes from `server.db.utcnow`.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server.accounts.models import CareTeam, Clinic, Role, User
from server.consent.service import active_consent, allowed_categories
from server.db import as_date, from_json, json_text_rows, json_value, table_of, utcnow
from server.db import as_utc as utc_from_text  # (localtime.as_utc takes a datetime)
from server.i18n import gettext as _
from server.localtime import as_utc, local_date_of, local_today
from server.questionnaires.instruments import Instrument, all_instruments, get_instrument
from server.questionnaires.models import CADENCES, Assignment, Response
from server.questionnaires.scoring import Change, IncompleteAnswers, Score, compare, score
from server.reminders.notify import send_nudge
from server.web.logging import get_logger

log = get_logger("questionnaires")

CATEGORY = "questionnaires"  # the consent category that shares results with a therapist
DEFAULTS_KEY = "questionnaire_defaults"  # Clinic.settings: {code: {"cadence": ..., "since": "YYYY-MM-DD"}}
KEY_MAX = 64


def new_key() -> str:
    return str(uuid.uuid4())


# -- cadence and what is due ----------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def occurrence_on_or_before(starts_on: date, cadence: str, day: date) -> date | None:
    """The latest scheduled date not after `day` (None before the first)."""
    if day < starts_on:
        return None
    if cadence == "monthly":
        months = (day.year - starts_on.year) * 12 + day.month - starts_on.month
        candidate = _add_months(starts_on, months)
        return candidate if candidate <= day else _add_months(starts_on, months - 1)
    step = 7 if cadence == "weekly" else 14
    return starts_on + timedelta(days=(day - starts_on).days // step * step)


def next_occurrence_after(starts_on: date, cadence: str, day: date) -> date:
    if day < starts_on:
        return starts_on
    current = occurrence_on_or_before(starts_on, cadence, day) or starts_on
    if cadence == "monthly":
        months = (current.year - starts_on.year) * 12 + current.month - starts_on.month
        return _add_months(starts_on, months + 1)
    return current + timedelta(days=7 if cadence == "weekly" else 14)


@dataclass(frozen=True)
class Schedule:
    """One instrument on a patient's schedule, from their own assignment or the clinic's default."""

    instrument: str
    cadence: str
    starts_on: date
    ends_on: date | None
    source: str  # 'therapist' | 'clinic'
    assignment_id: int | None = None

    def due_on(self, today: date) -> date | None:
        latest = occurrence_on_or_before(self.starts_on, self.cadence, today)
        if latest is None or (self.ends_on is not None and latest >= self.ends_on):
            return None
        return latest

    def next_on(self, today: date) -> date | None:
        upcoming = next_occurrence_after(self.starts_on, self.cadence, today)
        if self.ends_on is not None and upcoming >= self.ends_on:
            return None
        return upcoming


def clinic_defaults(clinic: Clinic | None) -> dict[str, dict[str, str]]:
    stored = (clinic.settings or {}).get(DEFAULTS_KEY) if clinic is not None else None
    found: dict[str, dict[str, str]] = {}
    if isinstance(stored, dict):
        for code, entry in stored.items():
            if code in all_instruments() and isinstance(entry, dict) and entry.get("cadence") in CADENCES:
                found[code] = {"cadence": entry["cadence"], "since": str(entry.get("since") or "")}
    return found


# Today's reads of this domain, as columns of Today's composed statement (server/today/controllers.py).
_PATIENT = bindparam("questionnaires_patient", type_=Integer())
_CLINIC = bindparam("questionnaires_clinic", type_=Integer())


def today_reads() -> dict[str, ColumnElement[Any]]:
    """As JSON text (`json_text_rows`): `due_from` remembers what it worked out from the same text and day."""
    return {
        "questionnaire_assignments": json_text_rows(
            select(*table_of(Assignment).c).where(col(Assignment.patient_id) == _PATIENT)
        ),
        "questionnaire_clinic": json_text_rows(select(*table_of(Clinic).c).where(col(Clinic.id) == _CLINIC)),
        # What `due_for` would read next when one is due: the last completed day per instrument, and the drafts.
        "questionnaire_completed": json_text_rows(
            select(col(Response.instrument), func.max(col(Response.local_date)).label("last_day"))
            .where(col(Response.user_id) == _PATIENT, col(Response.status) == "complete")
            .group_by(col(Response.instrument))
        ),
        "questionnaire_drafts": json_text_rows(
            select(col(Response.instrument), col(Response.answers), col(Response.updated_at)).where(
                col(Response.user_id) == _PATIENT, col(Response.status) == "draft"
            )
        ),
    }


def today_params(patient: User) -> dict[str, Any]:
    return {"questionnaires_patient": patient.id, "questionnaires_clinic": patient.clinic_id}


def due_from(patient: User, values: Mapping[str, Any], today: date) -> list[Due]:
    """`due_for` with everything it reads taken from `today_reads`' values (no statement of its own)."""
    due = _due_from_text(
        values["questionnaire_assignments"], values["questionnaire_clinic"], values["questionnaire_completed"],
        values["questionnaire_drafts"], today, _joined(patient),
    )  # fmt: skip
    return list(due)


# One entry per patient and day whose rows were read (a few hundred bytes of text each); plenty for a clinic.
MAX_REMEMBERED_DUE = 2048


@functools.lru_cache(maxsize=MAX_REMEMBERED_DUE)
def _due_from_text(
    assignments_text: str, clinic_text: str, completed_text: str, drafts_text: str, today: date, joined: date | None
) -> tuple[Due, ...]:
    """What is due, worked out once per process for the same rows (as read, so a change made by any process is a
    different key on the next request: nothing is served stale) and the same day."""
    clinics = from_json(Clinic, json.loads(clinic_text))
    rows = from_json(Assignment, json.loads(assignments_text))
    done = {row["instrument"]: as_date(row["last_day"]) for row in json.loads(completed_text) if row["last_day"]}
    drafts = _latest_drafts(
        (row["instrument"], utc_from_text(row["updated_at"]), json_value(row["answers"]))
        for row in json.loads(drafts_text)
    )
    schedules = _schedules(rows, clinics[0] if clinics else None, joined)
    return tuple(_due(schedules, today, (done, drafts)))


Answered = tuple[dict[str, date], dict[str, dict[str, Any]]]  # last completed day, latest draft's answers, by code


def _latest_drafts(drafts: Iterable[tuple[str, datetime, dict[str, Any] | None]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for code, updated, answers in drafts:
        if code not in latest or updated > latest[code][0]:
            latest[code] = (updated, answers or {})
    return {code: answers for code, (_updated, answers) in latest.items()}


@functools.cache
def _answered_read() -> Select[Any]:
    """Built once: an `in_()` made per request left its expanding parameter in reference cycles for the collector."""
    return select(
        col(Response.instrument),
        col(Response.status),
        col(Response.local_date),
        col(Response.answers),
        col(Response.updated_at),
    ).where(
        col(Response.user_id) == bindparam("patient", type_=Integer),
        col(Response.instrument).in_(bindparam("codes", expanding=True)),
    )


async def _answered(db: AsyncSession, patient: User, codes: list[str]) -> Answered:
    rows = await db.execute(_answered_read(), {"patient": patient.id, "codes": codes})
    done: dict[str, date] = {}
    drafts: list[tuple[str, datetime, dict[str, Any] | None]] = []
    for code, status, day, answers, updated in rows:
        if status == "complete" and day is not None:
            done[code] = max(done.get(code, day), day)
        elif status == "draft":
            drafts.append((code, updated, answers))
    return done, _latest_drafts(drafts)


def _parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


async def schedules_for(
    db: AsyncSession, patient: User, *, clinic: Clinic | None = None, rows: Sequence[Assignment] | None = None
) -> list[Schedule]:
    """The patient's own assignments, plus the clinic's defaults for instruments they have no row for."""
    if rows is None:
        rows = list(await db.scalars(select(Assignment).where(col(Assignment.patient_id) == patient.id)))
    if clinic is None:
        clinic = await db.get(Clinic, patient.clinic_id)
    return _schedules(rows, clinic, _joined(patient))


def _joined(patient: User) -> date | None:
    """The patient's first day, in their time zone: no clinic default is due before it."""
    return local_date_of(patient, patient.created_at) if getattr(patient, "created_at", None) else None


def _schedules(rows: Sequence[Assignment], clinic: Clinic | None, joined: date | None) -> list[Schedule]:
    """A clinic default starts on the later of the day it was set and the day the patient joined."""
    found = [
        Schedule(a.instrument, a.cadence, a.starts_on, a.ends_on, "therapist", a.id)
        for a in rows
        if a.instrument in all_instruments()
    ]
    own = {a.instrument for a in rows}
    for code, entry in clinic_defaults(clinic).items():
        if code in own:
            continue
        since = _parse_day(entry["since"]) or joined or date(2000, 1, 1)
        start = max(since, joined) if joined else since
        found.append(Schedule(code, entry["cadence"], start, None, "clinic"))
    order = list(all_instruments())
    found.sort(key=lambda s: order.index(s.instrument))
    return found


@dataclass(frozen=True)
class Due:
    instrument: Instrument
    due_on: date
    answered: int  # items answered in a draft so far
    asked: int

    @property
    def shown_as(self) -> tuple[str, int, int]:
        """Everything Today's panel shows of it (its rendering is remembered under this)."""
        return (self.instrument.code, self.answered, self.asked)


async def due_for(db: AsyncSession, patient: User, today: date | None = None) -> list[Due]:
    """Questionnaires due now: the latest scheduled date has come and nothing was completed since. (Today reads
    the same through its composed statement: `due_from`.)"""
    today = today or local_today(patient, utcnow())
    schedules = await schedules_for(db, patient)
    pending = [s.instrument for s in schedules if s.due_on(today) is not None]
    if not pending:
        return []
    return _due(schedules, today, await _answered(db, patient, pending))


def _due(schedules: Sequence[Schedule], today: date, answered: Answered) -> list[Due]:
    done, drafts = answered
    result: list[Due] = []
    for schedule in schedules:
        due_on = schedule.due_on(today)
        if due_on is None or done.get(schedule.instrument, date.min) >= due_on:
            continue
        instrument = all_instruments()[schedule.instrument]
        answers = instrument.clean(drafts.get(schedule.instrument, {}))
        asked = instrument.asked(answers)
        result.append(Due(instrument, due_on, sum(1 for i in asked if i.id in answers), len(asked)))
    return result


# -- drafts and answering -------------------------------------------------------------------------------------


def parse_answers(instrument: Instrument, raw: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, str]]:
    """Form fields 'a_<item id>' → {item id: value}; a value that is not one of the item's options is an error."""
    answers: dict[str, int] = {}
    errors: dict[str, str] = {}
    for item in instrument.items:
        value = raw.get(f"a_{item.id}")
        if value is None or value == "":
            continue
        try:
            number = int(str(value))
        except ValueError:
            number = -1
        if number not in item.values:
            errors[f"a_{item.id}"] = _("Please choose one of the answers.")
            continue
        answers[item.id] = number
    return answers, errors


async def current_draft(db: AsyncSession, user_id: int, code: str) -> Response | None:
    return await db.scalar(
        select(Response)
        .where(col(Response.user_id) == user_id, col(Response.instrument) == code, col(Response.status) == "draft")
        .order_by(col(Response.updated_at).desc(), col(Response.id).desc())
        .limit(1)
    )


async def draft_for(
    db: AsyncSession,
    user: User,
    instrument: Instrument,
    due_on: date | None,
    *,
    key: str = "",
    create: bool = True,
) -> Response:
    """The person's open draft for this instrument, or a new empty one under `key` (saved answers are kept to
    resume later). With create=False a new one is not stored: opening a screen (or a phone keeping it for offline
    use) writes nothing until the first answer arrives."""
    assert user.id is not None
    draft = await current_draft(db, user.id, instrument.code)
    if draft is not None:
        return draft
    now = utcnow()
    draft = Response(
        user_id=user.id,
        instrument=instrument.code,
        instrument_version=instrument.version,
        status="draft",
        answers={},
        idempotency_key=key or new_key(),
        due_on=due_on,
        started_at=now,
        updated_at=now,
    )
    if create:
        db.add(draft)
        await db.flush()
    return draft


async def save_draft(db: AsyncSession, draft: Response, instrument: Instrument, answers: Mapping[str, int]) -> None:
    draft.answers = instrument.clean({**(draft.answers or {}), **answers})  # a new dict: the JSON column is written
    draft.updated_at = utcnow()
    db.add(draft)
    await db.flush()


def payload_hash(code: str, answers: Mapping[str, int]) -> str:
    blob = json.dumps({"instrument": code, "answers": dict(sorted(answers.items()))}, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Completion:
    response: Response | None = None
    errors: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    missing: list[str] = field(default_factory=list)  # item ids still to answer


def _different_payload() -> str:
    return _("These answers were already saved differently from another screen. Please look at your results.")


async def complete(
    db: AsyncSession,
    user: User,
    instrument: Instrument,
    answers: Mapping[str, int],
    key: str,
    *,
    client_created_at: datetime | None = None,
    now: datetime | None = None,
) -> Completion:
    """Finish a questionnaire exactly once per idempotency key: a replay with the same answers returns the first
    result, the same key with other answers is refused, two concurrent requests make one row. A draft with this
    key (answered item by item on this screen) becomes the result; other open drafts of the instrument go."""
    assert user.id is not None
    now = now or utcnow()
    if not key or len(key) > KEY_MAX:
        return Completion(errors={"__all__": _("Something went wrong with this form. Please open it again.")})
    for _attempt in range(3):
        existing = await db.scalar(
            select(Response).where(col(Response.user_id) == user.id, col(Response.idempotency_key) == key)
        )
        if existing is not None and existing.instrument != instrument.code:
            return Completion(errors={"__all__": _different_payload()})
        merged = instrument.clean({**((existing.answers or {}) if existing is not None else {}), **answers})
        if existing is not None and existing.status == "complete":
            if existing.payload_hash == payload_hash(instrument.code, merged):
                return Completion(response=existing, replayed=True)
            return Completion(errors={"__all__": _different_payload()})
        try:
            result = score(instrument, merged)
        except IncompleteAnswers:
            return Completion(missing=[i.id for i in instrument.missing(merged)])
        try:
            async with db.begin_nested():
                row = existing or Response(
                    user_id=user.id, instrument=instrument.code, idempotency_key=key, started_at=now, answers={}
                )
                _fill(row, user, instrument, merged, result, client_created_at, now)
                db.add(row)
                await db.flush()
        except IntegrityError:
            log.info("questionnaire completion lost a race; looking again")
            continue
        due = [d for d in await due_for(db, user, row.local_date) if d.instrument.code == instrument.code]
        row.due_on = row.due_on or (due[0].due_on if due else None)
        for other in await db.scalars(
            select(Response).where(
                col(Response.user_id) == user.id,
                col(Response.instrument) == instrument.code,
                col(Response.status) == "draft",
                col(Response.id) != row.id,
            )
        ):
            await db.delete(other)
        await db.flush()
        if result.safety:
            await notify_therapists(db, user, row, now)
        return Completion(response=row)
    return Completion(errors={"__all__": _("Someone else saved at the same moment. Please try again.")})


def _fill(
    row: Response,
    user: User,
    instrument: Instrument,
    answers: dict[str, int],
    result: Score,
    client_created_at: datetime | None,
    now: datetime,
) -> None:
    moment = min(client_created_at, now) if client_created_at is not None else now
    row.answers = dict(answers)
    row.status = "complete"
    row.instrument_version = instrument.version
    row.payload_hash = payload_hash(instrument.code, answers)
    row.completed_at = now
    row.client_created_at = client_created_at
    row.local_date = local_date_of(user, moment)
    row.total = result.total
    row.score = result.as_json()
    row.safety = result.safety
    row.updated_at = now


# -- results --------------------------------------------------------------------------------------------------


async def completed(
    db: AsyncSession, user_id: int, code: str | None = None, *, since: date | None = None, limit: int | None = None
) -> list[Response]:
    """Completed responses, newest first."""
    stmt = select(Response).where(col(Response.user_id) == user_id, col(Response.status) == "complete")
    if code is not None:
        stmt = stmt.where(col(Response.instrument) == code)
    if since is not None:
        stmt = stmt.where(col(Response.local_date) >= since)
    stmt = stmt.order_by(col(Response.completed_at).desc(), col(Response.id).desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await db.scalars(stmt))


async def previous_of(db: AsyncSession, row: Response) -> Response | None:
    return await db.scalar(
        select(Response)
        .where(
            col(Response.user_id) == row.user_id,
            col(Response.instrument) == row.instrument,
            col(Response.status) == "complete",
            col(Response.completed_at) < row.completed_at,
        )
        .order_by(col(Response.completed_at).desc())
        .limit(1)
    )


def score_of(row: Response) -> Score:
    return Score.from_json(row.instrument, row.score)


def change_between(previous: Response | None, row: Response) -> Change | None:
    instrument = get_instrument(row.instrument)
    if instrument is None or previous is None:
        return None
    return compare(instrument, score_of(previous), score_of(row))


# -- who sees it: the safety path -----------------------------------------------------------------------------


async def therapists_of(db: AsyncSession, patient: User) -> list[User]:
    rows = await db.scalars(
        select(User)
        .join(CareTeam, col(CareTeam.therapist_id) == col(User.id))
        .where(
            col(CareTeam.patient_id) == patient.id,
            col(User.role) == Role.THERAPIST,
            col(User.clinic_id) == patient.clinic_id,
        )
        .order_by(User.display_name)
    )
    return list(rows)


async def sharing_therapists(db: AsyncSession, patient: User, now: datetime | None = None) -> list[User]:
    """Care-team therapists this patient shares questionnaires with right now (consent in force, category on)."""
    assert patient.id is not None
    now = now or utcnow()
    found = []
    for therapist in await therapists_of(db, patient):
        assert therapist.id is not None
        if CATEGORY in await allowed_categories(db, patient.id, therapist.id, now):
            found.append(therapist)
    return found


async def who_sees(db: AsyncSession, patient: User, row: Response) -> list[User]:
    """Therapists who can see this result: sharing under a consent (from its data-from date), or the one it was
    shared with once."""
    assert patient.id is not None
    now = utcnow()
    seen: list[User] = []
    for therapist in await therapists_of(db, patient):
        assert therapist.id is not None
        if therapist.id == row.shared_once_with_id:
            seen.append(therapist)
            continue
        consent = await active_consent(db, patient.id, therapist.id, now)
        if consent is not None and CATEGORY in consent.categories and (row.local_date or date.max) >= consent.data_from:
            seen.append(therapist)
    return seen


async def notify_therapists(db: AsyncSession, patient: User, row: Response, now: datetime | None = None) -> int:
    """A push to each therapist who can see this answer (no name, no content on the lock screen: the generic
    'Something to look at in Steady'), once per result and therapist."""
    sent = 0
    for therapist in await who_sees(db, patient, row):
        assert therapist.id is not None
        if await send_nudge(db, therapist.id, f"q{row.id}", url="/therapist") is not None:
            sent += 1
    return sent


def share_once_wording(patient: User, therapist: User, row: Response, locale: str) -> str:
    """The one-time consent, stored exactly as shown."""
    instrument = get_instrument(row.instrument)
    name = instrument.short_name if instrument else row.instrument
    day = row.local_date.isoformat() if row.local_date else ""
    return _(
        "I, %(patient)s, agree that %(therapist)s, my therapist, may see this one %(instrument)s result from "
        "%(day)s, including my answer about thoughts of being better off dead or of hurting myself, so they can "
        "follow up with me. This shares nothing else and ends when they have followed up. This information is "
        "protected by federal law (42 CFR part 2) and may not be passed on without my written consent."
    ) % {"patient": patient.display_name, "therapist": therapist.display_name, "instrument": name, "day": day}


async def share_once(
    db: AsyncSession, patient: User, row: Response, therapist_id: int, now: datetime | None = None
) -> bool:
    """Record a one-time consent to share this result with one care-team therapist, and tell them (push)."""
    now = now or utcnow()
    therapist = next((t for t in await therapists_of(db, patient) if t.id == therapist_id), None)
    if therapist is None or row.status != "complete" or row.user_id != patient.id:
        return False
    if row.shared_once_with_id is None:
        row.shared_once_with_id = therapist_id
        row.shared_once_at = now
        row.shared_once_wording = share_once_wording(patient, therapist, row, patient.locale)
        db.add(row)
        await db.flush()
    await notify_therapists(db, patient, row, now)
    return True


@functools.cache
def _open_followups_read() -> Select[Response, User]:
    """Built once (the dashboard asks on every request): item-9 answers not yet followed up, from the therapist's
    care team in their clinic, oldest first."""
    care = select(col(CareTeam.patient_id)).where(col(CareTeam.therapist_id) == bindparam("therapist", type_=Integer))
    return (
        select(Response, User)
        .join(User, col(User.id) == col(Response.user_id))
        .where(
            col(Response.safety) == True,  # noqa: E712
            col(Response.status) == "complete",
            col(Response.followed_up_at).is_(None),
            col(Response.user_id).in_(care),
            col(User.clinic_id) == bindparam("clinic", type_=Integer),
        )
        .order_by(col(Response.completed_at))
    )


async def open_followups(db: AsyncSession, therapist: User, patient_ids: Iterable[int]) -> list[tuple[User, Response]]:
    """Item-9 answers awaiting this therapist's follow-up: from patients who share questionnaires with them (the
    caller passes the ids its consent gate allowed) and results shared with them once."""
    assert therapist.id is not None
    allowed = set(patient_ids)
    rows = await db.execute(_open_followups_read(), {"therapist": therapist.id, "clinic": therapist.clinic_id})
    found = []
    for row, patient in rows:
        if row.user_id in allowed or row.shared_once_with_id == therapist.id:
            found.append((patient, row))
    return found


async def record_followup(
    db: AsyncSession, therapist: User, row: Response, note: str, now: datetime | None = None
) -> None:
    row.followed_up_at = as_utc(now or utcnow())
    row.followed_up_by_id = therapist.id
    row.followup_note = note[:500]
    db.add(row)
    await db.flush()


# -- assignments ----------------------------------------------------------------------------------------------


async def assign(
    db: AsyncSession,
    patient_id: int,
    code: str,
    cadence: str | None,
    starts_on: date,
    ends_on: date | None,
    by: User | None,
) -> Assignment | None:
    """Set (or with cadence None, stop from `starts_on`) one instrument for one patient."""
    row = await db.scalar(
        select(Assignment).where(col(Assignment.patient_id) == patient_id, col(Assignment.instrument) == code)
    )
    now = utcnow()
    if cadence is None:
        if row is not None:
            row.ends_on = starts_on
            row.updated_at = now
            db.add(row)
        else:
            row = Assignment(
                patient_id=patient_id, instrument=code, cadence="weekly", starts_on=starts_on, ends_on=starts_on,
                assigned_by_id=by.id if by else None, created_at=now, updated_at=now,
            )  # fmt: skip
            db.add(row)  # an explicit stop also overrides the clinic default
        await db.flush()
        return row
    if row is None:
        row = Assignment(patient_id=patient_id, instrument=code, cadence=cadence, starts_on=starts_on, created_at=now)
    row.cadence = cadence
    row.starts_on = starts_on
    row.ends_on = ends_on
    row.assigned_by_id = by.id if by else None
    row.updated_at = now
    db.add(row)
    await db.flush()
    return row


async def end_assignments(db: AsyncSession, patient_id: int, on: date) -> int:
    """Stop every questionnaire from `on` (discharge): an end date on each row, and a stop row for each clinic
    default so nothing stays due."""
    patient = await db.get(User, patient_id)
    if patient is None:
        return 0
    count = 0
    for schedule in await schedules_for(db, patient):
        if schedule.ends_on is None or schedule.ends_on > on:
            await assign(db, patient_id, schedule.instrument, None, on, None, None)
            count += 1
    return count
