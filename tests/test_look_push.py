"""Pushes iOS can show without our service worker (issue 15, "The look"): every reminder goes out as a Declarative
Web Push message (`web_push: 8030`, `notification` {title, body, navigate, ...}), decrypted here by the loopback
push service, with the app badge only for something waiting to be done, and the flat fields older service
workers read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.accounts.models import Role
from server.push.vapid import VapidKeys
from tests.conftest import Database
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import add_device, drain, queue

NOON = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # 12:00 in New York: outside the default quiet hours
BASE = "https://steady.example.org"


def _queue(db: Database, user_id: int, kind: str, title: str, url: str) -> None:
    queue(
        db.url,
        user_id=user_id,
        kind=kind,
        dedupe_key=f"{kind}:look:1",
        title=title,
        body="Tap to open Steady.",
        url=url,
        due_at=NOON,
        expires_at=NOON + timedelta(hours=2),
    )


def test_reminders_are_declarative_web_push_messages(
    db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    patient = db.make_user(Role.PATIENT, "ios@example.org")
    phone = push_service.new_subscription(keys.public_key)
    add_device(db.url, patient.id, phone, "iPhone")  # type: ignore[arg-type]
    _queue(db, patient.id, "checkin", "Time for your daily check-in", "/checkin")  # type: ignore[arg-type]
    _queue(db, patient.id, "group", "Group starts at 6:00 PM", "/schedule")  # type: ignore[arg-type]

    report = drain(db.url, keys, NOON, base_url=BASE)
    assert report.sent == 2
    pushes = {p.data["notification"]["title"]: p.data for p in push_service.received(phone.sub_id)}

    checkin = pushes["Time for your daily check-in"]
    assert checkin["web_push"] == 8030
    note = checkin["notification"]
    assert note["body"] == "Tap to open Steady."
    assert note["navigate"] == f"{BASE}/checkin"  # absolute: the system opens it, no page to resolve against
    assert note["tag"] == "checkin" and note["silent"] is False
    assert note["timestamp"] == int(NOON.timestamp() * 1000)
    assert "mutable" not in checkin  # shown as sent: nothing for a service worker to change on iOS
    assert checkin["app_badge"] == 1 and note["app_badge"] == 1  # a check-in is waiting
    # What service workers from before this format read.
    assert (checkin["title"], checkin["url"], checkin["tag"]) == ("Time for your daily check-in", "/checkin", "checkin")

    group = pushes["Group starts at 6:00 PM"]
    assert group["notification"]["navigate"] == f"{BASE}/schedule"
    assert "app_badge" not in group and "app_badge" not in group["notification"]  # nothing to do: no badge


def test_without_a_public_address_navigate_stays_a_path(
    db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    patient = db.make_user(Role.PATIENT, "path@example.org")
    phone = push_service.new_subscription(keys.public_key)
    add_device(db.url, patient.id, phone)  # type: ignore[arg-type]
    _queue(db, patient.id, "homework", "A skill to try from your therapist", "/skills/stop")  # type: ignore[arg-type]
    drain(db.url, keys, NOON)
    [push] = push_service.received(phone.sub_id)
    assert push.data["notification"]["navigate"] == "/skills/stop"
    assert push.data["app_badge"] == 1
