"""Therapist dashboard figures: GET /therapist for a therapist with N sharing patients (default 100), each with a
year of daily data (check-ins, trigger ticks, cravings, skill practice, attendance, a sobriety date).

    .venv/bin/python -m bench.dashboard_bench                      # SQLite, and PostgreSQL from TEST_DATABASE_URL
    .venv/bin/python -m bench.dashboard_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.dashboard_bench --patients 30 --requests 50 --no-sqlite
    .venv/bin/python -m bench.dashboard_bench --no-sqlite --pg URL --db steady_bench_me --baseline /work/wt/base

For PostgreSQL a scratch database (`--db`, default `steady_bench_dash`) is created next to the given one (and
WIPED on every run). Prints, per backend:
- the number of SQL statements one dashboard request runs, counted in-process (the real app behind Litestar's
  test client, a `before_cursor_execute` listener on its engine), for N patients and for 10 patients, so you can
  see the count does not depend on N;
- p50 / p99 / mean latency of GET /therapist over --requests sequential requests against the real app served by
  uvicorn (1 worker) on a loopback port, after 5 warm-up requests, and the server process's CPU time per request
  (all its threads, from /proc: the steadier figure on a busy machine).

With `--baseline DIR` (another checkout of Steady, e.g. `git worktree add --detach DIR main`), the same seeded
database is also served from that tree, in alternating rounds with this one, so both see the same load: an A/B in
one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bench import scratch_db
from bench.server_process import ROOT, cpu_seconds, cpu_ticks, percentile, running_server, sign_in, stolen_since

BENCH_DB = "steady_bench_dash"
THERAPIST = ("therapist@bench.steady", "Dr. Bench")
PASSWORD = "a calm blue lake"
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Pacific/Auckland")
CATEGORIES = ["mood_sleep", "cravings_triggers", "substance_use", "diary_card", "skill_practice", "attendance", "notes"]
TRIGGERS = ("stress", "conflict", "lonely", "tired", "boredom", "people")
CARDS = ("stop", "tipp", "paced-breathing", "accepts")


async def fresh_postgres(server_url: str, name: str = BENCH_DB) -> str:
    return await scratch_db.fresh_postgres(server_url, name)


async def _bulk(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5000):
        async with engine.begin() as conn:
            await conn.execute(insert(model.__table__), rows[start : start + 5000])


def _at(zone: str, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, dtime(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def seed(url: str, patients: int, days: int) -> None:
    """Bulk-insert the therapist, the patients, their consents and a year of daily data each."""
    from server.accounts.models import CareTeam, Clinic, Role, User
    from server.accounts.passwords import hash_password
    from server.checkins.models import CheckIn, CravingLog, SobrietyDate, TriggerHit
    from server.consent.models import Consent
    from server.schedule.models import Attendance
    from server.skills.models import SkillPractice

    rng = random.Random(2026)
    now = datetime.now(UTC)
    engine = create_async_engine(url, poolclass=NullPool)
    pw = hash_password(PASSWORD)
    await _bulk(
        engine,
        Clinic,
        [
            {
                "id": 1,
                "name": "Bench clinic",
                "timezone": "America/New_York",
                "phone": "",
                "settings": {},
                "created_at": now,
            }
        ],
    )
    people = [
        {
            "id": 1,
            "clinic_id": 1,
            "email": THERAPIST[0],
            "display_name": THERAPIST[1],
            "role": Role.THERAPIST,
            "password_hash": pw,
            "timezone": "America/New_York",
            "locale": "en",
            "phone": "",
            "created_at": now,
        }
    ]
    for i in range(patients):
        people.append(
            {
                "id": 2 + i,
                "clinic_id": 1,
                "email": f"p{i}@bench.steady",
                "display_name": f"Patient {i:03d}",
                "role": Role.PATIENT,
                "password_hash": pw,
                "timezone": ZONES[i % len(ZONES)],
                "locale": "en",
                "phone": "",
                "created_at": now,
            }
        )
    await _bulk(engine, User, people)
    await _bulk(engine, CareTeam, [{"patient_id": 2 + i, "therapist_id": 1} for i in range(patients)])
    await _bulk(
        engine,
        Consent,
        [
            {
                "patient_id": 2 + i,
                "recipient_id": 1,
                "recipient_kind": "therapist",
                "version": 1,
                "categories": CATEGORIES,
                "purpose": "Treatment",
                "data_from": (now - timedelta(days=days + 7)).date(),
                "starts_at": now - timedelta(hours=1),
                "ends_at": now + timedelta(days=300),
                "until_program_end": False,
                "wording": "(bench)",
                "signature": f"Patient {i:03d}",
                "signed_at": now - timedelta(hours=1),
                "locale": "en",
            }
            for i in range(patients)
        ],
    )
    checkins: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    cravings: list[dict[str, Any]] = []
    practices: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    sober: list[dict[str, Any]] = []
    checkin_id = 0
    for i in range(patients):
        uid, zone = 2 + i, ZONES[i % len(ZONES)]
        today = now.astimezone(ZoneInfo(zone)).date()
        sober.append(
            {
                "user_id": uid,
                "substance": "",
                "started_on": today - timedelta(days=rng.randint(5, 300)),
                "created_at": now,
                "updated_at": now,
            }
        )
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            if rng.random() < 0.12:
                continue  # a missed day now and then
            checkin_id += 1
            craving = rng.randint(0, 10)
            triggers = rng.sample(TRIGGERS, rng.randint(0, 2))
            diary = rng.random() < 0.5
            checkins.append(
                {
                    "id": checkin_id,
                    "user_id": uid,
                    "local_date": day,
                    "mood": rng.randint(1, 10),
                    "craving": craving,
                    "triggers": triggers,
                    "used": rng.random() < 0.03,
                    "substances": "",
                    "amount": "",
                    "sleep_hours": round(rng.uniform(4, 9), 1),
                    "medication": "",
                    "note": "Okay day." if rng.random() < 0.3 else "",
                    "diary": diary,
                    "urge_use": rng.randint(0, 5) if diary else None,
                    "urge_self_harm": rng.randint(0, 5) if diary else None,
                    "urge_quit_treatment": rng.randint(0, 5) if diary else None,
                    "acted_use": False if diary else None,
                    "acted_self_harm": False if diary else None,
                    "acted_quit_treatment": False if diary else None,
                    "skills_used": rng.randint(0, 7) if diary else None,
                    "late": False,
                    "created_at": now,
                    "updated_at": now,
                    "idempotency_key": f"b{checkin_id}",
                }
            )
            hits += [
                {"user_id": uid, "local_date": day, "trigger_id": t, "intensity": craving, "checkin_id": checkin_id}
                for t in triggers
            ]
            if rng.random() < 0.3:
                at = _at(zone, day, rng.randint(8, 22), rng.randint(0, 59))
                cravings.append(
                    {
                        "user_id": uid,
                        "occurred_at": at,
                        "local_date": day,
                        "intensity": rng.randint(3, 10),
                        "triggers": [],
                        "where_with": "",
                        "action": "skill",
                        "outcome": "passed",
                        "note": "",
                        "idempotency_key": f"c{uid}-{back}",
                        "payload_hash": "x",
                        "created_at": at,
                    }
                )
            if rng.random() < 0.4:
                at = _at(zone, day, rng.randint(7, 21))
                practices.append(
                    {
                        "user_id": uid,
                        "card_id": rng.choice(CARDS),
                        "started_at": at,
                        "ended_at": at,
                        "distress_before": 7,
                        "distress_after": rng.randint(2, 7),
                        "note": "",
                        "idempotency_key": f"s{uid}-{back}",
                        "created_at": at,
                    }
                )
            if day.weekday() in (0, 2, 4):
                marks.append(
                    {
                        "patient_id": uid,
                        "occurrence_id": f"g1-{day:%Y%m%d}",
                        "starts_at": _at(zone, day, 18),
                        "status": "attended" if rng.random() < 0.85 else "missed",
                        "marked_at": now,
                    }
                )
    for model, rows in (
        (CheckIn, checkins),
        (TriggerHit, hits),
        (CravingLog, cravings),
        (SkillPractice, practices),
        (Attendance, marks),
        (SobrietyDate, sober),
    ):
        await _bulk(engine, model, rows)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('user_account', 'id'), 100000)"))
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('checkin', 'id'), 10000000)"))
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    print(
        f"  seeded {patients} patients: {len(checkins)} check-ins, {len(hits)} trigger ticks, "
        f"{len(cravings)} cravings, {len(practices)} practices, {len(marks)} attendance marks"
    )


def count_queries(url: str, data_dir: Path, limit_patients: int | None = None) -> int:
    """Statements run by one GET /therapist, in-process (after a warm-up request)."""
    from litestar.testing import TestClient

    from server.app import create_app
    from server.settings import Settings

    settings = Settings.from_env(
        {"STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench-" + "q" * 40},
        migrate_on_start=False,
        run_dispatcher_in_app=False,
    )
    app = create_app(settings)
    _quiet()
    engine = app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with TestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        client.get("/login")
        client.post(
            "/login", data={"email": THERAPIST[0], "password": PASSWORD, "_csrf_token": client.cookies["csrftoken"]}
        )
        if limit_patients is not None:
            asyncio.run(_keep_consents(url, limit_patients))
        assert client.get("/therapist").status_code == 200
        event.listen(engine, "before_cursor_execute", listener)
        response = client.get("/therapist")
        event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200
        rows = response.text.count('<th scope="row">')
        # CPU time of this process (app and test client) per request: unlike wall time, it hardly depends on
        # what else the machine is doing.
        cpu = []
        for _ in range(30):
            started = time.process_time()
            client.get("/therapist")
            cpu.append((time.process_time() - started) * 1000)
    print(
        f"    {rows:>3} rows on the dashboard → {len(seen)} SQL statements per request; "
        f"app CPU time per request p50 {percentile(cpu, 50):.1f} ms"
    )
    return len(seen)


def _quiet() -> None:
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)


async def _keep_consents(url: str, keep: int) -> None:
    """Revoke all but `keep` consents (to show the statement count with fewer patients)."""
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE consent SET revoked_at = starts_at WHERE patient_id >= :k"), {"k": 2 + keep})
    await engine.dispose()


async def _restore_consents(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE consent SET revoked_at = NULL"))
    await engine.dispose()


def time_dashboard(url: str, requests: int, root: Path = ROOT) -> tuple[list[float], float, int]:
    """Latencies (ms) of `requests` sequential dashboard requests, the server's CPU ms per request, the page size."""
    _quiet()
    with running_server(url, root=root) as server:
        client = sign_in(server.url, THERAPIST[0], PASSWORD)
        for _ in range(5):
            assert client.get("/therapist").status_code == 200
        timings = []
        size = 0
        cpu_before = cpu_seconds(server.pid)
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/therapist")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            size = len(response.content)
        cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / requests
        client.close()
    return timings, cpu_ms, size


