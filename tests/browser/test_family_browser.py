"""Family pages in a real browser on a phone-sized screen: axe-core finds no WCAG problem, the CSP holds, and the
forms work with the keyboard and without any JavaScript of ours."""

from __future__ import annotations

import os
from datetime import timedelta

from playwright.sync_api import Page

from server.accounts.models import Role
from tests.browser.conftest import LiveServer, check_page, login_page
from tests.support.family import family_of, run_all, set_sober_since, today_of

SHOTS = os.environ.get("STEADY_SCREENSHOTS", "")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_the_patient_chooses_what_family_hears(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam Lee")
    family_of(db, sam, name="Robin", email="robin@example.org", kinds=())
    login_page(page, live_server, sam)
    page.goto(f"{live_server.url}/family-circle")
    check_page(page)
    _shot(page, "circle")

    page.get_by_role("link", name="Choose what Robin hears").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Robin")
    check_page(page)
    page.get_by_label("Sober-day milestones").check()
    page.get_by_label("Good news I choose to send").check()
    page.get_by_label("Last day of sharing").fill((today_of(sam) + timedelta(days=60)).isoformat())
    page.get_by_label("Your full name").fill("...")
    page.get_by_role("button", name="Sign and switch on").click()
    assert "type your full name to sign" in page.locator("#signature-error").inner_text()
    assert page.get_by_label("Sober-day milestones").is_checked()  # kept as ticked
    check_page(page)
    page.get_by_label("Your full name").fill("Sam Lee")
    page.get_by_role("button", name="Sign and switch on").click()
    assert "Signed." in page.get_by_role("status").first.inner_text()
    check_page(page)
    _shot(page, "member")

    page.goto(f"{live_server.url}/family-circle")
    page.get_by_label("Your good news").fill("I cooked dinner for everyone tonight.")
    page.get_by_role("button", name="Share it").click()
    assert "on its way" in page.get_by_role("status").first.inner_text()
    assert "I cooked dinner for everyone tonight." in page.locator("#sent-log").inner_text()
    check_page(page)


def test_the_family_member_sees_warm_news_and_sends_a_kind_word(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    robin = family_of(db, sam, name="Robin", email="robin@example.org")
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)
    login_page(page, live_server, robin)
    assert page.url.endswith("/family")
    assert page.get_by_text("Sam reached 30 days sober").is_visible()
    check_page(page)
    _shot(page, "feed")

    page.get_by_role("link", name="About the program").click()
    check_page(page)
    _shot(page, "about")

    page.get_by_role("link", name="Send a kind word").first.click()
    page.get_by_role("button", name="Send").click()
    assert page.locator(".alert-error").is_visible()
    check_page(page)
    page.get_by_label("I believe in you.").check()
    page.get_by_role("button", name="Send").click()
    assert "Sent." in page.get_by_role("status").first.inner_text()
    check_page(page)
    _shot(page, "encourage")

    page.context.clear_cookies()
    login_page(page, live_server, sam)
    assert page.get_by_text("I believe in you.").is_visible()
    check_page(page)
    _shot(page, "today")
