"""Exactly once: replays, double taps, a reused key with other answers, and concurrent duplicates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient, TestClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.checkins import logic
from server.checkins.forms import CheckInForm, CravingForm
from server.checkins.models import CheckIn
from tests.conftest import PASSWORD, Database, htmx_post, post_form, require_postgres
from tests.support.checkins import checkin_data, count, craving_data, get_row, signed_in_patient

REPLAY = {"X-Steady-Replay": "1"}


def test_checkin_replayed_many_times_is_saved_once(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    made = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    data = checkin_data(mood="5", triggers=["tired"], client_created_at=made)
    first = post_form(client, "/checkin", data)
    assert first.status_code == 303
    for _ in range(5):
        # The queue's answer: 200 naming the key (recorded before), never a redirect it could misread.
        again = post_form(client, "/checkin", data, headers=REPLAY)
        assert again.status_code == 200
        assert again.headers["x-steady-recorded"] == data["idempotency_key"]
        assert again.json() == {"recorded": data["idempotency_key"]}
    assert count(db, "checkin", user) == 1
    assert count(db, "checkin_submission", user) == 1
    assert count(db, "trigger_hit", user) == 1


def test_double_tap_with_htmx_gives_the_same_fragment(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    data = checkin_data(mood="8")
    first = htmx_post(client, "/checkin", data)
    second = htmx_post(client, "/checkin", data)
    assert first.status_code == second.status_code == 200
    assert "Saved. Thank you for checking in." in second.text
    assert count(db, "checkin", user) == 1


def test_same_key_with_different_answers_is_refused(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    data = checkin_data(mood="5")
    assert post_form(client, "/checkin", data).status_code == 303
    changed = {**data, "mood": "2"}
    response = post_form(client, "/checkin", changed)
    assert response.status_code == 422
    assert "already sent once with different answers" in response.text
    assert db.scalar("SELECT mood FROM checkin WHERE user_id = :u", u=user.id) == 5
    # ...and the page offers a fresh key to send it again.
    assert f'value="{data["idempotency_key"]}"' not in response.text


def test_same_key_different_answers_on_the_craving_log(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    data = craving_data(intensity="6")
    assert post_form(client, "/cravings", data).status_code == 303
    assert post_form(client, "/cravings", {**data, "intensity": "9"}).status_code == 422
    assert count(db, "craving_log", user) == 1


def test_craving_replays_return_the_first_result(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    made = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    first_data = craving_data(client_created_at=made, triggers=["stress"])
    second_data = craving_data(client_created_at=made, intensity="4")
    first = post_form(client, "/cravings", first_data)
    second = post_form(client, "/cravings", second_data)
    assert first.headers["location"] != second.headers["location"]
    for _ in range(3):
        replayed = post_form(client, "/cravings", first_data, headers=REPLAY)
        assert replayed.status_code == 200
        assert replayed.headers["x-steady-recorded"] == first_data["idempotency_key"]
        assert htmx_post(client, "/cravings", second_data).status_code == 200
    assert count(db, "craving_log", user) == 2
    assert count(db, "trigger_hit", user) == 1


def test_a_replay_is_answered_even_after_its_day_has_closed(client: TestClient, db: Database) -> None:
    """A submission that reached the server but whose answer was lost is replayed later: still the same result."""
    user = signed_in_patient(client, db)
    yesterday_evening = datetime.now(UTC) - timedelta(days=1)
    data = checkin_data(client_created_at=yesterday_evening.isoformat())
    first = post_form(client, "/checkin", data)
    assert first.status_code == 303
    replayed = post_form(client, "/checkin", data, headers=REPLAY)
    assert (replayed.status_code, replayed.headers["x-steady-recorded"]) == (200, data["idempotency_key"])
    assert count(db, "checkin", user) == 1


def test_an_older_edit_replayed_after_a_newer_one_does_not_win(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    now = datetime.now(UTC)
    older = checkin_data(mood="3", client_created_at=(now - timedelta(minutes=30)).isoformat())
    newer = checkin_data(mood="7", client_created_at=(now - timedelta(minutes=5)).isoformat())
    assert post_form(client, "/checkin", newer).status_code == 303
    late = post_form(client, "/checkin", older, headers=REPLAY)  # queued offline, sent late
    assert (late.status_code, late.headers["x-steady-recorded"]) == (200, older["idempotency_key"])
    assert db.scalar("SELECT mood FROM checkin WHERE user_id = :u", u=user.id) == 7
    assert count(db, "checkin_submission", user) == 2
    # …and the older answers are not thrown away: the person sees them with the day's check-in.
    assert db.scalar("SELECT reason FROM checkin_revision WHERE user_id = :u", u=user.id) == "older"
    checkin_id = db.scalar("SELECT id FROM checkin WHERE user_id = :u", u=user.id)
    page = client.get(f"/checkins/{checkin_id}")
    assert "Also saved for this day" in page.text and "3 / 10" in page.text


def test_a_check_in_from_another_device_keeps_both_visibly(client: TestClient, db: Database) -> None:
    """Phone A checked in; phone B, offline, filled in its own check-in for the same day without seeing A's.
    The later-filled answers are shown, A's are kept as a visible revision, and Today says so."""
    user = signed_in_patient(client, db)
    now = datetime.now(UTC)
    phone_a = checkin_data(mood="7", note="good day", client_created_at=(now - timedelta(hours=2)).isoformat())
    assert post_form(client, "/checkin", phone_a).status_code == 303
    phone_b = checkin_data(mood="2", note="rough evening", client_created_at=(now - timedelta(hours=1)).isoformat())
    assert post_form(client, "/checkin", phone_b, headers=REPLAY).status_code == 200
    assert db.scalar("SELECT mood FROM checkin WHERE user_id = :u", u=user.id) == 2
    assert db.scalar("SELECT reason FROM checkin_revision WHERE user_id = :u", u=user.id) == "replaced"
    today = client.get("/today").text
    assert "More than one check-in was saved today" in today
    checkin_id = db.scalar("SELECT id FROM checkin WHERE user_id = :u", u=user.id)
    detail = client.get(f"/checkins/{checkin_id}").text
    assert "rough evening" in detail and "good day" in detail and "7 / 10" in detail

    # An edit made on the page that showed the stored check-in is an ordinary change: no revision.
    edit_form = client.get("/checkin").text
    base = edit_form.split('name="base" value="')[1].split('"')[0]
    assert base == db.scalar("SELECT idempotency_key FROM checkin WHERE user_id = :u", u=user.id)
    assert post_form(client, "/checkin", checkin_data(mood="4", base=base)).status_code == 303
    assert count(db, "checkin_revision", user) == 1


