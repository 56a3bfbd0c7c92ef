"""The family pages through real HTTP: the patient's family circle (invite, consent, pause, stop, remove, good news,
kind words) and the family member's feed, program page and encouragement. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.db import utcnow
from server.schedule.models import Enrolment, Program, ProgramPhase
from tests.conftest import PASSWORD, Database, login, post_form
from tests.support.family import count, family_of, notifications, run_all, set_sober_since, today_of

NEW_YORK = "America/New_York"


def page_text(response: object) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.text)  # type: ignore[attr-defined]


def _sam(db: Database) -> User:
    return db.make_user(Role.PATIENT, "sam@example.org", name="Sam Lee", timezone=NEW_YORK)


def _link_id(db: Database, member: User) -> int:
    return int(db.scalar("SELECT id FROM family_link WHERE family_id = :f", f=member.id))


def _key(page: str, name: str = "idempotency_key") -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert match, f"no {name} in the page"
    return match.group(1)


def _sign(client: TestClient, link_id: int, kinds: list[str], **extra: str) -> object:
    data: dict[str, object] = {
        "categories": kinds,
        "until": "date",
        "ends_on": (utcnow().date() + timedelta(days=60)).isoformat(),
        "signature": "sam lee",
    }
    data.update(extra)
    return post_form(client, f"/family-circle/{link_id}/consent", data)


def test_a_patient_invites_family_who_join_with_a_limited_account(
    client: TestClient, db: Database, other_app: Any
) -> None:
    sam = _sam(db)
    login(client, sam.email)
    assert page_text(client.get("/more")).count('href="/family-circle"') == 1
    page = post_form(client, "/family-circle/invite", {"relationship": "Mum"})
    assert page.status_code == 201
    code = re.search(r'class="invite-code"><strong>([A-Z0-9-]+)</strong>', page_text(page)).group(1)  # type: ignore[union-attr]
    assert f"/join?code={code}" in page_text(page)

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as mum:
        joined = post_form(
            mum,
            "/join",
            {"code": code, "name": "Pat Lee", "email": "pat@example.org", "password": PASSWORD, "timezone": NEW_YORK},
        )
        assert joined.status_code == 303 and joined.headers["location"] == "/family"
        feed = mum.get("/family")
        assert feed.status_code == 200
        assert "Sam Lee hasn't switched on updates for you yet" in page_text(feed)
        assert 'href="/reminders"' in page_text(feed)  # the same notification set-up as patients
        assert mum.get("/family-circle").status_code == 403
    assert db.scalar("SELECT role FROM user_account WHERE email = 'pat@example.org'") == "family"
    assert db.scalar("SELECT relationship_label FROM family_link WHERE patient_id = :p", p=sam.id) == "Mum"

    circle = client.get("/family-circle")
    assert "Pat Lee" in page_text(circle) and "(Mum)" in page_text(circle)
    assert "Not hearing anything from Steady." in page_text(circle)


def test_invite_problems_are_shown_inline_with_the_text_kept(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    login(client, sam.email)
    too_long = "My favourite cousin from the other side of the family, twice removed"
    page = post_form(client, "/family-circle/invite", {"relationship": too_long})
    assert page.status_code == 422
    assert 'id="relationship-error"' in page_text(page) and too_long in page_text(page)
    assert count(db, "SELECT count(*) FROM invite") == 0


def test_the_consent_screen_starts_empty_refuses_mistakes_and_signs(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    robin = family_of(db, sam, name="Robin", kinds=())
    link = _link_id(db, robin)
    login(client, sam.email)

    page = client.get(f"/family-circle/{link}")
    assert page.status_code == 200
    assert "Consent to share good news with Robin" in page_text(page)
    assert 'name="categories" value="sober_days" checked' not in page_text(page)  # everything is off until ticked
    assert "42 CFR part 2" in page_text(page)

    nothing = _sign(client, link, [])
    assert nothing.status_code == 422 and "Please tick at least one thing to share." in page_text(nothing)  # type: ignore[attr-defined]
    # The signature is the name the person types, never matched against the display name; it must hold a letter.
    no_name = _sign(client, link, ["sober_days"], signature="1234")
    assert no_name.status_code == 422  # type: ignore[attr-defined]
    assert 'value="1234"' in page_text(no_name) and 'id="signature-error"' in page_text(no_name)  # type: ignore[attr-defined]
    assert 'value="sober_days" checked' in page_text(no_name)  # type: ignore[attr-defined]
    assert count(db, "SELECT count(*) FROM consent") == 0

    signed = _sign(client, link, ["sober_days", "good_news"], signature="Samantha Q. Lee")
    assert signed.status_code == 303  # type: ignore[attr-defined]
    assert db.scalar("SELECT recipient_kind FROM consent WHERE recipient_id = :r", r=robin.id) == "family"
    assert db.scalar("SELECT signature FROM consent WHERE recipient_id = :r", r=robin.id) == "Samantha Q. Lee"
    wording = db.scalar("SELECT wording FROM consent WHERE recipient_id = :r", r=robin.id)
    assert "[x] Sober-day milestones" in wording and "[ ] Check-in streaks" in wording
    circle = client.get("/family-circle")
    assert "Sober-day milestones, Good news I choose to send" in page_text(circle)

    # A narrower version supersedes the first one.
    assert _sign(client, link, ["good_news"]).status_code == 303  # type: ignore[attr-defined]
    assert count(db, "SELECT count(*) FROM consent WHERE recipient_id = :r", r=robin.id) == 2
    member = client.get(f"/family-circle/{link}")
    assert "Version 2" in page_text(member) and "replaced by a newer version" in page_text(member)


def test_pause_stop_and_remove_take_effect_at_once(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    robin = family_of(db, sam, name="Robin")
    link = _link_id(db, robin)
    login(client, sam.email)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=7))
    run_all(db)
    assert count(db, "SELECT count(*) FROM reminder WHERE user_id = :u AND status = 'pending'", u=robin.id) == 1

    assert post_form(client, f"/family-circle/{link}/pause", {"paused": "1"}).status_code == 303
    assert db.scalar("SELECT paused FROM family_preference WHERE link_id = :l", l=link) in (True, 1)
    # The push that was waiting is gone: effective immediately.
    assert count(db, "SELECT count(*) FROM reminder WHERE user_id = :u", u=robin.id) == 0
    assert "Paused" in page_text(client.get(f"/family-circle/{link}"))
    assert post_form(client, f"/family-circle/{link}/pause", {"paused": "0"}).status_code == 303

    assert post_form(client, f"/family-circle/{link}/stop").status_code == 303
    assert db.scalar("SELECT revoked_at FROM consent WHERE recipient_id = :r", r=robin.id) is not None
    assert "Not hearing anything" in page_text(client.get("/family-circle"))

    kept = post_form(client, f"/family-circle/{link}/remove", {})
    assert kept.status_code == 422 and 'id="confirm-error"' in page_text(kept)
    assert post_form(client, f"/family-circle/{link}/remove", {"confirm": "1"}).status_code == 303
    assert count(db, "SELECT count(*) FROM family_link WHERE patient_id = :p", p=sam.id) == 0
    assert notifications(db, robin) == []
    assert count(db, "SELECT count(*) FROM user_account WHERE id = :u", u=robin.id) == 1  # their account stays


def test_nobody_reaches_someone_elses_family_member(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    other = db.make_user(Role.PATIENT, "other@example.org", name="Other")
    theirs = family_of(db, other, name="Theirs")
    link = _link_id(db, theirs)
    login(client, sam.email)
    assert client.get(f"/family-circle/{link}").status_code == 404
    for action, data in (("pause", {"paused": "1"}), ("stop", {}), ("remove", {"confirm": "1"})):
        assert post_form(client, f"/family-circle/{link}/{action}", data).status_code == 404
    assert post_form(client, f"/family-circle/{link}/consent", {"categories": "good_news"}).status_code == 404
    assert count(db, "SELECT count(*) FROM family_link WHERE id = :l", l=link) == 1
    assert client.get("/family").status_code == 403


def test_good_news_reaches_those_who_agreed_once(client: TestClient, db: Database, other_app: Any) -> None:
    sam = _sam(db)
    robin = family_of(db, sam, name="Robin", kinds=("good_news",), email="robin@example.org")
    kim = family_of(db, sam, name="Kim", kinds=("sober_days",))
    login(client, sam.email)
    page = client.get("/family-circle")
    assert "Robin will get a notification" in page_text(page)
    key = _key(page_text(page))

    too_long = "x" * 281
    refused = post_form(client, "/family-circle/good-news", {"message": too_long, "idempotency_key": key})
    assert refused.status_code == 422 and 'id="message-error"' in page_text(refused) and too_long in page_text(refused)
    blank = post_form(client, "/family-circle/good-news", {"message": "   ", "idempotency_key": key})
    assert blank.status_code == 422 and "Please fill this in." in page_text(blank)

    news = {"message": "I got the job!", "idempotency_key": key}
    assert post_form(client, "/family-circle/good-news", news).status_code == 303
    assert post_form(client, "/family-circle/good-news", news).status_code == 303  # a double tap: still once
    other_words = post_form(client, "/family-circle/good-news", {"message": "Something else", "idempotency_key": key})
    assert other_words.status_code == 422
    assert notifications(db, robin) == [("good_news", key)]
    assert notifications(db, kim) == []
    log = page_text(client.get("/family-circle"))
    assert "Good news from Sam Lee: “I got the job!”" in log and "Robin" in log

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as family:
        login(family, "robin@example.org")
        feed = page_text(family.get("/family"))
        assert "Good news from Sam Lee" in feed and "I got the job!" in feed


def test_the_feed_shows_warm_cards_only_while_consent_covers_them(
    client: TestClient, db: Database, other_app: Any
) -> None:
    sam = _sam(db)
    robin = family_of(db, sam, name="Robin", email="robin@example.org")
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)
    login(client, "robin@example.org")
    feed = client.get("/family")
    assert feed.status_code == 200
    assert "Sam Lee reached 30 days sober" in page_text(feed)
    assert 'class="milestone-icon milestone-icon-sober_days" aria-hidden="true"' in page_text(feed)

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as patient:
        login(patient, sam.email)
        assert post_form(patient, f"/family-circle/{_link_id(db, robin)}/stop").status_code == 303
    assert "reached 30 days sober" not in page_text(client.get("/family"))


def test_program_information_for_families(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    family_of(db, sam, name="Robin", email="robin@example.org", kinds=("program_completed",))
    stranger = db.make_user(Role.PATIENT, "x@example.org", name="X")
    family_of(db, stranger, name="Quiet", email="quiet@example.org", kinds=())

    async def enrol(session: AsyncSession) -> None:
        for patient in (sam, stranger):
            info = "Family night: Thursdays at 6 pm."
            program = Program(clinic_id=1, name=f"Evening IOP {patient.id}", family_info=info)
            session.add(program)
            await session.flush()
            session.add(ProgramPhase(program_id=program.id, name="Weeks 1–4", start_week=1, end_week=4))  # type: ignore[arg-type]
            session.add(Enrolment(patient_id=patient.id, program_id=program.id, start_date=utcnow().date()))  # type: ignore[arg-type]

    db.run(enrol)
    login(client, "robin@example.org")
    about = client.get("/family/about")
    assert about.status_code == 200
    assert "Family night: Thursdays at 6 pm." in page_text(about)
    assert (
        "Al-Anon" in page_text(about)
        and "Nar-Anon" in page_text(about)
        and "SMART Recovery Family & Friends" in page_text(about)
    )
    assert "What is an Intensive Outpatient Program?" in page_text(about)

    # Without a consent in force, which program someone attends stays private.
    login(client, "quiet@example.org")
    quiet = client.get("/family/about")
    assert quiet.status_code == 200 and "Family night" not in page_text(quiet) and "Al-Anon" in page_text(quiet)


def test_encouragement_reaches_today_and_can_be_switched_off(
    client: TestClient, db: Database, other_app: Any
) -> None:
    sam = _sam(db)
    family_of(db, sam, name="Robin", email="robin@example.org", kinds=())
    login(client, "robin@example.org")
    page = client.get("/family/encourage")
    assert page.status_code == 200 and "I'm proud of you." in page_text(page)
    key = _key(page_text(page))

    empty = post_form(client, "/family/encourage", {"idempotency_key": key})
    assert empty.status_code == 422 and "Please pick a message or write your own." in page_text(empty)
    long_words = "y" * 281
    too_long = post_form(client, "/family/encourage", {"message": long_words, "idempotency_key": key})
    assert too_long.status_code == 422 and long_words in page_text(too_long)

    sent = post_form(client, "/family/encourage", {"preset": "I'm proud of you.", "idempotency_key": key})
    assert sent.status_code == 303
    again = post_form(client, "/family/encourage", {"preset": "I'm proud of you.", "idempotency_key": key})
    assert again.status_code == 303
    assert count(db, "SELECT count(*) FROM encouragement") == 1
    assert db.scalar("SELECT kind FROM reminder WHERE user_id = :u", u=sam.id) == "encouragement"
    assert db.scalar("SELECT title FROM reminder WHERE user_id = :u", u=sam.id) == "A kind word from Robin"

    with TestClient(app=other_app, base_url="http://127.0.0.1:8000") as patient:
        login(patient, sam.email)
        today = page_text(patient.get("/today"))
        assert "Kind words from your family" in today and "I'm proud of you." in today
        assert post_form(patient, "/family-circle/encouragement/read").status_code == 303
        assert "Kind words from your family" not in page_text(patient.get("/today"))

        assert post_form(patient, "/family-circle/encouragement", {"receive": "0"}).status_code == 303
        assert "They're off." in page_text(patient.get("/family-circle"))

    off = client.get("/family/encourage")
    assert "isn't receiving messages in the app right now" in page_text(off)
    refused = post_form(
        client, "/family/encourage", {"message": "Hello", "idempotency_key": _key(page_text(page)) + "x"}
    )
    assert refused.status_code == 422
    assert count(db, "SELECT count(*) FROM encouragement") == 1


def test_each_side_is_kept_out_of_the_other(client: TestClient, db: Database) -> None:
    sam = _sam(db)
    family_of(db, sam, name="Robin", email="robin@example.org")
    login(client, sam.email)
    for path in ("/family", "/family/about", "/family/encourage"):
        assert client.get(path).status_code == 403
    login(client, "robin@example.org")
    for path in ("/family-circle", "/today", "/checkin", "/sober"):
        assert client.get(path).status_code == 403


def test_the_patient_previews_exactly_what_a_family_member_sees(client: TestClient, db: Database) -> None:
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    family_of(db, sam, name="Robin", email="robin@example.org")
    login(client, sam.email)
    link_id = db.scalar("SELECT id FROM family_link WHERE patient_id = :p", p=sam.id)
    assert "Nothing yet." in client.get(f"/family-circle/{link_id}").text
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)
    page = client.get(f"/family-circle/{link_id}").text
    assert "Exactly what Robin sees" in page
    assert "Sam reached 30 days sober" in page  # word for word what Robin's feed shows
