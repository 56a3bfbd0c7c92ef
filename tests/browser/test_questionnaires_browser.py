"""Questionnaires in a real Chromium at phone size: a PHQ-9 answered one item per screen with item 9 above 0 shows
crisis help and the safety plan first (no score), says who sees it; when the patient shares questionnaires the
therapist's dashboard puts the same-day follow-up at the top and the therapist's phone gets a push with no name and
no content (loopback push service), until the follow-up is recorded; when they don't share, nothing reaches the
therapist. Answered offline, the questionnaire is queued on the phone and recorded exactly once. check_page (axe +
CSP) on every screen."""

from __future__ import annotations

from datetime import time, timedelta

from playwright.sync_api import BrowserContext, Page, expect

from server.accounts.models import User
from server.db import utcnow
from server.milestones.hooks import dispatcher_hooks
from server.push.vapid import VapidKeys
from tests.browser.conftest import LiveServer, check_page, login_page, wait_for, wait_for_control
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import add_device, drain, set_preferences
from tests.test_sharing_support import share

# Items 1-8 (4 points); item 9 comes separately.
ANSWERS = ["Several days", "Several days", "Several days", "Several days", "Not at all", "Not at all", "Not at all",
           "Not at all"]  # fmt: skip


def assign_phq9(server: LiveServer, patient: User) -> None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.questionnaires import service

    async def work(session: AsyncSession) -> None:
        today = utcnow().date() - timedelta(days=1)
        await service.assign(session, patient.id, "phq9", "biweekly", today, None, None)  # type: ignore[arg-type]

    server.db.run(work)


def answer_phq9(page: Page, item9: str) -> None:
    """From Today: one item per screen, tapping an answer and Next; item 9 as given; the last one skipped."""
    page.get_by_role("link", name="Answer: Mood questionnaire (PHQ-9)").click()
    expect(page.locator(".q-progress")).to_have_text("Question 1 of 10")
    check_page(page)
    for number, answer in enumerate([*ANSWERS, item9], start=1):
        item = page.locator("fieldset.q-item:not([hidden])")
        expect(page.locator(".q-progress")).to_have_text(f"Question {number} of 10")
        item.get_by_label(answer, exact=True).check()
        if number == 2:  # back and change, then on again
            page.get_by_role("button", name="Back").click()
            expect(page.locator(".q-progress")).to_have_text("Question 1 of 10")
            page.get_by_role("button", name="Next").click()
        page.get_by_role("button", name="Next").click()
        if number in (1, 9):
            check_page(page)
    expect(page.locator(".q-progress")).to_have_text("Question 10 of 10")
    page.get_by_role("button", name="See my result").click()
    page.wait_for_load_state("load")


