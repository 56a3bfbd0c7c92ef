"""Sharing in a real Chromium: the consent screen (with its 422), the patient's sharing page, the therapist's
dashboard with its htmx filter and a patient's week with htmx week navigation — each passes axe-core and the CSP
in light and dark mode."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from server.localtime import local_today
from tests.browser.conftest import LiveServer, check_page, login_page
from tests.test_sharing_support import add_rows, checkin, share


def both_schemes(page: Page) -> None:
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        check_page(page)
    page.emulate_media(color_scheme="light")


def test_patient_signs_and_therapist_reads(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    therapist = db.make_user("therapist", "rivera@example.org", name="Dr. Rivera")
    patient = db.make_user("patient", "sam@example.org", name="Sam Lee", therapist=therapist)
    today = local_today(patient)
    add_rows(
        db,
        [
            checkin(patient, today - timedelta(days=i), 3 + i % 5, 9 if i in (1, 2) else 2, note="Long day")
            for i in range(1, 15)
        ],
    )

    jo = db.make_user("patient", "jo@example.org", name="Jo Park", therapist=therapist)
    add_rows(db, [checkin(jo, today - timedelta(days=i), 6, 2) for i in range(1, 20)])
    share(db, jo, therapist, ["mood_sleep", "attendance"], data_from=today - timedelta(days=21))

    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/more")
    page.get_by_role("link", name="Sharing with my therapist").click()
    both_schemes(page)
    page.get_by_role("link", name="Share with Dr. Rivera").click()
    both_schemes(page)
    # A name without letters and no end date: inline errors, and what was ticked stays ticked.
    page.get_by_label("My free-text notes").check()
    page.get_by_label("Your full name").fill("...")
    page.get_by_role("button", name="Sign and share").click()
    assert "type your full name to sign" in page.locator("#signature-error").inner_text()
    assert "last day of sharing" in page.locator("#ends_on-error").inner_text()
    assert page.get_by_label("My free-text notes").is_checked()
    both_schemes(page)
    page.get_by_label("My free-text notes").uncheck()
    page.get_by_label("Last day of sharing").fill((today + timedelta(days=90)).isoformat())
    page.get_by_label("Your full name").fill("Sam Lee")
    page.get_by_role("button", name="Sign and share").click()
    assert "Thank you" in page.locator("main").inner_text()
    both_schemes(page)

    page.context.clear_cookies()
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    assert "Sam Lee" in page.locator("#dashboard-rows").inner_text()
    both_schemes(page)
    # The filter chips swap only the rows (htmx) and keep the address in step.
    show = page.get_by_role("navigation", name="Show")
    show.get_by_role("link", name="Self-harm urge").click()
    page.wait_for_url("**flag=self_harm**")
    assert "No patient matches" in page.locator("#dashboard-rows").inner_text()
    show.get_by_role("link", name="Everyone").click()
    page.wait_for_url("**/therapist?view=last7")
    page.get_by_role("link", name="Sam Lee").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Sam Lee"
    expect(page.get_by_role("button", name="Print")).to_be_visible()  # shown by sharing.js once it has run
    # Sam shares from today on, so there is no earlier week to go to.
    assert page.get_by_role("link", name="Week before").count() == 0
    both_schemes(page)

    # Jo has shared for three weeks: step back a week without a page load.
    page.goto(f"{live_server.url}/therapist/patients/{jo.id}")
    heading = page.locator("#week-h").inner_text()
    page.get_by_role("link", name="Week before").click()
    page.wait_for_url("**week=**")
    assert page.locator("#week-h").inner_text() != heading
    assert "Notes" not in page.locator("#week-panel").inner_text()
    both_schemes(page)
