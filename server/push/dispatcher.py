"""The dispatcher: claims due reminders from the database and sends them to every device of their person.

Any number of workers, in any number of processes on any number of hosts, share the work through the database:

- A worker claims a small batch in one statement: ``UPDATE reminder SET claimed_by, claimed_until, next_attempt_at
  = lease WHERE id IN (SELECT id … WHERE status = 'pending' AND next_attempt_at <= now ORDER BY next_attempt_at
  LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …``. On PostgreSQL, SKIP LOCKED lets concurrent workers pass over each
  other's rows instead of waiting; SQLite runs one writer at a time, so the same statement is atomic there too.
- The lease is written into next_attempt_at, so a claimed row is invisible to other workers until the lease ends.
  If a worker dies mid-batch, its rows come back after the lease (crash safety: at-least-once, and the per-device
  log below makes the retry skip every device that already got the reminder).
- Before sending, each reminder is checked: past its usefulness window → dropped (never sent late); its kind
  switched off → dropped; inside the person's quiet hours → held until they end, or dropped if it would no longer
  be useful by then (unless it is urgent: a group starting before quiet hours end is still announced); and any
  "still wanted?" check registered for its kind (e.g. the check-in was done meanwhile).
- Sends run concurrently (bounded by the PushSender). 201 → sent; 404/410 → the device is deleted; 413 → dropped;
  429/5xx/timeouts → retried with exponential backoff and full jitter, never sooner than Retry-After, up to
  max_attempts, then failed. Every outcome is logged per device in reminder_delivery (no text, no health data).

Why reminders are made (group sessions, the daily check-in, …) is not this module's business: planners and
"still wanted?" checks are registered from outside through `DispatcherHooks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as wall_time
from typing import Any

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from server.accounts.models import User
from server.db import dialect_insert, table_of, utcnow
from server.localtime import zone_for as zone
from server.push.kinds import get_kind, switched_off
from server.push.models import (
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    PushSubscription,
    Reminder,
    ReminderDelivery,
    ReminderPreference,
)
from server.push.sender import DeliveryResult, PushSender, PushTarget, backoff_delay
from server.push.timing import quiet_release
from server.settings import Settings
from server.web.logging import get_logger

log = get_logger("push.dispatcher")

# Core tables: the dispatcher moves plain rows in bulk, without the ORM's per-object bookkeeping.
REMINDERS = table_of(Reminder)
DELIVERIES = table_of(ReminderDelivery)
SUBS = table_of(PushSubscription)
PREFS = table_of(ReminderPreference)
USERS = table_of(User)
# A device's "last reminder" date is written at most this often, not on every delivery.
LAST_SUCCESS_EVERY = timedelta(hours=1)
# Any fixed number works: PostgreSQL advisory locks are just integers agreed on by every worker.
PLANNING_LOCK = 0x5354454144  # "STEAD"
FINISHED_KEPT = timedelta(days=30)


# Each completed send's delivery-log row, with the future its sender waits on until the row is written;
# None ends a batch.
_Completed = asyncio.Queue[tuple[dict[str, Any], "asyncio.Future[None]"] | None]


def _release(waiting: list[asyncio.Future[None]]) -> None:
    for written in waiting:
        if not written.done():
            written.set_result(None)


@dataclass(frozen=True, slots=True)
class ClaimedReminder:
    """A reminder row as a worker claimed it (plain data: hooks may read it, not change it)."""

    id: int
    user_id: int
    kind: str
    dedupe_key: str
    due_at: datetime
    expires_at: datetime
    urgency: str
    topic: str | None
    title: str
    body: str
    url: str
    attempts: int

    def payload(self, base_url: str = "") -> dict[str, Any]:
        """What the phone gets: a Declarative Web Push message (`web_push: 8030` and `notification`), which
        Safari on iOS/iPadOS 18.4+ and macOS shows by itself, opening `navigate` on tap and setting the app badge;
        other browsers hand the same JSON to our service worker (static/sw.js), which reads `notification` too.
        The flat title/body/url/tag/ts stay for service workers installed before this format (they update
        themselves on the next visit). `tag` is the push Topic: a newer reminder of a replaceable kind, or a
        repeat of this one after a crash, replaces the notification on the screen instead of stacking."""
        tag = self.topic or self.kind
        timestamp = int(self.due_at.timestamp() * 1000)
        notification: dict[str, Any] = {
            "title": self.title,
            "body": self.body,
            # Declarative pushes are opened by the system, with no page to resolve a path against.
            "navigate": base_url.rstrip("/") + self.url if base_url and self.url.startswith("/") else self.url,
            "tag": tag,
            "timestamp": timestamp,
            "silent": False,
        }
        message: dict[str, Any] = {"web_push": 8030, "notification": notification}
        if _badges(self.kind):
            # The W3C draft reads app_badge beside `notification`; WebKit's announcement shows it inside.
            message["app_badge"] = notification["app_badge"] = 1
        message.update({"title": self.title, "body": self.body, "url": self.url, "tag": tag, "ts": timestamp})
        return message


def _badges(kind: str) -> bool:
    try:
        return get_kind(kind).badge
    except ValueError:  # a kind from an older release still queued: no badge
        return False


# planner(db, now, user_ids): queue what is coming up (all people when user_ids is None); returns rows written.
Planner = Callable[[AsyncSession, datetime, "set[int] | None"], Awaitable[int]]
# still_wanted(db, reminders of one kind, now): the ids that should still be sent.
StillWanted = Callable[[AsyncSession, "list[ClaimedReminder]", datetime], Awaitable["set[int]"]]


@dataclass
class DispatcherHooks:
    """The WHY of reminders, registered from outside so this package never imports the domains that make them."""

    planners: list[Planner] = field(default_factory=list)
    still_wanted: dict[str, StillWanted] = field(default_factory=dict)

    async def plan(self, db: AsyncSession, now: datetime, user_ids: set[int] | None = None) -> int:
        total = 0
        for planner in self.planners:
            try:
                async with db.begin_nested():
                    total += await planner(db, now, user_ids)
            except OperationalError as exc:
                if "locked" in str(exc.orig).lower():
                    raise  # SQLite's write lock: Dispatcher.plan tries the whole round again
                log.exception("reminder planner %s failed", getattr(planner, "__name__", planner))
            except Exception:
                # One broken planner must not stop the others, nor the sending of what is already queued.
                log.exception("reminder planner %s failed", getattr(planner, "__name__", planner))
        return total


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0  # reminders that reached at least one device in this batch
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    held: int = 0
    deliveries: int = 0  # device-level 201s in this batch
    pruned: int = 0

    def add(self, other: BatchReport) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class _Device:
    id: int
    user_id: int
    target: PushTarget


@dataclass(frozen=True, slots=True)
class _Prefs:
    timezone: str
    quiet_start: wall_time
    quiet_end: wall_time
    switched_off: frozenset[str]


PLAN_ATTEMPTS = 4  # planning again after "database is locked" (SQLite, past its busy timeout)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class _BatchRun:
    """What one batch decided: each reminder's new state (`updates`), the delivery log rows and the counts."""

    def __init__(self, now: datetime, already: dict[int, set[int]], log_row: Callable[..., dict[str, Any]]) -> None:
        self.now = now
        self.already = already
        self.log_row = log_row
        self.report = BatchReport()
        self.updates: dict[int, dict[str, Any]] = {}
        self.log_rows: list[dict[str, Any]] = []

    def finish(self, r: ClaimedReminder, status: str, **extra: Any) -> None:
        self.updates[r.id] = {"status": status, "attempts": r.attempts, "next_attempt_at": self.now,
                              "finished_at": self.now if status != "pending" else None, **extra}  # fmt: skip

    def drop(self, r: ClaimedReminder) -> None:
        # A device that already got it on an earlier attempt means the reminder was delivered after all.
        if self.already.get(r.id):
            self.finish(r, "sent")
            return
        self.finish(r, "dropped")
        self.log_rows.append(self.log_row(r, None, "dropped", None, self.now))
        self.report.dropped += 1

    def worth_sending(self, batch: list[ClaimedReminder], prefs: dict[int, _Prefs]) -> list[ClaimedReminder]:
        """Decide, before any network traffic, what is still worth sending: not expired, not switched off, and
        outside quiet hours (or held until they end, or urgent enough to go anyway)."""
        candidates: list[ClaimedReminder] = []
        for r in batch:
            pref = prefs.get(r.user_id)
            if pref is None or self.now >= r.expires_at or r.kind in pref.switched_off:
                self.drop(r)
                continue
            if r.kind != "test":  # the person just asked for a test: show it now
                release = quiet_release(self.now, zone(pref.timezone), pref.quiet_start, pref.quiet_end)
                if release is not None:
                    if release < r.expires_at:
                        self.finish(r, "pending", next_attempt_at=release)
                        self.report.held += 1
                        continue
                    if r.urgency != "high":
                        self.drop(r)
                        continue
            candidates.append(r)
        return candidates

    def fan_out(
        self, candidates: list[ClaimedReminder], devices: dict[int, list[_Device]]
    ) -> list[tuple[ClaimedReminder, _Device]]:
        """Every device that hasn't got this reminder yet."""
        jobs: list[tuple[ClaimedReminder, _Device]] = []
        for r in candidates:
            owned = devices.get(r.user_id, [])
            targets = [d for d in owned if d.id not in self.already.get(r.id, set())]
            if not owned:
                self.drop(r)  # no device: nothing to deliver to
            elif not targets:
                self.finish(r, "sent")
            else:
                jobs.extend((r, d) for d in targets)
        return jobs

    def count_results(
        self, jobs: list[tuple[ClaimedReminder, _Device]], results: list[DeliveryResult]
    ) -> tuple[set[int], set[int]]:
        """(devices delivered to, devices gone)."""
        delivered_to: set[int] = set()
        gone: set[int] = set()
        for (_r, device), result in zip(jobs, results, strict=True):
            if result.outcome == "sent":
                delivered_to.add(device.id)
                self.report.deliveries += 1
            elif result.outcome == "gone":
                gone.add(device.id)
        self.report.pruned = len(gone)
        return delivered_to, gone

    def settle(
        self,
        candidates: list[ClaimedReminder],
        jobs: list[tuple[ClaimedReminder, _Device]],
        results: list[DeliveryResult],
        policy: Dispatcher,
    ) -> None:
        """Each sent reminder's outcome over its devices: sent, retried later (with backoff), failed or dropped."""
        outcomes: dict[int, list[DeliveryResult]] = defaultdict(list)
        for (r, _device), result in zip(jobs, results, strict=True):
            outcomes[r.id].append(result)
        for r in candidates:
            if r.id in self.updates:
                continue
            got = outcomes[r.id]
            ever_sent = bool(self.already.get(r.id)) or any(res.outcome == "sent" for res in got)
            retry = [res for res in got if res.outcome == "retry"]
            attempts = r.attempts + 1
            if retry and attempts < policy.max_attempts:
                wait = max((res.retry_after or 0.0) for res in retry)
                delay = backoff_delay(r.attempts, wait or None, base=policy.backoff_base, cap=policy.backoff_cap)
                self.finish(r, "pending", attempts=attempts, next_attempt_at=self.now + timedelta(seconds=delay))
                self.report.retried += 1
                if any(res.outcome == "sent" for res in got):
                    self.report.sent += 1
            elif ever_sent:
                self.finish(r, "sent", attempts=attempts)
                self.report.sent += 1
            elif retry or any(res.outcome == "failed" for res in got):
                self.finish(r, "failed", attempts=attempts)
                self.report.failed += 1
            else:  # every device was gone or refused the size: nothing left to try
                self.finish(r, "dropped", attempts=attempts)
                self.report.dropped += 1