def test_item9_crisis_first_then_flag_and_push_only_when_shared(
    live_server: LiveServer, page: Page, context: BrowserContext, push_service: LoopbackPushService
) -> None:
    keys = VapidKeys.generate("mailto:ops@steady.example")
    db = live_server.db
    therapist = db.make_user("therapist", "tam@example.org", name="Dr Tam")
    sharer = db.make_user("patient", "sam@example.org", name="Sam Rivera", therapist=therapist)
    private = db.make_user("patient", "quinn@example.org", name="Quinn Park", therapist=therapist)
    share(db, sharer, therapist, ["mood_sleep", "questionnaires"], data_from=utcnow().date() - timedelta(days=30))
    for person in (sharer, private):
        assign_phq9(live_server, person)
    phone = push_service.new_subscription(keys.public_key)
    add_device(db.url, therapist.id, phone)  # type: ignore[arg-type]
    # Browser tests run on the machine's clock: the default quiet hours (21:00-07:00 in New York) would hold the
    # push till morning when this runs in the evening there.
    set_preferences(db.url, therapist.id, quiet_start=time(0), quiet_end=time(0))  # type: ignore[arg-type]

    # -- a patient who shares questionnaires
    login_page(page, live_server, sharer)
    check_page(page)
    answer_phq9(page, item9="Several days")
    assert page.url.endswith("/support"), page.locator("main").inner_text()[:1500]
    headings = page.locator("main h1, main h2").all_inner_texts()
    assert headings[:2] == [
        "Thank you for answering honestly",
        "Thank you for telling us. You don't have to handle this alone.",
    ]
    expect(page.locator(".hotlines")).to_contain_text("988")
    expect(page.get_by_role("heading", name="Your safety plan")).to_be_visible()
    expect(page.locator(".q-who-shared")).to_contain_text("You share questionnaires with Dr Tam")
    assert "Score" not in page.locator("main").inner_text()  # help before any score
    check_page(page)
    page.get_by_role("link", name="See my result").click()
    expect(page.locator(".q-summary")).to_contain_text("mild depression")
    check_page(page)

    drain(db.url, keys, utcnow() + timedelta(seconds=5), hooks=dispatcher_hooks())
    [push] = push_service.wait_for_received(1, sub_id=phone.sub_id)
    text = " ".join(str(v) for v in push.data.values())
    assert push.data["title"] == "Something to look at in Steady" and push.data["url"] == "/therapist"
    for secret in ("Sam", "Rivera", "PHQ", "item", "dead", "hurt"):
        assert secret not in text, text

    # -- a patient who doesn't share: help first too, an offer to share once, and nothing reaches the therapist
    context.clear_cookies()
    login_page(page, live_server, private)
    answer_phq9(page, item9="More than half the days")
    expect(page.locator(".q-who-private")).to_contain_text("Right now nobody else sees this answer")
    expect(page.get_by_role("button", name="Share this result with Dr Tam")).to_be_visible()
    check_page(page)
    drain(db.url, keys, utcnow() + timedelta(seconds=5), hooks=dispatcher_hooks())
    assert len(push_service.received(phone.sub_id)) == 1

    # -- the therapist: the flag at the very top, for the sharing patient only, until the follow-up
    context.clear_cookies()
    login_page(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    panel = page.locator(".q-followups")
    expect(panel).to_contain_text("Same-day follow-up")
    expect(panel).to_contain_text("Sam Rivera")
    expect(panel).not_to_contain_text("Quinn Park")
    first_heading = page.locator("main h2").first.inner_text()
    assert "Same-day follow-up" in first_heading
    check_page(page)
    panel.get_by_label("Note (optional)").fill("Called; safe, plan reviewed")
    panel.get_by_role("button", name="I followed up").click()
    page.wait_for_load_state("load")
    expect(page.locator(".q-followups")).to_have_count(0)
    check_page(page)

    # The patient's questionnaire page: results table, chart and schedule (axe once caught two regions of one name).
    page.goto(f"{live_server.url}/therapist/patients/{sharer.id}/questionnaires")
    expect(page.get_by_role("region", name="Results")).to_be_visible()
    check_page(page)


def test_offline_questionnaire_is_recorded_exactly_once(
    live_server: LiveServer, page: Page, context: BrowserContext
) -> None:
    db = live_server.db
    patient = db.make_user("patient", "off@example.org", name="Robin")
    assign_phq9(live_server, patient)
    login_page(page, live_server, patient)
    wait_for_control(page, reload=True)
    page.reload()
    wait_for_control(page)
    page.goto(f"{live_server.url}/questionnaires/phq9")
    check_page(page)
    context.set_offline(True)
    for answer in [*ANSWERS, "Not at all"]:
        page.locator("fieldset.q-item:not([hidden])").get_by_label(answer, exact=True).check()
        page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="See my result").click()
    expect(page.locator("[data-saved-offline]")).to_contain_text("Saved on this phone")
    check_page(page)
    assert db.scalar("SELECT count(*) FROM questionnaire_response WHERE status = 'complete'") == 0
    context.set_offline(False)
    page.goto(f"{live_server.url}/today")
    wait_for(lambda: db.scalar("SELECT count(*) FROM questionnaire_response WHERE status = 'complete'") == 1,
             message="the queued questionnaire was not replayed")  # fmt: skip
    wait_for(lambda: page.evaluate("SteadyQueue.all()") == [], message="the queue kept the entry")
    page.evaluate("SteadyQueue.replay()")
    page.reload()
    check_page(page)
    assert db.scalar("SELECT count(*) FROM questionnaire_response WHERE status = 'complete'") == 1
    assert db.scalar("SELECT total FROM questionnaire_response WHERE status = 'complete'") == 4
    assert db.scalar("SELECT count(*) FROM questionnaire_response WHERE status = 'draft'") == 0
