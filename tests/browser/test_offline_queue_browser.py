"""The shared offline queue: nothing is dropped silently — stale entries and refused entries are shown."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import LiveServer, check_page, login_page, wait_for_control

ADD_ENTRY = """async ([key, body, ageDays]) => {
  await SteadyQueue.add({key, url: location.origin + '/checkin', body, csrf: null,
                         queuedAt: Date.now() - ageDays * 24 * 3600 * 1000});
}"""


def test_stale_and_refused_entries_are_shown_not_dropped(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    patient = live_server.db.make_user("patient", "pat@example.org")
    login_page(page, live_server, patient)
    token = page.evaluate("document.cookie.match(/csrftoken=([^;]+)/)[1]")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()
    wait_for_control(page)

    # Offline: an entry queued 8 days ago stays queued, and the person is told it has waited too long.
    context.set_offline(True)
    body = f"_csrf_token={token}&idempotency_key=old-entry&mood=5&craving=2&client_created_at="
    page.evaluate(ADD_ENTRY, ["old-entry", body, 8])
    page.evaluate("SteadyQueue.replay()")
    page.reload()
    banner = page.locator("#queue-banner")
    banner.wait_for(state="visible")
    assert "1 entry is saved on this phone" in banner.inner_text()
    assert "more than 7 days" in banner.inner_text()
    check_page(page)

    # Online again: a refused entry (mood 99 is out of range: a definite 422) leaves the queue, but what the
    # person wrote is shown so they can enter it again.
    context.set_offline(False)
    page.evaluate("SteadyQueue.replay()")  # let the automatic replay on 'online' finish first
    page.evaluate("SteadyQueue.clearAll()")
    bad = f"_csrf_token={token}&idempotency_key=bad-entry&mood=99&craving=2&note=walked+the+dog"
    page.evaluate(ADD_ENTRY, ["bad-entry", bad, 0])
    assert page.evaluate("SteadyQueue.replay().then(result => result.sent)") == 1
    page.reload()
    rejected = page.locator("#rejected-entries")
    rejected.wait_for(state="visible")
    assert "mood: 99" in rejected.inner_text() and "walked the dog" in rejected.inner_text()
    assert page.evaluate("SteadyQueue.all().then(e => e.length)") == 0
    assert live_server.db.scalar("SELECT count(*) FROM checkin") == 0
    check_page(page)
    assert rejected.get_by_role("listitem").count() == 1
    rejected.get_by_role("button").click()
    page.wait_for_function("() => document.getElementById('rejected-entries').hidden")
