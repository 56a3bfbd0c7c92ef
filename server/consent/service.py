"""Signing, reading, narrowing and revoking consents, and writing the disclosure log.

See the package docstring (``server/consent/__init__.py``) for the public API in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Insert, Integer, Select, String, and_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import User
from server.consent.models import DISCLOSURE_KINDS, RECIPIENT_KINDS, Consent, DisclosureLog
from server.db import pk, table_of, utcnow
from server.localtime import user_zone

NOTICE_FILE = Path(__file__).with_name("redisclosure_notice.txt")
MAX_DAYS = 365  # a consent lasts at most one year


@lru_cache(maxsize=1)
def redisclosure_notice() -> str:
    """The 42 CFR § 2.32 notice that goes with every disclosed page and file (kept verbatim in a text file)."""
    return " ".join(NOTICE_FILE.read_text(encoding="utf-8").split())


@lru_cache(maxsize=4)
def redisclosure_translation(locale: str) -> str | None:
    """The notice in the reader's language, shown alongside the English (which stays: it is the rule's text)."""
    path = NOTICE_FILE.with_name(f"redisclosure_notice.{locale}.txt")
    if locale == "en" or not path.is_file():
        return None
    return " ".join(path.read_text(encoding="utf-8").split())


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def local_midnight_after(user: User, day: date) -> datetime:
    """The UTC instant at which the patient's local `day` is over (a consent 'until 3 May' lasts all of 3 May)."""
    nxt = day + timedelta(days=1)
    return datetime.combine(nxt, time.min, tzinfo=user_zone(user)).astimezone(UTC)


def latest_end_date(today: date) -> date:
    """The last local day a consent signed on `today` may run to: one year, less a day."""
    try:
        year_on = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        year_on = today.replace(year=today.year + 1, day=28)
    return year_on - timedelta(days=1)


# --- reading -----------------------------------------------------------------------------------------------


def in_force(consent: Consent | None, at: datetime) -> Consent | None:
    """`consent` if it is in force at `at` (signed, not revoked by then, within its dates), else None."""
    if consent is None:
        return None
    if consent.revoked_at is not None and as_utc(consent.revoked_at) <= at:
        return None
    if not (as_utc(consent.starts_at) <= at < as_utc(consent.ends_at)):
        return None
    return consent


async def active_consent(
    db: AsyncSession, patient_id: int, recipient_id: int, at: datetime | None = None
) -> Consent | None:
    """The consent in force between this patient and recipient at `at` (default now), or None.

    The newest version signed by then is the one that counts (a new version supersedes the older ones); it is
    in force if `at` lies in [starts_at, ends_at) and it was not revoked by then. One query.
    """
    at = as_utc(at or utcnow())
    latest = await db.scalar(
        select(Consent)
        .where(
            col(Consent.patient_id) == patient_id,
            col(Consent.recipient_id) == recipient_id,
            col(Consent.signed_at) <= at,
        )
        .order_by(col(Consent.version).desc())
        .limit(1)
    )
    return in_force(latest, at)


def newest_versions(recipient: Any, at: Any) -> Select[int, int]:
    """Each patient's newest consent version to `recipient` signed by `at` (values, or bound parameters for a
    statement built once): (patient_id, version). Only that version can be in force (`in_force` tells)."""
    return (
        select(col(Consent.patient_id), func.max(col(Consent.version)).label("version"))
        .where(col(Consent.recipient_id) == recipient, col(Consent.signed_at) <= at)
        .group_by(col(Consent.patient_id))
    )


