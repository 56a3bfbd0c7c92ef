"""Eight weeks of believable check-ins and cravings for the demo patients (sam, jordan, casey), with one
restart of a sober-days count (jordan), so the Today, Log, Progress and Sober pages have something to show."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server import localtime as dates
from server.accounts.models import User
from server.checkins.measures import MEASURES
from server.checkins.models import (
    CheckIn,
    CheckInPreference,
    CravingLog,
    SoberReset,
    SobrietyDate,
    TriggerHit,
    TriggerPreference,
)
from server.db import pk

DAYS = 56
NOTES = (
    "Group helped today.",
    "Hard evening, but I got through it.",
    "Called my sponsor.",
    "Slept badly, feeling flat.",
    "Went for a walk after work.",
    "",
    "",
    "",
)


def _at(user: User, day: date, hour: int, minute: int = 0) -> datetime:
    return dates.from_local_naive(user, datetime.combine(day, time(hour, minute)))


def _key() -> str:
    return str(uuid.uuid4())


async def _history(
    db: AsyncSession,
    user: User,
    rng: random.Random,
    *,
    base_mood: float,
    trend: float,
    skip_every: int,
    use_days: set[int],
    triggers: tuple[str, ...],
    diary: bool,
) -> None:
    assert user.id is not None
    today = dates.local_today(user)
    for offset in range(DAYS, 0, -1):
        day = today - timedelta(days=offset)
        progress = (DAYS - offset) / DAYS
        used = offset in use_days
        if offset % skip_every == 3 and not used:
            continue  # a missed day now and then
        mood = round(min(10, max(0, base_mood + trend * progress + rng.uniform(-1.8, 1.8) - (3 if used else 0))))
        craving = round(min(10, max(0, 6 - trend * progress * 0.8 + rng.uniform(-2, 2) + (3 if used else 0))))
        picked = sorted(set(rng.sample(triggers, k=rng.randint(0, 2))))
        created = _at(user, day, 20, rng.randint(0, 59))
        late = offset % 11 == 0
        if late:
            created = _at(user, day + timedelta(days=1), 9)
        row = CheckIn(
            user_id=user.id,
            local_date=day,
            mood=mood,
            craving=craving,
            triggers=picked,
            used=used,
            substances="alcohol" if used else "",
            late=late,
            client_created_at=created,
            created_at=created,
            updated_at=created,
            idempotency_key=_key(),
        )
        # Every other measure from its demo values in the spec (the diary card's only for diary-card users).
        for measure in MEASURES:
            if measure.demo is not None and (diary or measure.group != "diary"):
                setattr(row, measure.name, measure.demo(rng, used))
        row.note = rng.choice(NOTES)
        row.diary = diary
        db.add(row)
        await db.flush()
        for trigger_id in picked:
            db.add(TriggerHit(user_id=user.id, local_date=day, trigger_id=trigger_id, intensity=craving,
                              checkin_id=row.id))  # fmt: skip
        for _n in range(rng.choice((0, 0, 1, 1, 2))):
            intensity = rng.randint(3, 9)
            occurred = _at(user, day, rng.randint(9, 22), rng.randint(0, 59))
            action = rng.choice(("skill", "skill", "called", "left", "nothing"))
            log = CravingLog(
                user_id=user.id,
                occurred_at=occurred,
                local_date=day,
                intensity=intensity,
                triggers=picked[:1],
                where_with=rng.choice(("home", "work", "with friends", "")),
                action=action,
                skill_card_id=rng.choice(("urge-surfing", "tipp", "stop")) if action == "skill" else None,
                outcome="used" if used and _n == 0 else "passed",
                intensity_after=max(0, intensity - rng.randint(2, 6)),
                idempotency_key=_key(),
                payload_hash="demo",
                created_at=occurred,
            )
            db.add(log)
            await db.flush()
            for trigger_id in log.triggers:
                db.add(TriggerHit(user_id=user.id, local_date=day, trigger_id=trigger_id, intensity=intensity,
                                  craving_id=log.id))  # fmt: skip


async def load_checkins_demo(db: AsyncSession, people: dict[str, Any]) -> None:
    rng = random.Random(20261123)
    sam: User = people["sam@demo.steady"]
    jordan: User = people["jordan@demo.steady"]
    casey: User = people["casey@demo.steady"]
    halt = ("hungry", "angry", "lonely", "tired", "stress", "boredom", "people", "places")

    await _history(db, sam, rng, base_mood=4.5, trend=3.0, skip_every=9, use_days=set(), triggers=halt, diary=False)
    today = dates.local_today(sam)
    db.add(SobrietyDate(user_id=pk(sam), substance="", started_on=today - timedelta(days=97)))
    db.add(TriggerPreference(user_id=pk(sam), custom=[{"id": "custom-payday", "label": "Payday"}],
                             hidden=["social-media"]))  # fmt: skip

    # Jordan used 19 days ago, confirmed the restart and wrote down what they learned.
    await _history(db, jordan, rng, base_mood=5.0, trend=1.5, skip_every=6, use_days={19}, triggers=halt, diary=True)
    today = dates.local_today(jordan)
    first_start = today - timedelta(days=19 + 64)
    db.add(SobrietyDate(user_id=pk(jordan), substance="", started_on=today - timedelta(days=19)))
    db.add(
        SoberReset(
            user_id=pk(jordan),
            substance="",
            reset_on=today - timedelta(days=19),
            previous_started_on=first_start,
            previous_days=64,
            note="A wedding with an open bar and no plan to leave early. Next time: bring my own drinks and a "
            "friend who knows, and leave by 9.",
        )
    )
    db.add(CheckInPreference(user_id=pk(jordan), diary_card=True))

    await _history(db, casey, rng, base_mood=6.0, trend=0.5, skip_every=4, use_days=set(), triggers=halt, diary=False)
    today = dates.local_today(casey)
    db.add(SobrietyDate(user_id=pk(casey), substance="", started_on=today - timedelta(days=30)))
    db.add(SobrietyDate(user_id=pk(casey), substance="cannabis", started_on=today - timedelta(days=12)))
    await db.flush()
