"""Recording milestones exactly once and telling the family members who may hear them.

The detector (``server.milestones``) finds milestones in clinical data and hands them here as plain rows; this
module never reads check-ins, cravings or anything else clinical.

* :func:`record_milestone` / :func:`record_milestones` — ``INSERT … ON CONFLICT DO NOTHING`` on
  (patient_id, kind, value, run_key) and ``RETURNING`` the rows actually inserted, so two processes that find
  the same milestone at the same moment store it once and only the one that stored it goes on to fan out.
* :func:`fan_out` / :func:`fan_out_many` — one feed row and one push per family member whose link isn't
  paused, whose preferences include the kind AND whose signed consent in force covers it; each is logged in
  the patient's disclosure log ('notification').
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import BindParameter, Select, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from server.accounts.models import FamilyLink, User
from server.consent.models import Consent, DisclosureLog
from server.db import among_given, dialect_insert, pk, read_rows, table_of, utcnow
from server.family import reveal, rules
from server.family.models import (
    KINDS,
    MESSAGE_MAX,
    RUN_KEY_MAX,
    VALUE_MAX,
    FamilyNotification,
    FamilyPreference,
    Milestone,
)
from server.i18n import using_locale
from server.push.kinds import switched_off
from server.push.service import ReminderSpec, enqueue_reminders

MILESTONES = table_of(Milestone)
NOTIFICATIONS = table_of(FamilyNotification)
DISCLOSURES = table_of(DisclosureLog)
PUSH_PREFIX = "family-milestone:"  # reminder dedupe keys: f"family-milestone:{notification id}"
DISCLOSURE_SUBJECT = "milestone:"  # disclosure_log.subject: f"milestone:{milestone id}"


in_locale = using_locale  # one locale context manager for the app: server.i18n.using_locale


def milestone_row(
    patient_id: int, kind: str, value: str, run_key: str, achieved_at: datetime, message: str = ""
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValueError(f"unknown milestone kind {kind!r}")
    if achieved_at.tzinfo is None:
        raise ValueError("achieved_at must be timezone-aware")
    return {
        "patient_id": patient_id,
        "kind": kind,
        "value": str(value)[:VALUE_MAX],
        "run_key": str(run_key)[:RUN_KEY_MAX],
        "message": message.strip()[:MESSAGE_MAX],
        "achieved_at": achieved_at,
    }


class NewMilestone(NamedTuple):
    """A milestone row just inserted (a plain tuple: the batch makes thousands, ORM objects would cost more)."""

    id: int
    patient_id: int
    kind: str
    value: str
    run_key: str
    message: str
    achieved_at: datetime


class MilestoneLike(Protocol):
    """A Milestone row or a NewMilestone tuple (read-only, so both fit)."""

    @property
    def id(self) -> int | None: ...
    @property
    def patient_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def run_key(self) -> str: ...


async def record_milestones(db: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[NewMilestone]:
    """Insert the rows that aren't recorded yet; returns only those this call inserted."""
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        unique.setdefault((row["patient_id"], row["kind"], row["value"], row["run_key"]), row)
    if not unique:
        return []
    stmt = (
        dialect_insert(db, MILESTONES)
        .on_conflict_do_nothing(index_elements=["patient_id", "kind", "value", "run_key"])
        .returning(*(MILESTONES.c[name] for name in NewMilestone._fields))
    )
    # One statement with many parameter sets: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues"),
    # compiled once and cached, and returns only the rows actually inserted.
    result = await db.execute(stmt, list(unique.values()))
    return [NewMilestone(*row) for row in result]


async def record_milestone(
    db: AsyncSession,
    patient_id: int,
    kind: str,
    value: str | int,
    run_key: str,
    achieved_at: datetime,
    message: str = "",
) -> Milestone | None:
    """Record one milestone; None if it was already recorded (by this or any other process)."""
    made = await record_milestones(db, [milestone_row(patient_id, kind, str(value), run_key, achieved_at, message)])
    return Milestone(**made[0]._asdict()) if made else None


# -- who may hear what -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listener:
    """A family member who may hear some kinds of news about one patient right now."""

    link_id: int
    patient_id: int
    family_id: int
    kinds: frozenset[str]  # switched on AND covered by the consent in force
    consent_id: int
    family_name: str
    family_locale: str
    patient_name: str
    push_on: bool  # the family member hasn't switched milestone notifications off