async def active_consents(
    db: AsyncSession,
    recipient_id: int,
    at: datetime | None = None,
    *,
    patient_ids: Sequence[int] | None = None,
    recipient_kind: str | None = None,
) -> dict[int, Consent]:
    """patient id → consent in force for this recipient, for every patient sharing with them. One query."""
    at = as_utc(at or utcnow())
    newest = newest_versions(recipient_id, at)
    if patient_ids is not None:
        newest = newest.where(col(Consent.patient_id).in_(list(patient_ids) or [-1]))
    sub = newest.subquery()
    query = select(Consent).join(
        sub,
        and_(
            col(Consent.patient_id) == sub.c.patient_id,
            col(Consent.version) == sub.c.version,
            col(Consent.recipient_id) == recipient_id,
        ),
    )
    if recipient_kind is not None:
        query = query.where(col(Consent.recipient_kind) == recipient_kind)
    found: dict[int, Consent] = {}
    for consent in await db.scalars(query):
        if in_force(consent, at) is not None:
            found[consent.patient_id] = consent
    return found


async def allowed_categories(
    db: AsyncSession, patient_id: int, recipient_id: int, at: datetime | None = None
) -> frozenset[str]:
    """The categories this recipient may see right now (empty when nothing is shared)."""
    consent = await active_consent(db, patient_id, recipient_id, at)
    return frozenset(consent.categories) if consent is not None else frozenset()


async def current_consent(db: AsyncSession, patient_id: int, recipient_id: int) -> Consent | None:
    """The newest version for this pair whatever its state (to pre-fill "change what I share")."""
    return await db.scalar(
        select(Consent)
        .where(col(Consent.patient_id) == patient_id, col(Consent.recipient_id) == recipient_id)
        .order_by(col(Consent.version).desc())
        .limit(1)
    )


@dataclass(frozen=True)
class ConsentRow:
    consent: Consent
    recipient_name: str
    state: str  # see Consent.state


async def consents_for_patient(
    db: AsyncSession, patient_id: int, *, recipient_kind: str | None = None, now: datetime | None = None
) -> list[ConsentRow]:
    """Every consent the patient ever signed (newest first), with the recipient's name and state. One query."""
    now = as_utc(now or utcnow())
    query = (
        select(Consent, col(User.display_name))
        .join(User, col(User.id) == col(Consent.recipient_id))
        .where(col(Consent.patient_id) == patient_id)
        .order_by(col(Consent.signed_at).desc(), col(Consent.version).desc())
    )
    if recipient_kind is not None:
        query = query.where(col(Consent.recipient_kind) == recipient_kind)
    rows = (await db.execute(query)).all()
    return [ConsentRow(consent=c, recipient_name=name, state=c.state(now)) for c, name in rows]


async def get_patient_consent(db: AsyncSession, patient_id: int, consent_id: int) -> Consent | None:
    consent = await db.get(Consent, consent_id)
    if consent is None or consent.patient_id != patient_id:
        return None
    return consent


# --- writing -----------------------------------------------------------------------------------------------


async def sign_consent(
    db: AsyncSession,
    *,
    patient: User,
    recipient: User,
    recipient_kind: str,
    categories: Iterable[str],
    purpose: str,
    data_from: date,
    ends_at: datetime,
    wording: str,
    signature: str,
    until_program_end: bool = False,
    locale: str = "en",
    now: datetime | None = None,
) -> Consent:
    """Store a new signed consent version and supersede the one it replaces (if still in force).

    Callers validate first (see `server.consent.forms`); this re-checks the hard limits and raises ValueError
    on a bug rather than storing a consent the law wouldn't accept.
    """
    if recipient_kind not in RECIPIENT_KINDS:
        raise ValueError(recipient_kind)
    now = as_utc(now or utcnow())
    ends_at = as_utc(ends_at)
    chosen = sorted(set(categories))
    if not chosen:
        raise ValueError("a consent needs at least one category")
    if ends_at <= now or ends_at > now + timedelta(days=MAX_DAYS + 1):
        raise ValueError("a consent runs for at most one year")
    if patient.clinic_id != recipient.clinic_id:
        raise ValueError("the recipient must belong to the patient's clinic")
    for _attempt in range(3):
        try:
            async with db.begin_nested():
                previous = await db.scalars(
                    select(Consent).where(
                        col(Consent.patient_id) == patient.id,
                        col(Consent.recipient_id) == recipient.id,
                        col(Consent.superseded_by_id).is_(None),
                        col(Consent.revoked_at).is_(None),
                        col(Consent.ends_at) > now,
                    )
                )
                replaced = list(previous)
                top = await db.scalar(
                    select(func.max(col(Consent.version))).where(
                        col(Consent.patient_id) == patient.id, col(Consent.recipient_id) == recipient.id
                    )
                )
                consent = Consent(
                    patient_id=pk(patient),
                    recipient_id=pk(recipient),
                    recipient_kind=recipient_kind,
                    version=(top or 0) + 1,
                    categories=chosen,
                    purpose=purpose,
                    data_from=data_from,
                    starts_at=now,
                    ends_at=ends_at,
                    until_program_end=until_program_end,
                    wording=wording,
                    signature=signature.strip(),
                    signed_at=now,
                    locale=locale,
                )
                db.add(consent)
                await db.flush()
                for old in replaced:
                    old.superseded_by_id = consent.id
                    db.add(old)
                await db.flush()
                return consent
        except IntegrityError:
            continue  # two signatures in the same instant took the same version number: number it again
    raise RuntimeError("could not number the consent version")


