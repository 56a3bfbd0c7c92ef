"""Questionnaires over real HTTP on both databases: assignment and cadence, due on Today, one item per screen
without JavaScript (back, change, resume later), the result in kind words compared with the last one, the item-9
safety page before any score with who sees it and the one-time share, offline replays recorded exactly once,
hostile input."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Clinic, Role, User
from server.questionnaires import service
from server.questionnaires.models import Response
from server.questionnaires.service import Schedule, next_occurrence_after, occurrence_on_or_before
from tests.conftest import Database, login, post_form
from tests.support.checkins import today_for
from tests.test_sharing_support import share

# JSON answers, a unique key under concurrent replays, booleans and dates in SQL: run on PostgreSQL too.
pytestmark = pytest.mark.dialect_sensitive


ALL_SHARED = ["mood_sleep", "questionnaires"]


def assign(db: Database, patient: User, code: str = "phq9", cadence: str = "biweekly", start: date | None = None,
           end: date | None = None) -> None:  # fmt: skip
    async def work(session: AsyncSession) -> None:
        await service.assign(session, patient.id, code, cadence, start or today_for(patient), end, None)  # type: ignore[arg-type]

    db.run(work)


def responses(db: Database, patient: User, status: str = "complete") -> int:
    return int(db.scalar("SELECT count(*) FROM questionnaire_response WHERE user_id = :u AND status = :s",
                         u=patient.id, s=status))  # fmt: skip


def answer_all(client: TestClient, code: str, values: dict[str, int], *, last_go: str = "finish") -> Any:
    """Answer screen by screen, as a browser without JavaScript does."""
    page = client.get(f"/questionnaires/{code}")
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    ids = list(values)
    response = None
    for step, item_id in enumerate(ids):
        go = last_go if step == len(ids) - 1 else "next"
        data = {"idempotency_key": key, "step": str(step), f"a_{item_id}": str(values[item_id]), "go": go}
        response = post_form(client, f"/questionnaires/{code}", data)
        assert response.status_code == 303, (item_id, response.status_code, response.text[:300])
    return response


PHQ9_MILD = {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 0, "8": 0, "9": 0, "difficulty": 1}  # 6: mild


@pytest.fixture
def people(db: Database) -> dict[str, User]:
    therapist = db.make_user(Role.THERAPIST, "t@example.org", name="Dr Tam")
    patient = db.make_user(Role.PATIENT, "p@example.org", name="Pat Lee", therapist=therapist)
    other = db.make_user(Role.PATIENT, "o@example.org", name="Other One", therapist=therapist)
    return {"therapist": therapist, "patient": patient, "other": other}


def test_cadences() -> None:
    start = date(2026, 1, 31)
    assert occurrence_on_or_before(start, "weekly", date(2026, 2, 13)) == date(2026, 2, 7)
    assert occurrence_on_or_before(start, "biweekly", date(2026, 2, 13)) == date(2026, 1, 31)
    assert occurrence_on_or_before(start, "biweekly", date(2026, 2, 14)) == date(2026, 2, 14)
    assert occurrence_on_or_before(start, "monthly", date(2026, 2, 27)) == date(2026, 1, 31)
    assert occurrence_on_or_before(start, "monthly", date(2026, 2, 28)) == date(2026, 2, 28)  # end of a short month
    assert occurrence_on_or_before(start, "monthly", date(2026, 3, 30)) == date(2026, 2, 28)
    assert occurrence_on_or_before(start, "weekly", date(2026, 1, 30)) is None
    assert next_occurrence_after(start, "biweekly", date(2026, 2, 1)) == date(2026, 2, 14)
    assert next_occurrence_after(start, "monthly", date(2026, 3, 31)) == date(2026, 4, 30)
    stopped = Schedule("phq9", "weekly", start, date(2026, 2, 7), "therapist")
    assert stopped.due_on(date(2026, 2, 6)) == start and stopped.due_on(date(2026, 2, 10)) is None


def test_due_on_today_answered_screen_by_screen_then_not_due(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient = people["patient"]
    login(client, patient.email)
    assert "Questionnaires from your care team" not in client.get("/today").text
    assign(db, patient)
    today = client.get("/today").text
    assert "Answer: Mood questionnaire (PHQ-9)" in today
    page = client.get("/questionnaires/phq9")
    assert "Question 1 of 10" in page.text and "Little interest or pleasure in doing things" in page.text
    assert page.headers["X-Steady-Offline"] == "page"
    done = answer_all(client, "phq9", PHQ9_MILD)
    assert re.fullmatch(r"/questionnaires/results/\d+", done.headers["location"])
    result = client.get(done.headers["location"]).text
    assert "Your answers suggest mild depression over the last two weeks." in result
    assert "Score: 6 out of 27 (mild)." in result
    assert "Only you." in result  # nobody shares yet
    assert responses(db, patient) == 1 and responses(db, patient, "draft") == 0
    assert "Questionnaires from your care team" not in client.get("/today").text
    row = db.scalar("SELECT total FROM questionnaire_response WHERE user_id = :u", u=patient.id)
    assert row == 6


def test_todays_panel_is_in_each_patients_own_language(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    """Today's questionnaire panel is rendered once per language and state and shared (`remembered`): a patient who
    reads Spanish gets it in Spanish right after one who reads English got it in English, and back."""
    english = people["patient"]
    spanish = db.make_user("patient", clinic_id=english.clinic_id)
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :id", id=spanish.id)
    for patient in (english, spanish):
        assign(db, patient)
    for patient, expected in ((english, "Answer: Mood questionnaire (PHQ-9)"), (spanish, "Responder: "),
                              (english, "Answer: Mood questionnaire (PHQ-9)")):  # fmt: skip
        client.cookies.clear()
        login(client, patient.email)
        assert expected in client.get("/today").text


def test_back_change_and_resume_later(client: TestClient, db: Database, people: dict[str, User]) -> None:
    patient = people["patient"]
    assign(db, patient)
    login(client, patient.email)
    page = client.get("/questionnaires/phq9")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert responses(db, patient, "draft") == 0  # opening a screen writes nothing; the first answer does
    for step, value in enumerate([2, 2, 2]):
        post_form(
            client, "/questionnaires/phq9", {"idempotency_key": key, "step": step, f"a_{step + 1}": value, "go": "next"}
        )
    back = post_form(client, "/questionnaires/phq9", {"idempotency_key": key, "step": 3, "go": "back"})
    assert back.headers["location"] == "/questionnaires/phq9?item=2"
    screen = client.get("/questionnaires/phq9?item=1").text
    assert "Question 2 of 10" in screen and 'name="a_2" value="2" checked' in screen
    post_form(client, "/questionnaires/phq9", {"idempotency_key": key, "step": 1, "a_2": 0, "go": "next"})  # change
    # Later, from Today: carry on where they left off.
    assert "Carry on: Mood questionnaire (PHQ-9) (3 of 10 done)" in client.get("/today").text
    resumed = client.get("/questionnaires/phq9").text
    assert "Question 4 of 10" in resumed and key in resumed
    # Skipping a required item is refused with the answers kept.
    refused = post_form(client, "/questionnaires/phq9", {"idempotency_key": key, "step": 3, "go": "next"})
    assert refused.status_code == 422 and "Please choose one of the answers." in refused.text
    stored = db.scalar("SELECT answers FROM questionnaire_response WHERE user_id = :u", u=patient.id)
    assert (json.loads(stored) if isinstance(stored, str) else stored) == {"1": 2, "2": 0, "3": 2}


def test_result_compares_with_the_previous_one(client: TestClient, db: Database, people: dict[str, User]) -> None:
    patient = people["patient"]
    assign(db, patient, "gad7")
    login(client, patient.email)
    answer_all(client, "gad7", {"1": 3, "2": 3, "3": 2, "4": 2, "5": 1, "6": 1, "7": 0})  # 12: moderate
    second = answer_all(client, "gad7", {"1": 2, "2": 2, "3": 1, "4": 1, "5": 1, "6": 1, "7": 0})  # 8: mild
    text = client.get(second.headers["location"]).text
    assert "Your answers suggest mild anxiety over the last two weeks." in text
    assert "clearly lower than your last result" in text  # 4 points: a reliable change on the GAD-7
    progress = client.get("/questionnaires/panel").text
    assert "GAD-7 over time" in progress and "2 results, from 12" in progress


def test_item9_shows_crisis_help_before_any_score_and_offers_a_one_time_share(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient, therapist = people["patient"], people["therapist"]
    assign(db, patient)
    login(client, patient.email)
    done = answer_all(client, "phq9", {**PHQ9_MILD, "9": 1})
    assert done.headers["location"].endswith("/support")
    page = client.get(done.headers["location"]).text
    assert "988" in page and "Your safety plan" in page
    assert "Score:" not in page  # no score before the help
    assert "Right now nobody else sees this answer" in page
    assert "Share this result with Dr Tam" in page
    assert db.scalar("SELECT count(*) FROM reminder WHERE user_id = :t", t=therapist.id) == 0
    rid = int(done.headers["location"].split("/")[3])
    shared = post_form(client, f"/questionnaires/results/{rid}/share", {"therapist_id": therapist.id})
    assert shared.status_code == 303
    assert db.scalar("SELECT shared_once_with_id FROM questionnaire_response WHERE id = :r", r=rid) == therapist.id
    wording = db.scalar("SELECT shared_once_wording FROM questionnaire_response WHERE id = :r", r=rid)
    assert "Pat Lee" in wording and "Dr Tam" in wording
    pushes = db.run(lambda s: _reminders(s, therapist.id))
    assert len(pushes) == 1 and "Pat" not in pushes[0][0] + pushes[0][1] and "PHQ" not in pushes[0][0] + pushes[0][1]
    # Someone else's therapist id, or another person's result: 404.
    assert (
        post_form(client, f"/questionnaires/results/{rid}/share", {"therapist_id": people["other"].id}).status_code
        == 404
    )


def test_item9_when_shared_pushes_the_therapist_at_once(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient, therapist = people["patient"], people["therapist"]
    share(db, patient, therapist, ALL_SHARED, data_from=today_for(patient) - timedelta(days=3))
    assign(db, patient)
    login(client, patient.email)
    done = answer_all(client, "phq9", {**PHQ9_MILD, "9": 2})
    page = client.get(done.headers["location"]).text
    assert "You share questionnaires with Dr Tam" in page
    assert len(db.run(lambda s: _reminders(s, therapist.id))) == 1


async def _reminders(session: AsyncSession, user_id: int) -> list[tuple[str, str, str]]:
    from sqlalchemy import text

    rows = await session.execute(text("SELECT title, body, url FROM reminder WHERE user_id = :u"), {"u": user_id})
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_offline_replay_is_recorded_exactly_once(client: TestClient, db: Database, people: dict[str, User]) -> None:
    patient = people["patient"]
    login(client, patient.email)
    key = str(uuid.uuid4())
    body = {"idempotency_key": key, "client_created_at": "2026-11-24T10:00:00Z", "step": "9", "go": "finish",
            **{f"a_{k}": v for k, v in PHQ9_MILD.items()}}  # fmt: skip
    headers = {"X-Steady-Replay": "1"}
    first = post_form(client, "/questionnaires/phq9", body, headers=headers)
    assert first.status_code == 200 and first.headers["X-Steady-Recorded"] == key
    again = post_form(client, "/questionnaires/phq9", body, headers=headers)
    assert again.status_code == 200 and again.headers["X-Steady-Recorded"] == key
    assert responses(db, patient) == 1
    changed = post_form(client, "/questionnaires/phq9", {**body, "a_1": "3"}, headers=headers)
    assert changed.status_code == 422 and responses(db, patient) == 1


def test_hostile_input(client: TestClient, db: Database, people: dict[str, User]) -> None:
    login(client, people["other"].email)
    assign(db, people["other"])
    answer_all(client, "phq9", PHQ9_MILD)
    theirs = db.scalar("SELECT id FROM questionnaire_response WHERE user_id = :u", u=people["other"].id)
    login(client, people["patient"].email)
    assert client.get(f"/questionnaires/results/{theirs}").status_code == 404
    assert client.get(f"/questionnaires/results/{theirs}/support").status_code == 404
    assert client.get("/questionnaires/nope").status_code == 404
    assert client.get("/questionnaires/results/99999999999999999999").status_code in (404, 400)
    bad = post_form(client, "/questionnaires/phq9", {"a_1": "7", "step": "0", "go": "next"})
    assert bad.status_code == 422
    weird = post_form(client, "/questionnaires/phq9", {"a_1": "1", "step": "x" * 5000, "idempotency_key": "k" * 500})
    assert weird.status_code in (303, 400, 422)


def test_clinic_default_applies_to_patients_without_their_own_assignment(db: Database, people: dict[str, User]) -> None:
    patient = people["patient"]

    async def work(session: AsyncSession) -> list[Any]:
        clinic = await session.get(Clinic, patient.clinic_id)
        assert clinic is not None
        clinic.settings = {
            **(clinic.settings or {}),
            service.DEFAULTS_KEY: {"bam_iop": {"cadence": "weekly", "since": "2026-01-01"}},
        }
        await session.flush()
        user = await session.get(User, patient.id)
        assert user is not None
        return [(d.instrument.code, d.due_on) for d in await service.due_for(session, user)]

    due = db.run(work)
    assert [code for code, _day in due] == ["bam_iop"]
    assert due[0][1] == today_for(patient)  # starts the day the patient joined

    async def stop(session: AsyncSession) -> list[Any]:
        await service.end_assignments(session, patient.id, today_for(patient))  # type: ignore[arg-type]
        user = await session.get(User, patient.id)
        assert user is not None
        return await service.due_for(session, user)

    assert db.run(stop) == []


def test_response_table_refuses_a_second_row_with_the_same_key(db: Database, people: dict[str, User]) -> None:
    from sqlalchemy.exc import IntegrityError

    async def work(session: AsyncSession) -> None:
        for _ in range(2):
            session.add(Response(user_id=people["patient"].id, instrument="phq9", idempotency_key="same"))
            await session.flush()

    with pytest.raises(IntegrityError):
        db.run(work)


def test_a_due_questionnaire_is_reminded_once_with_generic_words_and_not_after_answering(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    from datetime import UTC, datetime

    from server.push.dispatcher import ClaimedReminder
    from server.push.models import PushSubscription
    from server.questionnaires.reminders import plan_questionnaire_reminders, questionnaire_still_wanted

    patient = people["patient"]
    assign(db, patient, "gad7", "weekly")

    async def device(session: AsyncSession) -> None:
        session.add(PushSubscription(user_id=patient.id, endpoint="https://fcm.googleapis.com/x", p256dh="k", auth="a"))  # type: ignore[arg-type]

    db.run(device)
    now = datetime.now(UTC)

    async def plan(session: AsyncSession) -> int:
        return await plan_questionnaire_reminders(session, now, {patient.id})  # type: ignore[arg-type]

    assert db.run(plan) == 1
    db.run(plan)
    rows = db.run(lambda s: _reminders(s, patient.id))
    assert len(rows) == 1
    title, body, url = rows[0]
    assert (title, url) == ("A short questionnaire is ready", "/today") and "GAD" not in title + body
    key = db.scalar("SELECT dedupe_key FROM reminder WHERE user_id = :u", u=patient.id)
    rid = db.scalar("SELECT id FROM reminder WHERE user_id = :u", u=patient.id)
    claimed = ClaimedReminder(id=rid, user_id=patient.id, kind="questionnaire", dedupe_key=key,  # type: ignore[arg-type]
                              **_claim_extras())  # fmt: skip

    async def wanted(session: AsyncSession) -> set[int]:
        return await questionnaire_still_wanted(session, [claimed], now)

    assert db.run(wanted) == {rid}
    # Switched off on /reminders: the queued one goes and no new one is planned.
    from server.reminders.preferences import KindChoice, save_choices

    async def switch_off(session: AsyncSession) -> None:
        await save_choices(session, patient.id, {"questionnaire": KindChoice(False, {})})  # type: ignore[arg-type]

    db.run(switch_off)
    db.run(plan)
    assert db.scalar("SELECT count(*) FROM reminder WHERE user_id = :u AND status = 'pending'", u=patient.id) == 0
    login(client, patient.email)
    answer_all(client, "gad7", {str(i): 0 for i in range(1, 8)})
    assert db.run(wanted) == set()


def _claim_extras() -> dict[str, Any]:
    import dataclasses

    from server.push.dispatcher import ClaimedReminder

    extras: dict[str, Any] = {}
    for f in dataclasses.fields(ClaimedReminder):
        if f.name not in ("id", "user_id", "kind", "dedupe_key") and f.default is dataclasses.MISSING:
            extras[f.name] = None
    return extras


def test_the_patient_export_holds_every_questionnaire_answer(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient = people["patient"]
    assign(db, patient)
    login(client, patient.email)
    answer_all(client, "phq9", PHQ9_MILD)
    page = client.get("/questionnaires/gad7")  # started, not finished: a draft is an answer too
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    post_form(client, "/questionnaires/gad7", {"idempotency_key": key, "step": "0", "a_1": "2", "go": "next"})
    data = json.loads(client.get("/export.json").content)
    by_code = {q["instrument"]: q for q in data["questionnaires"]}
    assert by_code["phq9"]["answers"] == PHQ9_MILD and by_code["phq9"]["total"] == 6
    assert by_code["gad7"]["status"] == "draft" and by_code["gad7"]["answers"] == {"1": 2}
    sheet = client.get("/questionnaires/answers.csv").content.decode("utf-8-sig").splitlines()
    assert sheet[0].startswith("id,instrument,status") and len(sheet) == 3
    assert "Download my questionnaire answers (CSV)" in client.get("/export").text


def test_a_spanish_speaker_reads_the_published_spanish_wording(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient = people["patient"]
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :u", u=patient.id)
    assign(db, patient)
    login(client, patient.email)
    page = client.get("/questionnaires/phq9").text
    assert "Poco interés o placer en hacer cosas" in page and "Ningún día" in page
    assert "Pregunta 1 de 10" in page
    done = answer_all(client, "phq9", PHQ9_MILD)
    assert "Tus respuestas sugieren una depresión leve" in client.get(done.headers["location"]).text


def test_concurrent_duplicate_submissions_make_one_result(other_app: Any, db: Database) -> None:
    """Ten identical offline replays fired at once through the real app (a fresh key, no draft yet): one row, and
    every answer is the same acknowledgement. Both databases (on PostgreSQL the losers wait on the unique key)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from litestar.testing import AsyncTestClient

    from tests.conftest import PASSWORD

    user = db.make_user(Role.PATIENT, "burst@example.org")
    key = str(uuid.uuid4())

    async def burst() -> list[Any]:
        async with AsyncTestClient(app=other_app, base_url="http://127.0.0.1:8000") as client:
            await client.get("/login")
            token = client.cookies["csrftoken"]
            await client.post("/login", data={"_csrf_token": token, "email": user.email, "password": PASSWORD})
            token = client.cookies["csrftoken"]
            body = {"_csrf_token": token, "idempotency_key": key, "go": "finish", "step": "9",
                    **{f"a_{k}": str(v) for k, v in PHQ9_MILD.items()}}  # fmt: skip
            calls = [
                client.post("/questionnaires/phq9", data=body, headers={"X-Steady-Replay": "1"}, follow_redirects=False)
                for _ in range(10)
            ]
            return list(await asyncio.gather(*calls))

    with ThreadPoolExecutor(max_workers=1) as pool:
        answers = pool.submit(asyncio.run, burst()).result()
    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 409}, statuses
    assert all(r.headers.get("X-Steady-Recorded") == key for r in answers if r.status_code == 200)
    assert responses(db, user) == 1


