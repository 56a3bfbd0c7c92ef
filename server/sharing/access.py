"""The one door to shared data. Every therapist read (dashboard, a patient's week, PDF/CSV exports, homework)
goes through `require_shared_views`, which answers only for patients who share with this therapist right now,
in the same clinic, within the consent's window, and writes the access-log rows in the caller's transaction.

Anything not allowed looks exactly like a page that doesn't exist (404): no hint that the patient exists.
Category choices come only from the consent on record, never from the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any

from litestar.exceptions import NotFoundException
from sqlalchemy import Integer, Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import CareTeam, Role, User
from server.consent.models import Consent
from server.consent.service import as_utc, in_force, newest_versions, record_disclosures
from server.db import among_given, loaded, pk, read_rows, table_of, utcnow
from server.sharing.summary import WeekRequest
from server.sharing.weeks import Week, local_today


@dataclass(frozen=True)
class AccessGrant:
    patient: User
    consent: Consent
    week: Week  # the week asked for (or the patient's current week)
    today: date  # the patient's local today
    now: datetime

    # Remembered: a dashboard asks each of its hundred grants for these a dozen times, and each ORM attribute read
    # costs more than the lookup (the grant is frozen, and a patient's id and a consent's categories don't change).
    @cached_property
    def patient_id(self) -> int:
        return pk(self.patient)

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset(self.consent.categories)

    @property
    def data_from(self) -> date:
        return self.consent.data_from

    @property
    def first_week(self) -> Week:
        return Week.of(self.data_from)

    @property
    def current_week(self) -> Week:
        return Week.of(self.today)

    def week_request(
        self, week: Week | None = None, *, history_days: int = 0, brief: bool = False, flags: bool = True
    ) -> WeekRequest:
        return WeekRequest(
            patient_id=self.patient_id,
            timezone=self.patient.timezone,
            week=week or self.week,
            categories=self.categories,
            data_from=self.data_from,
            today=self.today,
            now=self.now,
            history_days=history_days,
            brief=brief,
            flags=flags,
        )

    def visible(self, week: Week) -> bool:
        """Whether any day of `week` lies inside the consent's window (data_from … today)."""
        return week.sunday >= self.data_from and week.monday <= self.today


async def require_shared_views(
    db: AsyncSession,
    viewer: User,
    *,
    patient_ids: Sequence[int] | None = None,
    week: str | None = None,
    kind: str | None,
    category: str | None = None,
    now: datetime | None = None,
) -> list[AccessGrant]:
    """Grants for the patients (all sharing patients when `patient_ids` is None) this viewer may see now: on the
    viewer's care team, in the viewer's clinic, with a consent to this viewer in force (signed, not expired, not
    revoked, not replaced) and, when `category` is given, that category granted; only weeks inside the consent's
    data window.

    `week` is an ISO week label ('2026-W47'); patients for whom it falls outside the consent window are left
    out. With `kind` set ('summary_view', 'export_pdf', 'export_csv', 'dashboard'), one access-log row per
    grant is added to the session, to commit with the read. One read (and one INSERT), whatever the number of
    patients.
    """
    now = as_utc(now or utcnow())
    if viewer.role != Role.THERAPIST or viewer.id is None:
        return []
    wanted: Week | None = None
    if week is not None:
        wanted = Week.parse(week)
        if wanted is None:
            return []
    grants: list[AccessGrant] = []
    for consent, patient in await _shared_with(db, viewer, now, patient_ids):
        if category is not None and category not in consent.categories:
            continue
        today = local_today(patient.timezone, now)
        grant = AccessGrant(patient=patient, consent=consent, week=wanted or Week.of(today), today=today, now=now)
        if grant.visible(grant.week):
            grants.append(grant)
    grants.sort(key=lambda g: (g.patient.display_name.casefold(), g.patient_id))
    if kind is not None and grants:
        await record_disclosures(
            db,
            [(g.patient_id, g.consent.id, g.week.label) for g in grants],
            viewer=viewer,
            kind=kind,
            at=now,
        )
    return grants


async def _shared_with(
    db: AsyncSession, viewer: User, now: datetime, patient_ids: Sequence[int] | None
) -> list[tuple[Consent, User]]:
    """Each patient sharing with this therapist now, with the consent in force (`active_consent`'s rule: the newest
    version signed by now, not revoked, within its dates): patients on the therapist's care team, in their clinic.
    One read of plain columns on the reader, made into detached model instances (`loaded`): a dashboard reads a
    hundred of each, and the ORM's loading cost more than everything else in this function."""
    params: dict[str, Any] = {"viewer": viewer.id, "at": now, "clinic": viewer.clinic_id}
    if patient_ids is not None:
        params["ids"] = list(patient_ids) or [-1]
    statement = _shared_with_read(db.get_bind().dialect.name, patient_ids is not None)
    split = len(_CONSENT_COLUMNS)
    found = []
    for row in await read_rows(db, statement, params):
        consent = loaded(Consent, dict(zip(_CONSENT_COLUMNS, row[:split], strict=True)))
        if in_force(consent, now) is not None:
            found.append((consent, loaded(User, dict(zip(_USER_COLUMNS, row[split:], strict=True)))))
    return found


_CONSENT_COLUMNS = tuple(column.key for column in table_of(Consent).columns)
_USER_COLUMNS = tuple(column.key for column in table_of(User).columns)


@lru_cache(maxsize=8)
def _shared_with_read(dialect_name: str, some: bool) -> Select[Any]:
    """Each patient's newest consent to the therapist signed by `at` (`active_consents`' read), with the patient when
    on the therapist's care team in their clinic; `some`: only the patients `ids`."""
    consent_table, user_table = table_of(Consent), table_of(User)
    consents, users, team = consent_table.c, user_table.c, table_of(CareTeam).c
    viewer = bindparam("viewer", type_=Integer)
    newest = newest_versions(viewer, bindparam("at"))
    if some:
        newest = newest.where(among_given(dialect_name, consents.patient_id, "ids"))
    latest = newest.subquery()
    return (
        select(*consents, *users)
        .join(latest, and_(consents.patient_id == latest.c.patient_id, consents.version == latest.c.version))
        .join(user_table, users.id == consents.patient_id)
        .where(
            consents.recipient_id == viewer,
            consents.recipient_kind == "therapist",
            users.id.in_(select(team.patient_id).where(team.therapist_id == viewer)),
            users.role == Role.PATIENT,
            users.clinic_id == bindparam("clinic"),
        )
    )


async def require_shared_view(
    db: AsyncSession,
    viewer: User,
    patient_id: int,
    week: str | None = None,
    *,
    kind: str | None,
    category: str | None = None,
    now: datetime | None = None,
) -> AccessGrant:
    """One patient-week, or 404."""
    grants = await require_shared_views(
        db, viewer, patient_ids=[patient_id], week=week, kind=kind, category=category, now=now
    )
    if not grants:
        raise NotFoundException()
    return grants[0]
