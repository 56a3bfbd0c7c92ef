import json, sys, time
from typing import Any
import pytest
from playwright.sync_api import BrowserContext, Page
from tests.browser.conftest import LiveServer, login_page
from tests.browser.test_push_browser import NOTIFICATIONS, payload

@pytest.mark.parametrize("n", range(16))
def test_dbg(n: int, live_server: LiveServer, page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["notifications"], origin=live_server.url)
    patient = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/reminders")
    page.wait_for_function("navigator.serviceWorker.controller !== null || location.reload()", timeout=15_000)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    cdp = context.new_cdp_session(page)
    events: list[Any] = []
    found = {}
    def on_update(event):
        events.append(("reg", event))
        for reg in event["registrations"]:
            if reg["scopeURL"].startswith(live_server.url) and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]
    cdp.on("ServiceWorker.workerRegistrationUpdated", on_update)
    cdp.on("ServiceWorker.workerVersionUpdated", lambda e: events.append(("ver", [(v["versionId"], v["runningStatus"], v["status"]) for v in e["versions"]])))
    cdp.on("ServiceWorker.workerErrorReported", lambda e: events.append(("err", e)))
    cdp.send("ServiceWorker.enable")
    while "id" not in found:
        page.wait_for_timeout(50)
    t = time.monotonic()
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url + "/", "registrationId": found["id"], "data": payload("checkin", "T", "B", "/checkin")})
    shown = []
    while time.monotonic() - t < 15:
        shown = page.evaluate(NOTIFICATIONS)
        if shown:
            break
        page.wait_for_timeout(50)
    if not shown:
        page.wait_for_timeout(10000)
        later = page.evaluate(NOTIFICATIONS)
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url + "/", "registrationId": found["id"], "data": payload("checkin", "T2", "B", "/checkin")})
        page.wait_for_timeout(5000)
        again = page.evaluate(NOTIFICATIONS)
        print("FAIL", n, "later", later, "again", again, json.dumps(events)[:3000], file=sys.stderr)
    assert shown
