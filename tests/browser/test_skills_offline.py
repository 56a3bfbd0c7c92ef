"""Practise a breathing card in Chromium while offline, then sync: the card opens from the service worker's
cache, the practice is queued on the phone, and replaying it online makes exactly one row."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from playwright.sync_api import BrowserContext, Page, expect

from server.skills.catalogue import default_catalogue
from tests.browser.conftest import LiveServer, check_page, login_page, wait_for_control

CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
  }
  return urls;
}"""


def wait_for(condition: object, timeout: float = 20.0, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(message or "condition not met in time")


def navigation_ms(page: Page) -> float:
    return float(page.evaluate("performance.getEntriesByType('navigation')[0].duration"))


def test_practise_box_breathing_offline_then_sync(live_server: LiveServer, page: Page, context: BrowserContext) -> None:
    catalogue = default_catalogue()
    card = catalogue.by_id("box-breathing")
    assert card is not None and card.timer is not None and card.timer.kind == "breath"
    patient = live_server.db.make_user("patient", "pat@example.org", name="Sam")
    login_page(page, live_server, patient)

    # Let the service worker take control of the page.
    wait_for_control(page, reload=True)
    page.reload()
    wait_for_control(page)

    # Turn on offline use: the More page's switch stores the whole library on the phone.
    page.goto(f"{live_server.url}/more")
    check_page(page)
    switch = page.get_by_label("Keep forms on this phone for offline use")
    expect(switch).to_be_enabled()
    switch.check()
    expect(page.locator("#offline-use-status")).to_contain_text("Offline use is on.")
    wanted = {"/skills", *(f"/skills/{c.id}" for c in catalogue.cards), "/static/js/skills.js"}
    wait_for(
        lambda: wanted <= set(page.evaluate(CACHED_URLS)),
        message="the skills library was not cached for offline use",
    )

    # Once online: the library.
    page.goto(f"{live_server.url}/skills")
    expect(page.get_by_role("heading", level=1)).to_have_text("Skills")
    check_page(page)

    # Offline from here on.
    context.set_offline(True)
    page.goto(f"{live_server.url}/skills/box-breathing")
    opened_ms = navigation_ms(page)
    print(f"\noffline open of /skills/box-breathing: {opened_ms:.1f} ms (navigation timing duration)")
    assert opened_ms > 0
    expect(page.get_by_role("heading", level=1)).to_have_text(card.title)
    expect(page.locator("#offline-banner")).to_be_visible()
    check_page(page)

    # Screen 1: how distressed right now (one screen at a time with the script).
    before = page.get_by_role("group", name="How distressed are you right now?")
    expect(before).to_be_visible()
    expect(page.locator("section[data-screen=step]").first).to_be_hidden()
    before.get_by_label("7", exact=True).check()
    next_button = page.locator("[data-skill-next]")
    expect(next_button).to_have_text("Start")
    next_button.click()

    # The steps, one per screen, with Back and Next.
    for number, step in enumerate(card.steps, start=1):
        heading = page.get_by_role("heading", name=f"Step {number} of {len(card.steps)}")
        expect(heading).to_be_visible()
        expect(heading).to_be_focused()
        expect(page.get_by_text(step)).to_be_visible()
        if number == 1:
            check_page(page)
            page.locator("[data-skill-back]").click()
            expect(before).to_be_visible()
            next_button.click()
        next_button.click()

    # The guided timer: starts, cues the first breath in words, then is skipped.
    expect(page.get_by_role("heading", name="Guided timer")).to_be_visible()
    check_page(page)
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator("[data-timer-cue]")).to_have_text("Breathe in… 4")
    expect(page.locator("[data-breath-circle]")).to_have_class("breath-circle is-in")
    expect(page.locator("[data-timer-count]")).to_have_text("4")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("[data-timer-cue]")).to_have_text("Paused. Press Resume when you are ready.")
    page.get_by_role("button", name="Skip timer").click()
    expect(page.locator("[data-timer-cue]")).to_have_text("Timer skipped. Press Next when you are ready.")
    check_page(page)
    next_button.click()

    # After: distress again, did it help, a note, save — while still offline.
    after = page.get_by_role("group", name="How distressed are you now?")
    expect(after).to_be_visible()
    after.get_by_label("3", exact=True).check()
    page.get_by_role("group", name="Did it help?").get_by_label("Yes").check()
    page.get_by_label("A note for yourself (optional)").fill("Slower each round.")
    check_page(page)
    page.get_by_role("button", name="Save my practice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Saved on this phone")
    check_page(page)
    queued = page.evaluate("SteadyQueue.all().then(entries => entries.map(e => e.url))")
    assert [url.removeprefix(live_server.url) for url in queued] == ["/skills/box-breathing/practice"]
    assert live_server.db.scalar("SELECT count(*) FROM skill_practice") == 0

    # Back online: the queue replays and the practice lands once.
    context.set_offline(False)
    page.goto(f"{live_server.url}/skills")
    check_page(page)
    wait_for(
        lambda: live_server.db.scalar("SELECT count(*) FROM skill_practice") == 1,
        message="the queued practice was not replayed",
    )
    wait_for(lambda: page.evaluate("SteadyQueue.all().then(e => e.length)") == 0, message="the queue kept it")
    # A second replay (another reload) must not add a row.
    page.reload()
    page.evaluate("SteadyQueue.replay()")
    assert live_server.db.scalar("SELECT count(*) FROM skill_practice") == 1
    row = live_server.db.scalar(
        "SELECT card_id || '|' || distress_before || '|' || distress_after || '|' || helped || '|' || note"
        " FROM skill_practice"
    )
    assert row == "box-breathing|7|3|yes|Slower each round."
    started = live_server.db.scalar("SELECT started_at FROM skill_practice")
    started_at = started if isinstance(started, datetime) else datetime.fromisoformat(str(started))
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - started_at).total_seconds()) < 300  # the phone's time when the card opened

    # The practice shows up in the library (recently used) and in my history, online.
    page.goto(f"{live_server.url}/skills")
    expect(page.get_by_role("heading", name="Recently used")).to_be_visible()
    page.goto(f"{live_server.url}/skills/history")
    expect(page.get_by_role("link", name=card.title)).to_be_visible()
    check_page(page)
