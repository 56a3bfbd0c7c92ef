"""Pushes sharing sends: homework for the patient, "please look at my week" for the therapist.

Lock screens are public: the words say what to do, never anything about health, and never the patient's name
on a therapist's phone (a name next to "your patient" discloses treatment).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.db import pk
from server.i18n import gettext as _
from server.i18n import using_locale
from server.push.service import enqueue_reminder


async def homework_reminder(db: AsyncSession, patient: User, assignment_id: int) -> int | None:
    with using_locale(patient.locale):
        title = _("A skill to practise")
        body = _("Your therapist picked a skill card for you. Open Steady to try it.")
    return await enqueue_reminder(
        db,
        user_id=pk(patient),
        kind="homework",
        dedupe_key=f"homework:{assignment_id}",
        title=title,
        body=body,
        url="/skills#assigned",
    )


async def nudge_therapist(db: AsyncSession, therapist: User, patient_id: int, day: date) -> int | None:
    with using_locale(therapist.locale):
        title = _("A patient asked you to look at their week")
        body = _("Open Steady to see who.")
    return await enqueue_reminder(
        db,
        user_id=pk(therapist),
        kind="nudge",
        dedupe_key=f"nudge:{patient_id}:{day.isoformat()}",
        title=title,
        body=body,
        url="/therapist?flag=nudge",
    )
