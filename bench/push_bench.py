"""Push reminder figures: 10,000 due reminders sent to the loopback push service (which verifies VAPID and
decrypts every message, in its own process), by `steady dispatch` workers in separate processes.

    .venv/bin/python bench/push_bench.py                        # SQLite 1 worker; PostgreSQL 1, 2, 4 workers
    .venv/bin/python bench/push_bench.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/push_bench.py --skip-sqlite --workers 4

PostgreSQL: TEST_DATABASE_URL or --pg names the server; the bench creates and uses a scratch database
`steady_bench_push` there, with a fresh schema for every run.

Two figures per setup:
- burst: all reminders due at the same instant. Reminders per second = count / (last delivery − due time), and the
  p99 due → delivered time (the backlog drains while you wait, so this is roughly the time to send them all).
- paced: reminders fall due at a steady rate (--rate per second); p99 due → delivered is the delay a person sees
  under that load (it includes the worker's idle poll interval).
Every run also checks that each reminder arrived exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench import scratch_db

BENCH_DB = "steady_bench_push"
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the loopback push service lives in tests/support
    sys.path.insert(0, str(ROOT))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the push service, in its own process --------------------------------------------------------------------------


def _service_main(conn: Any, people: int) -> None:
    from tests.support.push_service import LoopbackPushService

    service = LoopbackPushService()
    with service.run_in_thread():
        subs = [service.new_subscription() for _ in range(people)]
        conn.send([(s.endpoint, s.p256dh, s.auth) for s in subs])
        while True:
            if not conn.poll(0.1):
                continue
            message = conn.recv()
            if message == "count":
                conn.send(service.attempts)
            elif message == "cpu":
                conn.send(_cpu_seconds())
            elif message == "stop":
                conn.send([(p.data.get("url"), p.data.get("ts", 0), p.received_at) for p in service.received()])
                conn.send(service.attempts)
                return


class PushServiceProcess:
    def __init__(self, people: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_service_main, args=(child, people), daemon=True)
        self.process.start()
        self.subscriptions: list[tuple[str, str, str]] = self.conn.recv()

    def attempts(self) -> int:
        self.conn.send("count")
        return int(self.conn.recv())

    def cpu(self) -> float:
        self.conn.send("cpu")
        return float(self.conn.recv())

    def stop(self) -> tuple[list[tuple[str, int, float]], int]:
        self.conn.send("stop")
        received = self.conn.recv()
        attempts = self.conn.recv()
        self.process.join(timeout=10)
        return received, attempts


# -- databases ------------------------------------------------------------------------------------------------------


async def _fresh_postgres(server_url: str) -> str:
    return await scratch_db.fresh_postgres(server_url, BENCH_DB)


def fresh_database(kind: str, pg_server: str, workdir: Path) -> str:
    from server.db import migrate

    if kind == "sqlite":
        path = workdir / f"bench-{time.monotonic_ns()}.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = asyncio.run(_fresh_postgres(pg_server))
    migrate(url)
    return url


async def _arrange(url: str, subscriptions: list[tuple[str, str, str]]) -> None:
    """One clinic, a patient per device, quiet hours off (the figures mustn't depend on the time of day)."""
    from server.push.models import PushSubscription, ReminderPreference

    engine = create_async_engine(url, poolclass=NullPool)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO clinic (id, name, timezone, phone, settings, created_at) "
                                "VALUES (1, 'Bench', 'UTC', '', '{}', :now)"), {"now": now})  # fmt: skip
        users = [{"id": n + 1, "clinic_id": 1, "email": f"p{n}@bench.example", "display_name": f"P{n}",
                  "role": "patient", "password_hash": "x", "timezone": "UTC", "locale": "en", "phone": "",
                  "created_at": now} for n in range(len(subscriptions))]  # fmt: skip
        from server.accounts.models import User

        await conn.execute(insert(User.__table__), users)  # type: ignore[attr-defined]
        await conn.execute(insert(PushSubscription.__table__), [  # type: ignore[attr-defined]
            {"user_id": n + 1, "endpoint": e, "p256dh": p, "auth": a, "device_label": "bench", "created_at": now}
            for n, (e, p, a) in enumerate(subscriptions)
        ])  # fmt: skip
        await conn.execute(insert(ReminderPreference.__table__), [  # type: ignore[attr-defined]
            {"user_id": n + 1, "group_enabled": True, "group_minutes_before": 60, "checkin_enabled": True,
             "checkin_time": wall_time(20), "homework_enabled": True, "milestone_enabled": True,
             "quiet_start": wall_time(0), "quiet_end": wall_time(0), "updated_at": now}
            for n in range(len(subscriptions))
        ])  # fmt: skip
        if url.startswith("postgresql"):
            await conn.execute(text("SELECT setval('user_account_id_seq', (SELECT max(id) FROM user_account))"))
    await engine.dispose()