def test_the_bam_asks_about_each_drug_only_after_use_and_compares_sub_scores(
    client: TestClient, db: Database, people: dict[str, User]
) -> None:
    patient = people["patient"]
    assign(db, patient, "bam_iop", "weekly")
    login(client, patient.email)
    base = {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0, "8": 1, "9": 4, "10": 2, "11": 0, "12": 2, "13": 4,
            "14": 4, "15": 0, "16": 4, "17": 3}  # fmt: skip
    first = answer_all(client, "bam_iop", base)  # no use: 16 screens, no item 7
    text = client.get(first.headers["location"]).text
    assert "No alcohol or drug use in the past 7 days." in text and "(20 of 24, higher is stronger)" in text
    # With use on item 6 the screens for 7A-G appear after it ("Question 7 of 23").
    page = client.get("/questionnaires/bam_iop")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    for step, item in enumerate(["1", "2", "3", "4", "5", "6"]):
        value = 1 if item == "6" else base[item]
        post_form(
            client, "/questionnaires/bam_iop", {"idempotency_key": key, "step": step, f"a_{item}": value, "go": "next"}
        )
    screen = client.get("/questionnaires/bam_iop?item=6").text
    assert "Question 7 of 23" in screen and "Marijuana" in screen
    with_use = {k: base[k] for k in ("1", "2", "3", "4", "5")} | {"6": 1} | {f"7{c}": 0 for c in "ABCDEFG"}
    with_use |= {"7C": 1} | {k: v for k, v in base.items() if k not in with_use and k != "6"}
    second = answer_all(client, "bam_iop", with_use)  # in the order the screens come
    text = client.get(second.headers["location"]).text
    assert "You noted some alcohol or drug use in the past 7 days." in text
    assert "Last time, on" in text and "use 0, risk 3, protective 20." in text


