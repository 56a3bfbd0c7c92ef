"""The schedule pages in a real Chromium: every page passes axe-core and the CSP, in light and dark mode, the admin
flow works with inline errors, and marking attendance swaps in place with htmx."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page

from server.db import utcnow
from server.schedule import logic
from tests.browser.conftest import LiveServer, check_page, login_page
from tests.test_schedule_helpers import enrol, make_program
from tests.test_sharing_support import share

EVERY_DAY = [("All year", 1, 52, [(d, "18:00", "Evening group") for d in range(7)])]


def both_schemes(page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        check_page(page)
    page.emulate_media(color_scheme="light")


def test_admin_builds_a_program(live_server: LiveServer, page: Page) -> None:
    admin = live_server.db.make_user("admin", "admin@example.org")
    live_server.db.make_user("patient", "sam@example.org", name="Sam")
    login_page(page, live_server, admin)
    page.goto(f"{live_server.url}/admin/programs")
    both_schemes(page)
    page.get_by_label("Name").fill("Evening IOP")
    page.get_by_role("button", name="Create program").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Evening IOP"
    both_schemes(page)

    page.get_by_label("Name", exact=True).first.fill("Weeks 1-4")
    page.get_by_label("First week").fill("1")
    page.get_by_label("Last week").fill("4")
    page.get_by_role("button", name="Add phase").click()
    page.get_by_role("link", name="Add a group").click()
    both_schemes(page)
    page.get_by_label("Title").fill("Relapse prevention group")
    page.get_by_label("Monday").uncheck()  # a new group's days are ticked, one form for several weekdays
    page.get_by_label("Thursday").check()
    page.get_by_label("Start time").fill("18:00")
    page.get_by_label("Video link (optional)").evaluate("el => el.type = 'text'")  # let the server judge the link
    page.get_by_label("Video link (optional)").fill("not a link")
    page.get_by_role("button", name="Add group").click()
    assert "starting with https://" in page.locator("#video_url-error").inner_text()
    assert page.get_by_label("Title").input_value() == "Relapse prevention group"
    assert page.get_by_label("Thursday").is_checked() and not page.get_by_label("Monday").is_checked()
    both_schemes(page)
    page.get_by_label("Video link (optional)").fill("https://meet.example.org/relapse")
    page.get_by_role("button", name="Add group").click()
    assert "Thursdays" in page.locator("main").inner_text()

    page.get_by_role("link", name="One-off changes").click()
    both_schemes(page)
    page.get_by_role("link", name="Enrolments").click()
    both_schemes(page)
    page.get_by_role("button", name="Enrol").click()
    assert "Enrolled" in page.locator("main").inner_text()
    page.get_by_role("link", name="Sam").click()
    both_schemes(page)


def test_patient_schedule_attendance_and_calendar(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    therapist = db.make_user("therapist", "rivera@example.org")
    patient = db.make_user("patient", "sam@example.org", name="Sam", therapist=therapist)
    program = make_program(db, phases=EVERY_DAY, video_url="https://meet.example.org/evening")
    today = utcnow().astimezone(logic.zone("America/New_York")).date()
    enrol(db, patient.id, program.id, today - timedelta(weeks=2))  # type: ignore[arg-type]
    login_page(page, live_server, patient)
    both_schemes(page)  # Today, with the next-group panel
    assert (
        page.get_by_role("heading", name="Your next group").count()
        + page.get_by_role("heading", name="Happening now").count()
        == 1
    )

    page.goto(f"{live_server.url}/schedule")
    both_schemes(page)
    first = page.locator(".mark-form").first
    item_id = first.evaluate("form => form.closest('li').id")
    first.get_by_role("button", name="I went").click()
    item = page.locator(f"#{item_id}")
    item.get_by_text("Marked: attended").wait_for()
    assert item.get_by_role("button", name="I went").get_attribute("aria-pressed") == "true"
    assert page.locator("#attendance-status").inner_text().startswith("Saved:")
    assert page.url.endswith("/schedule")  # swapped in place, no navigation
    both_schemes(page)

    page.get_by_role("button", name="Get my calendar address").click()
    assert page.get_by_label("Your private calendar address").input_value().endswith(".ics")
    both_schemes(page)

    share(db, patient, therapist, ["attendance"], data_from=today - timedelta(days=30))  # attendance is shared
    page.context.clear_cookies()
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist/patients/{patient.id}/schedule")
    assert "1 attended" in page.locator("main").inner_text()
    both_schemes(page)
