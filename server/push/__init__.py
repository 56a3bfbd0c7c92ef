"""Web Push delivery: VAPID keys and an async sender. Knows how to deliver, not why."""

from server.push.sender import (
    MAX_PAYLOAD_BYTES,
    DeliveryResult,
    Outcome,
    PushSender,
    PushTarget,
    backoff_delay,
    classify_status,
    parse_retry_after,
    sanitize_topic,
)
from server.push.vapid import VapidKeys, load_or_create_vapid_keys

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "DeliveryResult",
    "Outcome",
    "PushSender",
    "PushTarget",
    "VapidKeys",
    "backoff_delay",
    "classify_status",
    "load_or_create_vapid_keys",
    "parse_retry_after",
    "sanitize_topic",
]
