"""Demo questionnaires: the three demo patients get the PHQ-9 and GAD-7 every 2 weeks and the BAM-IOP weekly,
started 8 weeks ago, with results that ease over the program; Sam's latest PHQ-9 answers item 9 with "Several
days", so the therapist's dashboard shows a same-day follow-up (Sam shares questionnaires with Dr. Rivera)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.db import pk, utcnow
from server.localtime import local_today
from server.questionnaires import service
from server.questionnaires.instruments import all_instruments
from server.questionnaires.models import Response
from server.questionnaires.scoring import score

PATIENTS = ("sam@demo.steady", "jordan@demo.steady", "casey@demo.steady")
WEEKS = 8


async def load_questionnaires_demo(db: AsyncSession, people: dict[str, User]) -> None:
    rng = random.Random(13)
    now = utcnow()
    for n, email in enumerate(PATIENTS):
        patient = people[email]
        start = local_today(patient, now) - timedelta(weeks=WEEKS)
        for code, cadence, step in (("phq9", "biweekly", 14), ("gad7", "biweekly", 14), ("bam_iop", "weekly", 7)):
            await service.assign(db, pk(patient), code, cadence, start, None, None)
            instrument = all_instruments()[code]
            days = list(range(0, WEEKS * 7, step))
            for k, offset in enumerate(days):
                day = start + timedelta(days=offset)
                level = max(0.0, 2.2 - 1.6 * k / max(len(days) - 1, 1) - 0.3 * n)  # easing over the program
                answers: dict[str, int] = {}
                for item in instrument.items:
                    if item.ask_if_above is not None and answers.get(item.ask_if_above[0], 0) <= item.ask_if_above[1]:
                        continue
                    values = sorted(item.values)
                    answers[item.id] = values[min(len(values) - 1, max(0, round(level + rng.uniform(-0.6, 0.6))))]
                if code == "phq9":
                    answers["9"] = 1 if (email == PATIENTS[0] and k == len(days) - 1) else 0
                if code == "bam_iop":
                    for protective in ("9", "10", "12", "13", "16"):  # supports grow as the program goes on
                        answers[protective] = min(4, 1 + k // 2)
                    answers["14"] = 4
                result = score(instrument, answers)
                at = datetime.combine(day, time(19, 0), tzinfo=UTC)
                db.add(
                    Response(
                        user_id=pk(patient), instrument=code, instrument_version=instrument.version,
                        status="complete", answers=answers, idempotency_key=service.new_key(),
                        payload_hash=service.payload_hash(code, answers), due_on=day, local_date=day,
                        total=result.total, score=result.as_json(), safety=result.safety,
                        started_at=at, updated_at=at, completed_at=at,
                    )
                )  # fmt: skip
    await db.flush()
