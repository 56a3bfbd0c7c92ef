"""The foundation in a real browser: sign in on a phone-sized screen, install the service worker, go offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import LiveServer, check_page, login_page, wait_for_control


@pytest.mark.persistent_profile  # installability: an incognito context reports 'in-incognito'
def test_patient_signs_in_installs_and_opens_offline(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    patient = live_server.db.make_user("patient", "pat@example.org", name="Sam")
    login_page(page, live_server, patient)
    assert page.url.endswith("/today")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hi, Sam")
    assert page.viewport_size == {"width": 390, "height": 844}
    check_page(page)

    # The service worker registers and takes control, and the app shell lands in its cache.
    wait_for_control(page, reload=True)
    page.reload()
    wait_for_control(page)
    cached = page.evaluate(
        "async () => { const keys = await caches.keys(); const urls = [];"
        " for (const k of keys) { for (const r of await (await caches.open(k)).keys()) urls.push(r.url); }"
        " return urls; }"
    )
    assert any("/static/css/app.css" in url for url in cached)
    assert any(url.endswith("/offline") for url in cached)

    # Chromium finds nothing in the way of installing the app.
    cdp = context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], errors
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest") and not manifest.get("errors")

    # Offline, a reload still shows the app shell (the offline page, styled, with crisis numbers).
    context.set_offline(True)
    page.reload()
    assert page.get_by_role("heading", level=1).inner_text() == "You're offline"
    assert page.locator("a[href='tel:988']").count() == 1
    check_page(page)
    context.set_offline(False)


def test_login_page_and_setup_are_accessible(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/setup")
    check_page(page)
    page.get_by_label("Clinic name").fill("Harbor Recovery")
    page.get_by_label("Your name").fill("Alex")
    page.get_by_label("Your email").fill("alex@example.org")
    page.get_by_label("Choose a password").fill("short")
    page.get_by_role("button", name="Create clinic").click()
    assert page.locator("#password-error").inner_text().endswith("at least 8 characters.")
    assert page.get_by_label("Clinic name").input_value() == "Harbor Recovery"
    check_page(page)
    page.get_by_label("Choose a password").fill("a calm blue lake")
    page.get_by_role("button", name="Create clinic").click()
    page.wait_for_url("**/admin")
    check_page(page)
    page.goto(f"{live_server.url}/invites")
    check_page(page)
    page.goto(f"{live_server.url}/account")
    check_page(page)
