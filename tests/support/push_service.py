"""A loopback Web Push service (RFC 8030/8291/8292) for tests and benchmarks.

It validates what a real push service validates (VAPID JWT, TTL, aes128gcm, size) and
decrypts every message with the subscription's private key, so a test can assert on the
exact payload the browser's service worker would have seen.

Async use::

    async with LoopbackPushService() as service:
        sub = service.new_subscription()

Sync use (own event loop in a background thread)::

    service = LoopbackPushService()
    with service.run_in_thread() as base_url:
        sub = service.new_subscription()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

MAX_BODY_BYTES = 4096  # what FCM, Mozilla autopush and Apple accept
MAX_EXP_AHEAD = 24 * 60 * 60  # RFC 8292 §2: exp no more than 24 h in the future
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(data: str) -> bytes:
    raw = data.strip().rstrip("=")
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


@dataclass(frozen=True)
class TestSubscription:
    """What PushManager.subscribe() hands the page, plus the secrets only the browser holds."""

    __test__ = False  # not a pytest test class, despite the name

    sub_id: str
    endpoint: str
    p256dh: str
    auth: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)
    # When set, pushes signed with another VAPID key get 403, as real services do.
    application_server_key: str | None = None

    def subscription_info(self) -> dict[str, Any]:
        """The PushSubscription.toJSON() shape."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> bytes:
        return http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")


@dataclass(frozen=True)
class ReceivedPush:
    sub_id: str
    message_id: str
    payload: bytes  # decrypted
    data: Any | None  # payload parsed as JSON, None if it isn't JSON
    ttl: int
    urgency: str | None
    topic: str | None
    content_type: str | None
    content_encoding: str | None
    vapid_key: str  # the `k=` of the Authorization header
    claims: dict[str, Any]
    headers: dict[str, str]
    body_size: int  # encrypted bytes on the wire
    received_at: float  # time.time()


@dataclass(frozen=True)
class AttemptRecord:
    sub_id: str
    status: int
    reason: str
    at: float


@dataclass
class _FailureRule:
    status: int
    remaining: int
    retry_after: str | None


