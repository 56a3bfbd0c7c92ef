"""The look (issue 15) in real Chromium: the skills library's module chips and search with and without
JavaScript, the celebration animation and reduced motion, the family feed's celebration, and the therapist
dashboard's filter chips. Every page visited passes axe-core and the CSP in light AND dark mode."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from server.accounts.models import Role
from server.localtime import local_today
from server.skills.catalogue import default_catalogue
from tests.browser.conftest import LiveServer, check_page, login_page, wait_for_control
from tests.browser.test_push_browser import IPHONE_SAFARI, registration_id, wait_for_notifications
from tests.support.family import family_of, run_all, set_sober_since, today_of
from tests.test_sharing_support import add_rows, checkin, share
from tests.test_skills import add_practice

CATALOGUE = default_catalogue()


def check_both(page: Page) -> None:
    """axe + CSP in the light theme and again in the dark one (colour contrast is checked in each)."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        check_page(page)
    page.emulate_media(color_scheme="light")


def _without_our_scripts(page: Page) -> None:
    """No JavaScript of ours (htmx, the page scripts, the service worker's script): axe still runs."""
    page.route("**/*.js", lambda route: route.abort())

def _visible_cards(page: Page) -> set[str]:
    links = page.locator(".skill-item:visible a.skill-link")
    return {href.removeprefix("/skills/") for href in links.evaluate_all("els => els.map(a => a.getAttribute('href'))")}


def test_skills_library_chips_and_search_without_javascript(live_server: LiveServer, page: Page) -> None:
    patient = live_server.db.make_user(Role.PATIENT, "nojs@example.org", name="Robin")
    _without_our_scripts(page)
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/skills")
    check_both(page)
    # The overview is short: five module tiles, not 47 cards.
    assert page.locator(".module-tile").count() == len(CATALOGUE.modules())
    assert _visible_cards(page) == set()

    page.get_by_role("navigation", name="Skill modules").get_by_role("link", name="Mindfulness").click()
    page.wait_for_url("**/skills?module=mindfulness")
    assert _visible_cards(page) == {c.id for c in CATALOGUE.cards_in("mindfulness")}
    expect(page.locator('[data-module-chip="mindfulness"]')).to_have_attribute("aria-current", "page")
    check_both(page)

    page.get_by_label("Search by name or feeling").fill("breath")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/skills?q=breath&module=mindfulness")
    want = {c.id for c in CATALOGUE.search("breath") if c.module == "mindfulness"}
    assert want and _visible_cards(page) == want
    check_both(page)


def test_skills_library_chips_swap_with_htmx_and_typing_filters(live_server: LiveServer, page: Page) -> None:
    patient = live_server.db.make_user(Role.PATIENT, "js@example.org", name="Robin")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/skills")
    check_both(page)
    page.evaluate("window.__samePage = true")

    chips = page.get_by_role("navigation", name="Skill modules")
    chips.get_by_role("link", name="Relapse prevention").click()
    expect(page.locator('[data-module-chip="relapse-prevention"]')).to_have_attribute("aria-current", "page")
    assert page.evaluate("window.__samePage === true"), "the chip reloaded the page instead of swapping"
    page.wait_for_url("**/skills?module=relapse-prevention")
    assert _visible_cards(page) == {c.id for c in CATALOGUE.cards_in("relapse-prevention")}
    check_both(page)

    # Back to all skills, then type: the cards that match show at once (no request), the overview hides.
    chips.get_by_role("link", name="All skills").click()
    expect(page.locator('[data-module-chip=""]')).to_have_attribute("aria-current", "page")
    page.get_by_label("Search by name or feeling").press_sequentially("urge")
    want = {c.id for c in CATALOGUE.search("urge")}
    expect(page.locator("#skill-filter-status")).to_contain_text(f"{len(want)} skills match")
    assert _visible_cards(page) == want
    expect(page.locator(".module-tiles")).to_be_hidden()
    check_both(page)
    page.get_by_label("Search by name or feeling").fill("")
    expect(page.locator(".module-tiles")).to_be_visible()


def _animation(page: Page, selector: str) -> str:
    return page.locator(selector).first.evaluate("el => getComputedStyle(el).animationName")


