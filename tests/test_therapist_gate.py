"""One gate for every therapist read of patient data, proved over the app's route table (not a hand list): every
route a therapist can reach that names a patient refuses (404, and no access-log row) a patient on the care team
who shares nothing, one who revoked, and one who shares other categories only where the route needs its own;
an allowed read writes exactly one access-log row. SQLite and PostgreSQL.

bench/gate_coverage.py prints how many routes the table holds and how many go through the gate."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from server.accounts.guards import therapist_only
from server.accounts.models import Role, User
from server.consent.service import revoke
from server.sharing.weeks import Week
from tests.conftest import Database, login, post_form
from tests.support.checkins import today_for
from tests.test_sharing_support import share

ALL_BUT_ATTENDANCE = ["mood_sleep", "cravings_triggers", "substance_use", "diary_card", "skills", "notes"]


def _therapist_guarded(handler: Any) -> bool:
    return any(therapist_only in (layer.guards or ()) for layer in handler.ownership_layers)


def therapist_patient_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route under /therapist, or behind the therapist guard anywhere, that takes a
    patient id."""
    found = []
    for route in app.routes:
        if "{patient_id" not in route.path:
            continue
        if not route.path.startswith("/therapist/") and not any(_therapist_guarded(h) for h in route.route_handlers):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods & {"GET", "POST"}):
                found.append((method, route.path))
    return found


def _url(path: str, patient: User, week: str) -> str:
    return re.sub(r"{patient_id:int}", str(patient.id), path).replace("{filename:str}", f"{week}.csv")


def _call(client: TestClient, method: str, url: str, week: str) -> Any:
    if method == "GET":
        return client.get(url, params={"week": week})
    return post_form(client, url, {"card_id": "urge-surfing", "program_id": "1", "start_date": "2026-12-01",
                                   "occurrence_id": "x", "status": "attended"})  # fmt: skip


def log_rows(db: Database, patient: User) -> int:
    return int(db.scalar("SELECT count(*) FROM disclosure_log WHERE patient_id = :p", p=patient.id))


@pytest.fixture
def scene(db: Database) -> dict[str, Any]:
    therapist = db.make_user(Role.THERAPIST, "t@example.org", name="Dr Tam")
    patients = {name: db.make_user(Role.PATIENT, f"{name}@example.org", name=name.title(), therapist=therapist)
                for name in ("silent", "revoked", "partial", "sharing")}  # fmt: skip
    today = today_for(patients["sharing"])
    revoked = share(db, patients["revoked"], therapist, data_from=today - timedelta(days=30))
    share(db, patients["partial"], therapist, ALL_BUT_ATTENDANCE, data_from=today - timedelta(days=30))
    share(db, patients["sharing"], therapist, data_from=today - timedelta(days=30))

    async def withdraw(session: Any) -> None:
        await revoke(session, patient_id=patients["revoked"].id, consent_id=revoked)

    db.run(withdraw)
    return {"therapist": therapist, **patients, "week": Week.of(today).label}


def test_every_therapist_route_refuses_patients_who_do_not_share(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    routes = therapist_patient_routes(client.app)
    assert len(routes) >= 6, routes  # the week, its exports, homework, groups, enrolment, attendance
    login(client, scene["therapist"].email)
    for patient in (scene["silent"], scene["revoked"]):
        for method, path in routes:
            response = _call(client, method, _url(path, patient, scene["week"]), scene["week"])
            assert response.status_code == 404, (method, path, patient.display_name, response.status_code)
        assert log_rows(db, patient) == 0
    # Sharing everything but group attendance and questionnaires: those pages are closed, the week is open.
    for method, path in routes:
        response = _call(client, method, _url(path, scene["partial"], scene["week"]), scene["week"])
        if "/schedule" in path or "/questionnaires" in path:
            assert response.status_code == 404, (method, path)
    assert client.get(f"/therapist/patients/{scene['partial'].id}").status_code == 200


def test_an_allowed_read_writes_one_access_log_row_and_revoking_closes_it_at_once(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    patient, therapist = scene["sharing"], scene["therapist"]
    login(client, therapist.email)
    paths = [f"/therapist/patients/{patient.id}{tail}" for tail in ("", "/schedule", "/questionnaires")]
    for path in paths:
        before = log_rows(db, patient)
        assert client.get(path).status_code == 200, path
        assert log_rows(db, patient) == before + 1, path
    kinds = {row[0] for row in db.run(lambda s: _kinds(s, patient.id))}
    assert {"summary_view", "attendance_view", "q_view"} <= kinds

    consent_id = db.scalar("SELECT id FROM consent WHERE patient_id = :p", p=patient.id)

    async def withdraw(session: Any) -> None:
        await revoke(session, patient_id=patient.id, consent_id=consent_id)

    db.run(withdraw)
    for path in paths:
        assert client.get(path).status_code == 404, path  # the very next request


async def _kinds(session: Any, patient_id: int) -> list[tuple[str]]:
    from sqlalchemy import text

    return list((await session.execute(text("SELECT kind FROM disclosure_log WHERE patient_id = :p"),
                                        {"p": patient_id})).all())  # fmt: skip


def test_the_patient_list_shows_only_sharing_patients_and_logs_each_once(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    login(client, scene["therapist"].email)
    page = client.get("/therapist")
    assert page.status_code == 200
    for name in ("silent", "revoked"):
        assert scene[name].display_name not in page.text
        assert log_rows(db, scene[name]) == 0
    assert scene["sharing"].display_name in page.text
    assert log_rows(db, scene["sharing"]) == 1


def test_the_route_walk_finds_every_therapist_guarded_patient_route(client: TestClient) -> None:
    """Guarded handlers that name a patient are all in the walk, wherever their path starts."""
    walked = set(therapist_patient_routes(client.app))
    for route in client.app.routes:
        for handler in route.route_handlers:
            if _therapist_guarded(handler) and "{patient_id" in route.path:
                for method in handler.http_methods & {"GET", "POST"}:
                    assert (method, route.path) in walked
