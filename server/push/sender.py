"""Deliver one encrypted Web Push message (RFC 8030 + RFC 8291 + RFC 8292) and classify the answer.

This module knows how to talk to push services; deciding what to send, to whom, and what to do
with a "gone" subscription belongs to the caller.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import http_ece
from pywebpush import WebPusher, WebPushException

from server import clock
from server.push.vapid import DEFAULT_TOKEN_LIFETIME, VapidKeys, b64url_encode
from server.web.logging import get_logger

logger = get_logger("push.sender")

Outcome = Literal["sent", "gone", "too_large", "retry", "failed"]
URGENCIES = frozenset({"very-low", "low", "normal", "high"})
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_CONCURRENCY = 32
# Push services cap the *encrypted* body at 4096 bytes. One aes128gcm record adds a 86-byte header
# (16 salt + 4 rs + 1 idlen + 65 key), a 1-byte padding delimiter and a 16-byte tag.
MAX_ENCRYPTED_BYTES = 4096
MAX_PAYLOAD_BYTES = MAX_ENCRYPTED_BYTES - 86 - 1 - 16
TOPIC_MAX_LEN = 32
_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_DETAIL_MAX = 200
# A VAPID token is good for 12 h; signing one per message is wasted work, so each push-service origin gets one
# token that is renewed after this long (well before it expires).
TOKEN_REUSE_SECONDS = 60 * 60
PUSHER_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A browser PushSubscription: endpoint plus its keys (URL-safe base64, as the browser gives them)."""

    endpoint: str
    p256dh: str
    auth: str

    def subscription_info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened. `gone` means delete the subscription; `retry` means try again later."""

    outcome: Outcome
    status: int | None
    retry_after: float | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


def classify_status(status: int) -> Outcome:
    if 200 <= status < 300:
        return "sent"
    if status in (404, 410):
        return "gone"
    if status == 413:
        return "too_large"
    # 408 is the service timing out on us: as transient as a 503.
    if status in (408, 429) or status >= 500:
        return "retry"
    return "failed"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or clock.now())).total_seconds())


def sanitize_topic(topic: str) -> str:
    """Topic must be ≤32 chars of the URL-safe base64 alphabet (RFC 8030 §5.4).

    Valid topics pass through; anything else is hashed, so the same logical topic still
    collapses onto the same pending message at the push service.
    """
    if _TOPIC_RE.match(topic):
        return topic
    return b64url_encode(hashlib.sha256(topic.encode("utf-8")).digest())[:TOPIC_MAX_LEN]


def audience_for(endpoint: str) -> str:
    """The JWT `aud`: origin (scheme://host[:port]) of the push endpoint."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("push endpoint must be an absolute http(s) URL")
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host.lower()}"


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"push payload is {len(body)} bytes; the limit is {MAX_PAYLOAD_BYTES} "
            f"so the encrypted body stays within {MAX_ENCRYPTED_BYTES}"
        )
    return body