def test_celebration_animates_and_reduced_motion_keeps_it_still(live_server: LiveServer, page: Page) -> None:
    patient = live_server.db.make_user(Role.PATIENT, "party@example.org", name="Robin")
    set_sober_since(live_server.db, patient, today_of(patient) - timedelta(days=30))
    login_page(page, live_server, patient)

    page.goto(f"{live_server.url}/today")
    expect(page.get_by_role("heading", name="30 days sober today")).to_be_visible()
    assert _animation(page, ".celebrate-art .milestone-icon") == "celebrate-pop"
    assert _animation(page, ".celebrate-burst") == "celebrate-burst"
    check_both(page)

    page.emulate_media(reduced_motion="reduce")
    page.reload()
    assert _animation(page, ".celebrate-art .milestone-icon") == "none"
    assert _animation(page, ".celebrate-burst") == "none"
    check_both(page)

    # A finished practice celebrates too, and stays still under reduced motion.
    practice_id = add_practice(live_server.db, patient, "stop", 7, 3)
    page.goto(f"{live_server.url}/skills/practice/{practice_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Saved. Well done for practising.")
    assert _animation(page, ".celebrate-art .milestone-icon") == "none"
    check_both(page)
    page.emulate_media(reduced_motion="no-preference")
    page.reload()
    assert _animation(page, ".celebrate-art .milestone-icon") == "celebrate-pop"


def test_family_feed_celebrates_the_newest_news(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    member = family_of(db, sam, name="Robin", email="robin@example.org")
    set_sober_since(db, sam, today_of(sam) - timedelta(days=7))
    run_all(db)
    login_page(page, live_server, member)
    page.goto(f"{live_server.url}/family")
    expect(page.locator(".milestone-card.celebrate")).to_have_count(1)
    assert _animation(page, ".milestone-card.celebrate .milestone-icon") == "celebrate-pop"
    check_both(page)
    page.emulate_media(reduced_motion="reduce")
    page.reload()
    assert _animation(page, ".milestone-card.celebrate .milestone-icon") == "none"


def _dashboard_scene(live_server: LiveServer) -> Any:
    db = live_server.db
    therapist = db.make_user("therapist", "rivera@example.org", name="Dr. Rivera")
    high = db.make_user("patient", "sam@example.org", name="Sam Lee", therapist=therapist)
    calm = db.make_user("patient", "jo@example.org", name="Jo Park", therapist=therapist)
    today = local_today(high)
    add_rows(db, [checkin(high, today - timedelta(days=i), 3, 9) for i in range(1, 10)])
    add_rows(db, [checkin(calm, today - timedelta(days=i), 7, 1) for i in range(1, 10)])
    for patient in (high, calm):
        share(db, patient, therapist, data_from=today - timedelta(days=21))
    return therapist


def test_dashboard_filter_chips_swap_with_htmx(live_server: LiveServer, page: Page) -> None:
    therapist = _dashboard_scene(live_server)
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    assert page.get_by_role("button", name="Filter").count() == 0
    rows = page.locator("#dashboard-rows tbody tr")
    expect(rows).to_have_count(2)
    check_both(page)
    page.evaluate("window.__samePage = true")

    show = page.get_by_role("navigation", name="Show")
    show.get_by_role("link", name="Strong cravings").click()
    page.wait_for_url("**flag=cravings**")
    expect(rows).to_have_count(1)
    assert "Sam Lee" in rows.first.inner_text()
    chip = show.get_by_role("link", name="Strong cravings")
    expect(chip).to_have_attribute("aria-current", "page")
    expect(chip).to_be_focused()  # focus stays on the chip that was pressed, though htmx replaced it
    assert page.evaluate("window.__samePage === true")
    check_both(page)

    # Picking a week keeps the flag filter.
    page.get_by_text("A week").click()
    week = page.locator(".week-chips a").nth(1)
    label = week.inner_text()
    week.click()
    expect(page.locator(".week-chips a", has_text=label)).to_have_attribute("aria-current", "page")
    assert "flag=cravings" in page.url and "view=" in page.url
    check_both(page)


def test_dashboard_filter_chips_without_javascript(live_server: LiveServer, page: Page) -> None:
    therapist = _dashboard_scene(live_server)
    _without_our_scripts(page)
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    page.get_by_role("navigation", name="Show").get_by_role("link", name="Strong cravings").click()
    page.wait_for_url("**flag=cravings**")
    expect(page.locator("#dashboard-rows tbody tr")).to_have_count(1)
    page.get_by_role("navigation", name="Days").get_by_role("link", name="Since the last session").click()
    page.wait_for_url("**view=since_session&flag=cravings")
    check_both(page)


def test_charts_keep_readable_axis_labels_at_any_width(live_server: LiveServer, page: Page) -> None:
    therapist = _dashboard_scene(live_server)
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    page.get_by_role("link", name="Sam Lee").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam Lee")
    expect(page.locator("svg.chart").first).to_be_visible()
    for width in (390, 820, 1280, 1920):
        page.set_viewport_size({"width": width, "height": 900})
        sizes = page.locator("svg.chart .chart-label").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect().height)"
        )
        assert sizes, "no chart labels on the patient's page"
        assert min(sizes) >= 13 and max(sizes) <= 24, (width, min(sizes), max(sizes))  # label boxes, px
    check_both(page)


