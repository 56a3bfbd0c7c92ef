"""Every way an offline entry used to be lost, in Chromium with the project's service worker. Each scenario saves
a check-in while offline, then meets one loss path; the entry must reach the server exactly once (or, where the
person chose, be deleted by that choice), and the queue must say in words what is waiting:

- the session ends while the entry waits (replay answered by a redirect to sign-in);
- "Sign out" tapped while offline, and while online with unsent entries;
- the CSRF cookie is gone (a browser restart);
- the server recorded the entry but the answer never arrived (the browser closed mid-replay);
- two tabs replay at once; the server fails (5xx) and then recovers;
- a second person signs in on the same phone.
"""

from __future__ import annotations

import json
import os

from playwright.sync_api import BrowserContext, Page, expect

from server.accounts.models import User
from tests.browser.conftest import LiveServer, check_page, login_page, wait_for, wait_for_control

SAVED = "Saved on this phone"


def queued(page: Page) -> int:
    return int(page.evaluate("SteadyQueue.all().then(entries => entries.length)"))


def checkins(server: LiveServer, user: User | None = None) -> int:
    if user is None:
        return int(server.db.scalar("SELECT count(*) FROM checkin"))
    return int(server.db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=user.id))


def tally(server: LiveServer, scenario: str, *, queued_offline: int, deleted_by_choice: int = 0,
          left_on_phone: int = 0) -> None:  # fmt: skip
    """bench/offline_bench.py runs these scenarios and prints the totals (STEADY_OFFLINE_TALLY names the file)."""
    recorded = int(server.db.scalar("SELECT (SELECT count(*) FROM checkin) + (SELECT count(*) FROM craving_log)"))
    keys = int(server.db.scalar("SELECT (SELECT count(DISTINCT idempotency_key) FROM checkin_submission) + "
                                "(SELECT count(DISTINCT idempotency_key) FROM craving_log)"))  # fmt: skip
    lost = queued_offline - recorded - deleted_by_choice - left_on_phone
    assert lost == 0, (scenario, lost)
    if os.environ.get("STEADY_OFFLINE_TALLY"):
        with open(os.environ["STEADY_OFFLINE_TALLY"], "a", encoding="utf-8") as out:
            out.write(json.dumps({"scenario": scenario, "queued": queued_offline, "recorded": recorded,
                                  "duplicated": max(0, recorded - keys), "deleted_by_choice": deleted_by_choice,
                                  "stuck": left_on_phone, "lost": lost}) + "\n")  # fmt: skip


def ready_for_offline(page: Page, server: LiveServer, user: User) -> None:
    login_page(page, server, user)
    wait_for_control(page, reload=True)
    page.reload()
    wait_for_control(page)
    page.goto(f"{server.url}/more")
    switch = page.get_by_label("Keep forms on this phone for offline use")
    expect(switch).to_be_enabled()
    switch.check()
    expect(page.locator("#offline-use-status")).to_contain_text("Offline use is on.")
    wait_for(lambda: page.evaluate("caches.match('/checkin').then(Boolean)"), message="the check-in form was not kept")


def check_in_offline(page: Page, context: BrowserContext, server: LiveServer, mood: str = "3") -> None:
    context.set_offline(True)
    page.goto(f"{server.url}/checkin")
    page.get_by_role("group", name="How is your mood right now?").get_by_label(mood, exact=True).check()
    page.get_by_role("group", name="How strong is any craving right now?").get_by_label("6", exact=True).check()
    page.get_by_role("group", name="Did you drink or use drugs today?").get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Save check-in").click()
    expect(page.get_by_text(SAVED).first).to_be_visible()


