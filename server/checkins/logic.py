"""Saving check-ins and craving logs exactly once, whatever the network does.

Every submission carries a client-made idempotency key. A replay with the same key and the same payload
gets the original result; the same key with a different payload is refused; two concurrent requests with
one key hit a unique constraint, and the loser answers with the winner's result. Times come from the phone
(`client_created_at`), never from when the request happened to arrive.

Public functions other domains may call:

* :func:`get_checkin_for_day`, :func:`recent_checkins`, :func:`log_page`
* :func:`checkin_streak` — consecutive local days with a check-in, up to today (or yesterday if today is open)
* :func:`is_worrying` — whether a check-in should show crisis help
* :func:`suggested_cards_for_craving` — the skill cards that helped this person most, for a strong craving
* :func:`checkins_today_context` — what the Today panel needs
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, Select, String, bindparam, delete, exists, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from server import localtime as dates
from server.accounts.models import User
from server.checkins import events, measures
from server.checkins.forms import CheckInForm, CravingForm
from server.checkins.models import (
    CheckIn,
    CheckInPreference,
    CheckInRevision,
    CheckInSubmission,
    CravingLog,
    TriggerHit,
)
from server.checkins.triggers import TriggerSet, preference_reads, set_from, trigger_set
from server.db import compose, day_before, from_json, json_rows, read_composed, table_of, utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.skills.catalogue import SkillCard, default_catalogue
from server.skills.logic import helpful_from, helpful_reads, most_helpful_cards, most_helpful_from
from server.web.logging import get_logger

log = get_logger("checkins")

MAX_DAYS_BACK = 365
CLOCK_SKEW = timedelta(minutes=5)
HIGH_CRAVING = 6
SAVE_ATTEMPTS = 3


# --------------------------------------------------------------------------------------------- helpers


@dataclass
class SaveResult:
    """What a save did. `record_id` is set when the record exists (new, updated or replayed)."""

    record_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    conflict: bool = False
    # A check-in save also hands back what it read and wrote, so the answer needs no second look: the check-in
    # as stored now (not for a replay), whether this save created it, the patient's triggers, and the "record
    # saved" listeners' conditions (`events.interest_reads`) as read in the save's first statement.
    checkin: CheckIn | None = None
    created: bool = False
    trigger_set: TriggerSet | None = None
    interest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.record_id is not None and not self.errors


def new_key() -> str:
    return str(uuid.uuid4())


def parse_client_time(raw: str | None, now: datetime) -> datetime | None:
    """The phone's ISO time of the submission, clamped to the server's clock (a phone clock running ahead
    must not create tomorrow's entry). Unreadable values are ignored rather than refusing the entry."""
    if not raw:
        return None
    try:
        moment = dates.aware(datetime.fromisoformat(raw.strip().replace("Z", "+00:00")))
        if not 2000 <= moment.year <= 2999:
            return None  # a phone clock that is plainly wrong
        return min(moment.astimezone(UTC), now)
    except (ValueError, OverflowError):
        return None


def payload_hash(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _normalised(form: CheckInForm | CravingForm) -> dict[str, Any]:
    data = form.model_dump(mode="json", exclude={"idempotency_key"})
    data["triggers"] = sorted(set(data.get("triggers") or []))
    return data


def unknown_triggers(chosen: list[Any], known: TriggerSet) -> bool:
    ids = {t.id for t in known.all}
    return any(not isinstance(t, str) or t not in ids for t in chosen)


def dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def diary_card_on(db: AsyncSession, user_id: int) -> bool:
    pref = await db.get(CheckInPreference, user_id)
    return bool(pref and pref.diary_card)


async def set_diary_card(db: AsyncSession, user_id: int, on: bool) -> None:
    pref = await db.get(CheckInPreference, user_id)
    if pref is None:
        db.add(CheckInPreference(user_id=user_id, diary_card=on))
    else:
        pref.diary_card = on
        pref.updated_at = utcnow()


# --------------------------------------------------------------------------------------------- check-ins


async def get_checkin_for_day(db: AsyncSession, user_id: int, day: date) -> CheckIn | None:
    return await db.scalar(select(CheckIn).where(col(CheckIn.user_id) == user_id, col(CheckIn.local_date) == day))


async def recent_checkins(db: AsyncSession, user_id: int, limit: int = 7) -> list[CheckIn]:
    rows = await db.scalars(
        select(CheckIn).where(col(CheckIn.user_id) == user_id).order_by(col(CheckIn.local_date).desc()).limit(limit)
    )
    return list(rows)


def is_worrying(checkin: CheckIn) -> bool:
    """A check-in after which we show crisis help: mood 0–1, or a self-harm urge of 4–5."""
    return checkin.mood <= 1 or (checkin.urge_self_harm is not None and checkin.urge_self_harm >= 4)


def checkin_editable(user: User, checkin: CheckIn, when: datetime) -> bool:
    """A check-in can be changed on its own day; one filled in late can be changed on the day it was filled in."""
    today = dates.local_date_of(user, when)
    if checkin.local_date == today:
        return True
    return checkin.late and dates.local_date_of(user, checkin.created_at) == today


DETAILS = ("triggers", "substances", "amount", "note", "diary")  # what a check-in holds besides its measures


_DIARY_NAMES = frozenset(m.name for m in measures.DIARY)


def _changes(form: CheckInForm, include_diary: bool) -> dict[str, Any]:
    """The columns the answers set, measure by measure from the spec. The diary card's measures are only
    written when the form showed the diary card (otherwise what is stored stays); a diary card with nothing
    filled in is stored as none at all."""
    values = form.measure_values()
    filled = any(values[name] not in (None, False) for name in _DIARY_NAMES)
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in _DIARY_NAMES:
            changes[name] = value
        elif include_diary:
            changes[name] = value if filled else None
    if include_diary:
        changes["diary"] = filled
    changes["triggers"] = dedupe(form.triggers)
    changes["substances"] = form.substances if changes["used"] else ""
    changes["amount"] = form.amount if changes["used"] else ""
    changes["note"] = form.note
    return changes


def _apply_checkin(row: CheckIn, form: CheckInForm, include_diary: bool) -> None:
    """Copy the answers onto the row (see `_changes`)."""
    for name, value in _changes(form, include_diary).items():
        setattr(row, name, value)


REVISION_FIELDS = (*measures.names(), *DETAILS)


def _answers(row: CheckIn) -> dict[str, Any]:
    return {name: getattr(row, name) for name in REVISION_FIELDS}


def _revision(
    row: CheckIn, answers: dict[str, Any], reason: str, filled_at: datetime | None, now: datetime
) -> CheckInRevision:
    assert row.id is not None
    return CheckInRevision(
        checkin_id=row.id,
        user_id=row.user_id,
        answers={**answers, "triggers": list(answers.get("triggers") or [])},
        reason=reason,
        client_created_at=filled_at,
        created_at=now,
    )


async def revision_count(db: AsyncSession, checkin_id: int) -> int:
    """How many other answers are kept for this check-in (Today only says whether there are any)."""
    count = await db.scalar(select(func.count()).where(col(CheckInRevision.checkin_id) == checkin_id))
    return int(count or 0)


async def revisions_for(db: AsyncSession, checkin_id: int) -> list[CheckInRevision]:
    rows = await db.scalars(
        select(CheckInRevision).where(col(CheckInRevision.checkin_id) == checkin_id).order_by(col(CheckInRevision.id))
    )
    return list(rows)


async def _add_trigger_hits(
    db: AsyncSession,
    user_id: int,
    local_date: date,
    triggers: Iterable[str],
    intensity: int,
    *,
    checkin_id: int | None = None,
    craving_id: int | None = None,
) -> None:
    """Trigger hits (a check-in's or a craving log's), which Progress counts per trigger: one statement for all of
    them (executemany), on the session's connection, after the row they belong to exists. The one other writer is
    `_insert_checkin_at_once`, a day's first check-in on PostgreSQL, whose hits go in with the check-in itself."""
    hits = [
        {
            "user_id": user_id,
            "local_date": local_date,
            "trigger_id": trigger_id,
            "intensity": intensity,
            "checkin_id": checkin_id,
            "craving_id": craving_id,
        }
        for trigger_id in triggers
    ]
    if hits:
        await (await db.connection()).execute(table_of(TriggerHit).insert(), hits)


async def _write_trigger_hits_for_checkin(db: AsyncSession, row: CheckIn) -> None:
    await db.execute(delete(TriggerHit).where(col(TriggerHit.checkin_id) == row.id))
    await _add_trigger_hits(db, row.user_id, row.local_date, row.triggers, row.craving, checkin_id=row.id)


def _different_payload_message() -> str:
    return _(
        "This entry was already sent once with different answers, so nothing was changed. "
        "Please reload the page and send it again."
    )


async def save_checkin(
    db: AsyncSession,
    user: User,
    form: CheckInForm,
    *,
    include_diary: bool,
    now: datetime | None = None,
    also: Mapping[str, ColumnElement[Any]] | None = None,
) -> SaveResult:
    """Create or update the check-in for one local day, exactly once per idempotency key.

    Writes but does not commit (the request commits). On a unique-constraint race it rolls the session back
    and answers with whatever the winning request stored. `also`: more reads (named columns bound to
    `events.PATIENT`, see `events.interest_reads`) for the save's first statement; their values come back in
    `SaveResult.interest`.
    """
    assert user.id is not None
    now = now or utcnow()
    key = form.idempotency_key or new_key()
    digest = payload_hash(_normalised(form))
    for _attempt in range(SAVE_ATTEMPTS):
        result = await _save_checkin_once(db, user, form, key, digest, include_diary, now, also or {})
        if result is not None:
            return result
        # Lost a race (same key or same day at the same moment): start again from what is stored now.
        await db.rollback()
    return SaveResult(conflict=True, errors={"__all__": _("Someone else saved at the same moment. Please try again.")})


_KEY = bindparam("checkins_key", type_=String())
_DAY = bindparam("checkins_day", type_=Date())


def _save_reads() -> dict[str, ColumnElement[Any]]:
    """What a check-in save needs to know first, as columns of one statement: the submission already stored under
    this key (a replay), the patient's triggers, and the day's check-in if there is one."""

    def submission(column: Any) -> ColumnElement[Any]:
        return (
            select(column)
            .where(col(CheckInSubmission.user_id) == _USER, col(CheckInSubmission.idempotency_key) == _KEY)
            .scalar_subquery()
        )

    return {
        "submission_hash": submission(col(CheckInSubmission.payload_hash)),
        "submission_checkin": submission(col(CheckInSubmission.checkin_id)),
        **preference_reads(_USER),
        "day_checkin": select(col(CheckIn.id))
        .where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == _DAY)
        .scalar_subquery(),
    }


@dataclass(frozen=True)
class FormPage:
    """What the check-in form shows besides the answers typed: the day's check-in (to edit), the patient's triggers
    and whether the diary card is on."""

    existing: CheckIn | None
    trigger_set: TriggerSet
    diary_on: bool


@functools.cache
def _form_page_statement() -> Select[Any]:
    return compose(
        {
            **preference_reads(_USER),
            "diary_card": select(col(CheckInPreference.diary_card))
            .where(col(CheckInPreference.user_id) == _USER)
            .scalar_subquery(),
            "day_checkins": json_rows(
                select(*table_of(CheckIn).c).where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == _DAY)
            ),
        }
    )