async def revoke(db: AsyncSession, *, patient_id: int, consent_id: int, now: datetime | None = None) -> Consent | None:
    """Revoke one of the patient's consents, effective from `now` (the very next request). None if it isn't theirs.

    Only the newest version of a pair is ever in force, so revoking it stops all sharing with that recipient;
    older, replaced versions stay as they were for the record. Revoking twice keeps the first time.
    """
    consent = await get_patient_consent(db, patient_id, consent_id)
    if consent is None:
        return None
    now = as_utc(now or utcnow())
    # A discharge may have set an end later today (the program's last day): revoking still ends it now.
    if consent.revoked_at is None or as_utc(consent.revoked_at) > now:
        consent.revoked_at = now
        consent.ended_with_program = False
        db.add(consent)
        await db.flush()
    return consent


async def revoke_all_for_recipient(
    db: AsyncSession, *, patient_id: int, recipient_id: int, now: datetime | None = None
) -> int:
    """Revoke every consent from this patient to this recipient (e.g. a family link removed). Returns how many."""
    now = as_utc(now or utcnow())
    rows = list(
        await db.scalars(
            select(Consent).where(
                col(Consent.patient_id) == patient_id,
                col(Consent.recipient_id) == recipient_id,
                col(Consent.revoked_at).is_(None),
            )
        )
    )
    for row in rows:
        row.revoked_at = now
        db.add(row)
    await db.flush()
    return len(rows)


async def end_with_program(db: AsyncSession, patient: User, last_day: date) -> list[Consent]:
    """A discharge: every therapist consent the patient signed "until the end of my program" that is still in
    force ends when the program's last local day is over (a late record ends it from that day). Consents with a date the
    patient chose, and family consents, run on as chosen. Returns the consents ended (flushed, not committed)."""
    assert patient.id is not None
    end = local_midnight_after(patient, last_day)
    rows = list(
        await db.scalars(
            select(Consent).where(
                col(Consent.patient_id) == patient.id,
                col(Consent.recipient_kind) == "therapist",
                col(Consent.until_program_end).is_(True),
                col(Consent.superseded_by_id).is_(None),
                col(Consent.revoked_at).is_(None),
            )
        )
    )
    ended = []
    for consent in rows:
        if as_utc(consent.ends_at) <= end:
            continue  # over by then anyway
        consent.revoked_at = end
        consent.ended_with_program = True
        db.add(consent)
        ended.append(consent)
    await db.flush()
    return ended


# --- the disclosure log ----------------------------------------------------------------------------------


def _log_row(
    *, patient_id: int, viewer: User | None, kind: str, subject: str, consent_id: int | None, at: datetime
) -> DisclosureLog:
    if kind not in DISCLOSURE_KINDS:
        raise ValueError(kind)
    return DisclosureLog(
        patient_id=patient_id,
        viewer_id=viewer.id if viewer is not None else None,
        viewer_name=(viewer.display_name if viewer is not None else "")[:120],
        consent_id=consent_id,
        kind=kind,
        subject=subject[:80],
        at=at,
    )


