"""Helpers for reminder tests: run a real Dispatcher against a test database and the loopback push service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.db import _sqlite_pragmas
from server.push.dispatcher import BatchReport, Dispatcher, DispatcherHooks
from server.push.models import PushSubscription, Reminder, ReminderDelivery
from server.push.sender import PushSender
from server.push.service import enqueue_reminder, get_preferences, save_quiet_hours
from server.push.vapid import VapidKeys
from tests.support.push_service import TestSubscription

T = TypeVar("T")


def make_engine(url: str) -> AsyncEngine:
    """An engine set up like the app's (on SQLite: foreign keys on, WAL, busy timeout)."""
    engine = create_async_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


# Words that must never reach a lock screen.
HEALTH_WORDS = (
    "craving", "mood", "relapse", "drink", "drug", "alcohol", "substance", "score", "sober", "used",
    "diagnos", "medication", "self-harm", "suicid", "urge", "trigger", "depress", "anxiety", "overdose",
)  # fmt: skip


async def with_dispatcher(
    url: str,
    keys: VapidKeys,
    work: Callable[[Dispatcher], Awaitable[T]],
    *,
    hooks: DispatcherHooks | None = None,
    **options: Any,
) -> T:
    engine = make_engine(url)
    sender = PushSender(keys, timeout=options.pop("timeout", 5.0), max_concurrency=options.pop("concurrency", 16))
    options.setdefault("lease_seconds", 60.0)
    dispatcher = Dispatcher(async_sessionmaker(engine, expire_on_commit=False), sender, hooks=hooks, **options)
    try:
        return await work(dispatcher)
    finally:
        await sender.aclose()
        await engine.dispose()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a worker thread: the caller may be inside an event loop (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def drain(
    url: str, keys: VapidKeys, now: datetime | None = None, *, hooks: DispatcherHooks | None = None, **options: Any
) -> BatchReport:
    """Send everything due at `now` with a fresh dispatcher, the way a worker would."""
    return run(with_dispatcher(url, keys, lambda d: d.drain(now), hooks=hooks, **options))


async def _session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def in_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return run(_session(url, work))


def add_device(url: str, user_id: int, sub: TestSubscription, label: str = "Test phone") -> int:
    async def work(session: AsyncSession) -> int:
        row = PushSubscription(user_id=user_id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth,
                               device_label=label)  # fmt: skip
        session.add(row)
        await session.flush()
        return row.id  # type: ignore[return-value]

    return in_session(url, work)


def give_device(url: str, user_id: int) -> int:
    """A device row that is never sent to (for planning tests that don't send)."""

    async def work(session: AsyncSession) -> int:
        row = PushSubscription(user_id=user_id, endpoint=f"http://127.0.0.1:9/push/u{user_id}", p256dh="x", auth="y")
        session.add(row)
        await session.flush()
        return row.id  # type: ignore[return-value]

    return in_session(url, work)


def queue(db_url: str, /, **fields: Any) -> int | None:
    """enqueue_reminder in its own transaction."""

    async def work(session: AsyncSession) -> int | None:
        return await enqueue_reminder(session, **fields)

    return in_session(db_url, work)


def reminder(url: str, reminder_id: int) -> Reminder:
    async def work(session: AsyncSession) -> Reminder:
        row = await session.get(Reminder, reminder_id)
        assert row is not None
        return row

    return in_session(url, work)


def deliveries(url: str, reminder_id: int | None = None) -> list[ReminderDelivery]:
    async def work(session: AsyncSession) -> list[ReminderDelivery]:
        stmt = select(ReminderDelivery).order_by(ReminderDelivery.id)  # type: ignore[arg-type]
        if reminder_id is not None:
            stmt = stmt.where(ReminderDelivery.reminder_id == reminder_id)
        return list(await session.scalars(stmt))

    return in_session(url, work)


def devices(url: str, user_id: int) -> list[PushSubscription]:
    async def work(session: AsyncSession) -> list[PushSubscription]:
        return list(await session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id)))

    return in_session(url, work)


def reminders_of(url: str, user_id: int) -> list[Reminder]:
    async def work(session: AsyncSession) -> list[Reminder]:
        stmt = select(Reminder).where(Reminder.user_id == user_id).order_by(Reminder.due_at)  # type: ignore[arg-type]
        return list(await session.scalars(stmt))

    return in_session(url, work)


def set_preferences(url: str, user_id: int, **values: Any) -> None:
    """Set reminder choices by their form names (checkin_enabled=False, group_minutes_before=30, quiet_start=…):
    the kinds' choices go to server.reminders (reminder_setting rows), quiet hours to push."""
    import server.reminders  # noqa: F401  (registers the app's kinds and who keeps the choices)
    from server.push.kinds import switchable_kinds
    from server.reminders.preferences import KindChoice, choices, save_choices

    async def work(session: AsyncSession) -> None:
        current = await choices(session, user_id)
        changes: dict[str, KindChoice] = {}
        for kind in switchable_kinds():
            named = [f"{kind.name}_enabled", *(f"{kind.name}_{o.name}" for o in kind.options)]
            if not any(name in values for name in named):
                continue
            enabled = values.pop(f"{kind.name}_enabled", current[kind.name].enabled)
            options = dict(current[kind.name].options)
            for option in kind.options:
                options[option.name] = values.pop(f"{kind.name}_{option.name}", options[option.name])
            changes[kind.name] = KindChoice(enabled, options)
        await save_choices(session, user_id, changes)
        if values:
            quiet = await get_preferences(session, user_id)
            start, end = values.pop("quiet_start", quiet.quiet_start), values.pop("quiet_end", quiet.quiet_end)
            await save_quiet_hours(session, user_id, start, end)
        assert not values, f"unknown reminder settings: {sorted(values)}"

    in_session(url, work)
