"""Aftercare figures (issue 14): importing a generated 5,000-meeting Meeting Guide feed, meeting search p50, and SQL
statements per aftercare page.

    .venv/bin/python -m bench.aftercare_bench                  # SQLite (a temporary file)
    .venv/bin/python -m bench.aftercare_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.aftercare_bench --pg URL --meetings 5000 --searches 300

For PostgreSQL a scratch database `steady_bench_aftercare` is created next to the given one (WIPED every run).

Prints, per database:
- the feed's size, the time to parse and validate it, to import it into an empty finder (5,000 new rows) and to
  import it again (5,000 updates by slug, no duplicates; the count is checked);
- meeting search p50/p99: the finder's query alone (`meetings.search`) and the whole /meetings page through the
  real app in-process (Litestar's test client), over a mix of filters (day, time of day, type, region, pages);
- SQL statements per page for an alumnus (discharged, with an aftercare plan and favourites): /today, /aftercare,
  /aftercare/edit, /meetings (plain and filtered), and the admin's /admin/meetings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bench import scratch_db
from bench.server_process import percentile

BENCH_DB = "steady_bench_aftercare"
PASSWORD = "bench-password-aftercare-2026"
REGIONS = ("Downtown", "Westside", "Eastside", "Northside", "Southside", "Riverside", "Hillcrest", "Online",
           "Airport", "University")  # fmt: skip
TYPES = ("O", "C", "ONL", "S", "W", "M", "BE", "YP", "LGBTQ", "X", "D", "SP", "B", "ST", "MED")


def generate_feed(count: int, rng: random.Random, *, rename: bool = False) -> bytes:
    meetings = []
    for i in range(count):
        start = rng.choice(range(6 * 60, 22 * 60, 15))
        days = rng.sample(range(7), rng.choice((1, 1, 1, 2, 3)))
        meetings.append(
            {
                "name": f"{'Renamed ' if rename else ''}Meeting {i}",
                "slug": f"meeting-{i}",
                "day": days[0] if len(days) == 1 else days,
                "time": f"{start // 60:02d}:{start % 60:02d}",
                "end_time": f"{(start + 60) // 60 % 24:02d}:{start % 60:02d}",
                "types": rng.sample(TYPES, rng.randint(1, 4)),
                "location": f"Hall {i % 300}",
                "formatted_address": f"{i} Main St, Springfield, IL 627{i % 100:02d}, USA",
                "region": rng.choice(REGIONS),
                "conference_url": "https://meet.example.org/m" + str(i) if rng.random() < 0.2 else "",
                "notes": "Side door. Coffee from 15 minutes before." if rng.random() < 0.3 else "",
            }
        )
    return json.dumps(meetings).encode()


async def fresh_postgres(server_url: str) -> str:
    return await scratch_db.fresh_postgres(server_url, BENCH_DB)


async def seed_people(url: str) -> None:
    """A clinic, an admin, and an alumnus: enrolled, discharged yesterday, with a plan and five saved meetings."""
    from server.accounts.models import Clinic, Role, User
    from server.accounts.passwords import hash_password
    from server.aftercare.models import AftercarePlan
    from server.schedule.models import Enrolment, Program, ProgramPhase

    engine = create_async_engine(url, poolclass=NullPool)
    async with async_sessionmaker(engine, expire_on_commit=False)() as db, db.begin():
        db.add(Clinic(id=1, name="Bench clinic", timezone="America/New_York"))
        await db.flush()
        hashed = hash_password(PASSWORD)
        for email, role in (("admin@bench.example", Role.ADMIN), ("alum@bench.example", Role.PATIENT)):
            db.add(User(clinic_id=1, email=email, display_name=email.split("@")[0].title(), role=role,
                        password_hash=hashed, timezone="America/New_York"))  # fmt: skip
        await db.flush()
        alum = (await db.execute(text("SELECT id FROM user_account WHERE email = 'alum@bench.example'"))).scalar_one()
        program = Program(clinic_id=1, name="Evening IOP", timezone="America/New_York")
        db.add(program)
        await db.flush()
        db.add(ProgramPhase(program_id=program.id, name="Weeks 1-12", start_week=1, end_week=12))  # type: ignore[arg-type]
        today = datetime.now(UTC).date()
        db.add(Enrolment(patient_id=alum, program_id=program.id, start_date=today - timedelta(weeks=12),  # type: ignore[arg-type]
                         end_date=today - timedelta(days=1), status="completed", outcome="completed"))  # fmt: skip
        db.add(AftercarePlan(patient_id=alum, next_care="Outpatient therapy weekly", meetings="Tuesday SMART",
                             supporters=[{"name": "Ana", "phone": "555 123 4567"}], trigger_ids=["stress"],
                             warning_signs="Skipping meals", after_slip="Call Ana"))  # fmt: skip
    await engine.dispose()


async def import_timings(url: str, feed: bytes, again: bytes) -> dict[str, float]:
    from server.aftercare import meetings as finder

    engine = create_async_engine(url, poolclass=NullPool)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    figures: dict[str, float] = {}
    started = time.perf_counter()
    parsed = finder.parse_feed(feed)
    figures["parse_s"] = time.perf_counter() - started
    async with sessions() as db, db.begin():
        started = time.perf_counter()
        report = await finder.import_meetings(db, 1, parsed)
    figures["import_s"] = time.perf_counter() - started
    assert report.added == len(parsed), report
    started = time.perf_counter()
    reparsed = finder.parse_feed(again)
    async with sessions() as db, db.begin():
        report = await finder.import_meetings(db, 1, reparsed)
    figures["reimport_s"] = time.perf_counter() - started
    assert (report.added, report.updated) == (0, len(parsed)), report
    async with sessions() as db:
        figures["rows"] = float(await finder.meeting_count(db, 1))
        alum = (await db.execute(text("SELECT id FROM user_account WHERE email = 'alum@bench.example'"))).scalar_one()
        ids = list((await db.execute(text("SELECT id FROM meeting ORDER BY id LIMIT 5"))).scalars())
    async with sessions() as db, db.begin():
        for n, meeting_id in enumerate(ids):
            await finder.set_in_calendar(db, alum, meeting_id, on=n % 2 == 0)
            await finder.set_favourite(db, alum, meeting_id, on=True)
    await engine.dispose()
    return figures


def filter_mix(rng: random.Random, n: int) -> list[dict[str, str]]:
    from server.aftercare.meetings import FILTER_TYPES, TIMES_OF_DAY

    mixes = []
    for _ in range(n):
        query: dict[str, str] = {}
        if rng.random() < 0.7:
            query["day"] = str(rng.randrange(7))
        if rng.random() < 0.5:
            query["time"] = rng.choice(list(TIMES_OF_DAY))
        if rng.random() < 0.5:
            query["type"] = rng.choice(FILTER_TYPES)
        if rng.random() < 0.4:
            query["region"] = rng.choice(REGIONS)
        if rng.random() < 0.2:
            query["page"] = str(rng.randint(2, 4))
        mixes.append(query)
    return mixes


async def search_timings(url: str, mixes: list[dict[str, str]]) -> list[float]:
    from server.aftercare import meetings as finder

    engine = create_async_engine(url, pool_size=2) if url.startswith("postgresql") else create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    took: list[float] = []
    async with sessions() as db:
        for query in mixes[:10]:  # warm-up (connection, statement cache)
            await finder.search(db, 1, finder.parse_filters(query)[0])
        for query in mixes:
            filters, errors = finder.parse_filters(query)
            assert not errors
            started = time.perf_counter()
            await finder.search(db, 1, filters)
            took.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return took


def _settings(url: str, data_dir: Path) -> Any:
    from server.settings import Settings

    return Settings.from_env(
        {"STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench-" + "a" * 40},
        migrate_on_start=False,
        run_dispatcher_in_app=False,
    )


def pages(url: str, data_dir: Path, mixes: list[dict[str, str]]) -> tuple[list[float], dict[str, int]]:
    """/meetings page times for the filter mix, and statements per page, through the real app in-process."""
    from urllib.parse import urlencode

    from litestar.testing import TestClient

    from server.app import create_app

    app = create_app(_settings(url, data_dir))
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    engine = app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    def sign_in(client: TestClient, email: str) -> None:
        client.cookies.clear()
        client.get("/login")
        response = client.post("/login", data={"email": email, "password": PASSWORD,
                                               "_csrf_token": client.cookies["csrftoken"]})  # fmt: skip
        assert response.status_code in (200, 303), response.status_code

    def count(client: TestClient, path: str) -> int:
        assert client.get(path).status_code == 200, path  # warm-up
        seen.clear()
        event.listen(engine, "before_cursor_execute", listener)
        response = client.get(path)
        event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200, path
        return len(seen)

    took: list[float] = []
    counts: dict[str, int] = {}
    with TestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        sign_in(client, "alum@bench.example")
        for path in ("/today", "/aftercare", "/aftercare/edit", "/meetings", "/meetings?day=2&time=evening&type=O"):
            counts[path] = count(client, path)
        for query in mixes[:10]:
            client.get("/meetings?" + urlencode(query))
        for query in mixes:
            started = time.perf_counter()
            response = client.get("/meetings?" + urlencode(query))
            took.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        sign_in(client, "admin@bench.example")
        counts["/admin/meetings"] = count(client, "/admin/meetings")
    return took, counts


def run(label: str, url: str, data_dir: Path, meetings: int, searches: int) -> None:
    from server.db import migrate

    migrate(url)
    asyncio.run(seed_people(url))
    rng = random.Random(14)
    feed = generate_feed(meetings, rng)
    again = generate_feed(meetings, random.Random(14), rename=True)
    figures = asyncio.run(import_timings(url, feed, again))
    mixes = filter_mix(random.Random(7), searches)
    query_ms = asyncio.run(search_timings(url, mixes))
    page_ms, counts = pages(url, data_dir, mixes)
    print(f"\n== {label} ==")
    print(f"feed: {meetings} meetings, {len(feed) / 1024 / 1024:.2f} MB")
    print(f"parse + validate: {figures['parse_s'] * 1000:.0f} ms")
    print(f"import into an empty finder: {figures['import_s']:.2f} s ({int(figures['rows'])} rows after both imports)")
    print(f"re-import (parse + {meetings} updates by slug): {figures['reimport_s']:.2f} s")
    print(f"search query ({searches} mixed filters): p50 {percentile(query_ms, 50):.2f} ms, "
          f"p99 {percentile(query_ms, 99):.2f} ms")  # fmt: skip
    print(f"/meetings page in-process ({searches} mixed filters): p50 {percentile(page_ms, 50):.1f} ms, "
          f"p99 {percentile(page_ms, 99):.1f} ms")  # fmt: skip
    print("SQL statements per page:")
    for path, n in counts.items():
        print(f"  {path}: {n}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="a PostgreSQL URL on the server to use (a scratch database is made next to it)")
    parser.add_argument("--meetings", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        if args.pg:
            url = asyncio.run(fresh_postgres(args.pg))
            run("PostgreSQL", url, data_dir, args.meetings, args.searches)
        else:
            run("SQLite", f"sqlite+aiosqlite:///{data_dir / 'bench.db'}", data_dir, args.meetings, args.searches)


if __name__ == "__main__":
    main()