async def form_page(db: AsyncSession, user_id: int, day: date) -> FormPage:
    """`FormPage` for `day`, in one statement."""
    found = await read_composed(db, _form_page_statement(), {"checkins_user": user_id, "checkins_day": day})
    existing = from_json(CheckIn, found["day_checkins"])
    return FormPage(
        existing[0] if existing else None,
        set_from(found),
        bool(found["diary_card"]),
    )


# Built once per set of listener conditions (in practice one per process), keyed by the conditions' identity.
_SAVE_STATEMENTS: dict[tuple[tuple[str, int], ...], tuple[Select[Any], Mapping[str, ColumnElement[Any]]]] = {}


def _save_statement(also: Mapping[str, ColumnElement[Any]]) -> Select[Any]:
    key = tuple((name, id(read)) for name, read in also.items())
    found = _SAVE_STATEMENTS.get(key)
    if found is None:
        found = _SAVE_STATEMENTS[key] = (compose({**_save_reads(), **also}), dict(also))  # keeps the ids alive
    return found[0]


def _checkin_problem(form: CheckInForm, day: date, today: date, known: TriggerSet) -> SaveResult | None:
    """Why this check-in can't be saved as sent (a day out of range, an unknown trigger, use without what), or None."""
    date_field = "date" if form.date else "__all__"
    if day > today:
        return SaveResult(errors={date_field: _("This day hasn't come yet. Please pick today or an earlier day.")})
    if day < today - timedelta(days=MAX_DAYS_BACK):
        return SaveResult(errors={date_field: _("You can fill in days from the past year.")})
    if unknown_triggers(form.triggers, known):
        return SaveResult(errors={"triggers": _("One of these triggers isn't in your list. Please choose again.")})
    if form.measure_values()["used"] and not form.substances:
        return SaveResult(errors={"substances": _("Please say what you used. One word is enough, like “alcohol”.")})
    return None


