"""Check-in figures: latency and throughput of posting a check-in (htmx) and of the Progress page for a patient
with 365 days of history, on SQLite and (when given) PostgreSQL.

    .venv/bin/python -m bench.checkins_bench                          # SQLite only
    .venv/bin/python -m bench.checkins_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/steady_bench
    TEST_DATABASE_URL=... .venv/bin/python -m bench.checkins_bench    # PostgreSQL from the environment too

The PostgreSQL database is WIPED (schema dropped and migrated): give it a scratch database.
A real server runs under uvicorn (1 worker) on a free loopback port. Each measurement sends a bounded number of
requests (--requests, default 500) with httpx: once one at a time (latency: p50/p99) and once with
--concurrency clients at a time (requests per second). Check-in posts are htmx posts with a new idempotency
key each, editing today's check-in (earlier days are already filled in and closed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bench.server_process import percentile, running_server, sign_in

EMAIL, PASSWORD = "bench@example.org", "a calm blue lake"
TRIGGERS = ("hungry", "angry", "lonely", "tired", "stress", "conflict", "boredom", "people", "places", "money")


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def seed(database_url: str, days: int = 365) -> None:
    """One patient with a check-in on each of the last `days` days (not today), cravings and trigger rows."""
    from server import localtime as dates
    from server.accounts.models import Clinic, Role, User
    from server.accounts.passwords import hash_password
    from server.checkins.models import CheckIn, CravingLog, SobrietyDate, TriggerHit

    rng = random.Random(365)
    engine = create_async_engine(database_url, poolclass=NullPool)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        session.add(Clinic(id=1, name="Bench clinic"))
        await session.flush()
        user = User(clinic_id=1, email=EMAIL, display_name="Bench", role=Role.PATIENT,
                    password_hash=hash_password(PASSWORD), timezone="America/New_York")  # fmt: skip
        session.add(user)
        await session.flush()
        assert user.id is not None
        today = dates.local_today(user)
        session.add(SobrietyDate(user_id=user.id, substance="", started_on=today - timedelta(days=200)))
        for offset in range(days, 0, -1):
            day = today - timedelta(days=offset)
            made = dates.start_of_local_day(user, day) + timedelta(hours=20)
            picked = rng.sample(TRIGGERS, k=rng.randint(0, 3))
            craving = rng.randint(0, 10)
            row = CheckIn(user_id=user.id, local_date=day, mood=rng.randint(0, 10), craving=craving, triggers=picked,
                          used=rng.random() < 0.05, sleep_hours=7, medication="yes", note="",
                          client_created_at=made, created_at=made, updated_at=made,
                          idempotency_key=str(uuid.uuid4()))  # fmt: skip
            session.add(row)
            await session.flush()
            for trigger in picked:
                session.add(TriggerHit(user_id=user.id, local_date=day, trigger_id=trigger, intensity=craving,
                                       checkin_id=row.id))  # fmt: skip
            for _n in range(rng.randint(0, 2)):
                log = CravingLog(user_id=user.id, occurred_at=made - timedelta(hours=3), local_date=day,
                                 intensity=rng.randint(2, 10), triggers=picked[:1], action="skill",
                                 skill_card_id="urge-surfing", outcome="passed", idempotency_key=str(uuid.uuid4()),
                                 payload_hash="bench")  # fmt: skip
                session.add(log)
                await session.flush()
                for trigger in log.triggers:
                    session.add(TriggerHit(user_id=user.id, local_date=day, trigger_id=trigger,
                                           intensity=log.intensity, craving_id=log.id))  # fmt: skip
        await session.commit()
    await engine.dispose()


async def measure(
    n: int, concurrency: int, call: Callable[[int], Awaitable[httpx.Response]], ok: set[int]
) -> tuple[list[float], float]:
    """Send n requests, `concurrency` at a time; return per-request latencies (ms) and the wall time (s)."""
    latencies: list[float] = []
    counter = iter(range(n))
    failures: list[int] = []

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            response = await call(i)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code not in ok:
                failures.append(response.status_code)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} unexpected answers, e.g. {failures[:5]}")
    return latencies, wall


async def run_backend(label: str, url: str, cookies: httpx.Cookies, requests: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=60, limits=limits) as client:
        token = client.cookies["csrftoken"]
        headers = {"HX-Request": "true", "x-csrftoken": token}

        async def post_checkin(i: int) -> httpx.Response:
            data = {"mood": str(i % 11), "craving": str((i * 7) % 11), "used": "no",
                    "triggers": ["stress", "lonely"] if i % 2 else ["tired"], "sleep_hours": "7",
                    "idempotency_key": str(uuid.uuid4())}  # fmt: skip
            return await client.post("/checkin", data=data, headers=headers)

        async def get_progress(_i: int) -> httpx.Response:
            return await client.get("/progress?range=90")

        # Warm up (template compilation, connection pools) before measuring.
        for i in range(10):
            await post_checkin(i)
            await get_progress(i)
        for name, call in (("POST /checkin (htmx)", post_checkin), ("GET /progress?range=90", get_progress)):
            serial, _wall = await measure(requests, 1, call, {200})
            loaded, wall = await measure(requests, concurrency, call, {200})
            print(
                f"{label:<10} {name:<24} one at a time: p50 {percentile(serial, 50):6.1f} ms  "
                f"p99 {percentile(serial, 99):6.1f} ms | {concurrency} at a time: {requests / wall:6.0f} req/s  "
                f"p50 {percentile(loaded, 50):6.1f} ms  p99 {percentile(loaded, 99):6.1f} ms"
            )


def bench(label: str, database_url: str | None, requests: int, concurrency: int) -> None:
    with running_server(database_url) as server:
        asyncio.run(seed(server.database_url))
        client = sign_in(server.url, EMAIL, PASSWORD)
        asyncio.run(run_backend(label, server.url, client.cookies, requests, concurrency))
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL", ""), help="a scratch PostgreSQL URL")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"patient with 365 days of check-ins; {args.requests} requests per figure; 1 uvicorn worker")
    bench("SQLite", None, args.requests, args.concurrency)
    if args.pg:
        asyncio.run(reset_postgres(args.pg))
        bench("PostgreSQL", args.pg, args.requests, args.concurrency)
    else:
        print("PostgreSQL skipped (pass --pg URL or set TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
