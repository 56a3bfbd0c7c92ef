"""Crisis help in Chromium: /crisis opens offline without ever being visited (the service worker pre-caches it),
the safety plan loads into it online and is absent from the offline copy, and every page passes axe-core."""

from __future__ import annotations

import time

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LiveServer, check_page, login_page

CACHED_CRISIS = """async () => {
  for (const name of await caches.keys()) {
    const hit = await (await caches.open(name)).match('/crisis');
    if (hit) return await hit.text();
  }
  return null;
}"""

CACHED_PATHS = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""


def take_control(page: Page) -> None:
    # page.evaluate, not wait_for_function: a string predicate is eval'ed in the page, which the CSP forbids.
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")


def test_crisis_page_opens_offline_without_a_visit(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    live_server.db.make_user("admin")  # the clinic exists, as after setup
    page.goto(f"{live_server.url}/login")
    take_control(page)
    deadline = time.monotonic() + 20
    while page.evaluate(CACHED_CRISIS) is None:  # pre-cached at install, never visited
        assert time.monotonic() < deadline, "/crisis was not pre-cached by the service worker"
        time.sleep(0.1)

    context.set_offline(True)
    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_role("heading", level=1)).to_have_text("Get help now")
    expect(page.get_by_role("link", name="Call 988")).to_have_attribute("href", "tel:988")
    expect(page.get_by_role("link", name="Text HOME to 741741")).to_have_attribute("href", "sms:741741?&body=HOME")
    expect(page.locator(".plan-offline-note")).to_be_visible()
    check_page(page)
    page.emulate_media(color_scheme="dark")  # contrast holds in dark mode too
    check_page(page)
    page.emulate_media(color_scheme="light")
    context.set_offline(False)


def test_patient_writes_a_plan_and_sees_it_on_the_crisis_page(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    therapist = live_server.db.make_user("therapist", name="Dr Faulk")
    patient = live_server.db.make_user("patient", "pat@example.org", name="Sam", therapist=therapist)
    login_page(page, live_server, patient)
    take_control(page)

    page.get_by_role("link", name="Get help now").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Get help now")
    expect(page.get_by_role("link", name="Write my safety plan")).to_be_visible()  # loaded by htmx
    expect(page.locator(".plan-offline-note")).to_be_hidden()
    check_page(page)

    page.get_by_role("link", name="Write my safety plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit my safety plan")
    check_page(page)
    page.get_by_label("Step 3: People and places that distract me").fill("Heron Lake path\nThe library")
    page.get_by_label("My reasons for recovery").fill("My niece")
    page.get_by_role("button", name="Save my safety plan").click()
    expect(page.get_by_role("status")).to_contain_text("Your safety plan is saved.")
    expect(page.get_by_text("Heron Lake path")).to_be_visible()
    check_page(page)

    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_text("Heron Lake path")).to_be_visible()
    expect(page.get_by_text("My therapist: Dr Faulk")).to_be_visible()
    expect(page.locator(".plan-offline-note")).to_be_hidden()
    check_page(page)

    # The copy the phone keeps has the numbers but not the plan.
    cached = page.evaluate(CACHED_CRISIS)
    assert cached is not None and 'href="tel:988"' in cached
    assert "Heron Lake" not in cached and "Dr Faulk" not in cached

    # Offline (offline use is off): the numbers, and a note that the plan needs a connection.
    context.set_offline(True)
    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_role("link", name="Call 988")).to_be_visible()
    expect(page.get_by_text("Heron Lake path")).to_have_count(0)
    expect(page.locator(".plan-offline-note")).to_be_visible()
    check_page(page)
    context.set_offline(False)

    # With offline use turned on, the phone keeps the plan page too, and the crisis page picks the plan out of it.
    page.goto(f"{live_server.url}/more")
    page.evaluate("() => SteadyQueue.setSetting('offline-use', true)")
    page.goto(f"{live_server.url}/crisis/plan")
    expect(page.get_by_text("Heron Lake path")).to_be_visible()
    deadline = time.monotonic() + 20
    while "/crisis/plan" not in page.evaluate(CACHED_PATHS):
        assert time.monotonic() < deadline, "/crisis/plan was not kept for offline use"
        time.sleep(0.1)
    context.set_offline(True)
    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_text("Heron Lake path")).to_be_visible()
    expect(page.get_by_role("link", name="Edit my safety plan")).to_be_visible()
    expect(page.locator(".plan-offline-note")).to_be_hidden()
    expect(page.locator("header.topbar")).to_have_count(1)  # only the plan was picked out, not the whole page
    check_page(page)
    context.set_offline(False)


def test_clinic_settings_page_is_accessible(live_server: LiveServer, page: Page) -> None:
    admin = live_server.db.make_user("admin")
    login_page(page, live_server, admin)
    page.get_by_role("link", name="Clinic settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic settings")
    check_page(page)
    page.get_by_label("Name of the line").fill("Samaritans")
    page.get_by_label("Phone number").fill("116 123")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    check_page(page)
    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_role("link", name="Call 116 123")).to_have_attribute("href", "tel:116123")
    check_page(page)
