"""Family notifications end to end: milestones found by the detector travel through the real dispatcher (with the
milestone hooks the app installs) to the loopback push service, which decrypts them like a phone would. The text
holds no clinical word; paused members, revoked consents and switched-off encouragement get nothing, even for a
push that was already queued. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.db import utcnow
from server.milestones.hooks import plan_milestones, with_milestone_hooks
from server.push.vapid import VapidKeys
from server.schedule.models import Enrolment, Program, ProgramPhase
from tests.conftest import Database, login, post_form
from tests.support.checkins import add_checkin
from tests.support.family import family_of, run_all, set_sober_since, today_of
from tests.support.push_service import LoopbackPushService
from tests.support.push_tools import add_device, drain, in_session, reminders_of, set_preferences

# Words that would tell a family member (or anyone glancing at their lock screen) something clinical.
CLINICAL_WORDS = (
    "craving", "cravings", "relapse", "relapsed", "use", "used", "using", "trigger", "triggers", "mood",
    "check-in", "checkin", "checked in", "note", "notes", "substance", "alcohol", "drug", "drugs", "drink",
    "urge", "urges", "medication", "diary", "reset", "restart", "missed", "slip", "skill", "therapy", "diagnosis",
)  # fmt: skip


def clinical_words_in(text: str) -> list[str]:
    lowered = text.lower()
    return [w for w in CLINICAL_WORDS if re.search(rf"(?<![a-z-]){re.escape(w)}(?![a-z-])", lowered)]


def test_the_word_check_has_teeth() -> None:
    assert clinical_words_in("Sam used again after a craving") == ["craving", "used"]
    assert clinical_words_in("Time for your check-in") == ["check-in"]
    assert clinical_words_in("Sam reached 30 days sober. Because you care.") == []


def _no_quiet_hours(db: Database, *people: User) -> None:
    for person in people:
        set_preferences(db.url, person.id, quiet_start=time(0, 0), quiet_end=time(0, 0))  # type: ignore[arg-type]


def _send(db: Database, keys: VapidKeys) -> object:
    return drain(db.url, keys, utcnow() + timedelta(seconds=5), hooks=with_milestone_hooks())


def _program_done(db: Database, patient: User) -> None:
    async def work(session: AsyncSession) -> None:
        program = Program(clinic_id=patient.clinic_id, name="Evening IOP", timezone="America/New_York")
        session.add(program)
        await session.flush()
        session.add(ProgramPhase(program_id=program.id, name="Weeks 1–4", start_week=1, end_week=4))  # type: ignore[arg-type]
        start = today_of(patient) - timedelta(days=30)
        session.add(Enrolment(patient_id=patient.id, program_id=program.id, start_date=start))  # type: ignore[arg-type]

    db.run(work)


def test_every_kind_of_news_arrives_decrypted_with_no_clinical_word(
    client: TestClient, db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam", timezone="America/New_York")
    robin = family_of(db, sam, name="Robin")
    kim = family_of(db, sam, name="Kim", paused=True)
    _no_quiet_hours(db, robin, kim)
    robin_phone = push_service.new_subscription(keys.public_key)
    kim_phone = push_service.new_subscription(keys.public_key)
    add_device(db.url, robin.id, robin_phone)  # type: ignore[arg-type]
    add_device(db.url, kim.id, kim_phone)  # type: ignore[arg-type]

    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    for back in range(6, -1, -1):
        add_checkin(db, sam, today_of(sam) - timedelta(days=back), note="felt a strong craving", triggers=[])
    _program_done(db, sam)
    run_all(db)
    login(client, sam.email)
    key = "goodnews-0001"
    assert (
        post_form(client, "/family-circle/good-news", {"message": "I got the job!", "idempotency_key": key}).status_code
        == 303
    )

    _send(db, keys)
    pushes = push_service.received(robin_phone.sub_id)
    titles = sorted(p.data["title"] for p in pushes)
    assert titles == sorted(
        [
            "Sam reached 30 days sober",
            "Sam has taken time for themselves 7 days in a row",
            "Sam finished a stage of their program",
            "Sam completed their program",
            "Good news from Sam",
        ]
    )
    for push in pushes:
        text = " ".join(str(v) for v in push.data.values())
        assert clinical_words_in(text) == [], text
        assert push.data["url"] == "/family"
        assert "I got the job" not in text  # the patient's own words wait inside the app, off the lock screen
    assert push_service.received(kim_phone.sub_id) == []  # paused: nothing at all

    # Sending again sends nothing new.
    _send(db, keys)
    assert len(push_service.received(robin_phone.sub_id)) == 5


def test_a_queued_push_is_dropped_when_the_patient_pauses_or_revokes_first(
    db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam", timezone="America/New_York")
    robin = family_of(db, sam, name="Robin")
    lee = family_of(db, sam, name="Lee")
    _no_quiet_hours(db, robin, lee)
    robin_phone, lee_phone = (
        push_service.new_subscription(keys.public_key),
        push_service.new_subscription(keys.public_key),
    )
    add_device(db.url, robin.id, robin_phone)  # type: ignore[arg-type]
    add_device(db.url, lee.id, lee_phone)  # type: ignore[arg-type]
    set_sober_since(db, sam, today_of(sam) - timedelta(days=7))
    run_all(db)
    assert [r.status for r in reminders_of(db.url, robin.id)] == ["pending"]

    # A worker already has the push queued when the patient acts (the direct writes skip the page's clean-up).
    db.execute(
        "UPDATE family_preference SET paused = :p WHERE link_id = (SELECT id FROM family_link WHERE family_id = :f)",
        p=True,
        f=robin.id,
    )
    db.execute("UPDATE consent SET revoked_at = :t WHERE recipient_id = :f", t=utcnow(), f=lee.id)
    _send(db, keys)
    assert push_service.received() == []
    assert [r.status for r in reminders_of(db.url, robin.id)] == ["dropped"]
    assert [r.status for r in reminders_of(db.url, lee.id)] == ["dropped"]


def test_encouragement_reaches_the_patient_unless_switched_off(
    client: TestClient, db: Database, push_service: LoopbackPushService, keys: VapidKeys
) -> None:
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam", timezone="America/New_York")
    family_of(db, sam, name="Robin", email="robin@example.org", kinds=())
    _no_quiet_hours(db, sam)
    phone = push_service.new_subscription(keys.public_key)
    add_device(db.url, sam.id, phone)  # type: ignore[arg-type]
    login(client, "robin@example.org")
    first = {"message": "Proud of you, always.", "idempotency_key": "encourage-0001"}
    assert post_form(client, "/family/encourage", first).status_code == 303
    _send(db, keys)
    [push] = push_service.received(phone.sub_id)
    assert push.data["title"] == "A kind word from Robin"
    assert push.data["url"] == "/today"
    assert clinical_words_in(" ".join(map(str, push.data.values()))) == []

    second = {"message": "Thinking of you.", "idempotency_key": "encourage-0002"}
    assert post_form(client, "/family/encourage", second).status_code == 303
    db.execute(
        "INSERT INTO family_patient_setting (patient_id, receive_encouragement, updated_at) VALUES (:p, :r, :t)",
        p=sam.id,
        r=False,
        t=utcnow(),
    )
    _send(db, keys)
    assert len(push_service.received(phone.sub_id)) == 1  # the second one was dropped at send time


def test_the_dispatcher_planner_runs_the_batch_once_an_hour(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.milestones import hooks

    monkeypatch.setattr(hooks, "_last_run_hour", {})
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam", timezone="America/New_York")
    robin = family_of(db, sam, name="Robin")
    set_sober_since(db, sam, today_of(sam) - timedelta(days=14))
    hour = (utcnow() + timedelta(hours=1)).replace(minute=10, second=0, microsecond=0)

    def plan(at: datetime, user_ids: set[int] | None = None) -> int:
        return in_session(db.url, lambda s: plan_milestones(s, at, user_ids))

    assert plan(hour, {sam.id}) == 0  # type: ignore[arg-type]  # a one-person re-plan after a settings change
    assert plan(hour) == 1
    db.execute("DELETE FROM family_notification")
    db.execute("DELETE FROM milestone")
    assert plan(hour + timedelta(minutes=30)) == 0  # the same hour: not again
    assert plan(hour + timedelta(hours=1)) == 1
    assert db.scalar("SELECT count(*) FROM family_notification WHERE family_id = :f", f=robin.id) == 1