def test_malformed_key_is_refused_not_crashed(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    response = post_form(client, "/checkin", checkin_data(idempotency_key="short"))
    assert response.status_code == 422
    assert "out of date" in response.text
    assert count(db, "checkin", user) == 0
    # A submission without any key (a hand-made request) is still saved once.
    data = checkin_data()
    del data["idempotency_key"]
    assert post_form(client, "/checkin", data).status_code == 303
    assert count(db, "checkin", user) == 1


# --------------------------------------------------------------------------- concurrency


def _engine(url: str) -> Any:
    if url.startswith("sqlite"):
        return create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 10})
    return create_async_engine(url, poolclass=NullPool)


def _form(model: type[Any], data: dict[str, Any]) -> Any:
    return model.model_validate({k: v for k, v in data.items() if v != ""})


def test_two_racing_saves_with_one_key_make_one_row(db: Database) -> None:
    """Request A has written but not committed when B, with the same key, looks: B cannot see A's row, tries
    to insert, hits the unique constraint once A commits, and answers with A's result."""
    user = db.make_user("patient", "race@example.org")
    data = checkin_data(mood="4", triggers=["angry"])

    async def race() -> tuple[logic.SaveResult, logic.SaveResult]:
        engine = _engine(db.url)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        try:
            async with maker() as a, maker() as b:
                result_a = await logic.save_checkin(a, user, _form(CheckInForm, data), include_diary=False)
                task_b = asyncio.create_task(logic.save_checkin(b, user, _form(CheckInForm, data), include_diary=False))
                await asyncio.sleep(0.4)  # B is now blocked on A's uncommitted insert
                await a.commit()
                result_b = await task_b
                await b.commit()
                return result_a, result_b
        finally:
            await engine.dispose()

    result_a, result_b = _run(race)
    assert result_a.ok and result_b.ok
    assert result_b.record_id == result_a.record_id and result_b.replayed
    assert count(db, "checkin", user) == 1 and count(db, "checkin_submission", user) == 1
    assert count(db, "trigger_hit", user) == 1