def _new_checkin(
    user_id: int, form: CheckInForm, day: date, late: bool, key: str, client_time: datetime | None, now: datetime
) -> CheckIn:
    answers = form.measure_values()
    return CheckIn(
        user_id=user_id,
        local_date=day,
        mood=answers["mood"],
        craving=answers["craving"],
        late=late,
        client_created_at=client_time,
        created_at=now,
        updated_at=now,
        idempotency_key=key,
    )


@functools.cache
def _checkin_defaults() -> dict[str, Any]:
    """Each column's default as the model declares it (what `CheckIn(...)` fills in), for the columns a new check-in
    may leave to their default; the rest (no default, or one made per row) every save gives."""
    found: dict[str, Any] = {}
    for column in table_of(CheckIn).columns:
        info = CheckIn.model_fields.get(column.key)
        if info is not None and info.default_factory is None and not info.is_required() and column.key != "id":
            found[column.key] = info.default
    return found


async def _insert_checkin(
    db: AsyncSession,
    user_id: int,
    answers: dict[str, Any],
    day: date,
    late: bool,
    key: str,
    digest: str,
    client_time: datetime | None,
    now: datetime,
) -> CheckIn:
    """A day's first check-in, its trigger hits and its submission, written with Core on the session's connection
    (the ORM's unit of work and SQLModel's validating constructor cost more than the SQL here): on PostgreSQL one
    statement (`_insert_checkin_at_once`), elsewhere three INSERTs. Returns the check-in as stored: a model instance
    made the way the ORM makes a loaded row, not attached to the session."""
    values = {
        **_checkin_defaults(),
        **answers,
        "user_id": user_id,
        "local_date": day,
        "late": late,
        "client_created_at": client_time,
        "created_at": now,
        "updated_at": now,
        "idempotency_key": key,
    }
    connection = await db.connection()
    if connection.dialect.name == "postgresql":
        statement = _insert_checkin_at_once(tuple(values))
        params = {**values, "hit_triggers": values["triggers"], "submission_key": key, "submission_hash": digest}
        checkin_id = int((await connection.execute(statement, params)).scalar_one())
    else:
        made = await connection.execute(table_of(CheckIn).insert(), values)
        inserted = made.inserted_primary_key
        assert inserted is not None  # a single-row INSERT always has one
        checkin_id = int(inserted[0])
        await _add_trigger_hits(db, user_id, day, values["triggers"], values["craving"], checkin_id=checkin_id)
        await connection.execute(
            table_of(CheckInSubmission).insert(),
            {
                "user_id": user_id,
                "idempotency_key": key,
                "payload_hash": digest,
                "checkin_id": checkin_id,
                "client_created_at": client_time,
                "created_at": now,
            },
        )
    row: CheckIn = manager_of_class(CheckIn).new_instance()
    row.__dict__.update(values, id=checkin_id)
    return row