async def _queue(url: str, people: int, count: int, first_due: datetime, rate: float | None) -> None:
    from server.push.models import Reminder

    engine = create_async_engine(url, poolclass=NullPool)
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        due = first_due + timedelta(seconds=i / rate) if rate else first_due
        rows.append({"user_id": i % people + 1, "kind": "checkin", "dedupe_key": f"bench:{i}", "due_at": due,
                     "next_attempt_at": due, "expires_at": due + timedelta(hours=1), "urgency": "normal",
                     "topic": None, "title": "Time for your daily check-in",
                     "body": "It takes about a minute. Tap to start.", "url": f"/checkin?b={i}", "status": "pending",
                     "attempts": 0, "created_at": now})  # fmt: skip
    async with engine.begin() as conn:
        for start in range(0, count, 2000):
            await conn.execute(insert(Reminder.__table__), rows[start : start + 2000])  # type: ignore[attr-defined]
    await engine.dispose()


async def _counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT status, count(*) FROM reminder GROUP BY status"))).all()
    await engine.dispose()
    return {status: int(n) for status, n in rows}


# -- workers --------------------------------------------------------------------------------------------------------


def _worker_main(settings: Any, options: Any) -> None:
    from server.push.worker import run_worker

    asyncio.run(run_worker(settings, options))  # until SIGTERM


def _process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


async def _backend_pids(url: str) -> list[int]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        pids = (await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                        "AND pid <> pg_backend_pid()"))).scalars().all()  # fmt: skip
    await engine.dispose()
    return list(pids)