class Dispatcher:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        sender: PushSender,
        *,
        hooks: DispatcherHooks | None = None,
        worker_id: str | None = None,
        batch_size: int = 200,
        lease_seconds: float = 25.0,
        max_attempts: int = 6,
        backoff_base: float = 10.0,
        backoff_cap: float = 1800.0,
        poll_interval: float = 1.0,
        plan_interval: float = 60.0,
        lanes: int = 2,
        base_url: str = "",
    ) -> None:
        if lease_seconds <= sender.timeout * 2:
            # Each send must end well within the lease (the lease is renewed while a batch is in flight).
            raise ValueError("lease_seconds must be well above the sender's timeout")
        self.session_maker = session_maker
        self.sender = sender
        self.hooks = hooks or DispatcherHooks()
        self.worker_id = worker_id or new_worker_id()
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.poll_interval = poll_interval
        self.plan_interval = plan_interval
        self.lanes = max(1, lanes)
        self.base_url = base_url  # the app's public address: declarative pushes open absolute URLs
        # A send holds its slot until its delivery is written down, so a crash can repeat at most this many
        # sends per worker, however far the log's writes fall behind on a loaded machine.
        self._unrecorded = asyncio.Semaphore(sender.max_concurrency)
        self._wake = asyncio.Event()
        self._last_housekeeping = 0.0

    # -- claiming ---------------------------------------------------------------------------------------------

    async def _claim(self, db: AsyncSession, now: datetime) -> list[ClaimedReminder]:
        lease_end = now + self.lease
        due = (
            select(REMINDERS.c.id)
            .where(REMINDERS.c.status == "pending", REMINDERS.c.next_attempt_at <= now)
            .order_by(REMINDERS.c.next_attempt_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL; SQLite serialises writers anyway
        )
        stmt = (
            update(REMINDERS)
            .where(REMINDERS.c.id.in_(due.scalar_subquery()))
            .values(claimed_by=self.worker_id, claimed_until=lease_end, next_attempt_at=lease_end)
            .returning(
                REMINDERS.c.id,
                REMINDERS.c.user_id,
                REMINDERS.c.kind,
                REMINDERS.c.dedupe_key,
                REMINDERS.c.due_at,
                REMINDERS.c.expires_at,
                REMINDERS.c.urgency,
                REMINDERS.c.topic,
                REMINDERS.c.title,
                REMINDERS.c.body,
                REMINDERS.c.url,
                REMINDERS.c.attempts,
            )
        )
        rows = (await db.execute(stmt)).all()
        claimed = [ClaimedReminder(*row) for row in rows]
        claimed.sort(key=lambda r: r.due_at)
        return claimed

    async def _context(
        self, db: AsyncSession, batch: list[ClaimedReminder]
    ) -> tuple[dict[int, _Prefs], dict[int, list[_Device]], dict[int, set[int]]]:
        user_ids = {r.user_id for r in batch}
        prefs: dict[int, _Prefs] = {}
        rows = await db.execute(
            select(USERS.c.id, USERS.c.timezone, PREFS.c.id.label("pref_id"), PREFS.c.quiet_start, PREFS.c.quiet_end)
            .select_from(USERS.outerjoin(PREFS, PREFS.c.user_id == USERS.c.id))
            .where(USERS.c.id.in_(user_ids))
        )
        # Whether the person still wants each kind is asked of whoever keeps those choices (push/kinds.py).
        off: dict[int, set[str]] = defaultdict(set)
        for user_id, kind in await switched_off(db, {(r.user_id, r.kind) for r in batch}):
            off[user_id].add(kind)
        for row in rows:
            kinds_off = frozenset(off.get(row.id, ()))
            if row.pref_id is None:
                prefs[row.id] = _Prefs(row.timezone, DEFAULT_QUIET_START, DEFAULT_QUIET_END, kinds_off)
            else:
                prefs[row.id] = _Prefs(row.timezone, row.quiet_start, row.quiet_end, kinds_off)
        devices: dict[int, list[_Device]] = defaultdict(list)
        subs = await db.execute(
            select(SUBS.c.id, SUBS.c.user_id, SUBS.c.endpoint, SUBS.c.p256dh, SUBS.c.auth)
            .where(SUBS.c.user_id.in_(user_ids))
            .order_by(SUBS.c.id)
        )
        for sub_id, user_id, endpoint, p256dh, auth in subs:
            devices[user_id].append(_Device(sub_id, user_id, PushTarget(endpoint, p256dh, auth)))
        already: dict[int, set[int]] = defaultdict(set)
        # Every row in the batch, not only retries: a row taken over after a crashed worker's lease ran out still
        # counts 0 attempts, yet that worker may have delivered (and logged) it to some devices already.
        if batch:
            sent = await db.execute(
                select(DELIVERIES.c.reminder_id, DELIVERIES.c.subscription_id).where(
                    DELIVERIES.c.reminder_id.in_([r.id for r in batch]), DELIVERIES.c.outcome == "sent"
                )
            )
            for reminder_id, sub_id in sent:
                already[reminder_id].add(sub_id)
        return prefs, devices, already

    # -- one batch --------------------------------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> BatchReport:
        """Claim one batch that is due at `now`, send it and record what happened."""
        now = now or utcnow()
        async with self.session_maker() as db:
            async with db.begin():
                batch = await self._claim(db, now)
                if not batch:
                    return BatchReport()
                prefs, devices, already = await self._context(db, batch)
            run = _BatchRun(now, already, self._log_row)
            run.report.claimed = len(batch)
            candidates = await self._still_wanted(db, run.worth_sending(batch, prefs), now, run.drop)
            jobs = run.fan_out(candidates, devices)
            results = await self._send_all(batch, jobs, now)
            delivered_to, gone = run.count_results(jobs, results)
            run.settle(candidates, jobs, results, self)
            await self._record(db, now, run.updates, run.log_rows, delivered_to, gone)
        return run.report

    async def _send_all(
        self, batch: list[ClaimedReminder], jobs: list[tuple[ClaimedReminder, _Device]], now: datetime
    ) -> list[DeliveryResult]:
        """Send every job at once while keeping the batch's lease alive. Each send is written down as soon as it
        completes, so a crash can repeat only the sends that were in flight (and those carry the same Topic, so
        the phone replaces rather than stacks)."""
        keep_leased = asyncio.create_task(self._keep_leased([r.id for r in batch], now))
        done: _Completed = asyncio.Queue()
        recorder = asyncio.create_task(self._record_as_they_complete(done)) if jobs else None
        try:
            return list(await asyncio.gather(*(self._send_and_record(r, d, now, done) for r, d in jobs)))
        finally:
            done.put_nowait(None)
            if recorder is not None:
                await recorder
            keep_leased.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keep_leased

    async def _still_wanted(
        self,
        db: AsyncSession,
        candidates: list[ClaimedReminder],
        now: datetime,
        drop: Callable[[ClaimedReminder], None],
    ) -> list[ClaimedReminder]:
        by_kind: dict[str, list[ClaimedReminder]] = defaultdict(list)
        for r in candidates:
            by_kind[r.kind].append(r)
        keep: list[ClaimedReminder] = []
        for kind, items in by_kind.items():
            check = self.hooks.still_wanted.get(kind)
            if check is None:
                keep.extend(items)
                continue
            try:
                async with db.begin():
                    wanted = await check(db, items, now)
            except Exception:
                # Fail open: a harmless reminder sent is better than one silently lost to a bug.
                log.exception("still-wanted check for %s failed", kind)
                wanted = {r.id for r in items}
            for r in items:
                if r.id in wanted:
                    keep.append(r)
                else:
                    drop(r)
        keep.sort(key=lambda r: r.due_at)
        return keep

    async def _keep_leased(self, ids: list[int], now: datetime) -> None:
        """While a batch is still sending (a slow push service, many devices), renew its lease every third of it,
        so no other worker takes the rows over and sends them a second time."""
        started = time.monotonic()
        period = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            until = now + timedelta(seconds=time.monotonic() - started) + self.lease
            try:
                async with self.session_maker() as db, db.begin():
                    await db.execute(
                        update(REMINDERS)
                        .where(REMINDERS.c.id.in_(ids), REMINDERS.c.claimed_by == self.worker_id)
                        .values(claimed_until=until, next_attempt_at=until)
                    )
            except Exception:
                log.exception("could not renew a batch's lease")

    def _logged_outcome(self, r: ClaimedReminder, result: DeliveryResult) -> str:
        outcome = {"sent": "sent", "gone": "pruned", "too_large": "dropped", "retry": "retry"}.get(
            result.outcome, "failed"
        )
        if outcome == "retry" and r.attempts + 1 >= self.max_attempts:
            return "failed"  # the last attempt: nothing will try again
        return outcome

    async def _send_and_record(
        self, r: ClaimedReminder, device: _Device, now: datetime, done: _Completed
    ) -> DeliveryResult:
        async with self._unrecorded:
            result = await self._send(r, device, now)
            written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.put_nowait((self._log_row(r, device.id, self._logged_outcome(r, result), result.status, now), written))
            # Bounded: should the recorder ever stall, the slot comes back well within the lease.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(written, timeout=self.lease.total_seconds() / 3)
        return result

    async def _record_as_they_complete(self, done: _Completed) -> None:
        """One connection writes each completed send to the delivery log at once (whatever has finished since
        the last write goes in one INSERT), then frees those sends' slots, until the batch puts None."""
        finished = False
        pending: list[asyncio.Future[None]] = []
        try:
            async with self.session_maker() as db:
                while not finished:
                    got = [await done.get()]
                    while not done.empty():
                        got.append(done.get_nowait())
                    finished = got[-1] is None
                    entries = [entry for entry in got if entry is not None]
                    if not entries:
                        continue
                    pending = [written for _, written in entries]
                    try:
                        async with db.begin():
                            # DO NOTHING: if a lost lease ever let two workers send, the log says "sent" only once.
                            await db.execute(
                                dialect_insert(db, DELIVERIES).on_conflict_do_nothing(), [row for row, _ in entries]
                            )
                    except Exception:
                        # At worst these sends may be repeated after a crash (same Topic: replaced on the phone).
                        log.exception("could not record deliveries as they completed")
                    _release(pending)
        finally:
            # Never leave a send waiting on a recorder that stopped.
            _release(pending)
            while not done.empty():
                entry = done.get_nowait()
                if entry is not None:
                    _release([entry[1]])

    async def _send(self, r: ClaimedReminder, device: _Device, now: datetime) -> DeliveryResult:
        ttl = max(0, int((r.expires_at - now).total_seconds()))
        try:
            payload = r.payload(self.base_url)
            return await self.sender.send(device.target, payload, ttl=ttl, urgency=r.urgency, topic=r.topic)
        except ValueError as exc:  # only a caller mistake (oversized text) gets here: treat it like a 413
            log.warning("reminder %s not sendable: %s", r.id, type(exc).__name__)
            return DeliveryResult("too_large", None, detail="payload")

    @staticmethod
    def _log_row(r: ClaimedReminder, sub_id: int | None, outcome: str, status: int | None, now: datetime) -> dict:
        return {"reminder_id": r.id, "subscription_id": sub_id, "kind": r.kind, "outcome": outcome,
                "status_code": status, "at": now}  # fmt: skip

    async def _record(
        self,
        db: AsyncSession,
        now: datetime,
        updates: dict[int, dict[str, Any]],
        log_rows: list[dict[str, Any]],
        delivered_to: set[int],
        gone: set[int],
    ) -> None:
        async with db.begin():
            if log_rows:
                # DO NOTHING: if a lost lease ever let two workers send, the log still says "sent" only once.
                await db.execute(dialect_insert(db, DELIVERIES).on_conflict_do_nothing(), log_rows)
            # Most of a batch ends the same way ("sent, first attempt"): one UPDATE per distinct outcome.
            groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
            for rid, u in updates.items():
                groups[(u["status"], u["attempts"], u["next_attempt_at"], u["finished_at"])].append(rid)
            for (status, attempts, next_at, finished), ids in groups.items():
                await db.execute(
                    update(REMINDERS)
                    .where(REMINDERS.c.id.in_(ids), REMINDERS.c.claimed_by == self.worker_id)
                    .values(status=status, attempts=attempts, next_attempt_at=next_at, finished_at=finished,
                            claimed_by=None, claimed_until=None)
                )  # fmt: skip
            if delivered_to:
                await db.execute(
                    update(SUBS)
                    .where(
                        SUBS.c.id.in_(delivered_to),
                        or_(SUBS.c.last_success_at.is_(None), SUBS.c.last_success_at < now - LAST_SUCCESS_EVERY),
                    )
                    .values(last_success_at=now)
                )
            if gone:
                await db.execute(delete(SUBS).where(SUBS.c.id.in_(gone)))

    # -- planning and housekeeping ----------------------------------------------------------------------------

    async def plan(self, now: datetime | None = None, user_ids: set[int] | None = None) -> int:
        """Run the registered planners once. On PostgreSQL only one worker plans at a time (the others skip).
        On SQLite a planner that meets a request's write past the busy timeout tries again, a few times."""
        if not self.hooks.planners:
            return 0
        now = now or utcnow()
        for attempt in range(PLAN_ATTEMPTS):
            try:
                return await self._plan_once(now, user_ids)
            except OperationalError as exc:
                if "locked" not in str(exc.orig).lower() or attempt == PLAN_ATTEMPTS - 1:
                    raise
                log.info("planning met a locked database; trying again")
                await asyncio.sleep(0.2 * (attempt + 1))
        return 0

    async def _plan_once(self, now: datetime, user_ids: set[int] | None) -> int:
        async with self.session_maker() as db, db.begin():
            if db.get_bind().dialect.name == "postgresql" and user_ids is None:
                got = await db.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PLANNING_LOCK})
                if not got:
                    return 0
            written = await self.hooks.plan(db, now, user_ids)
            if user_ids is None and time.monotonic() - self._last_housekeeping > 3600:
                self._last_housekeeping = time.monotonic()
                await db.execute(
                    delete(Reminder).where(
                        col(Reminder.status) != "pending",
                        col(Reminder.finished_at) < now - FINISHED_KEPT,
                    )
                )
        return written

    async def drain(self, now: datetime | None = None, max_batches: int = 10_000) -> BatchReport:
        """Process batches until nothing is due at `now` (tests and `steady dispatch --once`)."""
        total = BatchReport()
        for _ in range(max_batches):
            report = await self.run_once(now)
            total.add(report)
            if report.claimed == 0:
                break
        return total

    # -- the long-running loop --------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due reminders now instead of at the next poll (e.g. right after a test was queued)."""
        self._wake.set()

    async def _lane(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                report = await self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("dispatcher batch failed")
                report = None
            if report is not None and report.claimed >= self.batch_size:
                continue  # more is waiting: no pause
            pause = self.poll_interval * min(2**failures, 30)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wait_any(stop)
            self._wake.clear()

    async def _wait_any(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _planning(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                written = await self.plan()
                if written:
                    self.wake()
            except Exception:
                log.exception("reminder planning failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.plan_interval):
                    await stop.wait()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Send reminders until `stop` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        log.info("dispatcher %s started", self.worker_id)
        tasks = [asyncio.create_task(self._lane(stop)) for _ in range(self.lanes)]
        if self.hooks.planners:
            tasks.append(asyncio.create_task(self._planning(stop)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            log.info("dispatcher %s stopped", self.worker_id)


# -- wiring -----------------------------------------------------------------------------------------------------


def sender_options(env: Any) -> dict[str, Any]:
    return {
        "max_concurrency": int(env.get("STEADY_PUSH_CONCURRENCY") or 64),
        "timeout": float(env.get("STEADY_PUSH_TIMEOUT") or 10.0),
    }


def dispatcher_lifespan(
    settings: Settings, session_maker: async_sessionmaker[AsyncSession], hooks: DispatcherHooks | None = None
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan that runs one dispatcher inside the app when settings.run_dispatcher_in_app is on
    (the default for SQLite, where the app is the only process). The hooks are kept on app.state either way,
    so the reminder pages can re-plan one person right after they change their settings."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        app.state.push_hooks = hooks or DispatcherHooks()
        app.state.dispatcher = None
        if not settings.run_dispatcher_in_app:
            yield
            return
        from server.push.vapid import load_or_create_vapid_keys

        keys = load_or_create_vapid_keys(settings.data_dir, settings.env)
        sender = PushSender(keys, **sender_options(settings.env))
        dispatcher = Dispatcher(session_maker, sender, hooks=app.state.push_hooks, base_url=settings.base_url)
        app.state.dispatcher = dispatcher
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop), name="steady-dispatcher")
        try:
            yield
        finally:
            stop.set()
            try:
                async with asyncio.timeout(5):
                    await asyncio.shield(task)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await sender.aclose()

    return lifespan