@functools.lru_cache(maxsize=8)
def _insert_checkin_at_once(columns: tuple[str, ...]) -> Select[int]:
    """PostgreSQL: the check-in, one trigger hit per trigger (`hit_triggers`, unnested) and the submission
    (`submission_key`, `submission_hash`) in one statement, data-modifying CTEs off the check-in's RETURNING. Two
    round trips fewer than three INSERTs on a save that is mostly waiting on them; a unique violation anywhere
    still fails the whole statement, so a lost race writes nothing, as before. Built once per set of columns."""
    checkins, hits, submissions = table_of(CheckIn), table_of(TriggerHit), table_of(CheckInSubmission)
    made = (
        checkins.insert()
        .values({name: bindparam(name, type_=checkins.c[name].type) for name in columns})
        .returning(checkins.c.id, checkins.c.user_id, checkins.c.local_date, checkins.c.craving,
                   checkins.c.client_created_at, checkins.c.created_at)
        .cte("made")
    )  # fmt: skip
    triggers = func.unnest(bindparam("hit_triggers", type_=ARRAY(String)))
    trigger = triggers.table_valued("trigger_id").render_derived(name="trigger")
    with_hits = (
        hits.insert()
        .from_select(
            ["user_id", "local_date", "trigger_id", "intensity", "checkin_id"],
            select(made.c.user_id, made.c.local_date, trigger.c.trigger_id, made.c.craving, made.c.id)
            .select_from(made)
            .join(trigger, true()),
        )
        .cte("hits")
    )
    with_submission = (
        submissions.insert()
        .from_select(
            ["user_id", "idempotency_key", "payload_hash", "checkin_id", "client_created_at", "created_at"],
            select(
                made.c.user_id,
                bindparam("submission_key", type_=String),
                bindparam("submission_hash", type_=String),
                made.c.id,
                made.c.client_created_at,
                made.c.created_at,
            ).select_from(made),
        )
        .cte("submission")
    )
    return select(made.c.id).add_cte(with_hits, with_submission)


