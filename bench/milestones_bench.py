"""Family milestones figure: time to detect and fan out the milestones of 10,000 patients in one daily evaluation
run (`evaluate_all`), and the number of SQL queries it makes.

Every patient has one family member with every kind of news switched on (a consent in force), an overall
sobriety date, 40 days of check-ins with gaps, and an enrolment in one of 20 four-phase programs. Two scenarios:

* ``mixed`` — sobriety dates spread over ~2 years and random check-in gaps, so some patients have news today;
* ``all``   — the worst case: every patient reaches 30 days sober and a 7-day streak today.

Each first run (which also catches up on the past week's news) is followed by a second run at the same moment
(nothing new to record) and a run one day later (that day's news only: the steady daily cost).

    .venv/bin/python bench/milestones_bench.py                    # SQLite, both scenarios
    .venv/bin/python bench/milestones_bench.py --pg               # PostgreSQL: TEST_DATABASE_URL, else the
                                                                  # scratch database steady_bench_family
    .venv/bin/python bench/milestones_bench.py --patients 2000 --scenario all
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.accounts.models import Clinic, FamilyLink, User
from server.checkins.models import CheckIn, SobrietyDate
from server.consent.models import Consent
from server.db import migrate
from server.family.models import KINDS, FamilyPreference
from server.milestones import evaluate_all
from server.schedule.models import Enrolment, Program, ProgramPhase

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/steady_bench_family"
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London")
CHUNK = 2000


async def _reset_pg(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _bulk(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> None:
    table = model.__table__
    async with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            await conn.execute(insert(table), rows[start : start + CHUNK])


async def seed(engine: AsyncEngine, patients: int, scenario: str, now: datetime, rng: random.Random) -> dict[str, int]:
    await _bulk(engine, Clinic, [{"id": 1, "name": "Bench clinic", "timezone": "America/New_York", "phone": "",
                                   "settings": {}, "created_at": now}])  # fmt: skip
    users: list[dict[str, Any]] = []
    for i in range(patients):
        zone = ZONES[i % len(ZONES)]
        for role, who in (("patient", "p"), ("family", "f")):
            users.append({"id": 2 * i + (1 if role == "patient" else 2), "clinic_id": 1, "role": role,
                          "email": f"{who}{i}@bench.example", "display_name": f"{who.upper()} {i}",
                          "password_hash": "x", "timezone": zone, "locale": "en", "phone": "",
                          "created_at": now})  # fmt: skip
    await _bulk(engine, User, users)
    patient_ids = [2 * i + 1 for i in range(patients)]
    await _bulk(engine, FamilyLink, [{"id": i + 1, "patient_id": pid, "family_id": pid + 1, "relationship_label": "",
                                      "created_at": now} for i, pid in enumerate(patient_ids)])  # fmt: skip
    await _bulk(engine, FamilyPreference, [{"link_id": i + 1, "kinds": list(KINDS), "paused": False, "updated_at": now}
                                           for i in range(patients)])  # fmt: skip
    await _bulk(
        engine,
        Consent,
        [
            {"patient_id": pid, "recipient_id": pid + 1, "recipient_kind": "family", "version": 1,
             "categories": list(KINDS), "purpose": "bench", "data_from": now.date(),
             "starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=300), "until_program_end": False,
             "wording": "bench", "signature": "P", "signed_at": now - timedelta(days=1), "locale": "en"}
            for pid in patient_ids
        ],
    )  # fmt: skip
    sober: list[dict[str, Any]] = []
    checkins: list[dict[str, Any]] = []
    for i, pid in enumerate(patient_ids):
        today = now.astimezone(ZoneInfo(ZONES[i % len(ZONES)])).date()
        days = 30 if scenario == "all" else rng.randint(0, 800)
        sober.append({"user_id": pid, "substance": "", "started_on": today - timedelta(days=days),
                      "created_at": now, "updated_at": now})  # fmt: skip
        for back in range(40):
            gap = back in (7, 25) if scenario == "all" else rng.random() < 0.12
            if gap:
                continue
            checkins.append(_checkin(pid, today - timedelta(days=back), now))
    await _bulk(engine, SobrietyDate, sober)
    await _bulk(engine, CheckIn, checkins)
    programs = [{"id": n + 1, "clinic_id": 1, "name": f"Program {n + 1}", "description": "",
                 "timezone": "America/New_York", "family_info": "", "active": True, "created_at": now}
                for n in range(20)]  # fmt: skip
    await _bulk(engine, Program, programs)
    await _bulk(engine, ProgramPhase, [{"program_id": n + 1, "name": f"Weeks {w}–{w + 1}", "start_week": w,
                                        "end_week": w + 1, "groups_per_week": 3}
                                       for n in range(20) for w in (1, 3, 5, 7)])  # fmt: skip
    enrolments = [{"patient_id": pid, "program_id": i % 20 + 1, "extended_weeks": 0, "status": "active",
                   "start_date": now.date() - timedelta(days=rng.randint(0, 70)), "created_at": now}
                  for i, pid in enumerate(patient_ids)]  # fmt: skip
    await _bulk(engine, Enrolment, enrolments)
    return {"patients": patients, "checkins": len(checkins)}


def _checkin(user_id: int, day: date, now: datetime) -> dict[str, Any]:
    return {"user_id": user_id, "local_date": day, "mood": 6, "craving": 2, "triggers": [], "used": False,
            "substances": "", "amount": "", "medication": "", "note": "", "diary": False, "late": False,
            "created_at": now, "updated_at": now, "idempotency_key": f"b-{user_id}-{day.isoformat()}"}  # fmt: skip


async def measure(url: str, now: datetime) -> tuple[float, int, Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            started = time.perf_counter()
            report = await evaluate_all(session, now)
            await session.commit()
            elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    return elapsed, len(statements), report


async def counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return {
                name: int((await conn.execute(text(f"SELECT count(*) FROM {name}"))).scalar() or 0)
                for name in ("milestone", "family_notification", "reminder", "disclosure_log")
            }
    finally:
        await engine.dispose()


def run(url: str, label: str, patients: int, scenario: str) -> None:
    if url.startswith("postgresql"):
        asyncio.run(_reset_pg(url))
    migrate(url)
    now = datetime.now(UTC)
    engine = create_async_engine(url, poolclass=NullPool)

    async def do_seed() -> dict[str, int]:
        try:
            return await seed(engine, patients, scenario, now, random.Random(7))
        finally:
            await engine.dispose()

    started = time.perf_counter()
    seeded = asyncio.run(do_seed())
    seed_s = time.perf_counter() - started
    first_s, first_q, first = asyncio.run(measure(url, now))
    second_s, second_q, second = asyncio.run(measure(url, now))
    next_s, next_q, following = asyncio.run(measure(url, now + timedelta(days=1)))
    rows = asyncio.run(counts(url))
    print(
        f"{label:10} {scenario:5} patients={seeded['patients']:,} check-ins={seeded['checkins']:,} "
        f"(seeded in {seed_s:.1f}s)\n"
        f"           first run : {first_s:6.2f} s, {first_q:3d} SQL statements — {first.recorded:,} milestones, "
        f"{first.notified:,} family notifications (+ as many pushes queued and disclosures logged)\n"
        f"           second run: {second_s:6.2f} s, {second_q:3d} SQL statements — {second.recorded} new\n"
        f"           next day  : {next_s:6.2f} s, {next_q:3d} SQL statements — {following.recorded:,} milestones, "
        f"{following.notified:,} notifications\n"
        f"           rows: {rows}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (TEST_DATABASE_URL or steady_bench_family)")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--scenario", choices=("mixed", "all", "both"), default="both")
    args = parser.parse_args()
    scenarios = ("mixed", "all") if args.scenario == "both" else (args.scenario,)
    for scenario in scenarios:
        if args.pg:
            run(os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or PG_DEFAULT,
                "PostgreSQL", args.patients, scenario)  # fmt: skip
        else:
            with tempfile.TemporaryDirectory(prefix="steady-bench-") as tmp:
                run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", "SQLite", args.patients, scenario)


if __name__ == "__main__":
    main()