async def record_disclosure(
    db: AsyncSession,
    *,
    patient_id: int,
    viewer: User | None,
    kind: str,
    subject: str = "",
    consent_id: int | None = None,
    at: datetime | None = None,
) -> DisclosureLog:
    """Write one access-log row in the caller's transaction (so it commits, or rolls back, with the read)."""
    row = _log_row(
        patient_id=patient_id,
        viewer=viewer,
        kind=kind,
        subject=subject,
        consent_id=consent_id,
        at=as_utc(at or utcnow()),
    )
    db.add(row)
    await db.flush()
    return row


async def record_disclosures(
    db: AsyncSession,
    rows: Iterable[tuple[int, int | None, str]],
    *,
    viewer: User | None,
    kind: str,
    at: datetime | None = None,
) -> int:
    """Many log rows at once — (patient_id, consent_id, subject) each — in one statement (the dashboard's case)."""
    at = as_utc(at or utcnow())
    if kind not in DISCLOSURE_KINDS:
        raise ValueError(kind)
    shown = [(patient_id, consent_id, subject[:80]) for patient_id, consent_id, subject in rows]
    if not shown:
        return 0
    each = {"viewer_id": viewer.id if viewer is not None else None, "kind": kind, "at": at,
            "viewer_name": (viewer.display_name if viewer is not None else "")[:120]}  # fmt: skip
    if db.get_bind().dialect.name == "postgresql":
        patient_ids, consent_ids, subjects = (list(column) for column in zip(*shown, strict=True))
        await db.execute(
            _DISCLOSURES_FROM_ARRAYS,
            {**each, "patient_ids": patient_ids, "consent_ids": consent_ids, "subjects": subjects},
        )
    else:
        # Plain rows for a Core executemany on the table (no per-row model validation, and not the ORM's bulk
        # insert, ~0.4 ms more for a hundred rows): one round trip however many rows.
        await db.execute(
            insert(table_of(DisclosureLog)),
            [{**each, "patient_id": p, "consent_id": c, "subject": s} for p, c, s in shown],
        )
    return len(shown)


def _disclosures_from_arrays() -> Insert:
    """On PostgreSQL the rows travel as three arrays (`INSERT … SELECT … FROM unnest(…)`): a fixed statement with
    seven parameters, where an executemany of a hundred rows renders and encodes seven hundred each time (the
    dashboard's log was its costliest statement, ~7 ms)."""
    log = table_of(DisclosureLog)
    each = (
        func.unnest(
            bindparam("patient_ids", type_=ARRAY(Integer)),
            bindparam("consent_ids", type_=ARRAY(Integer)),
            bindparam("subjects", type_=ARRAY(String)),
        )
        .table_valued("patient_id", "consent_id", "subject")
        .render_derived()
    )
    shared = {name: bindparam(name, type_=log.c[name].type) for name in ("viewer_id", "viewer_name", "kind", "at")}
    return insert(log).from_select(
        ["patient_id", "consent_id", "subject", *shared],
        select(each.c.patient_id, each.c.consent_id, each.c.subject, *shared.values()),
    )


_DISCLOSURES_FROM_ARRAYS = _disclosures_from_arrays()


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    viewer_name: str
    kind: str
    subject: str


async def disclosures_for_patient(db: AsyncSession, patient_id: int, *, limit: int = 200) -> list[LogEntry]:
    """The patient's access log, newest first."""
    rows = await db.scalars(
        select(DisclosureLog)
        .where(col(DisclosureLog.patient_id) == patient_id)
        .order_by(col(DisclosureLog.at).desc(), col(DisclosureLog.id).desc())
        .limit(limit)
    )
    return [LogEntry(at=as_utc(r.at), viewer_name=r.viewer_name, kind=r.kind, subject=r.subject) for r in rows]
