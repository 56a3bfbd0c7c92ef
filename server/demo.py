"""A demo clinic for trying Steady: one admin, one therapist, three patients, one family member."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import CareTeam, Clinic, FamilyLink, Role, User
from server.accounts.passwords import hash_password
from server.db import pk
from server.settings import Settings

DEMO_PASSWORD = "steady-demo-2026"
DEMO_PEOPLE = (
    ("admin@demo.steady", "Alex (admin)", Role.ADMIN),
    ("therapist@demo.steady", "Dr. Rivera", Role.THERAPIST),
    ("sam@demo.steady", "Sam", Role.PATIENT),
    ("jordan@demo.steady", "Jordan", Role.PATIENT),
    ("casey@demo.steady", "Casey", Role.PATIENT),
    ("family@demo.steady", "Robin (Sam's sister)", Role.FAMILY),
)


async def load_demo(db: AsyncSession, settings: Settings) -> list[str]:
    """Create the demo people if they aren't there yet and print how to sign in."""
    lines = [f"\nDemo clinic on {settings.base_url} — every demo account uses the password {DEMO_PASSWORD}:"]
    existing = await db.scalar(select(User).where(col(User.email) == DEMO_PEOPLE[0][0]))
    if existing is None:
        clinic = await db.get(Clinic, 1)
        if clinic is None:
            clinic = Clinic(id=1, name="Demo Recovery Center", timezone="America/New_York", phone="+1-555-0100")
            db.add(clinic)
            await db.flush()
        people: dict[str, User] = {}
        password_hash = hash_password(DEMO_PASSWORD)
        for email, name, role in DEMO_PEOPLE:
            person = User(
                clinic_id=pk(clinic),
                email=email,
                display_name=name,
                role=role,
                password_hash=password_hash,
                timezone="America/New_York",
            )
            db.add(person)
            people[email] = person
        await db.flush()
        therapist = people["therapist@demo.steady"]
        for email in ("sam@demo.steady", "jordan@demo.steady", "casey@demo.steady"):
            db.add(CareTeam(patient_id=pk(people[email]), therapist_id=pk(therapist)))
        db.add(
            FamilyLink(
                patient_id=pk(people["sam@demo.steady"]),
                family_id=pk(people["family@demo.steady"]),
                relationship_label="sister",
            )
        )
        await db.flush()
        for loader in DEMO_LOADERS:
            await loader(db, people)
    for email, name, role in DEMO_PEOPLE:
        lines.append(f"  {role.value:<9} {email:<24} ({name})")
    return lines


# Each domain adds a coroutine here that fills in its demo history: (db, people_by_email) -> None.
DEMO_LOADERS: list = []

from server.schedule.demo import load_schedule_demo  # noqa: E402  (registers after DEMO_LOADERS exists)

DEMO_LOADERS.append(load_schedule_demo)

from server.checkins.demo import load_checkins_demo  # noqa: E402  (registers after DEMO_LOADERS exists)

DEMO_LOADERS.append(load_checkins_demo)

from server.sharing.demo import load_sharing_demo  # noqa: E402  (registers after DEMO_LOADERS exists)

DEMO_LOADERS.append(load_sharing_demo)

from server.questionnaires.demo import load_questionnaires_demo  # noqa: E402  (registers after DEMO_LOADERS exists)

DEMO_LOADERS.append(load_questionnaires_demo)
