"""The dispatcher end to end: real reminder rows, a real Dispatcher, the loopback push service decrypting
every message. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest

from server.accounts.models import Role
from server.push.dispatcher import ClaimedReminder, DispatcherHooks
from tests.conftest import Database
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import (
    HEALTH_WORDS,
    add_device,
    deliveries,
    devices,
    drain,
    queue,
    reminder,
    set_preferences,
    with_dispatcher,
)

# 12:00 in New York (EDT): outside the default quiet hours (22:00–07:00).
NOON = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)


def _reminder(db: Database, user_id: int, key: str, *, due: datetime = NOON, **extra: object) -> int:
    fields: dict[str, object] = {
        "user_id": user_id,
        "kind": "checkin",
        "dedupe_key": key,
        "title": "Time for your daily check-in",
        "body": "It takes about a minute. Tap to start.",
        "url": "/checkin",
        "due_at": due,
        "expires_at": due + timedelta(hours=4),
    }
    fields.update(extra)
    rid = queue(db.url, **fields)
    assert rid is not None
    return rid


def test_reminder_reaches_every_device_decrypted(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    phone, laptop = push_service.new_subscription(keys.public_key), push_service.new_subscription(keys.public_key)
    add_device(db.url, patient.id, phone, "Phone")
    add_device(db.url, patient.id, laptop, "Laptop")
    rid = _reminder(db, patient.id, "checkin:2026-06-15:1", expires_at=NOON + timedelta(hours=2))

    report = drain(db.url, keys, NOON)

    assert (report.claimed, report.sent, report.deliveries) == (1, 1, 2)
    for sub in (phone, laptop):
        [push] = push_service.received(sub.sub_id)
        assert push.data["title"] == "Time for your daily check-in"
        assert push.data["url"] == "/checkin"
        assert push.data["tag"] == "checkin"  # the service worker replaces an older check-in reminder
        assert push.ttl == 2 * 3600  # TTL = what is left of its usefulness window
        assert push.urgency == "normal"
        assert push.topic == "checkin"
        assert push.claims["sub"] == "mailto:ops@steady.example"
        assert push.body_size < 4096
    row = reminder(db.url, rid)
    assert (row.status, row.attempts, row.claimed_by) == ("sent", 1, None)
    assert [d.outcome for d in deliveries(db.url, rid)] == ["sent", "sent"]
    assert all(d.last_success_at is not None for d in devices(db.url, patient.id))

    # Nothing is due any more: a second pass sends nothing.
    assert drain(db.url, keys, NOON + timedelta(minutes=5)).claimed == 0
    assert len(push_service.received()) == 2


def test_not_yet_due_waits(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    _reminder(db, patient.id, "later", due=NOON + timedelta(minutes=30))

    assert drain(db.url, keys, NOON).claimed == 0
    assert drain(db.url, keys, NOON + timedelta(minutes=30)).sent == 1


def test_queueing_twice_never_duplicates(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    first = _reminder(db, patient.id, "milestone:7:1", kind="milestone")
    second = _reminder(db, patient.id, "milestone:7:1", kind="milestone", title="Another title")
    assert first == second
    drain(db.url, keys, NOON)
    assert len(push_service.received()) == 1
    assert db.scalar("SELECT count(*) FROM reminder") == 1


def test_410_prunes_the_device(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    gone, alive = push_service.new_subscription(), push_service.new_subscription()
    gone_id = add_device(db.url, patient.id, gone, "Old phone")
    add_device(db.url, patient.id, alive, "New phone")
    push_service.unsubscribe(gone.sub_id)
    rid = _reminder(db, patient.id, "k410")

    report = drain(db.url, keys, NOON)

    assert report.pruned == 1
    assert [d.device_label for d in devices(db.url, patient.id)] == ["New phone"]
    log = {(d.subscription_id, d.outcome, d.status_code) for d in deliveries(db.url, rid)}
    # The pruned device's log row stays (for the counts) but no longer points at a device.
    assert (None, "pruned", 410) in log
    assert reminder(db.url, rid).status == "sent"
    assert db.scalar("SELECT count(*) FROM push_subscription WHERE id = :i", i=gone_id) == 0


def test_all_devices_gone_drops_the_reminder(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    push_service.unsubscribe(sub.sub_id)
    rid = _reminder(db, patient.id, "all-gone")
    drain(db.url, keys, NOON)
    assert reminder(db.url, rid).status == "dropped"
    assert devices(db.url, patient.id) == []


def test_429_backs_off_honouring_retry_after_then_sends(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    rid = _reminder(db, patient.id, "k429")
    push_service.fail_next(429, retry_after=120)

    report = drain(db.url, keys, NOON)

    assert report.retried == 1
    row = reminder(db.url, rid)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at >= NOON + timedelta(seconds=120)
    assert [(d.outcome, d.status_code) for d in deliveries(db.url, rid)] == [("retry", 429)]
    # Not before Retry-After…
    assert drain(db.url, keys, NOON + timedelta(seconds=119)).claimed == 0
    # …and then it goes out.
    assert drain(db.url, keys, row.next_attempt_at).sent == 1
    assert [p.data["title"] for p in push_service.received(sub.sub_id)] == ["Time for your daily check-in"]
    assert reminder(db.url, rid).status == "sent"


def test_5xx_retries_with_growing_backoff_then_fails(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    rid = _reminder(db, patient.id, "k500", expires_at=NOON + timedelta(days=1))
    push_service.fail_next(500, count=100, sub_id=sub.sub_id)
    options = {"max_attempts": 4, "backoff_base": 10.0, "backoff_cap": 600.0}

    now, waits = NOON, []
    for _ in range(4):
        report = drain(db.url, keys, now, **options)
        assert report.claimed == 1
        row = reminder(db.url, rid)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at

    row = reminder(db.url, rid)
    assert (row.status, row.attempts) == ("failed", 4)
    assert push_service.attempts_for(sub.sub_id) == 4
    # The last attempt is logged as what it was: failed, not "retry" (nothing will try again).
    assert [d.outcome for d in deliveries(db.url, rid)] == ["retry"] * 3 + ["failed"]
    # Full jitter: each wait is at most base * 2^attempt.
    assert all(0 <= w <= 10 * 2**i for i, w in enumerate(waits[:3]))
    assert drain(db.url, keys, now + timedelta(hours=1), **options).claimed == 0


def test_retry_never_resends_to_a_device_that_got_it(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    ok, flaky = push_service.new_subscription(), push_service.new_subscription()
    add_device(db.url, patient.id, ok)
    add_device(db.url, patient.id, flaky)
    rid = _reminder(db, patient.id, "partial")
    push_service.fail_next(503, count=1, sub_id=flaky.sub_id)

    drain(db.url, keys, NOON)
    row = reminder(db.url, rid)
    assert row.status == "pending"
    drain(db.url, keys, row.next_attempt_at)

    assert len(push_service.received(ok.sub_id)) == 1
    assert len(push_service.received(flaky.sub_id)) == 1
    assert reminder(db.url, rid).status == "sent"
    assert sorted(d.outcome for d in deliveries(db.url, rid)) == ["retry", "sent", "sent"]


def test_413_is_logged_and_dropped(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(db, patient.id, "k413")
    push_service.fail_next(413)
    drain(db.url, keys, NOON)
    assert reminder(db.url, rid).status == "dropped"
    assert [(d.outcome, d.status_code) for d in deliveries(db.url, rid)] == [("dropped", 413)]


def test_expired_reminder_is_dropped_not_sent_late(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(db, patient.id, "group:g1-20260615:1", kind="group", expires_at=NOON + timedelta(minutes=60))

    report = drain(db.url, keys, NOON + timedelta(minutes=61))  # the group has started

    assert report.dropped == 1
    assert push_service.received() == []
    assert reminder(db.url, rid).status == "dropped"
    assert [d.outcome for d in deliveries(db.url, rid)] == ["dropped"]


def test_no_device_drops(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    rid = _reminder(db, patient.id, "nobody")
    drain(db.url, keys, NOON)
    assert reminder(db.url, rid).status == "dropped"


# -- quiet hours ------------------------------------------------------------------------------------------------

# 23:00 in New York on 15 June (EDT, UTC-4) is 03:00 UTC on the 16th; quiet hours end at 07:00 EDT = 11:00 UTC.
LATE_EVENING = datetime(2026, 6, 16, 3, 0, tzinfo=UTC)
QUIET_END = datetime(2026, 6, 16, 11, 0, tzinfo=UTC)


def test_quiet_hours_hold_until_they_end(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT, timezone="America/New_York")
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(
        db, patient.id, "hw:1", kind="homework", due=LATE_EVENING, expires_at=LATE_EVENING + timedelta(hours=24)
    )

    report = drain(db.url, keys, LATE_EVENING)

    assert (report.claimed, report.held) == (1, 1)
    row = reminder(db.url, rid)
    assert (row.status, row.next_attempt_at, row.attempts) == ("pending", QUIET_END, 0)
    assert drain(db.url, keys, QUIET_END - timedelta(seconds=1)).claimed == 0
    assert push_service.received() == []

    assert drain(db.url, keys, QUIET_END).sent == 1
    [push] = push_service.received()
    # Homework isn't a kind where the newest replaces the older, so its Topic (and the notification's tag) is
    # its own: a repeat after a crash replaces this message rather than stacking a second one.
    assert push.topic == reminder(db.url, rid).topic == push.data["tag"]
    assert push.topic and push.topic != "homework"
    assert push.ttl == int((LATE_EVENING + timedelta(hours=24) - QUIET_END).total_seconds())


def test_quiet_hours_drop_what_would_be_useless_after_them(
    db: Database, push_service: LoopbackPushService, keys
) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(db, patient.id, "checkin:late", due=LATE_EVENING, expires_at=LATE_EVENING + timedelta(hours=1))
    drain(db.url, keys, LATE_EVENING)
    assert reminder(db.url, rid).status == "dropped"
    assert push_service.received() == []


def test_urgent_group_before_quiet_end_is_sent_anyway(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    early = datetime(2026, 6, 16, 9, 45, tzinfo=UTC)  # 05:45 EDT, inside quiet hours
    # A group at 06:45 local starts before quiet hours end: the reminder goes out now.
    rid = _reminder(db, patient.id, "group:x1:1", kind="group", urgency="high", due=early,
                    expires_at=early + timedelta(hours=1))  # fmt: skip
    # A group at 07:30 local is still announced, at 07:00 when quiet hours end.
    later = _reminder(db, patient.id, "group:x2:1", kind="group", urgency="high", due=early,
                      expires_at=QUIET_END + timedelta(minutes=30))  # fmt: skip

    report = drain(db.url, keys, early)

    assert (report.sent, report.held) == (1, 1)
    assert reminder(db.url, rid).status == "sent"
    assert reminder(db.url, later).next_attempt_at == QUIET_END
    assert [p.urgency for p in push_service.received()] == ["high"]


def test_test_notifications_ignore_quiet_hours(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    _reminder(db, patient.id, "test:1", kind="test", due=LATE_EVENING, expires_at=LATE_EVENING + timedelta(minutes=10))
    assert drain(db.url, keys, LATE_EVENING).sent == 1


def test_quiet_hours_follow_each_persons_settings(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    set_preferences(db.url, patient.id, quiet_start=time(0, 0), quiet_end=time(0, 0))
    _reminder(db, patient.id, "hw:2", kind="homework", due=LATE_EVENING)
    assert drain(db.url, keys, LATE_EVENING).sent == 1  # start == end: no quiet hours


def test_switched_off_kind_is_dropped_at_send_time(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(db, patient.id, "hw:3", kind="homework")
    # Switched off behind the queue's back (saving the choice would also forget reminders already queued).
    set_preferences(db.url, patient.id, homework_enabled=True)
    db.scalar(
        "UPDATE reminder_setting SET enabled = false WHERE user_id = :u AND kind = 'homework' RETURNING id",
        u=patient.id,
    )
    drain(db.url, keys, NOON)
    assert reminder(db.url, rid).status == "dropped"
    # And queuing another one is refused up front.
    assert queue(db.url, user_id=patient.id, kind="homework", dedupe_key="hw:4", title="x") is None


def test_still_wanted_hook_can_cancel_at_send_time(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    keep = _reminder(db, patient.id, "checkin:keep:1")
    skip = _reminder(db, patient.id, "checkin:skip:1")
    seen: list[list[str]] = []

    async def still_wanted(_db, reminders: list[ClaimedReminder], _now: datetime) -> set[int]:
        seen.append(sorted(r.dedupe_key for r in reminders))
        return {r.id for r in reminders if "keep" in r.dedupe_key}

    drain(db.url, keys, NOON, hooks=DispatcherHooks(still_wanted={"checkin": still_wanted}))

    assert seen == [["checkin:keep:1", "checkin:skip:1"]]
    assert (reminder(db.url, keep).status, reminder(db.url, skip).status) == ("sent", "dropped")
    assert len(push_service.received()) == 1


def test_a_failing_still_wanted_hook_fails_open(db: Database, push_service: LoopbackPushService, keys) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    rid = _reminder(db, patient.id, "checkin:boom:1")

    async def broken(_db, _reminders, _now) -> set[int]:
        raise RuntimeError("bug in a hook")

    drain(db.url, keys, NOON, hooks=DispatcherHooks(still_wanted={"checkin": broken}))
    assert reminder(db.url, rid).status == "sent"


# -- crash safety -----------------------------------------------------------------------------------------------


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    db: Database, push_service: LoopbackPushService, keys
) -> None:
    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    rid = _reminder(db, patient.id, "crash")

    async def claim_and_die(dispatcher) -> list[ClaimedReminder]:
        async with dispatcher.session_maker() as session, session.begin():
            return await dispatcher._claim(session, NOON)

    [claimed] = asyncio.run(with_dispatcher(db.url, keys, claim_and_die, lease_seconds=60))
    assert claimed.id == rid
    row = reminder(db.url, rid)
    assert row.claimed_by is not None and row.claimed_until == NOON + timedelta(seconds=60)

    # While the lease runs, nobody else can take it; after it, another worker sends it.
    assert drain(db.url, keys, NOON + timedelta(seconds=30)).claimed == 0
    assert drain(db.url, keys, NOON + timedelta(seconds=61)).sent == 1
    assert len(push_service.received(sub.sub_id)) == 1
    assert reminder(db.url, rid).claimed_by is None


def test_payload_is_small_and_has_no_health_details(db: Database, push_service: LoopbackPushService, keys) -> None:
    from server.reminders import texts

    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    wordings = [
        texts.checkin_text(), texts.homework_text(), texts.milestone_text(), texts.encouragement_text(),
        texts.nudge_text(), texts.group_text(NOON, "en"),
    ]  # fmt: skip
    for n, (title, body) in enumerate(wordings):
        _reminder(db, patient.id, f"words:{n}", kind="encouragement", title=title, body=body)
    drain(db.url, keys, NOON)
    received = push_service.received(sub.sub_id)
    assert len(received) == len(wordings)
    for push in received:
        text = push.payload.decode().lower()
        # The declarative message (tests/test_look_push.py) and the flat fields, nothing else.
        assert set(push.data) == {"web_push", "notification", "title", "body", "url", "tag", "ts"}
        assert set(push.data["notification"]) == {"title", "body", "navigate", "tag", "timestamp", "silent"}
        assert not [w for w in HEALTH_WORDS if w in text], text
        assert len(push.payload) < 1024


def test_bad_reminders_are_refused_up_front(db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    base = {"user_id": patient.id, "dedupe_key": "bad", "title": "Hi"}
    with pytest.raises(ValueError, match="kind"):
        queue(db.url, kind="gossip", **base)
    with pytest.raises(ValueError, match="url"):
        queue(db.url, kind="nudge", url="https://evil.example/", **base)
    with pytest.raises(ValueError, match="expires_at"):
        queue(db.url, kind="nudge", due_at=NOON, expires_at=NOON, **base)
    with pytest.raises(ValueError, match="aware"):
        queue(db.url, kind="nudge", due_at=datetime(2026, 1, 1), **base)


def test_a_slow_batch_keeps_its_lease_so_nobody_sends_it_twice(
    db: Database, push_service: LoopbackPushService, keys
) -> None:
    patient = db.make_user(Role.PATIENT)
    subs = [push_service.new_subscription() for _ in range(10)]
    for sub in subs:
        add_device(db.url, patient.id, sub)
    _reminder(db, patient.id, "test:slow", kind="test", due=datetime.now(UTC) - timedelta(seconds=1))
    # Ten devices, one at a time: 13 s, longer than the 12 s lease, renewed every third of it. (With a 2.5 s lease,
    # then 5 s and 8 s ones, a renewal held up by the busy machine of a whole suite run, Chromium on the other
    # workers, let the eager worker take the batch over: a stall of two thirds of a lease, which the dispatcher's
    # at-least-once contract allows. Steady's own lease is 25 s.)
    push_service.set_delay(1.3)

    async def race() -> tuple[int, int]:
        async def slow(dispatcher) -> int:
            return (await dispatcher.run_once()).claimed

        async def eager(dispatcher) -> int:  # keeps trying until well after the slow batch's first lease ran out
            await asyncio.sleep(0.2)
            claimed = 0
            for _ in range(80):
                claimed += (await dispatcher.run_once()).claimed
                await asyncio.sleep(0.2)
            return claimed

        return await asyncio.gather(
            with_dispatcher(db.url, keys, slow, lease_seconds=12.0, timeout=2.0, concurrency=1),
            with_dispatcher(db.url, keys, eager, lease_seconds=12.0, timeout=2.0),
        )

    first, second = asyncio.run(race())

    assert (first, second) == (1, 0)
    assert sorted(p.sub_id for p in push_service.received()) == sorted(s.sub_id for s in subs)


def test_planning_that_meets_a_locked_database_tries_again(db: Database, keys) -> None:
    """SQLite answers "database is locked" when a request's write outlasts the busy timeout: the in-app planner
    tries the round again instead of losing it until the next interval."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    calls: list[int] = []

    async def flaky(session: object, now: datetime, user_ids: set[int] | None) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
        return 3

    hooks = DispatcherHooks(planners=[flaky])
    written = asyncio.run(with_dispatcher(db.url, keys, lambda d: d.plan(NOON), hooks=hooks))
    assert written == 3 and len(calls) == 2