async def listeners(
    db: AsyncSession,
    now: datetime,
    *,
    patient_ids: Iterable[int] | None = None,
    family_id: int | None = None,
    include_paused: bool = False,
) -> list[Listener]:
    """Family members with a consent in force and at least one kind switched on. Set-based: one query per
    1,000 patients (or one for everyone when `patient_ids` is None)."""
    statement = _listeners_read(
        db.get_bind().dialect.name, include_paused, family_id is not None, patient_ids is not None
    )
    params: dict[str, Any] = {"now": now} if family_id is None else {"now": now, "family_id": family_id}
    if patient_ids is None:
        rows = await read_rows(db, statement, params)
    else:
        ids = sorted(set(patient_ids))
        if not ids:
            return []
        rows = [
            row
            for i in range(0, len(ids), 1000)
            for row in await read_rows(db, statement, {**params, "ids": ids[i : i + 1000]})
        ]
    # Whether each family member wants milestone pushes is their reminder choice (asked through push).
    off = await switched_off(db, {(row[2], "milestone") for row in rows})
    found: list[Listener] = []
    for link_id, pid, fid, kinds, consent_id, categories, fname, flocale, pname in rows:
        allowed = frozenset(kinds or ()) & frozenset(categories or ())
        if allowed:
            found.append(
                Listener(link_id, pid, fid, allowed, consent_id, fname, flocale, pname, (fid, "milestone") not in off)
            )
    return found


@lru_cache(maxsize=32)
def _listeners_read(dialect_name: str, include_paused: bool, one_family: bool, some_patients: bool) -> Select[Any]:
    """`listeners`' read, built once per shape (building it cost more than running it: a family page made it each
    time); `now`, `family_id` and `ids` are bound at each run."""
    family, patient = aliased(User), aliased(User)
    now: BindParameter[Any] = bindparam("now")
    newest = (
        select(col(Consent.patient_id), col(Consent.recipient_id), func.max(col(Consent.version)).label("version"))
        .where(col(Consent.recipient_kind) == "family", col(Consent.signed_at) <= now)
        .group_by(col(Consent.patient_id), col(Consent.recipient_id))
        .subquery()
    )
    query: Select[Any] = (
        select(
            col(FamilyLink.id),
            col(FamilyLink.patient_id),
            col(FamilyLink.family_id),
            col(FamilyPreference.kinds),
            col(Consent.id),
            col(Consent.categories),
            col(family.display_name),
            col(family.locale),
            col(patient.display_name),
        )
        .join(FamilyPreference, col(FamilyPreference.link_id) == col(FamilyLink.id))
        .join(
            newest,
            and_(newest.c.patient_id == col(FamilyLink.patient_id), newest.c.recipient_id == col(FamilyLink.family_id)),
        )
        .join(
            Consent,
            and_(
                col(Consent.patient_id) == newest.c.patient_id,
                col(Consent.recipient_id) == newest.c.recipient_id,
                col(Consent.version) == newest.c.version,
            ),
        )
        .join(family, col(family.id) == col(FamilyLink.family_id))
        .join(patient, col(patient.id) == col(FamilyLink.patient_id))
        .where(
            or_(col(Consent.revoked_at).is_(None), col(Consent.revoked_at) > now),
            col(Consent.starts_at) <= now,
            col(Consent.ends_at) > now,
        )
    )
    if not include_paused:
        query = query.where(col(FamilyPreference.paused).is_(False))
    if one_family:
        query = query.where(col(FamilyLink.family_id) == bindparam("family_id"))
    if some_patients:
        query = query.where(among_given(dialect_name, col(FamilyLink.patient_id), "ids"))
    return query


# -- fan-out -----------------------------------------------------------------------------------------------------