BADGE_SPY = """
window.__badges = [];
navigator.setAppBadge = (n) => { window.__badges.push(n); return Promise.resolve(); };
navigator.clearAppBadge = () => { window.__badges.push(0); return Promise.resolve(); };
"""


def test_iphone_is_guided_to_the_home_screen_first_and_the_badge_is_set(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    patient = live_server.db.make_user(Role.PATIENT, "iphone@example.org", name="Robin")
    login_page(page, live_server, patient)
    page.add_init_script(BADGE_SPY)

    # Not an iPhone: no card; today's check-in is still to do, so the icon shows 1.
    page.goto(f"{live_server.url}/today")
    expect(page.locator("[data-install-hint]")).to_be_hidden()
    page.wait_for_function("window.__badges.length > 0")
    assert page.evaluate("window.__badges") == [1]

    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setUserAgentOverride", {"userAgent": IPHONE_SAFARI, "platform": "iPhone"})
    page.goto(f"{live_server.url}/today")
    card = page.get_by_role("region", name="Put Steady on your Home Screen")
    expect(card).to_be_visible()
    assert "Add to Home Screen" in card.inner_text()
    check_both(page)
    card.get_by_role("button", name="Not now").click()
    expect(card).to_be_hidden()
    page.reload()
    expect(page.locator("[data-install-hint]")).to_be_hidden()


def test_service_worker_shows_a_declarative_push(live_server: LiveServer, page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["notifications"], origin=live_server.url)
    patient = live_server.db.make_user(Role.PATIENT, "dwp@example.org")
    login_page(page, live_server, patient)
    page.goto(f"{live_server.url}/reminders")
    wait_for_control(page, reload=True)
    wait_for_control(page)
    cdp, reg_id = registration_id(page, context, live_server.url)
    # Only the declarative fields (what a server sending to Safari alone would send): the worker reads them too.
    message = json.dumps({
        "web_push": 8030,
        "notification": {"title": "Time for your daily check-in", "body": "About 30 seconds.",
                         "navigate": f"{live_server.url}/checkin", "tag": "checkin", "timestamp": 1781539200000},
        "app_badge": 1,
    })  # fmt: skip
    for _ in range(3):  # DevTools may lose the first message after ServiceWorker.enable
        cdp.send("ServiceWorker.deliverPushMessage",
                 {"origin": live_server.url + "/", "registrationId": reg_id, "data": message})  # fmt: skip
        if wait_for_notifications(page, lambda n: len(n) >= 1, timeout=5.0):
            break
    [shown] = wait_for_notifications(page, lambda n: len(n) == 1)
    assert (shown["title"], shown["body"]) == ("Time for your daily check-in", "About 30 seconds.")
    assert shown["tag"] == "checkin"
    assert shown["data"] == {"url": "/checkin"}  # the same-site path of `navigate`
    assert shown["timestamp"] == 1781539200000


def test_the_stored_library_shows_the_module_asked_for(live_server: LiveServer, page: Page) -> None:
    """Offline, the service worker answers /skills?module=… with the stored /skills (ignoreSearch): the page script
    then shows that module's cards itself. Here the stored copy is served the same way by the test."""
    patient = live_server.db.make_user(Role.PATIENT, "stored@example.org", name="Robin")
    page.route("**/sw.js", lambda route: route.abort())
    login_page(page, live_server, patient)
    stored = page.request.get(f"{live_server.url}/skills").text()
    page.route(
        re.compile(r".*/skills\?module=mindfulness$"),
        lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=stored),
    )
    # Our own worker would fetch the page past the route: take it away first (the route also refuses it).
    page.evaluate(
        "async () => Promise.all((await navigator.serviceWorker.getRegistrations()).map(r => r.unregister()))"
    )
    page.goto(f"{live_server.url}/skills?module=mindfulness")
    expect(page.locator('[data-module-chip="mindfulness"]')).to_have_attribute("aria-current", "page")
    expect(page.locator('[data-module-chip=""]')).not_to_have_attribute("aria-current", "page")
    expect(page.locator("#all-h")).to_have_text("Mindfulness")
    assert _visible_cards(page) == {c.id for c in CATALOGUE.cards_in("mindfulness")}
    expect(page.locator(".module-tiles")).to_be_hidden()
    check_both(page)
