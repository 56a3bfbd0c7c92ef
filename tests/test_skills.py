"""Skill cards over real HTTP: browsing, every card page, practising (idempotent, 422 on bad input),
favourites, assignments, and who may see what."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.skills import logic
from server.skills.catalogue import default_catalogue
from server.skills.models import SkillAssignment, SkillFavourite, SkillPractice
from tests.conftest import Database, htmx_post, login, post_form

CATALOGUE = default_catalogue()


def practice_rows(db: Database, user_id: int | None = None) -> list[SkillPractice]:
    async def work(session: AsyncSession) -> list[SkillPractice]:
        query = select(SkillPractice).order_by(SkillPractice.id)
        if user_id is not None:
            query = query.where(SkillPractice.user_id == user_id)
        return list((await session.execute(query)).scalars())

    return db.run(work)


def add_practice(db: Database, user: User, card_id: str, before: int | None, after: int | None, **kw: Any) -> int:
    async def work(session: AsyncSession) -> int:
        started = kw.pop("started_at", datetime.now(UTC) - timedelta(hours=1))
        row = SkillPractice(
            user_id=user.id,  # type: ignore[arg-type]
            card_id=card_id,
            started_at=started,
            ended_at=started + timedelta(minutes=3),
            distress_before=before,
            distress_after=after,
            idempotency_key=kw.pop("key", None) or f"k-{card_id}-{before}-{after}-{started.timestamp()}",
            **kw,
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        return row.id

    return db.run(work)


@pytest.fixture
def patient(db: Database) -> User:
    return db.make_user("patient", "pat@example.org", name="Robin")


@pytest.fixture
def patient_client(client: TestClient, patient: User) -> TestClient:
    login(client, patient.email)
    return client


def practise(client: TestClient, card_id: str = "box-breathing", **fields: Any) -> Any:
    data = {"idempotency_key": "key-" + "a" * 20, **{k: str(v) for k, v in fields.items()}}
    return post_form(client, f"/skills/{card_id}/practice", data)


# --------------------------------------------------------------------------- browsing and card pages


def test_every_card_page_renders_with_its_steps_and_offline_headers(patient_client: TestClient) -> None:
    assert len(CATALOGUE) >= 40
    for card in CATALOGUE.cards:
        response = patient_client.get(f"/skills/{card.id}")
        assert response.status_code == 200, card.id
        html = response.text
        assert f'<h1 id="card-title">{escape(card.title)}</h1>' in html
        for step in card.steps:
            assert escape(step) in html, (card.id, step)
        if card.caution:
            assert escape(card.caution) in html
        # Safe for the service worker to keep for anyone on this phone: no personal bits in it.
        assert response.headers["x-steady-offline"] == "page"
        assert response.headers["x-steady-public"] == "1"
        assert response.headers["cache-control"] == "private, no-cache"
        assert "Robin" not in html
        assert "In my favourites" not in html
        assert re.search(r'name="idempotency_key" value=""', html), "a cached page must not carry a key"
        assert "data-offline-queue" in html and f'action="/skills/{card.id}/practice"' in html
        # One form, with the before and after scales and a single submit button (works without JS).
        assert html.count('<form class="skill-form"') == 1
        assert html.count('name="distress_before"') == 12 and html.count('name="distress_after"') == 12


def test_every_timer_is_described_and_wired_for_the_script(patient_client: TestClient) -> None:
    timed = [card for card in CATALOGUE.cards if card.timer is not None]
    assert any(card.timer.kind == "breath" for card in timed)  # type: ignore[union-attr]
    for card in timed:
        timer = card.timer
        assert timer is not None
        html = patient_client.get(f"/skills/{card.id}").text
        assert f'data-total="{timer.total_seconds}"' in html
        assert escape(logic.timer_text(timer)) in html
        assert "Skip timer" in html
        if timer.kind == "breath":
            assert timer.pattern is not None and timer.cycles is not None
            assert sum(timer.pattern) > 0 and timer.pattern[0] > 0 and timer.pattern[2] > 0
            assert f'data-pattern="{" ".join(map(str, timer.pattern))}"' in html
            assert f'data-cycles="{timer.cycles}"' in html
            assert "data-breath-circle" in html
        else:
            assert timer.seconds and timer.seconds > 0
            assert "data-breath-circle" not in html
    untimed = next(card for card in CATALOGUE.cards if card.timer is None)
    assert "data-timer" not in patient_client.get(f"/skills/{untimed.id}").text


def test_unknown_cards_are_404(patient_client: TestClient) -> None:
    assert patient_client.get("/skills/not-a-card").status_code == 404
    assert patient_client.get("/skills/not-a-card/mine").status_code == 404
    assert practise(patient_client, "not-a-card", distress_before=3).status_code == 404
    assert post_form(patient_client, "/skills/not-a-card/favourite", {"favourite": "1"}).status_code == 404
    assert patient_client.get("/skills/practice/999").status_code == 404
    assert patient_client.get("/skills/practice/99999999999").status_code == 404
    assert patient_client.get("/skills/practice/0").status_code == 404


def test_browse_lists_every_module_and_card(patient_client: TestClient) -> None:
    response = patient_client.get("/skills")
    assert response.status_code == 200
    html = response.text
    # The overview: one tile per module (not a wall of cards), and every card once more in the hidden list the
    # page script filters as you type (also offline).
    for module in CATALOGUE.modules():
        assert f'id="module-{module.id}-h">{escape(module.title)}</span>' in html
        assert f'href="/skills?module={module.id}"' in html
    overview = html[: html.index("data-skill-all")]
    assert 'href="/skills/stop"' not in overview
    for card in CATALOGUE.cards:
        assert f'href="/skills/{card.id}"' in html
    # Personal (favourites), so only kept offline when the person turned offline use on.
    assert response.headers["x-steady-offline"] == "page"
    assert "x-steady-public" not in response.headers
    assert "Skills you add to your favourites show up here" in html


def test_search_by_title_and_tag(patient_client: TestClient) -> None:
    html = patient_client.get("/skills", params={"q": "box breathing"}).text
    assert "1 skill matches “box breathing”" in html
    assert 'href="/skills/box-breathing"' in html and 'href="/skills/stop"' not in html
    tagged = patient_client.get("/skills", params={"q": "craving"}).text
    expected = CATALOGUE.search("craving")
    assert expected and f"{len(expected)} skills match" in tagged
    for card in expected:
        assert f'href="/skills/{card.id}"' in tagged
    nothing = patient_client.get("/skills", params={"q": "zzzzqqq"}).text
    assert "Nothing matched" in nothing


# --------------------------------------------------------------------------- practising


def test_practice_is_saved_with_everything(patient_client: TestClient, db: Database, patient: User) -> None:
    response = practise(
        patient_client,
        distress_before=8,
        distress_after=5,
        helped="somewhat",
        note="  Counted squares on the window.  ",
        started_at="2026-11-20T15:00:00Z",
        client_created_at="2026-11-20T15:04:30.000Z",
    )
    assert response.status_code == 303
    [row] = practice_rows(db)
    assert response.headers["location"] == f"/skills/practice/{row.id}"
    assert (row.user_id, row.card_id, row.distress_before, row.distress_after, row.helped) == (
        patient.id, "box-breathing", 8, 5, "somewhat",
    )  # fmt: skip
    assert row.note == "Counted squares on the window."
    assert row.started_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert row.ended_at == datetime(2026, 11, 20, 15, 4, 30, tzinfo=UTC)
    page = patient_client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Distress: 8 before, 5 after." in page.text and "3 points lower" in page.text


def test_nothing_is_chosen_for_the_person(patient_client: TestClient) -> None:
    html = patient_client.get("/skills/stop").text
    assert " checked" not in html  # no rating, no "did it help", not even "Skip this"


def test_ratings_are_optional(patient_client: TestClient, db: Database) -> None:
    response = practise(patient_client, "stop", distress_before="", distress_after="", helped="")
    assert response.status_code == 303
    [row] = practice_rows(db)
    assert (row.distress_before, row.distress_after, row.helped, row.note) == (None, None, None, "")
    # No phone time sent (no script): the server's clock is used.
    assert abs((row.started_at - datetime.now(UTC)).total_seconds()) < 60


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"distress_before": "11"}, "distress_before", "Please choose 10 or less."),
        ({"distress_after": "-1"}, "distress_after", "Please choose 0 or more."),
        ({"distress_before": "seven"}, "distress_before", "Please enter a whole number."),
        ({"helped": "maybe"}, "helped", "Please pick one of the choices."),
        ({"note": "x" * 2001}, "note", "Please keep this to 2000 characters or fewer."),
        ({"started_at": "yesterday-ish"}, "started_at", None),
    ],
)
def test_bad_input_is_422_with_inline_message_and_kept_values(
    patient_client: TestClient, db: Database, fields: dict[str, str], field: str, message: str | None
) -> None:
    sent = {"distress_before": "6", "distress_after": "3", "helped": "yes", "note": "kept words", **fields}
    response = practise(patient_client, **sent)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    if message:
        assert f'<p class="field-error" id="{field}-error">{escape(message)}</p>' in html
    assert "Please check the highlighted fields" in html or field == "started_at"
    if field != "note":
        assert "kept words</textarea>" in html
    if field not in ("distress_after",):
        assert 'name="distress_after" value="3" checked' in html
    if field != "helped":
        assert 'name="helped" value="yes" checked' in html
    assert practice_rows(db) == []


def test_replay_returns_the_original_and_never_duplicates(patient_client: TestClient, db: Database) -> None:
    fields = {"distress_before": 7, "distress_after": 4, "helped": "yes", "client_created_at": "2026-11-20T15:00:00Z"}
    first = practise(patient_client, **fields)
    again = practise(patient_client, **fields)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert len(practice_rows(db)) == 1

    # Same key, different answers: 422, and the first answers stay.
    changed = practise(patient_client, **{**fields, "distress_after": 6})
    assert changed.status_code == 422
    assert "already saved with different answers" in changed.text
    assert 'name="idempotency_key" value=""' in changed.text  # the script makes a fresh key to save anew
    [row] = practice_rows(db)
    assert row.distress_after == 4


def test_concurrent_duplicates_make_one_row(patient_client: TestClient, db: Database) -> None:
    fields = {"distress_before": 5, "distress_after": 2, "idempotency_key": "race-" + "b" * 20}
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: practise(patient_client, "tipp", **fields), range(4)))
    assert {r.status_code for r in responses} == {303}
    assert len({r.headers["location"] for r in responses}) == 1
    assert len(practice_rows(db)) == 1


def test_keys_are_per_person(client: TestClient, db: Database, patient: User) -> None:
    other = db.make_user("patient", "other@example.org")
    login(client, patient.email)
    assert practise(client, distress_before=5).status_code == 303
    post_form(client, "/logout")
    client.cookies.clear()
    login(client, other.email)
    assert practise(client, distress_before=9).status_code == 303  # same key, another person: a new row
    rows = practice_rows(db)
    assert [(r.user_id, r.distress_before) for r in rows] == [(patient.id, 5), (other.id, 9)]


def test_phone_times_from_the_far_future_fall_back_to_the_server_clock(
    patient_client: TestClient, db: Database
) -> None:
    practise(patient_client, started_at="2099-01-01T00:00:00Z", client_created_at="2099-01-01T00:05:00Z")
    [row] = practice_rows(db)
    now = datetime.now(UTC)
    assert abs((row.started_at - now).total_seconds()) < 60
    assert row.ended_at is not None and row.started_at <= row.ended_at


# --------------------------------------------------------------------------- favourites, history, mine


def test_favourites_toggle_and_come_first(patient_client: TestClient, db: Database, patient: User) -> None:
    response = post_form(patient_client, "/skills/wise-mind/favourite", {"favourite": "1"})
    assert response.status_code == 303 and response.headers["location"] == "/skills/wise-mind/mine"
    post_form(patient_client, "/skills/wise-mind/favourite", {"favourite": "1"})  # twice: still one
    htmx = htmx_post(patient_client, "/skills/stop/favourite", {"favourite": "1"})
    assert htmx.status_code == 200 and "In my favourites" in htmx.text and "<html" not in htmx.text
    assert htmx.headers["content-type"].startswith("text/html")

    async def favs(session: AsyncSession) -> list[str]:
        rows = await session.execute(select(SkillFavourite.card_id).where(SkillFavourite.user_id == patient.id))
        return sorted(rows.scalars())

    assert db.run(favs) == ["stop", "wise-mind"]
    html = patient_client.get("/skills").text
    favourites = html[html.index('id="fav-h"') : html.index('id="module-')]
    assert 'href="/skills/wise-mind"' in favourites and 'href="/skills/stop"' in favourites
    assert favourites.index("/skills/wise-mind") < favourites.index("/skills/stop")  # the order they were starred

    off = post_form(patient_client, "/skills/stop/favourite", {"favourite": "0", "next": "https://evil.example/"})
    assert off.headers["location"] == "/skills/stop/mine"  # never an open redirect
    assert db.run(favs) == ["wise-mind"]


def test_mine_panel_and_history_show_only_my_practices(patient_client: TestClient, db: Database, patient: User) -> None:
    other = db.make_user("patient", "other@example.org")
    mine_id = add_practice(db, patient, "box-breathing", 7, 3)
    theirs = add_practice(db, other, "box-breathing", 9, 8, note="their private note")
    panel = patient_client.get("/skills/box-breathing/mine", headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "<html" not in panel.text
    assert "You've practised this 1 time." in panel.text and "distress 7 → 3" in panel.text
    history = patient_client.get("/skills/history").text
    assert f"/skills/practice/{mine_id}" in history and f"/skills/practice/{theirs}" not in history
    assert patient_client.get(f"/skills/practice/{theirs}").status_code == 404
    assert "their private note" not in patient_client.get(f"/skills/practice/{mine_id}").text


def test_recently_used_lists_latest_first(patient_client: TestClient, db: Database, patient: User) -> None:
    now = datetime.now(UTC)
    add_practice(db, patient, "stop", 5, 4, started_at=now - timedelta(days=2))
    add_practice(db, patient, "observe", 5, 4, started_at=now - timedelta(hours=1))
    add_practice(db, patient, "stop", 5, 4, started_at=now - timedelta(days=3))
    html = patient_client.get("/skills").text
    recent = html[html.index('id="recent-h"') : html.index('id="module-')]
    assert recent.index("/skills/observe") < recent.index("/skills/stop")


# --------------------------------------------------------------------------- assignments


def test_assignment_is_listed_then_completed_by_practising_it(
    patient_client: TestClient, db: Database, patient: User
) -> None:
    therapist = db.make_user("therapist", "t@example.org")
    assigned_at = datetime.now(UTC) - timedelta(hours=2)

    async def assign(session: AsyncSession) -> int:
        row = await logic.assign_card(session, patient.id, therapist.id, "check-the-facts", note="Try before group")  # type: ignore[arg-type]
        row.assigned_at = assigned_at
        return row.id  # type: ignore[return-value]

    assignment_id = db.run(assign)
    html = patient_client.get("/skills").text
    assert "Assigned by my therapist" in html and "Try before group" in html
    section = html[html.index('id="assigned-h"') : html.index('id="fav-h"')]
    assert 'href="/skills/check-the-facts"' in section
    assert "Your therapist asked you to practise this." in patient_client.get("/skills/check-the-facts/mine").text

    def completed() -> datetime | None:
        async def work(session: AsyncSession) -> datetime | None:
            row = await session.get(SkillAssignment, assignment_id)
            return row.completed_at if row else None

        return db.run(work)

    # Another card, or a practice from before it was assigned (synced late), doesn't count.
    practise(patient_client, "stop", idempotency_key="other-card-123")
    before = (assigned_at - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    practise(patient_client, "check-the-facts", idempotency_key="too-early-123", started_at=before)
    assert completed() is None
    practise(patient_client, "check-the-facts", idempotency_key="just-right-123")
    assert completed() is not None
    assert "Assigned by my therapist" not in patient_client.get("/skills").text


def test_assigning_an_unknown_card_is_refused(db: Database, patient: User) -> None:
    async def work(session: AsyncSession) -> None:
        await logic.assign_card(session, patient.id, None, "no-such-card")  # type: ignore[arg-type]

    with pytest.raises(logic.UnknownCardError):
        db.run(work)


# --------------------------------------------------------------------------- who may see what


@pytest.mark.parametrize("role", ["therapist", "family", "admin"])
def test_other_roles_are_denied(client: TestClient, db: Database, role: str) -> None:
    user = db.make_user(role, f"{role}@example.org")
    login(client, user.email)
    for url in ("/skills", "/skills/box-breathing", "/skills/box-breathing/mine", "/skills/history"):
        assert client.get(url).status_code == 403, url
    assert practise(client, distress_before=3).status_code == 403
    assert post_form(client, "/skills/stop/favourite", {"favourite": "1"}).status_code == 403
    assert practice_rows(db) == []


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/skills/box-breathing", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_catalogue_json_is_public_and_cacheable(client: TestClient) -> None:
    response = client.get("/skills/catalogue.json")
    assert response.status_code == 200
    data = response.json()
    assert len(data["cards"]) == len(CATALOGUE) and data["digest"] == CATALOGUE.digest
    assert response.headers["cache-control"] == "public, max-age=3600"
    etag = response.headers["etag"]
    assert client.get("/skills/catalogue.json", headers={"If-None-Match": etag}).status_code == 304


# --------------------------------------------------------------------------- other pages


def test_today_suggests_a_card_and_more_precaches_the_library(patient_client: TestClient) -> None:
    html = patient_client.get("/today").text
    assert "A skill for today" in html
    match = re.search(r'<a class="button" href="/skills/([a-z0-9-]+)">', html)
    assert match and CATALOGUE.by_id(match.group(1)) is not None
    more = patient_client.get("/more").text
    pages = re.search(r'data-pages="([^"]*)"', more)
    assert pages is not None
    urls = pages.group(1).split()
    assert "/skills" in urls
    assert {f"/skills/{card.id}" for card in CATALOGUE.cards} <= set(urls)
    assert any(url.startswith("/static/js/skills.js?v=") for url in urls)


def escape(text: str) -> str:
    from markupsafe import escape as _escape

    return str(_escape(text))
