"""Demo sharing: Sam shares everything but notes with Dr. Rivera, Jordan shares mood, cravings and attendance;
Casey shares nothing (so the dashboard shows the difference). One piece of homework for Sam."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.consent.forms import ends_label_for
from server.consent.service import local_midnight_after, sign_consent
from server.consent.wording import consent_sections, plain_text
from server.db import pk, utcnow
from server.localtime import local_today
from server.sharing.patient import consent_spec
from server.skills.logic import assign_card

DEMO_SHARES = {
    "sam@demo.steady": [
        "mood_sleep",
        "cravings_triggers",
        "substance_use",
        "diary_card",
        "skill_practice",
        "attendance",
        "questionnaires",
    ],
    "jordan@demo.steady": ["mood_sleep", "cravings_triggers", "attendance"],
}


async def load_sharing_demo(db: AsyncSession, people: dict[str, User]) -> None:
    therapist = people["therapist@demo.steady"]
    now = utcnow()
    for email, categories in DEMO_SHARES.items():
        patient = people[email]
        today = local_today(patient, now)
        spec = await consent_spec(db, patient, therapist)
        ends_on = today + timedelta(days=120)
        data_from = today - timedelta(days=56)
        terms = spec.terms.with_choices(
            chosen=frozenset(categories),
            data_from=data_from,
            ends_label=ends_label_for(ends_on, False),
            signature=patient.display_name,
            signed_on=today,
        )
        await sign_consent(
            db,
            patient=patient,
            recipient=therapist,
            recipient_kind="therapist",
            categories=categories,
            purpose=spec.terms.purpose,
            data_from=data_from,
            ends_at=local_midnight_after(patient, ends_on),
            wording=plain_text(spec.heading, consent_sections(terms)),
            signature=patient.display_name,
            now=now,
        )
    await assign_card(
        db,
        pk(people["sam@demo.steady"]),
        pk(therapist),
        "stop",
        "Try it before Thursday's group.",
    )
