"""Kill -9 one of three real `steady dispatch` worker processes mid-run (PostgreSQL, a slow loopback push service)
and count what the receiver got. Used by tests/test_push_crash.py and bench/push_crash_bench.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Clinic, Role, User
from server.push.models import PushSubscription
from server.push.service import ReminderSpec, enqueue_reminders, save_quiet_hours
from server.reminders import kinds as _app_kinds  # noqa: F401  (registers the reminder kinds, encouragement too)
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import in_session

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from server.push.worker import WorkerOptions, run_worker
    from server.settings import Settings
    from server.web.logging import configure_logging
    configure_logging()
    options = WorkerOptions(batch_size=40, concurrency=int(sys.argv[1]), lanes=2, poll_interval=0.05,
                            plan_interval=3600)
    asyncio.run(run_worker(Settings.from_env(), options))
    """
)


@dataclass
class CrashReport:
    reminders: int
    received: int
    distinct: int
    duplicates: int
    duplicates_with_other_topic: int
    in_flight_limit: int
    recorded_sent: int
    killed_after: int  # messages received when the worker was killed (the baseline: all of them)
    seconds_until_all_received: float  # from the kill (the baseline: from the start)


def arrange(url: str, service: LoopbackPushService, people: int, per_person: int) -> dict[str, str]:
    """People with one device each and due reminders (quiet hours off); returns sub_id → name."""
    subs = [service.new_subscription() for _ in range(people)]
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> dict[str, str]:
        session.add(Clinic(id=1, name="Clinic"))
        await session.flush()
        owner: dict[str, str] = {}
        specs: list[ReminderSpec] = []
        for n, sub in enumerate(subs):
            user = User(clinic_id=1, email=f"p{n}@example.org", display_name=f"P{n}", role=Role.PATIENT,
                        password_hash="x")  # fmt: skip
            session.add(user)
            await session.flush()
            assert user.id is not None
            await save_quiet_hours(session, user.id, clock_time(0), clock_time(0))
            session.add(PushSubscription(user_id=user.id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth))
            owner[sub.sub_id] = f"P{n}"
            for k in range(per_person):
                specs.append(ReminderSpec(user.id, "encouragement", f"enc:{n}:{k}", f"R{n}-{k}",
                                          due_at=now - timedelta(seconds=k + 1),
                                          expires_at=now + timedelta(hours=1)))  # fmt: skip
        await session.flush()
        await enqueue_reminders(session, specs, now=now)
        return owner

    return in_session(url, work)


def run(url: str, data_dir: Path, *, people: int, per_person: int, delay: float, concurrency: int = 16,
        kill_after: int | None = None, timeout: float = 90.0) -> CrashReport:  # fmt: skip
    """Three workers; once `kill_after` messages have arrived, SIGKILL the first one; wait for every message."""
    total = people * per_person
    kill_after = kill_after if kill_after is not None else total // 4
    service = LoopbackPushService()
    with service.run_in_thread():
        service.set_delay(delay)
        arrange(url, service, people, per_person)
        env = {**os.environ, "DATABASE_URL": url, "STEADY_DATA_DIR": str(data_dir), "SECRET_KEY": "k" * 40,
               "BASE_URL": "http://127.0.0.1"}  # fmt: skip
        command = [sys.executable, "-c", WORKER, str(concurrency)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        workers = [subprocess.Popen(command, env=env, **quiet) for _ in range(3)]
        try:
            deadline = time.monotonic() + timeout
            started = time.monotonic()
            while len(service.received()) < min(kill_after, total) and time.monotonic() < deadline:
                time.sleep(0.01)
            killed_at_count = len(service.received())
            killed = time.monotonic() if kill_after < total else started  # the baseline kills nobody
            if kill_after < total:
                os.kill(workers[0].pid, signal.SIGKILL)
                workers[0].wait()

            def distinct() -> int:
                return len({(p.sub_id, p.data["title"]) for p in service.received()})

            while distinct() < total and time.monotonic() < deadline:
                time.sleep(0.05)
            until_all = time.monotonic() - killed
            time.sleep(1.0)  # let any late duplicate arrive
        finally:
            alive = [w for w in workers if w.poll() is None]
            for worker in alive:
                worker.send_signal(signal.SIGTERM)
            for worker in alive:
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
        received = service.received()
    counts = Counter((p.sub_id, p.data["title"]) for p in received)
    topics: dict[tuple[str, str], set[str | None]] = {}
    for p in received:
        topics.setdefault((p.sub_id, p.data["title"]), set()).add(p.topic)
    from tests.conftest import Database

    recorded = Database(url).scalar("SELECT count(*) FROM reminder_delivery WHERE outcome = 'sent'")
    return CrashReport(
        reminders=total,
        received=len(received),
        distinct=len(counts),
        duplicates=sum(c - 1 for c in counts.values()),
        duplicates_with_other_topic=sum(1 for key, c in counts.items() if c > 1 and len(topics[key]) > 1),
        in_flight_limit=concurrency,  # a worker's sends hold one of `concurrency` slots until written down
        recorded_sent=int(recorded),
        killed_after=killed_at_count,
        seconds_until_all_received=until_all,
    )