def test_two_racing_cravings_with_one_key_make_one_row(db: Database) -> None:
    user = db.make_user("patient", "race2@example.org")
    data = craving_data(intensity="9")

    async def race() -> tuple[logic.SaveResult, logic.SaveResult]:
        engine = _engine(db.url)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        try:
            async with maker() as a, maker() as b:
                result_a = await logic.save_craving(a, user, _form(CravingForm, data))
                task_b = asyncio.create_task(logic.save_craving(b, user, _form(CravingForm, data)))
                await asyncio.sleep(0.4)
                await a.commit()
                result_b = await task_b
                await b.commit()
                return result_a, result_b
        finally:
            await engine.dispose()

    result_a, result_b = _run(race)
    assert result_b.record_id == result_a.record_id and result_b.replayed
    assert count(db, "craving_log", user) == 1


def test_two_racing_first_checkins_of_a_day_with_different_keys_become_one_row(db: Database) -> None:
    """Two phones check in for the same day at the same moment: one row, the later save becomes an edit."""
    user = db.make_user("patient", "race3@example.org")
    first, second = checkin_data(mood="3"), checkin_data(mood="6")

    async def race() -> tuple[logic.SaveResult, logic.SaveResult]:
        engine = _engine(db.url)
        maker = async_sessionmaker(engine, expire_on_commit=False)
        try:
            async with maker() as a, maker() as b:
                result_a = await logic.save_checkin(a, user, _form(CheckInForm, first), include_diary=False)
                task_b = asyncio.create_task(
                    logic.save_checkin(b, user, _form(CheckInForm, second), include_diary=False)
                )
                await asyncio.sleep(0.4)
                await a.commit()
                result_b = await task_b
                await b.commit()
                return result_a, result_b
        finally:
            await engine.dispose()

    result_a, result_b = _run(race)
    assert result_a.ok and result_b.ok and result_a.record_id == result_b.record_id
    assert count(db, "checkin", user) == 1 and count(db, "checkin_submission", user) == 2
    row = get_row(db, CheckIn, result_a.record_id)  # type: ignore[arg-type]
    assert row.mood == 6


def _run(work: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


@pytest.mark.postgres
def test_concurrent_duplicate_http_requests_on_postgres(other_app: Any, db: Database) -> None:
    """Twenty identical submissions fired at once through the real app on PostgreSQL: one row, one answer."""
    require_postgres()
    if not db.url.startswith("postgresql"):
        pytest.skip("this one is about PostgreSQL's concurrency")
    user = db.make_user("patient", "burst@example.org")

    async def burst() -> list[Any]:
        async with AsyncTestClient(app=other_app, base_url="http://127.0.0.1:8000") as client:
            await client.get("/login")
            token = client.cookies["csrftoken"]
            await client.post("/login", data={"_csrf_token": token, "email": user.email, "password": PASSWORD})
            token = client.cookies["csrftoken"]
            data = {"_csrf_token": token, **checkin_data(mood="5", triggers=["lonely"])}
            craving = {"_csrf_token": token, **craving_data()}
            calls = [client.post("/checkin", data=data, follow_redirects=False) for _ in range(10)]
            calls += [client.post("/cravings", data=craving, follow_redirects=False) for _ in range(10)]
            return list(await asyncio.gather(*calls))

    responses = _run(burst)
    statuses = {r.status_code for r in responses}
    assert statuses <= {303, 409}, statuses
    locations = {r.headers.get("location") for r in responses if r.status_code == 303}
    assert len(locations) == 2
    assert count(db, "checkin", user) == 1 and count(db, "checkin_submission", user) == 1
    assert count(db, "craving_log", user) == 1 and count(db, "trigger_hit", user) == 1