async def _save_checkin_once(
    db: AsyncSession,
    user: User,
    form: CheckInForm,
    key: str,
    digest: str,
    include_diary: bool,
    now: datetime,
    also: Mapping[str, ColumnElement[Any]],
) -> SaveResult | None:
    assert user.id is not None
    client_time = parse_client_time(form.client_created_at, now)
    when = client_time or now
    made_on = dates.local_date_of(user, when)
    day = form.date or made_on
    params = {"checkins_user": user.id, "checkins_key": key, "checkins_day": day, **events.interest_params(user.id)}
    found = await read_composed(db, _save_statement(also), params)
    interest = {name: found[name] for name in also}
    if found["submission_hash"] is not None:  # sent before: the same answer as then
        if found["submission_hash"] != digest:
            return SaveResult(errors={"__all__": _different_payload_message()}, interest=interest)
        return SaveResult(record_id=found["submission_checkin"], replayed=True, interest=interest)
    known = set_from(found)
    problem = _checkin_problem(form, day, dates.local_today(user, now), known)
    if problem is not None:
        return problem
    row = await db.get(CheckIn, found["day_checkin"]) if found["day_checkin"] is not None else None
    if row is not None and not checkin_editable(user, row, when):
        message = _("You already checked in for this day. A check-in can be changed only on the day itself.")
        return SaveResult(errors={"date" if form.date else "__all__": message})
    try:
        if row is None:
            made = await _insert_checkin(
                db, user.id, _changes(form, include_diary), day, day < made_on, key, digest, client_time, now
            )
            return SaveResult(record_id=made.id, checkin=made, created=True, trigger_set=known, interest=interest)
        if client_time is not None and row.client_created_at is not None and client_time < row.client_created_at:
            # An older edit arriving after a newer one: the newer answers stay; if whoever filled this one in
            # never saw them (another device, or offline), these are kept where the person can see them.
            if form.base != row.idempotency_key:
                incoming = _new_checkin(user.id, form, day, False, key, client_time, now)
                _apply_checkin(incoming, form, include_diary)
                db.add(_revision(row, _answers(incoming), "older", client_time, now))
        else:
            if row.idempotency_key is not None and form.base != row.idempotency_key:
                # Filled in without seeing the stored check-in: the later one is shown, this one kept visibly.
                db.add(_revision(row, _answers(row), "replaced", row.client_created_at, now))
            _apply_checkin(row, form, include_diary)
            row.client_created_at = client_time
            row.updated_at = now
            row.idempotency_key = key
            await db.flush()
            await _write_trigger_hits_for_checkin(db, row)
        assert row.id is not None
        db.add(
            CheckInSubmission(
                user_id=user.id,
                idempotency_key=key,
                payload_hash=digest,
                checkin_id=row.id,
                client_created_at=client_time,
                created_at=now,
            )
        )
        await db.flush()
    except IntegrityError:
        log.info("checkin save lost a race; retrying")
        return None
    return SaveResult(record_id=row.id, checkin=row, trigger_set=known, interest=interest)