def test_the_session_ends_while_an_entry_waits(live_server: LiveServer, page: Page, context: BrowserContext) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server)
    live_server.db.execute("DELETE FROM user_session")  # "sign out my other devices", a password change, expiry

    context.set_offline(False)
    page.goto(f"{live_server.url}/today")  # the server sends a signed-out person to sign in
    expect(page.locator("#queue-banner")).to_have_text("1 entry is saved on this phone. Sign in to send it.")
    check_page(page)
    page.evaluate("SteadyQueue.replay()")
    assert queued(page) == 1 and checkins(live_server) == 0  # kept, not mistaken for delivered

    login_page(page, live_server, sam)
    wait_for(lambda: checkins(live_server, sam) == 1, message="the entry was not sent after signing in")
    wait_for(lambda: queued(page) == 0)
    expect(page.locator("#queue-banner")).to_be_hidden()
    tally(live_server, "session ended while waiting", queued_offline=1)


def test_sign_out_never_deletes_waiting_entries_without_asking(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    more = context.new_page()  # the More page, open in another tab before the connection drops
    more.goto(f"{live_server.url}/more")
    check_in_offline(page, context, live_server)

    # Offline: signing out can't happen, and nothing is wiped.
    more.get_by_role("button", name="Sign out").click()
    dialog = more.get_by_role("dialog")
    expect(dialog).to_contain_text("You're offline, so you can't sign out right now.")
    check_page(more)
    dialog.get_by_role("button", name="Stay signed in").click()
    assert queued(more) == 1

    # Online, while the server can't take it yet: sign-out says how many wait and offers to send them first;
    # it signs out (and only then wipes the phone) once they are in.
    live_server.db.execute("ALTER TABLE checkin_submission RENAME TO checkin_submission_away")
    context.set_offline(False)
    more.reload()
    more.evaluate("SteadyQueue.replay()")
    assert queued(more) == 1
    more.get_by_role("button", name="Sign out").click()
    expect(dialog).to_contain_text("1 entry you saved on this phone hasn't been sent yet.")
    check_page(more)
    live_server.db.execute("ALTER TABLE checkin_submission_away RENAME TO checkin_submission")
    dialog.get_by_role("button", name="Send them, then sign out").click()
    more.wait_for_url("**/login?signed_out=1")
    assert checkins(live_server, sam) == 1
    assert live_server.db.scalar("SELECT count(*) FROM user_session") == 0
    tally(live_server, "sign out offline, then online", queued_offline=1)


def test_deleting_waiting_entries_at_sign_out_is_the_persons_choice(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server)
    # Online, but the server can't take the entry (its session is fine; the sends fail): the person decides.
    page.evaluate("SteadyQueue.all().then(es => Promise.all(es.map(e => SteadyQueue.add({...e, url: location.origin "
                  "+ '/no-such-form'}))))")  # fmt: skip
    context.set_offline(False)
    page.goto(f"{live_server.url}/more")
    page.get_by_role("button", name="Sign out").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("1 entry you saved on this phone hasn't been sent yet.")
    dialog.get_by_role("button", name="Delete them and sign out").click()
    page.wait_for_url("**/login?signed_out=1")
    assert checkins(live_server) == 0
    tally(live_server, "delete at sign-out", queued_offline=1, deleted_by_choice=1)


def test_a_restarted_browser_without_its_csrf_cookie_still_sends(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server)
    session_cookies = [c for c in context.cookies() if c["name"] != "csrftoken"]
    context.clear_cookies()  # a browser restart drops session-lifetime cookies: the CSRF one
    context.add_cookies(session_cookies)  # (the sign-in cookie lasts 90 days)

    context.set_offline(False)
    page.goto(f"{live_server.url}/today")
    wait_for(lambda: checkins(live_server, sam) == 1, message="the entry stayed stuck on an old token")
    wait_for(lambda: queued(page) == 0)
    tally(live_server, "CSRF cookie gone (browser restart)", queued_offline=1)


def test_an_entry_recorded_before_its_answer_was_lost_is_acknowledged_once(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    token = page.evaluate("fetch('/session/offline').then(r => r.json()).then(s => s.csrf)")
    check_in_offline(page, context, live_server)
    # The browser sent the entry and closed before the answer arrived: the server has it, the phone still too.
    entry = page.evaluate("SteadyQueue.all().then(entries => entries[0])")
    sent = page.request.post(entry["url"], data=entry["body"], max_redirects=0, headers={
        "Content-Type": "application/x-www-form-urlencoded", "x-csrftoken": token, "X-Steady-Replay": "1"})  # fmt: skip
    assert sent.status == 200 and checkins(live_server, sam) == 1 and queued(page) == 1

    context.set_offline(False)
    page.goto(f"{live_server.url}/today")  # reopened: the replay is answered "recorded before"
    wait_for(lambda: queued(page) == 0, message="an entry the server already had was never let go")
    assert checkins(live_server, sam) == 1
    assert live_server.db.scalar("SELECT count(*) FROM checkin_submission") == 1
    tally(live_server, "answer lost mid-replay", queued_offline=1)


def test_two_tabs_replaying_at_once_record_each_entry_once(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server, mood="3")
    page.goto(f"{live_server.url}/log")
    for intensity in ("7", "4"):
        page.get_by_role("group", name="How strong is the craving?").get_by_label(intensity, exact=True).check()
        page.get_by_role("group", name="What did you do?").get_by_label("Used a skill").check()
        page.get_by_role("group", name="How did it end?").get_by_label("It passed").check()
        page.get_by_role("button", name="Save craving").click()
        expect(page.locator("#craving-result [data-saved-offline]")).to_be_visible()
        page.evaluate("document.querySelector('#craving-result').textContent = ''")
    assert queued(page) == 3
    second = context.new_page()
    context.set_offline(False)
    page.evaluate("SteadyQueue.replay(); 1")
    second.goto(f"{live_server.url}/today")
    second.evaluate("SteadyQueue.replay()")
    page.evaluate("SteadyQueue.replay()")
    wait_for(lambda: queued(page) == 0)
    assert checkins(live_server, sam) == 1
    assert live_server.db.scalar("SELECT count(*) FROM craving_log") == 2
    second.close()
    tally(live_server, "two tabs replaying", queued_offline=3)


def test_a_server_error_keeps_the_entry_until_the_server_recovers(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server)
    live_server.db.execute("ALTER TABLE checkin_submission RENAME TO checkin_submission_away")  # every save fails
    context.set_offline(False)
    page.goto(f"{live_server.url}/today")
    result = page.evaluate("SteadyQueue.replay()")
    assert result["sent"] == 0 and queued(page) == 1 and checkins(live_server) == 0
    expect(page.locator("#queue-banner")).to_contain_text("1 entry is saved on this phone and waiting to be sent.")

    live_server.db.execute("ALTER TABLE checkin_submission_away RENAME TO checkin_submission")
    page.reload()
    wait_for(lambda: queued(page) == 0, message="the entry was not sent once the server recovered")
    assert checkins(live_server, sam) == 1
    tally(live_server, "5xx then success", queued_offline=1)


def test_a_second_person_on_the_same_phone_never_sends_or_sees_the_first_persons_entries(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    sam = live_server.db.make_user("patient", "sam@example.org", name="Sam")
    kim = live_server.db.make_user("patient", "kim@example.org", name="Kim")
    ready_for_offline(page, live_server, sam)
    check_in_offline(page, context, live_server)
    live_server.db.execute("DELETE FROM user_session")  # Sam's session ended
    context.set_offline(False)

    context.clear_cookies()
    login_page(page, live_server, kim)
    page.evaluate("SteadyQueue.replay()")
    assert checkins(live_server) == 0 and queued(page) == 1  # not sent as Kim's
    expect(page.locator("#queue-banner")).to_be_hidden()  # and not shown to Kim
    check_page(page)
    page.goto(f"{live_server.url}/more")
    page.get_by_role("button", name="Sign out").click()  # Kim has nothing waiting: out at once…
    page.wait_for_url("**/login?signed_out=1")
    assert queued(page) == 1  # …without wiping Sam's entry

    login_page(page, live_server, sam)
    wait_for(lambda: checkins(live_server, sam) == 1, message="Sam's entry was not sent when Sam came back")
    assert checkins(live_server, kim) == 0
    tally(live_server, "second person on the phone", queued_offline=1)
