"""Exactly-once delivery with several dispatcher workers racing over the same due reminders.

On PostgreSQL this is the SELECT … FOR UPDATE SKIP LOCKED path that lets workers on many hosts share the queue;
the same test runs on SQLite, where the claim is one atomic UPDATE … RETURNING. Each worker has its own engine
(connection pool) and its own HTTP session, like separate processes would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.accounts.models import Clinic, Role, User
from server.push.dispatcher import BatchReport, Dispatcher
from server.push.models import PushSubscription
from server.push.sender import PushSender
from server.push.service import ReminderSpec, enqueue_reminders
from server.push.vapid import VapidKeys
from tests.conftest import Database
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import in_session, make_engine

PEOPLE = 200
PER_PERSON = 10  # 2,000 reminders
WORKERS = 4
NOW = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # noon in New York: no quiet hours in the way


def _arrange(url: str, service: LoopbackPushService) -> dict[str, int]:
    """PEOPLE patients with one device each and PER_PERSON due reminders each; returns sub_id → person number."""
    subs = [service.new_subscription() for _ in range(PEOPLE)]

    async def work(session: AsyncSession) -> dict[str, int]:
        session.add(Clinic(id=1, name="Clinic"))
        await session.flush()
        owner: dict[str, int] = {}
        specs: list[ReminderSpec] = []
        for n, sub in enumerate(subs):
            user = User(clinic_id=1, email=f"p{n}@example.org", display_name=f"P{n}", role=Role.PATIENT,
                        password_hash="x")  # fmt: skip
            session.add(user)
            await session.flush()
            session.add(PushSubscription(user_id=user.id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth))  # type: ignore[arg-type]
            owner[sub.sub_id] = n
            for k in range(PER_PERSON):
                due = NOW - timedelta(seconds=k)
                spec = ReminderSpec(user.id, "encouragement", f"enc:{n}:{k}", f"R{n}-{k}", due_at=due,  # type: ignore[arg-type]
                                    expires_at=NOW + timedelta(hours=1))  # fmt: skip
                specs.append(spec)
        await session.flush()
        assert await enqueue_reminders(session, specs, now=NOW) == PEOPLE * PER_PERSON
        return owner

    return in_session(url, work)


async def _race(url: str, keys: VapidKeys, service: LoopbackPushService) -> list[BatchReport]:
    engines = [make_engine(url) for _ in range(WORKERS)]
    senders = [PushSender(keys, max_concurrency=16, timeout=10) for _ in range(WORKERS)]
    workers = [
        Dispatcher(
            async_sessionmaker(e, expire_on_commit=False),
            s,
            batch_size=40,
            lanes=2,
            poll_interval=0.05,
            lease_seconds=120,
        )
        for e, s in zip(engines, senders, strict=True)
    ]
    reports = [BatchReport() for _ in workers]

    def counting(worker: Dispatcher, report: BatchReport):  # type: ignore[no-untyped-def]
        original = worker.run_once

        async def run_once(now: datetime | None = None) -> BatchReport:
            result = await original(NOW)  # every worker sees the same frozen clock
            report.add(result)
            return result

        return run_once

    for worker, report in zip(workers, reports, strict=True):
        worker.run_once = counting(worker, report)  # type: ignore[method-assign]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    try:
        # The service runs on its own thread's loop: poll it rather than share an asyncio.Event.
        deadline = time.monotonic() + 120
        while len(service.received()) < PEOPLE * PER_PERSON and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # give any duplicate a chance to show up
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        for sender in senders:
            await sender.aclose()
        for engine in engines:
            await engine.dispose()
    return reports


def test_four_workers_deliver_2000_reminders_exactly_once(db: Database) -> None:
    keys = VapidKeys.generate()
    service = LoopbackPushService()
    with service.run_in_thread():
        service.set_delay(0.003)  # a little network time, so batches of different workers overlap
        owner = _arrange(db.url, service)
        reports = asyncio.run(_race(db.url, keys, service))

        received = service.received()
        assert len(received) == PEOPLE * PER_PERSON
        assert service.attempts == PEOPLE * PER_PERSON  # not one retry, not one duplicate POST
        titles = Counter((push.sub_id, push.data["title"]) for push in received)
        assert max(titles.values()) == 1
        # Every message went to the device of the person it was for.
        assert all(push.data["title"].startswith(f"R{owner[push.sub_id]}-") for push in received)

    assert db.scalar("SELECT count(*) FROM reminder WHERE status = 'sent'") == PEOPLE * PER_PERSON
    assert db.scalar("SELECT count(*) FROM reminder WHERE status <> 'sent' OR claimed_by IS NOT NULL") == 0
    assert db.scalar("SELECT count(*) FROM reminder_delivery WHERE outcome = 'sent'") == PEOPLE * PER_PERSON
    assert db.scalar("SELECT count(*) FROM reminder_delivery WHERE outcome <> 'sent'") == 0
    claimed = [r.claimed for r in reports]
    assert sum(claimed) == PEOPLE * PER_PERSON  # no row was claimed twice
    assert sum(1 for c in claimed if c) >= 2, claimed  # the work really was shared