def backoff_delay(
    attempt: int,
    retry_after: float | None,
    base: float = 1.0,
    cap: float = 300.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with full jitter; `attempt` counts failures so far, starting at 0.

    Full jitter spreads a burst of failed sends so they don't all come back at the same
    instant. A server-sent Retry-After is a floor, even above `cap`: the service asked for it.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    # Guard the float power: 2.0**1100 overflows long before the cap matters.
    window = cap if attempt >= 64 else min(cap, base * 2.0**attempt)
    delay = rng() * window
    if retry_after is not None:
        delay = max(delay, retry_after, 0.0)
    return delay


class PushSender:
    """Sends Web Push messages over one shared aiohttp session.

    Create it once per process; call `aclose()` on shutdown.
    """

    def __init__(
        self,
        keys: VapidKeys,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if not timeout > 0:
            # pywebpush passes timeout=None straight to aiohttp, which means wait forever.
            raise ValueError("timeout must be a positive number of seconds")
        self.keys = keys
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self._client_timeout = aiohttp.ClientTimeout(total=timeout)
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[float, str]] = {}
        # Parsed subscriptions, reused: WebPusher decodes the keys and copies the dict on every construction,
        # which costs as much as a tenth of a send. A WebPusher holds no per-message state.
        self._pushers: OrderedDict[PushTarget, WebPusher] = OrderedDict()

    async def __aenter__(self) -> PushSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily because a ClientSession must be built inside the running loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._client_timeout,
                connector=aiohttp.TCPConnector(limit=self.max_concurrency, ttl_dns_cache=300),
            )
        return self._session

    def _authorization(self, audience: str) -> str:
        """The Authorization header for one push-service origin, reused for up to TOKEN_REUSE_SECONDS."""
        now = clock.timestamp()
        cached = self._tokens.get(audience)
        if cached is not None and now - cached[0] < min(TOKEN_REUSE_SECONDS, DEFAULT_TOKEN_LIFETIME / 2):
            return cached[1]
        # A fresh claims dict per origin: never share one across endpoints (see vapid.py).
        header = self.keys.authorization_header(audience, now=now)
        if len(self._tokens) > 1000:  # a handful of push services in practice; never grow without bound
            self._tokens.clear()
        self._tokens[audience] = (now, header)
        return header

    def _pusher(self, subscription: PushTarget) -> WebPusher:
        pusher = self._pushers.get(subscription)
        if pusher is None:
            pusher = WebPusher(subscription.subscription_info())  # raises for malformed keys
            self._pushers[subscription] = pusher
            if len(self._pushers) > PUSHER_CACHE_SIZE:
                self._pushers.popitem(last=False)
        else:
            self._pushers.move_to_end(subscription)
        pusher.aiohttp_session = self._get_session()
        return pusher

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def send(
        self,
        subscription: PushTarget,
        payload: Mapping[str, Any],
        *,
        ttl: int,
        urgency: str = "normal",
        topic: str | None = None,
    ) -> DeliveryResult:
        """Encrypt and POST one message. Raises ValueError for caller mistakes (oversized
        payload, bad ttl/urgency); every network or push-service problem becomes a result."""
        body = encode_payload(payload)
        if ttl < 0:
            raise ValueError("ttl must be >= 0")
        if urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
        try:
            audience = audience_for(subscription.endpoint)
        except ValueError as exc:
            return DeliveryResult("failed", None, detail=str(exc))

        headers: dict[str, str] = {
            "Authorization": self._authorization(audience),
            "Content-Type": "application/octet-stream",
            "Urgency": urgency,
        }
        if topic:
            headers["Topic"] = sanitize_topic(topic)

        started = time.monotonic()
        async with self._semaphore:
            try:
                pusher = self._pusher(subscription)
                # asyncio.timeout backs up aiohttp's own timer so nothing here can hang a worker.
                async with asyncio.timeout(self.timeout):
                    response = await pusher.send_async(
                        body,
                        headers,
                        ttl=ttl,
                        content_encoding="aes128gcm",
                        timeout=self._client_timeout,
                    )
            except TimeoutError:
                return self._log(DeliveryResult("retry", None, detail="timeout"), audience, started)
            except aiohttp.InvalidURL:
                return self._log(DeliveryResult("failed", None, detail="invalid URL"), audience, started)
            except aiohttp.ClientError as exc:
                # Type name only: some aiohttp messages embed the full endpoint URL.
                detail = type(exc).__name__
                return self._log(DeliveryResult("retry", None, detail=detail), audience, started)
            except (WebPushException, http_ece.ECEException, ValueError) as exc:
                # Malformed p256dh/auth: this subscription can never be encrypted to.
                detail = f"bad subscription keys: {type(exc).__name__}"
                return self._log(DeliveryResult("failed", None, detail=detail), audience, started)

        assert isinstance(response, aiohttp.ClientResponse)  # only curl=True returns a str
        status = response.status
        outcome = classify_status(status)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        detail: str | None = None
        if outcome != "sent":
            try:
                # pywebpush already read the body; this returns the cached text.
                detail = (await response.text())[:_DETAIL_MAX] or None
            except (aiohttp.ClientError, UnicodeDecodeError):
                detail = None
        response.release()
        return self._log(DeliveryResult(outcome, status, retry_after, detail), audience, started)

    @staticmethod
    def _log(result: DeliveryResult, audience: str, started: float) -> DeliveryResult:
        # Log the origin only: the full endpoint URL is a bearer capability for that device.
        if result.outcome != "sent":
            logger.info(
                "push to %s: %s status=%s retry_after=%s in %.2fs (%s)",
                audience,
                result.outcome,
                result.status,
                result.retry_after,
                time.monotonic() - started,
                result.detail,
            )
        return result
