"""Issue 15's walk-through fixes in a real phone-sized Chromium (390×844): time zones at join, widths with long
words, the quick check-in's first screen, CSP on htmx swaps. Every page visited passes axe and the CSP."""

from __future__ import annotations

from playwright.sync_api import Page

from server.accounts import invites
from server.accounts.models import Role, User
from tests.browser.conftest import LiveServer, check_page


def _invite_code(server: LiveServer, inviter: User, role: Role) -> str:
    async def work(session: object) -> str:
        _invite, code = await invites.create_invite(session, inviter, role, valid_hours=24)  # type: ignore[arg-type]
        return code

    return str(server.db.run(work))


def test_join_offers_the_phones_zone_and_says_it_in_words(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    therapist = db.make_user("therapist", "rivera@example.org", name="Dr. Rivera")
    db.execute("UPDATE clinic SET timezone = 'America/Chicago'")
    code = _invite_code(live_server, therapist, Role.PATIENT)
    page.goto(f"{live_server.url}/join?code={code}")
    check_page(page)
    zone = page.get_by_label("Your time zone")
    assert zone.input_value() == "America/Chicago"  # the clinic's zone by default
    assert page.locator("#timezone-words").inner_text() == "Times will show in Chicago time."
    # This phone is in New York (launch_phone): offered, not forced.
    offer = page.get_by_role("button", name="Use this phone’s time zone: New York")
    offer.click()
    assert zone.input_value() == "America/New_York"
    assert page.locator("#timezone-words").inner_text() == "Times will show in New York time."
    assert offer.is_hidden()
    zone.select_option("America/Denver")
    assert page.locator("#timezone-words").inner_text() == "Times will show in Denver time."
    check_page(page)
    page.get_by_label("Your first name or what you like to be called").fill("Taylor")
    page.get_by_label("Email").fill("taylor@example.org")
    page.get_by_label("Choose a password").fill("a calm blue lake")
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/today")
    check_page(page)
    assert db.scalar("SELECT timezone FROM user_account WHERE email = 'taylor@example.org'") == "America/Denver"


