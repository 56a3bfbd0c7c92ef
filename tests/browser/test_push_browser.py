"""Reminders in a real Chromium: the reminders page, and a push delivered to the service worker through CDP
(`ServiceWorker.deliverPushMessage`), which must show a notification with the right title, body and tag."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import BrowserContext, Page

from server.push.dispatcher import ClaimedReminder
from tests.browser.conftest import LiveServer, check_page, login_page, wait_for_control

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)

NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.ready;
  return (await reg.getNotifications()).map(n => ({title: n.title, body: n.body, tag: n.tag, data: n.data,
                                                    timestamp: n.timestamp}));
}"""


def payload(kind: str, title: str, body: str, url: str) -> str:
    due = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)
    reminder = ClaimedReminder(1, 1, kind, f"{kind}:x:1", due, due + timedelta(hours=1), "normal", kind, title, body,
                               url, 0)  # fmt: skip
    return json.dumps(reminder.payload())  # exactly what the dispatcher encrypts and sends


def wait_for_notifications(page: Page, ready: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Poll the service worker's shown notifications until `ready(list)` holds (no string predicates: the CSP
    forbids eval in the page)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = page.evaluate(NOTIFICATIONS)
        if ready(shown) or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(50)


def registration_id(page: Page, context: BrowserContext, origin: str) -> tuple[Any, str]:
    cdp = context.new_cdp_session(page)
    found: dict[str, str] = {}

    def on_update(event: dict[str, Any]) -> None:
        for reg in event["registrations"]:
            if reg["scopeURL"].startswith(origin) and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", on_update)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert "id" in found, "no service worker registration reported"
    return cdp, found["id"]


