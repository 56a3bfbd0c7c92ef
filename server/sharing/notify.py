"""Pushes sharing sends: homework for the patient, "please look at my week" for the therapist.

Lock screens are public: the words say what to do, never anything about health, and never the patient's name
on a therapist's phone (a name next to "your patient" discloses treatment).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES, current_locale
from server.i18n import gettext as _
from server.push.service import enqueue_reminder


@contextmanager
def in_locale_of(user: User) -> Iterator[None]:
    """Write a message in the recipient's language, whatever the sender's."""
    token = current_locale.set(user.locale if user.locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        current_locale.reset(token)


async def homework_reminder(db: AsyncSession, patient: User, assignment_id: int) -> int | None:
    with in_locale_of(patient):
        title = _("A skill to practise")
        body = _("Your therapist picked a skill card for you. Open Steady to try it.")
    return await enqueue_reminder(
        db,
        user_id=patient.id,  # type: ignore[arg-type]
        kind="homework",
        dedupe_key=f"homework:{assignment_id}",
        title=title,
        body=body,
        url="/skills#assigned",
    )


async def nudge_therapist(db: AsyncSession, therapist: User, patient_id: int, day: date) -> int | None:
    with in_locale_of(therapist):
        title = _("A patient asked you to look at their week")
        body = _("Open Steady to see who.")
    return await enqueue_reminder(
        db,
        user_id=therapist.id,  # type: ignore[arg-type]
        kind="nudge",
        dedupe_key=f"nudge:{patient_id}:{day.isoformat()}",
        title=title,
        body=body,
        url="/therapist?flag=nudge",
    )