class _Reject(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LoopbackPushService:
    """An aiohttp push service on 127.0.0.1 with an ephemeral port.

    All accessors and knobs are thread-safe, so a sync test can drive the service
    while it runs in `run_in_thread()`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, clock_skew: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.clock_skew = clock_skew
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._subs: dict[str, TestSubscription] = {}
        self._unsubscribed: set[str] = set()
        self._received: list[ReceivedPush] = []
        self._failures: dict[str | None, deque[_FailureRule]] = {}
        self._delays: dict[str | None, float] = {}
        self._attempts: Counter[str] = Counter()
        self._attempt_log: list[AttemptRecord] = []
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._base_url: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LoopbackPushService is not running")
        return self._base_url

    @property
    def origin(self) -> str:
        """What a correct VAPID JWT carries as `aud`."""
        return self.base_url

    async def start(self) -> str:
        if self._runner is not None:
            raise RuntimeError("already started")
        app = web.Application()
        app.router.add_post("/push/{sub_id}", self._handle_push)
        # handler_cancellation: a client that timed out shouldn't leave a sleeping handler
        # behind; the short shutdown_timeout keeps stop() fast either way.
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._stopping = asyncio.Event()
        port = runner.addresses[0][1]
        self._base_url = f"http://{self.host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if self._stopping is not None:
            self._stopping.set()  # wake handlers sleeping in set_delay()
        if runner is not None:
            await runner.cleanup()
        self._base_url = None

    async def __aenter__(self) -> LoopbackPushService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def run_in_thread(self, startup_timeout: float = 10.0) -> Iterator[str]:
        """Serve from a daemon thread with its own loop; yields the base URL."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                try:
                    loop.run_until_complete(self.start())
                except BaseException as exc:
                    failure.append(exc)
                    return
                finally:
                    ready.set()
                loop.run_forever()
                loop.run_until_complete(self.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        thread = threading.Thread(target=serve, name="loopback-push-service", daemon=True)
        thread.start()
        if not ready.wait(startup_timeout):
            raise RuntimeError("loopback push service did not start")
        if failure:
            thread.join()
            raise failure[0]
        try:
            yield self.base_url
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10.0)

    # -- subscriptions ---------------------------------------------------------------------

    def new_subscription(self, application_server_key: str | None = None) -> TestSubscription:
        """Play the browser: make a key pair and auth secret, register an endpoint."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        auth_secret = os.urandom(16)
        sub_id = uuid.uuid4().hex
        sub = TestSubscription(
            sub_id=sub_id,
            endpoint=f"{self.base_url}/push/{sub_id}",
            p256dh=_b64e(point),
            auth=_b64e(auth_secret),
            private_key=private_key,
            auth_secret=auth_secret,
            application_server_key=application_server_key,
        )
        with self._lock:
            self._subs[sub_id] = sub
        return sub

    def unsubscribe(self, sub_id: str) -> None:
        """From now on this endpoint answers 410 Gone, like an expired browser subscription."""
        with self._lock:
            self._unsubscribed.add(sub_id)

    # -- failure injection -----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: float | str | None = None,
        sub_id: str | None = None,
    ) -> None:
        """The next `count` requests (to `sub_id`, or to any endpoint) answer `status`.

        Rules queue up in call order; a per-subscription rule wins over a global one.
        `retry_after` is sent verbatim as Retry-After (seconds or an HTTP-date).
        """
        if count < 1:
            raise ValueError("count must be >= 1")
        header = None
        if retry_after is not None:
            header = retry_after if isinstance(retry_after, str) else str(int(retry_after))
        with self._lock:
            self._failures.setdefault(sub_id, deque()).append(_FailureRule(status, count, header))

    def set_delay(self, seconds: float, sub_id: str | None = None) -> None:
        """Hold every response (or one subscription's) this long; 0 turns it off."""
        with self._lock:
            if seconds > 0:
                self._delays[sub_id] = seconds
            else:
                self._delays.pop(sub_id, None)

    def reset(self) -> None:
        """Forget received messages, attempts, failure rules and delays; keep subscriptions."""
        with self._lock:
            self._received.clear()
            self._failures.clear()
            self._delays.clear()
            self._attempts.clear()
            self._attempt_log.clear()

    # -- observations ----------------------------------------------------------------------

    def received(self, sub_id: str | None = None) -> list[ReceivedPush]:
        with self._lock:
            return [p for p in self._received if sub_id is None or p.sub_id == sub_id]

    @property
    def attempts(self) -> int:
        """Every POST that reached the service, whatever it was answered."""
        with self._lock:
            return sum(self._attempts.values())

    def attempts_for(self, sub_id: str) -> int:
        with self._lock:
            return self._attempts[sub_id]

    def attempt_log(self) -> list[AttemptRecord]:
        with self._lock:
            return list(self._attempt_log)

    def wait_for_received(self, count: int, *, sub_id: str | None = None, timeout: float = 5.0) -> list[ReceivedPush]:
        """Block until `count` messages arrived. Sync only: use `await_received` on the service's loop."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [p for p in self._received if sub_id is None or p.sub_id == sub_id]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} pushes, got {len(got)}")
                self._changed.wait(remaining)

    async def await_received(self, count: int, *, sub_id: str | None = None) -> list[ReceivedPush]:
        """Async twin of wait_for_received; wrap it in asyncio.timeout()."""
        # Polling, because the service may run on another thread's loop: no shared asyncio.Event.
        while len(got := self.received(sub_id)) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return got

    # -- the push resource -----------------------------------------------------------------

    def _record(self, sub_id: str, status: int, reason: str) -> None:
        # Caller holds the lock.
        self._attempt_log.append(AttemptRecord(sub_id, status, reason, time.time()))
        self._changed.notify_all()

    def _take_failure(self, sub_id: str) -> _FailureRule | None:
        # Caller holds the lock.
        for key in (sub_id, None):
            queue = self._failures.get(key)
            if queue:
                rule = queue[0]
                rule.remaining -= 1
                if rule.remaining <= 0:
                    queue.popleft()
                return rule
        return None

    async def _handle_push(self, request: web.Request) -> web.Response:
        sub_id = request.match_info["sub_id"]
        body = await request.read()
        with self._lock:
            self._attempts[sub_id] += 1
            delay = self._delays.get(sub_id, self._delays.get(None, 0.0))
        if delay > 0 and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

        with self._lock:
            rule = self._take_failure(sub_id)
            if rule is not None:
                self._record(sub_id, rule.status, "injected")
            sub = self._subs.get(sub_id)
            gone = sub_id in self._unsubscribed
            if rule is None and (sub is None or gone):
                self._record(sub_id, 410 if gone else 404, "unknown subscription")
        if rule is not None:
            headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
            return web.Response(status=rule.status, text="injected failure", headers=headers)
        if gone:
            return web.Response(status=410, text="subscription expired")
        if sub is None:
            return web.Response(status=404, text="no such subscription")

        try:
            push = self._accept(sub, request, body)
        except _Reject as reject:
            with self._lock:
                self._record(sub_id, reject.status, reject.reason)
            return web.Response(status=reject.status, text=reject.reason)
        with self._lock:
            self._received.append(push)
            self._record(sub_id, 201, "created")
        return web.Response(status=201, headers={"Location": f"{self.base_url}/message/{push.message_id}"})

    def _accept(self, sub: TestSubscription, request: web.Request, body: bytes) -> ReceivedPush:
        vapid_key, claims = self._verify_vapid(request.headers.get("Authorization"), sub)

        ttl_text = request.headers.get("TTL", "").strip()
        if not ttl_text.isdigit():
            raise _Reject(400, "missing or invalid TTL header")
        urgency = request.headers.get("Urgency")
        if urgency is not None and urgency not in URGENCIES:
            raise _Reject(400, f"invalid Urgency {urgency!r}")
        topic = request.headers.get("Topic")
        if topic is not None and not _TOPIC_RE.match(topic):
            raise _Reject(400, "Topic must be 1-32 characters of the URL-safe base64 alphabet")
        if len(body) > MAX_BODY_BYTES:
            raise _Reject(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")

        encoding = request.headers.get("Content-Encoding")
        payload = b""
        if body:  # RFC 8030 allows a push with no payload
            if (encoding or "").lower() != "aes128gcm":
                raise _Reject(400, f"Content-Encoding must be aes128gcm, got {encoding!r}")
            try:
                payload = sub.decrypt(body)
            except Exception as exc:  # http_ece raises assorted types for corrupt input
                raise _Reject(400, f"decryption failed: {type(exc).__name__}") from exc
        try:
            data: Any | None = json.loads(payload.decode("utf-8")) if payload else None
        except ValueError:
            data = None

        return ReceivedPush(
            sub_id=sub.sub_id,
            message_id=uuid.uuid4().hex,
            payload=payload,
            data=data,
            ttl=int(ttl_text),
            urgency=urgency,
            topic=topic,
            content_type=request.headers.get("Content-Type"),
            content_encoding=encoding,
            vapid_key=vapid_key,
            claims=claims,
            headers=dict(request.headers),
            body_size=len(body),
            received_at=time.time(),
        )

    def _verified_claims(self, token: str, key: str) -> dict[str, Any]:
        """The JWT's claims once its ES256 signature checks out against k. Like real push services, a token
        already verified is remembered (senders reuse one for hours); the time and audience checks still run
        on every request."""
        with self._lock:
            cached = self._verified.get((token, key))
        if cached is not None:
            return dict(cached)
        try:
            header_b64, claims_b64, sig_b64 = token.split(".")
            jwt_header = json.loads(_b64d(header_b64))
            claims = json.loads(_b64d(claims_b64))
            signature = _b64d(sig_b64)
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64d(key))
        except ValueError as exc:
            raise _Reject(403, f"malformed VAPID token or key: {exc}") from exc
        if not isinstance(jwt_header, dict) or jwt_header.get("alg") != "ES256":
            raise _Reject(403, "JWT alg must be ES256")
        if len(signature) != 64 or not isinstance(claims, dict):
            raise _Reject(403, "malformed JWT")
        der = utils.encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public_key.verify(der, f"{header_b64}.{claims_b64}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as exc:
            raise _Reject(403, "JWT signature does not verify against k") from exc
        with self._lock:
            if len(self._verified) >= 1024:
                self._verified.clear()
            self._verified[(token, key)] = dict(claims)
        return claims

    def _verify_vapid(self, header: str | None, sub: TestSubscription) -> tuple[str, dict[str, Any]]:
        if not header:
            raise _Reject(401, "missing Authorization header")
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "vapid":
            raise _Reject(403, f"Authorization scheme must be vapid, got {scheme!r}")
        params: dict[str, str] = {}
        for item in rest.split(","):
            name, _, value = item.strip().partition("=")
            params[name.strip().lower()] = value.strip()
        token, key = params.get("t"), params.get("k")
        if not token or not key:
            raise _Reject(403, "Authorization needs both t= and k=")
        if sub.application_server_key is not None and _b64d(key) != _b64d(sub.application_server_key):
            raise _Reject(403, "VAPID key differs from the subscription's applicationServerKey")

        claims = self._verified_claims(token, key)

        if claims.get("aud") != self.origin:
            raise _Reject(403, f"JWT aud {claims.get('aud')!r} is not {self.origin!r}")
        exp = claims.get("exp")
        now = time.time()
        if not isinstance(exp, int) or isinstance(exp, bool):
            raise _Reject(403, "JWT exp missing or not an integer")
        # Sender and service share one clock here, so no leeway unless a test asks for it.
        if exp <= now - self.clock_skew:
            raise _Reject(403, "JWT expired")
        if exp > now + MAX_EXP_AHEAD + self.clock_skew:
            raise _Reject(403, "JWT exp more than 24 hours ahead")
        sub_claim = claims.get("sub")
        if not isinstance(sub_claim, str) or not sub_claim:
            raise _Reject(403, "JWT sub missing")
        return key, claims