def test_push_shows_a_notification_and_newer_replaces_older(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    context.grant_permissions(["notifications"], origin=live_server.url)
    patient = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/reminders")
    check_page(page)
    wait_for_control(page, reload=True)
    wait_for_control(page)
    # Permission is granted but this browser has no subscription yet: the page offers the button.
    button = page.get_by_role("button", name="Turn on reminders on this phone")
    button.wait_for(state="visible")
    assert page.get_by_label("Name for this device").input_value() != ""
    check_page(page)

    cdp, reg_id = registration_id(page, context, live_server.url)

    def push(data: str) -> None:
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": live_server.url + "/", "registrationId": reg_id, "data": data})  # fmt: skip

    def deliver(payloads: list[str], ready: Any) -> list[dict[str, Any]]:
        """Deliver until `ready` holds: Chromium sometimes drops a message DevTools delivers (the first one after
        ServiceWorker.enable, and on a loaded machine now and then a later one). Delivering the same message
        again is harmless: a notification with the same tag replaces the one before."""
        for _ in range(4):
            for data in payloads:
                push(data)
            shown = wait_for_notifications(page, ready, timeout=6.0)
            if ready(shown):
                return shown
        return shown

    # Warm up with a test notification until one shows, then clear the screen.
    deliver([payload("test", "Reminders are working", "This is the test you asked for.", "/reminders")],
            lambda n: len(n) == 1)  # fmt: skip
    page.evaluate("async () => (await (await navigator.serviceWorker.ready).getNotifications())"
                  ".forEach(n => n.close())")
    assert wait_for_notifications(page, lambda n: n == [], timeout=5.0) == []

    [shown] = deliver([payload("checkin", "Time for your daily check-in", "It takes about a minute.", "/checkin")],
                      lambda n: len(n) == 1)  # fmt: skip
    assert shown["title"] == "Time for your daily check-in"
    assert shown["body"] == "It takes about a minute."
    assert shown["tag"] == "checkin"
    assert shown["data"] == {"url": "/checkin"}
    assert shown["timestamp"] == int(datetime(2026, 6, 15, 16, 0, tzinfo=UTC).timestamp() * 1000)

    # A newer reminder of the same kind replaces the older one; another kind sits beside it.
    both = deliver(
        [payload("checkin", "Check-in, second call", "Still time today.", "/checkin"),
         payload("group", "Your group starts at 6:00 PM", "Tap to see where.", "https://evil.example/x")],
        lambda n: {x["title"] for x in n} == {"Check-in, second call", "Your group starts at 6:00 PM"},
    )  # fmt: skip
    shown = {n["tag"]: n for n in both}
    assert len(both) == 2
    assert shown["checkin"]["title"] == "Check-in, second call"
    assert shown["group"]["title"] == "Your group starts at 6:00 PM"
    assert shown["group"]["data"] == {"url": "/"}  # a tap never leads off the app

    # This test browser has no push service to register with, so subscribing fails: the page says which part did.
    button.click()
    page.locator("#push-status", has_text="notification service didn't answer").wait_for(timeout=30_000)
    assert button.is_enabled()


def test_iphone_outside_the_home_screen_gets_the_explanation(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    patient = live_server.db.make_user("patient", "ios@example.org")
    login_page(page, live_server, patient)
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setUserAgentOverride", {"userAgent": IPHONE_SAFARI, "platform": "iPhone"})
    page.goto(f"{live_server.url}/reminders")
    explanation = page.locator("[data-push-state=ios]")
    explanation.wait_for(state="visible")
    assert "Add to Home Screen" in explanation.inner_text()
    assert page.get_by_role("button", name="Turn on reminders on this phone").is_hidden()
    assert page.locator("[data-push-state=nojs]").is_hidden()
    check_page(page)


def test_blocked_notifications_are_explained(live_server: LiveServer, page: Page, context: BrowserContext) -> None:
    patient = live_server.db.make_user("patient", "blocked@example.org")
    login_page(page, live_server, patient)
    cdp = context.new_cdp_session(page)
    # In this test's own browser context (without the id, Chromium would set it in the default one).
    phone = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send("Browser.setPermission", {"permission": {"name": "notifications"}, "setting": "denied",
                                       "origin": live_server.url, "browserContextId": phone})  # fmt: skip
    page.goto(f"{live_server.url}/reminders")
    page.locator("[data-push-state=denied]").wait_for(state="visible")
    assert "blocked" in page.locator("[data-push-state=denied]").inner_text()
    check_page(page)


def test_reminder_settings_form_in_the_browser(live_server: LiveServer, page: Page) -> None:
    patient = live_server.db.make_user("patient", "form@example.org")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/reminders")
    page.get_by_label("Minutes before the group starts").fill("3")
    page.get_by_role("button", name="Save reminder settings").click()
    page.wait_for_load_state("load")
    assert page.locator("#group_minutes_before-error").inner_text().endswith("Please choose 5 or more.")
    assert page.get_by_label("Minutes before the group starts").input_value() == "3"
    check_page(page)
    page.get_by_label("Minutes before the group starts").fill("30")
    page.get_by_role("button", name="Save reminder settings").click()
    page.wait_for_url("**/reminders?notice=saved")
    assert page.get_by_role("status").filter(has_text="saved").count() == 1
    check_page(page)
    # The test button without a device explains what to do, inline (htmx).
    page.get_by_role("button", name="Send me a test notification").click()
    page.locator("#test-result [role=alert]").wait_for()
    assert "Turn on reminders on this phone first" in page.locator("#test-result").inner_text()
    check_page(page)


def test_admin_delivery_counts_page(live_server: LiveServer, page: Page) -> None:
    from server.push.vapid import VapidKeys
    from tests.support.push_tools import drain, give_device, queue

    admin = live_server.db.make_user("admin", "admin@example.org")
    patient = live_server.db.make_user("patient", "p@example.org")
    give_device(live_server.db.url, patient.id)  # keys no browser would make: the send fails
    queue(live_server.db.url, user_id=patient.id, kind="test", dedupe_key="t1", title="Reminders are working")
    assert drain(live_server.db.url, VapidKeys.generate(), timeout=2.0).failed == 1
    login_page(page, live_server, admin)
    page.goto(f"{live_server.url}/account")
    page.get_by_role("link", name="How reminders were delivered").click()
    page.wait_for_url("**/admin/deliveries")
    cells = page.get_by_role("row", name="Test notifications").get_by_role("cell").all_inner_texts()
    assert cells == ["0", "0", "1", "0", "0", "1"]  # delivered, will retry, failed, gone, not sent, all
    check_page(page)