def count_in_tree(root: Path, url: str, data_dir: Path, limit_patients: int | None) -> int:
    """`count_queries` run by the tree at `root` (its own code, its own statements), in a subprocess."""
    script = (
        "import sys; from pathlib import Path; from bench.dashboard_bench import count_queries; "
        "limit = int(sys.argv[3]) if sys.argv[3] != '-' else None; "
        "print('STATEMENTS', count_queries(sys.argv[1], Path(sys.argv[2]), limit_patients=limit))"
    )
    limit = str(limit_patients) if limit_patients is not None else "-"
    out = subprocess.run(
        [sys.executable, "-c", script, url, str(data_dir), limit],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if not line.startswith("STATEMENTS"):
            print(line)
    asyncio.run(_restore_consents(url))
    return int(out.rsplit("STATEMENTS", 1)[1].split()[0])


def compare(url: str, patients: int, requests: int, baseline: Path) -> None:
    """This tree against `baseline` on the same data: statements, then latency and server CPU with both trees served
    at once and their requests interleaved one by one (baseline, this, baseline, this…), so that both see the same
    machine at every moment (this machine's speed drifts by half within a minute)."""
    data_dir = Path(tempfile.mkdtemp(prefix="steady-dash-"))
    trees = {"baseline": baseline, "this tree": ROOT}
    for label, root in trees.items():
        print(f"  {label} ({root}):")
        full = count_in_tree(root, url, data_dir, None)
        few = count_in_tree(root, url, data_dir, 10)
        print(f"    SQL statements per dashboard request: {full} with {patients} patients, {few} with 10 patients")
    _quiet()
    loads = [os.getloadavg()[0]]
    with contextlib.ExitStack() as stack:
        servers = {label: stack.enter_context(running_server(url, root=root)) for label, root in trees.items()}
        clients = {label: sign_in(server.url, THERAPIST[0], PASSWORD) for label, server in servers.items()}
        for client in clients.values():
            for _ in range(5):
                assert client.get("/therapist").status_code == 200
        timings: dict[str, list[float]] = {label: [] for label in trees}
        cpu_before = {label: cpu_seconds(server.pid) for label, server in servers.items()}
        for _ in range(requests):
            for label, client in clients.items():
                started = time.perf_counter()
                response = client.get("/therapist")
                timings[label].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        cpu = {label: (cpu_seconds(s.pid) - cpu_before[label]) * 1000 / requests for label, s in servers.items()}
        for client in clients.values():
            client.close()
    loads.append(os.getloadavg()[0])
    for label in trees:
        t = timings[label]
        print(
            f"  {label:>9}: GET /therapist p50 {percentile(t, 50):.1f} ms · p99 {percentile(t, 99):.1f} ms · "
            f"server CPU {cpu[label]:.1f} ms/request"
        )
    print(f"  (load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs)")


def run(label: str, url: str, patients: int, days: int, requests: int, baseline: Path | None = None) -> None:
    from server.db import migrate

    print(f"\n{label}: {patients} sharing patients × {days} days")
    migrate(url)
    started = time.monotonic()
    asyncio.run(seed(url, patients, days))
    asyncio.run(scratch_db.settle(url))  # as a running database is planned (statistics), not as a fresh load
    print(f"  seeding took {time.monotonic() - started:.1f} s")
    if baseline is not None:
        compare(url, patients, requests, baseline)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="steady-dash-"))
    full = count_queries(url, data_dir)
    few = count_queries(url, data_dir, limit_patients=10)
    asyncio.run(_restore_consents(url))
    print(f"  SQL statements per dashboard request: {full} with {patients} patients, {few} with 10 patients")
    load, before = os.getloadavg()[0], cpu_ticks()
    timings, cpu_ms, size = time_dashboard(url, requests)
    print(
        f"  GET /therapist over {requests} requests (uvicorn, 1 worker): p50 {percentile(timings, 50):.1f} ms · "
        f"p99 {percentile(timings, 99):.1f} ms · mean {statistics.fmean(timings):.1f} ms · server CPU "
        f"{cpu_ms:.1f} ms/request · {size / 1024:.0f} KiB HTML (load average {load:.1f} on {os.cpu_count()} CPUs, "
        f"steal {stolen_since(before):.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pg",
        nargs="?",
        const=os.environ.get("TEST_DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        default=os.environ.get("TEST_DATABASE_URL") or None,
        help="a PostgreSQL server URL",
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--db", default=BENCH_DB, help="the scratch PostgreSQL database (wiped)")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with, on the same data")
    args = parser.parse_args()
    if not args.no_sqlite:
        path = Path(tempfile.mkdtemp(prefix="steady-dash-sqlite-")) / "steady.db"
        run("SQLite", f"sqlite+aiosqlite:///{path}", args.patients, args.days, args.requests, args.baseline)
    if args.pg:
        url = asyncio.run(fresh_postgres(args.pg, args.db))
        run("PostgreSQL", url, args.patients, args.days, args.requests, args.baseline)


if __name__ == "__main__":
    main()