# --------------------------------------------------------------------------------------------- cravings


async def _craving_replay(db: AsyncSession, user_id: int, key: str, digest: str) -> SaveResult | None:
    row = await db.scalar(
        select(CravingLog).where(col(CravingLog.user_id) == user_id, col(CravingLog.idempotency_key) == key)
    )
    if row is None:
        return None
    if row.payload_hash != digest:
        return SaveResult(errors={"__all__": _different_payload_message()})
    return SaveResult(record_id=row.id, replayed=True)


async def save_craving(db: AsyncSession, user: User, form: CravingForm, *, now: datetime | None = None) -> SaveResult:
    """Log one craving exactly once per idempotency key. Flushes, does not commit."""
    assert user.id is not None
    now = now or utcnow()
    key = form.idempotency_key or new_key()
    digest = payload_hash(_normalised(form))
    for _attempt in range(SAVE_ATTEMPTS):
        replay = await _craving_replay(db, user.id, key, digest)
        if replay is not None:
            return replay
        result = await _save_craving_once(db, user, form, key, digest, now)
        if result is not None:
            return result
        await db.rollback()
    return SaveResult(conflict=True, errors={"__all__": _("Someone else saved at the same moment. Please try again.")})


async def _save_craving_once(
    db: AsyncSession, user: User, form: CravingForm, key: str, digest: str, now: datetime
) -> SaveResult | None:
    assert user.id is not None
    client_time = parse_client_time(form.client_created_at, now)
    if form.occurred_at is not None:
        occurred = (
            form.occurred_at.astimezone(UTC)
            if form.occurred_at.tzinfo is not None
            else dates.from_local_naive(user, form.occurred_at)
        )
        if occurred > now + CLOCK_SKEW:
            return SaveResult(errors={"occurred_at": _("This time hasn't come yet. Please pick a time up to now.")})
    else:
        occurred = client_time or now
    if occurred < now - timedelta(days=MAX_DAYS_BACK):
        return SaveResult(errors={"occurred_at": _("You can log cravings from the past year.")})
    known = await trigger_set(db, user.id)
    if unknown_triggers(form.triggers, known):
        return SaveResult(errors={"triggers": _("One of these triggers isn't in your list. Please choose again.")})
    card_id = form.skill_card_id if form.action == "skill" else None
    if card_id and default_catalogue().by_id(card_id) is None:
        return SaveResult(errors={"skill_card_id": _("Please pick a skill from the list.")})
    row = CravingLog(
        user_id=user.id,
        occurred_at=min(occurred, now),
        local_date=dates.local_date_of(user, min(occurred, now)),
        intensity=form.intensity,
        triggers=dedupe(form.triggers),
        where_with=form.where_with,
        action=form.action,
        skill_card_id=card_id,
        outcome=form.outcome or "",
        intensity_after=form.intensity_after,
        note=form.note,
        idempotency_key=key,
        payload_hash=digest,
        created_at=now,
    )
    try:
        db.add(row)
        await db.flush()
        await _add_trigger_hits(db, user.id, row.local_date, row.triggers, row.intensity, craving_id=row.id)
    except IntegrityError:
        log.info("craving save lost a race; retrying")
        return None
    return SaveResult(record_id=row.id)


