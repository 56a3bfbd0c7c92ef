"""Web Push delivery against a loopback RFC 8030 push service that really decrypts."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from pywebpush import WebPushException, webpush_async

from server.push import (
    MAX_PAYLOAD_BYTES,
    PushSender,
    PushTarget,
    VapidKeys,
    backoff_delay,
    classify_status,
    load_or_create_vapid_keys,
    parse_retry_after,
    sanitize_topic,
)
from server.push.vapid import KEY_FILENAME
from tests.support.push_service import LoopbackPushService, TestSubscription


def target(sub: TestSubscription) -> PushTarget:
    return PushTarget(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth)


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return load_or_create_vapid_keys(tmp_path, {"VAPID_SUBJECT": "mailto:ops@steady.example"})


# Function-scoped loops: the service and the sender must share the test's loop.
@pytest_asyncio.fixture(loop_scope="function")
async def service() -> AsyncIterator[LoopbackPushService]:
    async with LoopbackPushService() as svc:
        yield svc


@pytest_asyncio.fixture(loop_scope="function")
async def sender(keys: VapidKeys) -> AsyncIterator[PushSender]:
    async with PushSender(keys, timeout=2.0) as push_sender:
        yield push_sender


# -- round trip --------------------------------------------------------------------------------


async def test_round_trip_decrypts_exact_json_and_headers(
    service: LoopbackPushService, sender: PushSender, keys: VapidKeys
) -> None:
    sub = service.new_subscription(application_server_key=keys.public_key)
    payload = {"kind": "reminder", "title": "Group at 10:00", "body": "Café ☕ — bring your journal", "n": 3}

    before = time.time()
    result = await sender.send(target(sub), payload, ttl=3600, urgency="high", topic="session-reminder")

    assert result.outcome == "sent"
    assert result.status == 201
    assert result.ok
    [push] = service.received(sub.sub_id)
    assert push.data == payload
    assert push.ttl == 3600
    assert push.urgency == "high"
    assert push.topic == "session-reminder"
    assert push.content_type == "application/octet-stream"
    assert push.content_encoding == "aes128gcm"
    assert push.vapid_key == keys.public_key
    assert push.claims["aud"] == service.origin
    assert push.claims["sub"] == "mailto:ops@steady.example"
    assert before + 11 * 3600 < push.claims["exp"] <= time.time() + 12 * 3600 + 1
    assert service.attempts == 1


async def test_one_sender_signs_the_right_aud_for_each_origin(keys: VapidKeys, sender: PushSender) -> None:
    async with LoopbackPushService() as first, LoopbackPushService() as second:
        assert first.origin != second.origin
        sub_a, sub_b = first.new_subscription(), second.new_subscription()

        for sub in (sub_a, sub_b, sub_a):
            result = await sender.send(target(sub), {"to": sub.sub_id}, ttl=60)
            assert result.outcome == "sent", result

        assert [p.claims["aud"] for p in first.received()] == [first.origin, first.origin]
        assert [p.claims["aud"] for p in second.received()] == [second.origin]
        assert second.received()[0].data == {"to": sub_b.sub_id}


async def test_loopback_rejects_the_pywebpush_shared_claims_bug(keys: VapidKeys) -> None:
    """Proves the aud check above has teeth: reusing one claims dict breaks the 2nd origin."""
    async with LoopbackPushService() as first, LoopbackPushService() as second:
        claims: dict[str, str | int] = {"sub": keys.subject}
        private = keys.private_raw
        await webpush_async(first.new_subscription().subscription_info(), "{}", private, claims, ttl=60, timeout=5)
        assert claims["aud"] == first.origin  # pywebpush wrote into our dict
        with pytest.raises(WebPushException) as caught:
            await webpush_async(second.new_subscription().subscription_info(), "{}", private, claims, ttl=60, timeout=5)
        assert caught.value.status_code == 403
        assert second.attempt_log()[0].reason.startswith("JWT aud")


async def test_topic_is_sanitised_deterministically(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription()
    raw_topic = "reminder:patient/42 at 2025-01-01T10:00 (a very long topic indeed)"
    for _ in range(2):
        assert (await sender.send(target(sub), {"a": 1}, ttl=60, topic=raw_topic)).outcome == "sent"

    topics = [p.topic for p in service.received(sub.sub_id)]
    assert topics[0] == topics[1] == sanitize_topic(raw_topic)
    assert topics[0] is not None and len(topics[0]) <= 32
    assert sanitize_topic("ok_Topic-1") == "ok_Topic-1"


async def test_payload_at_the_limit_fits_in_4096_encrypted_bytes(
    service: LoopbackPushService, sender: PushSender
) -> None:
    sub = service.new_subscription()
    filler = "x" * (MAX_PAYLOAD_BYTES - len('{"f":""}'))
    result = await sender.send(target(sub), {"f": filler}, ttl=60)
    assert result.outcome == "sent"
    [push] = service.received()
    assert push.body_size == 4096
    assert push.data == {"f": filler}


async def test_oversized_payload_raises_before_sending(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription()
    with pytest.raises(ValueError, match="payload"):
        await sender.send(target(sub), {"f": "x" * MAX_PAYLOAD_BYTES}, ttl=60)
    with pytest.raises(ValueError):
        await sender.send(target(sub), {"f": "é" * 2100}, ttl=60)  # <4096 chars, >4096 bytes
    assert service.attempts == 0


async def test_caller_mistakes_raise(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription()
    with pytest.raises(ValueError, match="urgency"):
        await sender.send(target(sub), {}, ttl=60, urgency="urgent")
    with pytest.raises(ValueError, match="ttl"):
        await sender.send(target(sub), {}, ttl=-1)
    assert service.attempts == 0


# -- push service answers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(410, "gone"), (404, "gone"), (413, "too_large"), (500, "retry"), (503, "retry"), (400, "failed")],
)
async def test_status_classification(
    service: LoopbackPushService, sender: PushSender, status: int, outcome: str
) -> None:
    sub = service.new_subscription()
    service.fail_next(status, sub_id=sub.sub_id)

    result = await sender.send(target(sub), {"a": 1}, ttl=60)

    assert (result.outcome, result.status, result.retry_after) == (outcome, status, None)
    assert service.received() == []
    assert service.attempts_for(sub.sub_id) == 1


async def test_429_retry_after_seconds(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription()
    service.fail_next(429, retry_after=7)

    result = await sender.send(target(sub), {"a": 1}, ttl=60)

    assert (result.outcome, result.status, result.retry_after) == ("retry", 429, 7.0)


async def test_503_retry_after_http_date(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription()
    service.fail_next(503, retry_after=email.utils.formatdate(time.time() + 120, usegmt=True))

    result = await sender.send(target(sub), {"a": 1}, ttl=60)

    assert result.outcome == "retry"
    assert result.retry_after is not None and 115 <= result.retry_after <= 120


async def test_real_unknown_and_expired_subscriptions_are_gone(
    service: LoopbackPushService, sender: PushSender
) -> None:
    sub = service.new_subscription()
    bogus = PushTarget(f"{service.base_url}/push/nope", sub.p256dh, sub.auth)
    assert (await sender.send(bogus, {}, ttl=60)).status == 404

    service.unsubscribe(sub.sub_id)
    result = await sender.send(target(sub), {}, ttl=60)
    assert (result.outcome, result.status) == ("gone", 410)


async def test_failures_queue_then_recover(service: LoopbackPushService, sender: PushSender) -> None:
    sub, other = service.new_subscription(), service.new_subscription()
    service.fail_next(500, count=2, sub_id=sub.sub_id)

    assert (await sender.send(target(other), {}, ttl=60)).outcome == "sent"  # per-sub rule only
    outcomes = [(await sender.send(target(sub), {"i": i}, ttl=60)).outcome for i in range(3)]

    assert outcomes == ["retry", "retry", "sent"]
    assert [p.data for p in service.received(sub.sub_id)] == [{"i": 2}]
    assert service.attempts == 4


async def test_wrong_vapid_key_is_rejected(service: LoopbackPushService, sender: PushSender) -> None:
    sub = service.new_subscription(application_server_key=VapidKeys.generate().public_key)
    result = await sender.send(target(sub), {}, ttl=60)
    assert (result.outcome, result.status) == ("failed", 403)
    assert result.detail is not None and "applicationServerKey" in result.detail


async def test_slow_service_times_out_quickly_as_retry(service: LoopbackPushService, keys: VapidKeys) -> None:
    sub = service.new_subscription()
    service.set_delay(5.0)
    async with PushSender(keys, timeout=0.3) as sender:
        started = time.monotonic()
        result = await sender.send(target(sub), {"a": 1}, ttl=60)
        elapsed = time.monotonic() - started

    assert (result.outcome, result.status) == ("retry", None)
    assert elapsed < 1.5
    assert service.received() == []


async def test_connection_refused_is_retry(service: LoopbackPushService, sender: PushSender) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once the socket closes: nothing listens there
    sub = service.new_subscription()
    refused = PushTarget(f"http://127.0.0.1:{port}/push/x", sub.p256dh, sub.auth)
    result = await sender.send(refused, {}, ttl=60)
    assert (result.outcome, result.status) == ("retry", None)


async def test_unusable_subscription_keys_fail_without_raising(
    service: LoopbackPushService, sender: PushSender
) -> None:
    sub = service.new_subscription()
    broken = PushTarget(sub.endpoint, p256dh="AAAA", auth=sub.auth)
    result = await sender.send(broken, {}, ttl=60)
    assert (result.outcome, result.status) == ("failed", None)
    assert (await sender.send(PushTarget("not a url", sub.p256dh, sub.auth), {}, ttl=60)).outcome == "failed"
    assert service.attempts == 0


async def test_concurrency_is_bounded(service: LoopbackPushService, keys: VapidKeys) -> None:
    subs = [service.new_subscription() for _ in range(6)]
    service.set_delay(0.2)
    async with PushSender(keys, max_concurrency=2, timeout=5.0) as sender:
        started = time.monotonic()
        results = await asyncio.gather(*(sender.send(target(s), {}, ttl=60) for s in subs))
        elapsed = time.monotonic() - started
    assert {r.outcome for r in results} == {"sent"}
    assert elapsed >= 0.55  # 6 requests, 2 at a time, 0.2 s each


async def test_session_is_shared_and_recreated_after_aclose(service: LoopbackPushService, keys: VapidKeys) -> None:
    sub = service.new_subscription()
    sender = PushSender(keys)
    await sender.send(target(sub), {}, ttl=60)
    session = sender._session
    await sender.send(target(sub), {}, ttl=60)
    assert sender._session is session
    await sender.aclose()
    assert session is not None and session.closed
    assert (await sender.send(target(sub), {}, ttl=60)).outcome == "sent"
    await sender.aclose()


def test_threaded_service_from_sync_code(keys: VapidKeys) -> None:
    service = LoopbackPushService()
    with service.run_in_thread() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        sub = service.new_subscription()

        async def send() -> str:
            async with PushSender(keys) as sender:
                return (await sender.send(target(sub), {"hello": "thread"}, ttl=5)).outcome

        assert asyncio.run(send()) == "sent"
        [push] = service.wait_for_received(1, sub_id=sub.sub_id)
        assert push.data == {"hello": "thread"}
    with pytest.raises(RuntimeError):
        _ = service.base_url


# -- pure helpers ------------------------------------------------------------------------------


def test_classify_status() -> None:
    assert [classify_status(s) for s in (200, 201, 202, 404, 410, 413, 429, 500, 502, 400, 401, 403)] == [
        "sent", "sent", "sent", "gone", "gone", "too_large", "retry", "retry", "retry",
        "failed", "failed", "failed",
    ]  # fmt: skip


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past


def test_backoff_grows_exponentially_and_caps() -> None:
    top = 1.0 - 1e-12
    assert [round(backoff_delay(a, None, rng=lambda: top)) for a in range(5)] == [1, 2, 4, 8, 16]
    assert backoff_delay(20, None, rng=lambda: top) == pytest.approx(300.0)
    assert backoff_delay(10_000, None, rng=lambda: top) == pytest.approx(300.0)  # no overflow
    assert backoff_delay(3, None, rng=lambda: 0.0) == 0.0  # full jitter reaches zero
    assert backoff_delay(0, 7.0, rng=lambda: 0.0) == 7.0
    assert backoff_delay(0, 900.0) == 900.0  # Retry-After beats the cap
    with pytest.raises(ValueError):
        backoff_delay(-1, None)


@given(
    attempt=st.integers(min_value=0, max_value=2000),
    retry_after=st.none() | st.floats(min_value=0, max_value=10_000),
    base=st.floats(min_value=0.01, max_value=10),
    cap=st.floats(min_value=1, max_value=3600),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_properties(attempt: int, retry_after: float | None, base: float, cap: float, jitter: float) -> None:
    delay = backoff_delay(attempt, retry_after, base=base, cap=cap, rng=lambda: jitter)
    assert delay >= 0
    assert delay <= max(cap, retry_after or 0.0)
    assert delay <= max(base * 2.0 ** min(attempt, 64), retry_after or 0.0)
    if retry_after is not None:
        assert delay >= retry_after


# -- VAPID keys --------------------------------------------------------------------------------


def test_key_file_is_created_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_vapid_keys(tmp_path / "data", {})
    key_file = tmp_path / "data" / KEY_FILENAME
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()

    second = load_or_create_vapid_keys(tmp_path / "data", {})

    assert second.public_key == first.public_key
    assert key_file.read_bytes() == content
    assert [p.name for p in key_file.parent.iterdir()] == [KEY_FILENAME]  # no temp files left
    assert len(first.public_key) == 87 and "=" not in first.public_key  # 65-byte point, unpadded


async def test_env_vapid_keys_win(tmp_path: Path, service: LoopbackPushService) -> None:
    made = VapidKeys.generate()
    env = {
        "VAPID_PRIVATE_KEY": made.private_raw,
        "VAPID_PUBLIC_KEY": made.public_key,
        "VAPID_SUBJECT": "https://steady.example",
    }
    keys = load_or_create_vapid_keys(tmp_path, env)

    assert keys.public_key == made.public_key
    assert keys.subject == "https://steady.example"
    assert not (tmp_path / KEY_FILENAME).exists()

    sub = service.new_subscription(application_server_key=made.public_key)
    async with PushSender(keys) as sender:
        assert (await sender.send(target(sub), {"k": "env"}, ttl=60)).outcome == "sent"
    [push] = service.received()
    assert push.vapid_key == made.public_key
    assert push.claims["sub"] == "https://steady.example"


@pytest.mark.parametrize("form", ["raw", "pem", "pem_escaped"])
def test_env_private_key_formats(tmp_path: Path, form: str) -> None:
    made = VapidKeys.generate()
    pem = made.private_pem.decode()
    value = {"raw": made.private_raw, "pem": pem, "pem_escaped": pem.replace("\n", "\\n")}[form]
    assert load_or_create_vapid_keys(tmp_path, {"VAPID_PRIVATE_KEY": value}).public_key == made.public_key


def test_env_key_misconfiguration_is_loud(tmp_path: Path) -> None:
    a, b = VapidKeys.generate(), VapidKeys.generate()
    with pytest.raises(ValueError, match="does not match"):
        load_or_create_vapid_keys(tmp_path, {"VAPID_PRIVATE_KEY": a.private_raw, "VAPID_PUBLIC_KEY": b.public_key})
    with pytest.raises(ValueError, match="VAPID_PRIVATE_KEY"):
        load_or_create_vapid_keys(tmp_path, {"VAPID_PUBLIC_KEY": b.public_key})
    with pytest.raises(ValueError, match="subject"):
        load_or_create_vapid_keys(tmp_path, {"VAPID_SUBJECT": "ops@steady.example"})