async def fan_out_many(db: AsyncSession, milestones: Sequence[MilestoneLike], now: datetime | None = None) -> int:
    """Feed rows, pushes and disclosure-log rows for newly recorded milestones. Returns notifications made.

    Runs in the caller's transaction, right after the milestones were recorded by that same transaction, so a
    milestone is fanned out by exactly one process."""
    now = now or utcnow()
    if not milestones:
        return 0
    by_patient: dict[int, list[MilestoneLike]] = defaultdict(list)
    for milestone in milestones:
        by_patient[milestone.patient_id].append(milestone)
    # Everyone linked when thousands of patients are involved (one scan), else just these patients.
    wanted = None if len(by_patient) > 1000 else list(by_patient)
    pairs: list[tuple[MilestoneLike, Listener]] = []
    for listener in await listeners(db, now, patient_ids=wanted):
        for milestone in by_patient.get(listener.patient_id, ()):
            if milestone.kind in listener.kinds:
                pairs.append((milestone, listener))
    pairs = await _never_reveal_a_reset(db, pairs)
    if not pairs:
        return 0
    rows = [
        {"milestone_id": m.id, "family_id": who.family_id, "created_at": now, "pushed_at": now if who.push_on else None}
        for m, who in pairs
    ]
    stmt = (
        dialect_insert(db, NOTIFICATIONS)
        .on_conflict_do_nothing(index_elements=["milestone_id", "family_id"])
        .returning(NOTIFICATIONS.c.id, NOTIFICATIONS.c.milestone_id, NOTIFICATIONS.c.family_id)
    )
    made: dict[tuple[int, int], int] = {(mid, fid): nid for nid, mid, fid in await db.execute(stmt, rows)}
    specs: list[ReminderSpec] = []
    logs: list[dict[str, Any]] = []
    for milestone, who in pairs:
        nid = made.get((pk(milestone), who.family_id))
        if nid is None:
            continue
        logs.append(
            {
                "patient_id": milestone.patient_id,
                "viewer_id": who.family_id,
                "viewer_name": who.family_name[:120],
                "consent_id": who.consent_id,
                "kind": "notification",
                "subject": f"{DISCLOSURE_SUBJECT}{milestone.id}",
                "at": now,
            }
        )
        if who.push_on:
            with in_locale(who.family_locale):
                title = rules.headline(milestone.kind, milestone.value, milestone.run_key, who.patient_name)
                body = rules.push_body(milestone.kind)
            specs.append(
                ReminderSpec(
                    user_id=who.family_id,
                    kind="milestone",
                    dedupe_key=f"{PUSH_PREFIX}{nid}",
                    title=title,
                    body=body,
                    url="/family",
                    due_at=now,
                )
            )
    if specs:
        await enqueue_reminders(db, specs, now=now)
    if logs:
        await db.execute(DISCLOSURES.insert(), logs)
    return len(made)


async def known_counts(db: AsyncSession, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """(patient id, family id) → the highest sobriety length that family member could know (see `reveal`)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    query = (
        select(MILESTONES.c.patient_id, NOTIFICATIONS.c.family_id, MILESTONES.c.kind, MILESTONES.c.value,
               MILESTONES.c.message)
        .join(NOTIFICATIONS, NOTIFICATIONS.c.milestone_id == MILESTONES.c.id)
        .where(
            MILESTONES.c.patient_id.in_(sorted({p for p, _ in wanted})),
            NOTIFICATIONS.c.family_id.in_(sorted({f for _, f in wanted})),
            MILESTONES.c.kind.in_([reveal.SOBER_KIND, reveal.GOOD_NEWS_KIND]),
        )
    )  # fmt: skip
    known: dict[tuple[int, int], int] = dict.fromkeys(wanted, 0)
    for pid, fid, kind, value, message in await db.execute(query):
        if (pid, fid) in known:
            known[(pid, fid)] = max(known[(pid, fid)], reveal.told(kind, value, message or ""))
    return known


async def _never_reveal_a_reset(
    db: AsyncSession, pairs: list[tuple[MilestoneLike, Listener]]
) -> list[tuple[MilestoneLike, Listener]]:
    """Drop automatic sober-days milestones that would show someone a count no higher than one they could know."""
    sober = [(m, who) for m, who in pairs if m.kind == reveal.SOBER_KIND]
    if not sober:
        return pairs
    known = await known_counts(db, [(m.patient_id, who.family_id) for m, who in sober])
    kept: list[tuple[MilestoneLike, Listener]] = []
    for milestone, who in sorted(pairs, key=lambda p: (p[0].kind != reveal.SOBER_KIND, _count(p[0]))):
        key = (milestone.patient_id, who.family_id)
        if milestone.kind == reveal.SOBER_KIND:
            if not reveal.may_announce(milestone.kind, milestone.value, known.get(key, 0)):
                continue
            known[key] = int(milestone.value)
        kept.append((milestone, who))
    return kept


def _count(milestone: MilestoneLike) -> int:
    return int(milestone.value) if milestone.value.isdigit() else 0


async def fan_out(db: AsyncSession, milestone: MilestoneLike, now: datetime | None = None) -> int:
    """Tell every family member who may hear about this milestone (see :func:`fan_out_many`)."""
    return await fan_out_many(db, [milestone], now)


async def record_and_fan_out(
    db: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime | None = None
) -> tuple[int, int]:
    """(milestones recorded, notifications made) for candidate rows from a detector."""
    made = await record_milestones(db, rows)
    return len(made), await fan_out_many(db, made, now)