# --------------------------------------------------------------------------------------------- streaks, skills


# The Today panel's and the streak's reads are built once, for any person and day (bound at each request).
_USER = bindparam("checkins_user", type_=Integer())
_TODAY = bindparam("checkins_today", type_=Date())
_YESTERDAY = bindparam("checkins_yesterday", type_=Date())


def streak_reads() -> dict[str, ColumnElement[Any]]:
    """What the check-in streak needs, as columns of one statement: whether today and yesterday have a check-in,
    and the latest day on or before today whose previous day has none (where the latest run began)."""
    earlier = aliased(CheckIn)
    day_before_had_one = exists().where(
        col(earlier.user_id) == _USER, col(earlier.local_date) == day_before(col(CheckIn.local_date))
    )
    # The latest such day, found walking back from today (the first match ends the read, a streak's length from
    # today), not as the max over all of them: PostgreSQL otherwise checks every check-in the person ever made,
    # and planned without statistics probed each against all the others (0.33 against 0.06 ms; 4 ms on Today).
    run_start = (
        select(col(CheckIn.local_date))
        .where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) <= _TODAY, ~day_before_had_one)
        .order_by(col(CheckIn.local_date).desc())
        .limit(1)
        .scalar_subquery()
    )

    def checked_in(day: Any) -> ColumnElement[bool]:
        return exists().where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == day)

    return {
        "streak_run_start": run_start,
        "streak_today": checked_in(_TODAY),
        "streak_yesterday": checked_in(_YESTERDAY),
    }


def today_params(user: User, today: date) -> dict[str, Any]:
    """The values `streak_reads` and `today_reads` are bound to."""
    return {"checkins_user": user.id, "checkins_today": today, "checkins_yesterday": today - timedelta(days=1)}


def streak_from(values: Mapping[str, Any], today: date) -> int:
    """Consecutive days with a check-in ending today, or ending yesterday while today is still open."""
    if values["streak_today"]:
        end = today
    elif values["streak_yesterday"]:
        end = today - timedelta(days=1)
    else:
        return 0
    start = values["streak_run_start"]
    return (end - start).days + 1 if start is not None and start <= end else 0


@functools.cache
def _streak_statement() -> Select[Any]:
    return compose(streak_reads())


async def checkin_streak(db: AsyncSession, user_id: int, today: date) -> int:
    """Consecutive days with a check-in ending today, or ending yesterday while today is still open (one
    statement, however long the history)."""
    params = {"checkins_user": user_id, "checkins_today": today, "checkins_yesterday": today - timedelta(days=1)}
    return streak_from(await read_composed(db, _streak_statement(), params), today)


async def suggested_cards_for_craving(db: AsyncSession, user_id: int, limit: int = 3) -> list[SkillCard]:
    """Skill cards to offer with one tap for a strong craving: the ones that helped this person most
    (largest average distress drop), filled up with urge surfing, TIPP and STOP."""
    return await most_helpful_cards(db, user_id, limit=limit)


# --------------------------------------------------------------------------------------------- Today panel


@dataclass(frozen=True)
class TodayCheckIn:
    """Today's check-in as the Today panel shows it."""

    id: int
    mood: int
    craving: int


def today_reads() -> dict[str, ColumnElement[Any]]:
    """The Today panel's reads, as columns of Today's one composed statement (server/today/controllers.py), bound
    with `today_params`."""
    from server.checkins.sober import counter_reads  # sober imports logic helpers

    todays = select(col(CheckIn.id), col(CheckIn.mood), col(CheckIn.craving)).where(
        col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == _TODAY
    )
    todays_id = select(col(CheckIn.id)).where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == _TODAY)
    return {
        "checkin_today": json_rows(todays),
        "checkin_revisions": select(func.count())
        .where(col(CheckInRevision.checkin_id) == todays_id.scalar_subquery())
        .scalar_subquery(),
        **counter_reads(_USER),
        **streak_reads(),
        **helpful_reads(_USER),
    }