def test_todays_due_list_is_due_for_and_a_change_shows_at_the_next_read(db: Database, people: dict[str, User]) -> None:
    """Today works out what is due from its composed read (`due_from`, remembered per process for the same rows
    and day): the same list as `due_for` reading on its own, day after day, with an assignment, a clinic default,
    a completed answer and a half-done draft; and a change written elsewhere is a new key, never served stale."""
    from server.db import compose, pk, read_composed

    patient = people["patient"]
    start = today_for(patient)
    assign(db, patient, "phq9", "biweekly", start - timedelta(days=20))
    assign(db, patient, "gad7", "weekly", start - timedelta(days=3), start + timedelta(days=25))

    async def set_up(session: AsyncSession) -> None:
        clinic = await session.get(Clinic, patient.clinic_id)
        assert clinic is not None
        clinic.settings = {**(clinic.settings or {}), service.DEFAULTS_KEY: {"bam_iop": {"cadence": "weekly"}}}
        session.add(Response(user_id=pk(patient), instrument="phq9", status="complete", idempotency_key="done",
                             local_date=start - timedelta(days=6), answers=PHQ9_MILD))  # fmt: skip
        session.add(Response(user_id=pk(patient), instrument="gad7", status="draft", idempotency_key="draft",
                             answers={"1": 2, "2": 1}))  # fmt: skip

    db.run(set_up)
    statement = compose(service.today_reads())

    def both(day: date) -> tuple[list[Any], list[Any]]:
        async def work(session: AsyncSession) -> tuple[list[Any], list[Any]]:
            user = await session.get(User, patient.id)
            assert user is not None
            values = await read_composed(session, statement, service.today_params(user))
            return service.due_from(user, values, day), await service.due_for(session, user, day)

        return db.run(work)

    seen = set()
    for offset in range(-2, 30):
        from_today, on_its_own = both(start + timedelta(days=offset))
        assert from_today == on_its_own, offset
        seen.update((due.instrument.code, due.answered) for due in from_today)
    # Each kind was due at some point: a therapist's assignment, the draft's progress, the clinic's default.
    assert {("phq9", 0), ("gad7", 2), ("bam_iop", 0)} <= seen

    before, _ = both(start)
    assert "gad7" in [due.instrument.code for due in before]

    async def complete_gad7(session: AsyncSession) -> None:
        draft = await service.current_draft(session, pk(patient), "gad7")
        assert draft is not None
        draft.status, draft.local_date = "complete", start

    db.run(complete_gad7)
    after, on_its_own = both(start)
    assert after == on_its_own
    assert "gad7" not in [due.instrument.code for due in after]