def _postgres_backend_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends serving the bench database (this host only)."""
    return _process_cpu(asyncio.run(_backend_pids(url)))


@dataclass
class Result:
    label: str
    mode: str
    count: int
    per_second: float
    p50: float
    p99: float
    duplicates: int
    missing: int
    statuses: dict[str, int]
    cpu_ms: dict[str, float]  # CPU milliseconds per reminder: workers, push service, database


def run_setup(
    label: str, db_url: str, workers: int, *, count: int, people: int, rate: float | None, args: argparse.Namespace,
    workdir: Path,
) -> Result:
    from server.push.worker import WorkerOptions
    from server.settings import Settings

    service = PushServiceProcess(people)
    asyncio.run(_arrange(db_url, service.subscriptions))
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    settings = Settings.from_env({"STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": db_url, "SECRET_KEY": "b" * 40})
    options = WorkerOptions(batch_size=args.batch, concurrency=args.concurrency, lanes=args.lanes,
                            poll_interval=args.poll, plan_interval=3600)  # fmt: skip
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker_main, args=(settings, options), daemon=True) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(3.0)  # let every worker import, connect and start polling an empty queue
    worker_pids = [p.pid for p in processes if p.pid]
    worker_cpu = _process_cpu(worker_pids)  # start-up (imports) is not part of sending
    service_cpu = service.cpu()
    db_cpu = _postgres_backend_cpu(db_url) if db_url.startswith("postgresql") else 0.0

    # Reminders fall due a moment from now, so no worker sees them while they're being written.
    first_due = datetime.now(UTC) + timedelta(seconds=2 + count / 20_000)
    asyncio.run(_queue(db_url, people, count, first_due, rate))
    deadline = time.monotonic() + args.timeout + (count / rate if rate else 0)
    while service.attempts() < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a duplicate would show up now
    service_cpu = service.cpu() - service_cpu
    worker_cpu = _process_cpu(worker_pids) - worker_cpu
    if db_url.startswith("postgresql"):
        db_cpu = _postgres_backend_cpu(db_url) - db_cpu
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=15)
    received, attempts = service.stop()
    statuses = asyncio.run(_counts(db_url))

    urls = [url for url, _ts, _at in received]
    delays = sorted(at - ts / 1000 for _url, ts, at in received)
    last = max(at for _url, _ts, at in received) if received else time.time()
    span = last - first_due.timestamp()
    if rate:  # paced: what matters is that the offered load was carried
        span = max(span, count / rate)
    return Result(
        label=label,
        mode=f"paced {rate:g}/s" if rate else "burst",
        count=len(set(urls)),
        per_second=len(set(urls)) / span if span > 0 else 0.0,
        p50=statistics.median(delays) if delays else float("nan"),
        p99=delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("nan"),
        duplicates=len(urls) - len(set(urls)) + (attempts - len(received)),
        missing=count - len(set(urls)),
        statuses=statuses,
        cpu_ms={"workers": 1000 * worker_cpu / count, "push service": 1000 * service_cpu / count,
                "database": 1000 * db_cpu / count},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=2_500, help="patients, one device each")
    parser.add_argument("--pg", default=os.environ.get("TEST_DATABASE_URL", ""), help="PostgreSQL server URL")
    parser.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-paced", action="store_true")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced mode: reminders falling due per second")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=64, help="sends in flight per worker")
    parser.add_argument("--lanes", type=int, default=2, help="batches in flight per worker")
    parser.add_argument("--poll", type=float, default=0.25, help="idle poll interval of a worker, seconds")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    setups: list[tuple[str, str, int]] = []
    if not args.skip_sqlite:
        setups.append(("SQLite, 1 worker", "sqlite", 1))
    if args.pg:
        setups += [(f"PostgreSQL, {n} worker{'s' if n > 1 else ''}", "postgresql", n)
                   for n in (int(w) for w in args.workers.split(","))]  # fmt: skip
    else:
        print("PostgreSQL skipped: set TEST_DATABASE_URL or pass --pg")

    print(f"{args.count} reminders to {args.people} devices; batch {args.batch}, {args.concurrency} sends in flight "
          f"per worker, {args.lanes} lanes, poll {args.poll}s; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start\n")  # fmt: skip
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="steady-push-bench-") as tmp:
        workdir = Path(tmp)
        for label, kind, workers in setups:
            for rate in (None,) if args.skip_paced else (None, args.rate):
                db_url = fresh_database(kind, args.pg, workdir)
                result = run_setup(label, db_url, workers, count=args.count, people=args.people, rate=rate, args=args,
                                   workdir=workdir)  # fmt: skip
                results.append(result)
                print(f"{result.label:<24} {result.mode:<13} {result.per_second:>8,.0f} reminders/s   "
                      f"p50 {result.p50 * 1000:>7,.0f} ms   p99 {result.p99 * 1000:>7,.0f} ms   "
                      f"delivered {result.count:,}  duplicates {result.duplicates}  missing {result.missing}  "
                      f"rows {result.statuses}", flush=True)  # fmt: skip
                cpu = result.cpu_ms
                total = sum(cpu.values())
                print(f"{'':<38}CPU per reminder: " + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items())
                      + f" = {total:.2f} ms (all {os.cpu_count()} cores free: about "
                      f"{1000 * (os.cpu_count() or 1) / total:,.0f} reminders/s)", flush=True)  # fmt: skip
    bad = [r for r in results if r.duplicates or r.missing]
    if bad:
        raise SystemExit(f"NOT exactly once: {[(r.label, r.mode) for r in bad]}")


if __name__ == "__main__":
    main()
