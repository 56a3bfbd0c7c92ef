"""The aftercare plan in Chromium: written on the phone, printable, kept for offline use when the person turned
that on and opened with the network off; the alumni Today with its "You finished your program" moment. Every page
passes axe-core and the CSP."""

from __future__ import annotations

import time
from datetime import timedelta

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import LiveServer, check_page, login_page
from tests.support.checkins import today_for
from tests.test_schedule_helpers import enrol, make_program

CACHED_PATHS = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""


def test_the_aftercare_plan_is_written_and_opens_offline(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    patient = live_server.db.make_user("patient", "pat@example.org", name="Sam")
    login_page(page, live_server, patient)
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.goto(f"{live_server.url}/more")
    check_page(page)
    page.get_by_role("link", name="My aftercare plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My aftercare plan")
    check_page(page)
    page.get_by_role("link", name="Edit my aftercare plan").click()
    check_page(page)
    page.get_by_label("My next level of care").fill("Outpatient therapy with Dr Lee")
    page.get_by_label("Name (person 1)").fill("Ana")
    page.get_by_label("Phone (person 1)").fill("555 123 4567")
    page.get_by_label("Stress").check()
    page.get_by_label("If I slip").fill("Call Ana tonight")
    page.get_by_role("button", name="Save my aftercare plan").click()
    expect(page.get_by_role("status")).to_contain_text("Your aftercare plan is saved.")
    expect(page.get_by_role("link", name="Call Ana")).to_have_attribute("href", "tel:5551234567")
    expect(page.get_by_role("button", name="Print")).to_be_visible()  # shown by JS only
    check_page(page)

    # Print: the bottom bar and the edit buttons are left off the paper.
    page.emulate_media(media="print")
    expect(page.locator(".bottom-nav")).to_be_hidden()
    expect(page.get_by_role("link", name="Edit my aftercare plan")).to_be_hidden()
    expect(page.get_by_text("Outpatient therapy with Dr Lee")).to_be_visible()
    page.emulate_media(media="screen")

    # Offline use on: the phone keeps the plan, and it opens without a network.
    page.evaluate("() => SteadyQueue.setSetting('offline-use', true)")
    page.goto(f"{live_server.url}/aftercare")
    deadline = time.monotonic() + 20
    while "/aftercare" not in page.evaluate(CACHED_PATHS):
        assert time.monotonic() < deadline, "/aftercare was not kept for offline use"
        time.sleep(0.1)
    context.set_offline(True)
    page.goto(f"{live_server.url}/aftercare")
    expect(page.get_by_text("Outpatient therapy with Dr Lee")).to_be_visible()
    expect(page.get_by_role("link", name="Call Ana")).to_be_visible()
    check_page(page)
    context.set_offline(False)


def test_alumni_today_says_once_that_the_program_is_finished(live_server: LiveServer, page: Page) -> None:
    patient = live_server.db.make_user("patient", "alum@example.org", name="Sam")
    program = make_program(live_server.db)
    today = today_for(patient)
    enrol(live_server.db, patient.id, program.id, today - timedelta(weeks=12), status="completed",
          outcome="completed", end_date=today - timedelta(days=1))  # fmt: skip
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/today")
    expect(page.get_by_role("heading", name="You finished your program")).to_be_visible()
    check_page(page)
    page.reload()  # a reload doesn't eat the moment; the person closes it
    page.get_by_role("button", name="Thank you").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hi, Sam")
    expect(page.get_by_role("heading", name="You finished your program")).to_have_count(0)
    expect(page.get_by_role("heading", name="Your aftercare plan")).to_be_visible()
    check_page(page)


def test_the_meeting_finder_pages_are_accessible(live_server: LiveServer, page: Page) -> None:
    from pathlib import Path

    admin = live_server.db.make_user("admin", "admin@example.org")
    login_page(page, live_server, admin)
    page.goto(f"{live_server.url}/admin/meetings")
    check_page(page)
    feed = Path(__file__).parents[1] / "fixtures" / "meetings_valid.json"
    page.get_by_label("Meeting Guide JSON file").set_input_files(str(feed))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Imported: 8 new")
    check_page(page)
    page.get_by_label("One host per line").fill("10.0.0.1")
    page.get_by_role("button", name="Save hosts").click()
    expect(page.locator("#hosts-error")).to_be_visible()
    check_page(page)

    page.context.clear_cookies()
    patient = live_server.db.make_user("patient", "pat@example.org", name="Sam")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/meetings")
    check_page(page)
    page.get_by_label("Type").select_option("S")
    page.get_by_role("button", name="Show meetings").click()
    expect(page.get_by_role("heading", name="Grupo Esperanza")).to_be_visible()
    expect(page.get_by_role("heading", name="Tuesday Night Big Book")).to_have_count(0)
    page.get_by_role("button", name="Save Grupo Esperanza to my meetings").click()
    expect(page.get_by_role("heading", name="My meetings")).to_be_visible()
    check_page(page)