def today_panel(values: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Everything `checkins/_today_panel.html` needs, under one key, from `today_reads`' values."""
    from server.checkins.sober import counters_from  # sober imports logic helpers

    found = values["checkin_today"]
    checkin = TodayCheckIn(found[0]["id"], found[0]["mood"], found[0]["craving"]) if found else None
    counters = counters_from(values, today)
    strong = checkin is not None and checkin.craving >= HIGH_CRAVING
    return {
        "checkins_today": {
            "today": today,
            "checkin": checkin,
            "done": checkin is not None,
            "counters": counters,
            "primary": counters[0] if counters else None,
            "streak": streak_from(values, today),
            "encouragement": encouragement(today),
            "strong_craving_cards": most_helpful_from(helpful_from(values, 2), 2) if strong else [],
            "revisions": int(values["checkin_revisions"] or 0) if checkin is not None else 0,
        }
    }


@functools.cache
def _today_statement() -> Select[Any]:
    return compose(today_reads())


@functools.cache
def _log_statement() -> Select[Any]:
    """The craving log's reads in one statement: the latest cravings, the patient's triggers, whether today has a
    check-in, and the helpful cards."""
    checked_in = exists().where(col(CheckIn.user_id) == _USER, col(CheckIn.local_date) == _TODAY)
    recent = (
        select(*table_of(CravingLog).c)
        .where(col(CravingLog.user_id) == _USER)
        .order_by(col(CravingLog.occurred_at).desc(), col(CravingLog.id).desc())
        .limit(RECENT_CRAVINGS)
    )
    reads = {"recent_cravings": json_rows(recent), **preference_reads(_USER), "checked_in_today": checked_in}
    return compose({**reads, **helpful_reads(_USER)})


RECENT_CRAVINGS = 10  # on the craving log


@dataclass(frozen=True)
class LogPage:
    recent: list[CravingLog]  # newest first
    trigger_set: TriggerSet
    checked_in_today: bool
    quick_cards: list[SkillCard]  # to offer for a strong craving


async def log_page(db: AsyncSession, user: User, today: date) -> LogPage:
    """What the craving log shows besides its form's answers, in one statement."""
    values = await read_composed(db, _log_statement(), today_params(user, today))
    recent = sorted(from_json(CravingLog, values["recent_cravings"]), key=lambda c: (c.occurred_at, c.id), reverse=True)
    return LogPage(
        recent,
        set_from(values),
        bool(values["checked_in_today"]),
        most_helpful_from(helpful_from(values, 3), 3),
    )


async def checkins_today_context(db: AsyncSession, user: User, now: datetime | None = None) -> dict[str, Any]:
    """Everything `checkins/_today_panel.html` needs, read on its own (one statement)."""
    today = dates.local_today(user, now)
    return today_panel(await read_composed(db, _today_statement(), today_params(user, today)), today)


ENCOURAGEMENTS = (
    _l("Checking in is a way of looking after yourself."),
    _l("Every day you show up counts, including the hard ones."),
    _l("You don't have to do this perfectly. You just have to keep going."),
    _l("Small steps are still steps."),
    _l("Be as kind to yourself today as you would be to a friend."),
    _l("Feelings come and go like waves. You can ride this one."),
    _l("Asking for help is a strength."),
)


def encouragement(day: date) -> str:
    """A kind line that changes each day (the same all day, so it doesn't flicker between pages)."""
    return str(ENCOURAGEMENTS[day.toordinal() % len(ENCOURAGEMENTS)])


def offline_urls() -> list[str]:
    """Pages the More page's offline switch stores on the phone: today's check-in form and the craving log."""
    return ["/checkin", "/log"]
