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
from functools import cached_property

from litestar.exceptions import NotFoundException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import CareTeam, Role, User
from server.consent.models import Consent
from server.consent.service import active_consents, as_utc, record_disclosures
from server.db import among, pk, utcnow
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
    grant is added to the session, to commit with the read. Three queries, whatever the number of patients.
    """
    now = as_utc(now or utcnow())
    if viewer.role != Role.THERAPIST or viewer.id is None:
        return []
    wanted: Week | None = None
    if week is not None:
        wanted = Week.parse(week)
        if wanted is None:
            return []
    consents = await active_consents(db, viewer.id, now, patient_ids=patient_ids, recipient_kind="therapist")
    if not consents:
        return []
    if category is not None:
        consents = {pid: c for pid, c in consents.items() if category in c.categories}
        if not consents:
            return []
    care_team = select(col(CareTeam.patient_id)).where(col(CareTeam.therapist_id) == viewer.id)
    patients = await db.scalars(
        select(User).where(
            among(db, col(User.id), consents),
            col(User.id).in_(care_team),
            col(User.role) == Role.PATIENT,
            col(User.clinic_id) == viewer.clinic_id,
        )
    )
    grants: list[AccessGrant] = []
    for patient in patients:
        consent = consents[pk(patient)]
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
