"""Milestone detection: each milestone is recorded and announced exactly once, a relapse is never news, and only
family members with a consent in force and updates on hear anything. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from server.accounts.models import FamilyLink, Role, User
from server.checkins.models import SobrietyDate
from server.consent.service import revoke_all_for_recipient, sign_consent
from server.db import utcnow
from server.family import milestones as family_milestones
from server.family.models import FamilyPreference
from server.milestones import evaluate_all, evaluate_patient
from server.schedule import logic as schedule
from server.schedule.models import Enrolment, Program, ProgramPhase
from tests.conftest import Database, login, post_form, require_postgres
from tests.support.checkins import add_checkin, checkin_data
from tests.support.family import (
    count,
    family_of,
    milestones,
    notifications,
    run_all,
    run_patient,
    set_sober_since,
    today_of,
)


def _patient(db: Database, name: str = "Sam", email: str | None = None) -> User:
    return db.make_user(Role.PATIENT, email, name=name, timezone="America/New_York")


def _pushes(db: Database, member: User) -> list[str]:
    async def work(session: AsyncSession) -> list[str]:
        from server.push.models import Reminder

        rows = await session.scalars(
            select(Reminder.title).where(Reminder.user_id == member.id, Reminder.kind == "milestone")
        )
        return list(rows)

    return db.run(work)


# -- sober days -----------------------------------------------------------------------------------------------------


def test_a_sober_milestone_is_recorded_told_and_logged_once(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam)
    started = today_of(sam) - timedelta(days=30)
    set_sober_since(db, sam, started)

    first = run_all(db)
    again = run_all(db)
    per_patient = run_patient(db, sam)

    assert (first.recorded, first.notified) == (1, 1)
    assert (again.recorded, again.notified, per_patient.recorded) == (0, 0, 0)
    assert milestones(db, sam) == [("sober_days", "30", started.isoformat())]
    assert notifications(db, robin) == [("sober_days", "30")]
    assert _pushes(db, robin) == ["Sam reached 30 days sober"]
    logged = "SELECT count(*) FROM disclosure_log WHERE kind = 'notification' AND patient_id = :p"
    assert count(db, logged, p=sam.id) == 1


def test_nothing_is_recorded_for_patients_nobody_listens_to(db: Database) -> None:
    alone = _patient(db, "Alex")
    set_sober_since(db, alone, today_of(alone) - timedelta(days=30))
    report = run_all(db)
    assert (report.patients, report.recorded) == (0, 0)
    assert milestones(db, alone) == []


def test_back_dated_sobriety_date_does_not_replay_old_milestones(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=45))  # 30 days was 15 days ago: old news
    run_all(db)
    assert notifications(db, robin) == []
    set_sober_since(db, sam, today_of(sam) - timedelta(days=9))  # 7 days was two days ago: still good news
    run_all(db)
    assert notifications(db, robin) == [("sober_days", "7")]


def test_a_relapse_is_never_news_and_a_re_earned_milestone_is_new(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam, consent_days=120)
    first_run = today_of(sam) - timedelta(days=31)
    set_sober_since(db, sam, first_run)
    run_all(db)
    assert notifications(db, robin) == [("sober_days", "30")]

    # Sam records a use and confirms the restart: the counter quietly starts again from today.
    set_sober_since(db, sam, today_of(sam))
    # Nothing that day, and the new run's first days stay quiet too: "1 day sober" a few weeks after
    # "30 days sober" would tell the family what happened.
    for hours in (0, 6, 30, 7 * 24 + 2, 14 * 24 + 2):
        report = run_all(db, utcnow() + timedelta(hours=hours))
        assert report.recorded == 0
    assert notifications(db, robin) == [("sober_days", "30")]
    assert all("relapse" not in t.lower() and "reset" not in t.lower() for t in _pushes(db, robin))

    # "30 days sober" again would be a count going down (Robin knows of 30 a month ago): still quiet. The new
    # run is news again once it passes what Robin could know - 60 days.
    assert run_all(db, utcnow() + timedelta(days=30)).recorded == 0
    later = utcnow() + timedelta(days=60)
    assert run_all(db, later).recorded == 1
    assert milestones(db, sam)[-1] == ("sober_days", "60", today_of(sam).isoformat())
    assert notifications(db, robin) == [("sober_days", "30"), ("sober_days", "60")]
    assert run_all(db, later).recorded == 0


def test_correcting_the_date_by_a_day_does_not_repeat_the_news(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=31))  # "I actually stopped a day earlier"
    run_all(db)
    assert notifications(db, robin) == [("sober_days", "30")]


def test_only_the_overall_counter_counts(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30), substance="alcohol")
    run_all(db)
    assert notifications(db, robin) == []


# -- who hears it ----------------------------------------------------------------------------------------------------


def test_paused_members_get_nothing_not_even_later(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam, name="Robin")
    kim = family_of(db, sam, name="Kim", paused=True)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=7))
    run_all(db)
    assert notifications(db, robin) == [("sober_days", "7")]
    assert notifications(db, kim) == [] and _pushes(db, kim) == []

    async def resume(session: AsyncSession) -> None:
        link = await session.scalar(select(FamilyLink).where(FamilyLink.family_id == kim.id))
        pref = await session.scalar(select(FamilyPreference).where(FamilyPreference.link_id == link.id))  # type: ignore[union-attr]
        pref.paused = False  # type: ignore[union-attr]

    db.run(resume)
    run_all(db)
    assert notifications(db, kim) == []  # nothing saved up while paused


def test_revoked_expired_or_uncovered_consent_hears_nothing(db: Database) -> None:
    sam = _patient(db)
    revoked = family_of(db, sam, name="Revoked")
    expired = family_of(db, sam, name="Expired", kinds=())
    narrow = family_of(db, sam, name="Narrow", kinds=("good_news",))
    switched_off = family_of(db, sam, name="Off", kinds=("sober_days", "good_news"))
    listening = family_of(db, sam, name="Listening", kinds=("sober_days",))

    async def arrange(session: AsyncSession) -> None:
        me = await session.get(User, sam.id)
        await revoke_all_for_recipient(session, patient_id=sam.id, recipient_id=revoked.id)  # type: ignore[arg-type]
        person = await session.get(User, expired.id)
        past = utcnow() - timedelta(days=10)
        await sign_consent(
            session, patient=me, recipient=person, recipient_kind="family", categories=["sober_days"],  # type: ignore[arg-type]
            purpose="p", data_from=past.date(), ends_at=utcnow() - timedelta(hours=1), wording="w",
            signature=me.display_name, now=past,  # type: ignore[union-attr]
        )  # fmt: skip
        link = await session.scalar(select(FamilyLink).where(FamilyLink.family_id == expired.id))
        expired_pref = await session.scalar(select(FamilyPreference).where(FamilyPreference.link_id == link.id))  # type: ignore[union-attr]
        expired_pref.kinds = ["sober_days"]  # type: ignore[union-attr]
        # Consent covers sober days, but the patient has since switched that kind off for this person.
        off_link = await session.scalar(select(FamilyLink).where(FamilyLink.family_id == switched_off.id))
        pref = await session.scalar(select(FamilyPreference).where(FamilyPreference.link_id == off_link.id))  # type: ignore[union-attr]
        pref.kinds = ["good_news"]  # type: ignore[union-attr]

    db.run(arrange)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=14))
    run_all(db)
    assert notifications(db, listening) == [("sober_days", "14")]
    for member in (revoked, expired, narrow, switched_off):
        assert notifications(db, member) == [], member.display_name
        assert _pushes(db, member) == []


# -- check-in streaks, through the real check-in routes --------------------------------------------------------------


def test_streak_once_across_edits_backfills_and_offline_replays(client: TestClient, db: Database) -> None:
    sam = _patient(db, email="sam@example.org")
    robin = family_of(db, sam)
    login(client, "sam@example.org")
    today = today_of(sam)
    for back in (7, 6, 5, 4, 2, 1):  # a gap three days ago
        add_checkin(db, sam, today - timedelta(days=back))
    run_patient(db, sam)
    assert notifications(db, robin) == []

    # Sam fills in the missing day late, from the form for that day: the run is now 7 days long.
    late = checkin_data(date=(today - timedelta(days=3)).isoformat())
    assert post_form(client, "/checkin", late).status_code == 303
    run_patient(db, sam)
    assert notifications(db, robin) == [("checkin_streak", "7")]

    # The phone replays the same submission (offline queue), Sam edits today's, two evaluations run again.
    assert post_form(client, "/checkin", late).status_code == 303
    today_form = checkin_data()
    assert post_form(client, "/checkin", today_form).status_code == 303
    assert post_form(client, "/checkin", today_form).status_code == 303
    assert post_form(client, "/checkin", checkin_data(mood="8")).status_code == 303  # an edit of today
    run_patient(db, sam)
    run_all(db)
    assert notifications(db, robin) == [("checkin_streak", "7")]

    # A day even further back is added: the same run grew backwards, its 7th day moved — not new news.
    assert post_form(client, "/checkin", checkin_data(date=(today - timedelta(days=8)).isoformat())).status_code == 303
    run_all(db)
    assert notifications(db, robin) == [("checkin_streak", "7")]
    assert count(db, "SELECT count(*) FROM milestone WHERE kind = 'checkin_streak'") == 1


def test_a_broken_streak_earns_its_milestone_again_later(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam, kinds=("checkin_streak",))
    today = today_of(sam)
    for back in range(20, 13, -1):  # 7 days in a row, ending two weeks ago (old news)
        add_checkin(db, sam, today - timedelta(days=back))
    for back in range(6, -1, -1):  # and 7 in a row ending today
        add_checkin(db, sam, today - timedelta(days=back))
    run_all(db)
    assert notifications(db, robin) == [("checkin_streak", "7")]
    assert milestones(db, sam) == [("checkin_streak", "7", (today - timedelta(days=6)).isoformat())]


# -- the program schedule --------------------------------------------------------------------------------------------


def _enrol(db: Database, patient: User, started: date, *, status: str = "active") -> None:
    async def work(session: AsyncSession) -> None:
        program = Program(clinic_id=patient.clinic_id, name="Evening IOP", timezone="America/New_York",
                          family_info="Family night is every Thursday at 6 pm.")  # fmt: skip
        session.add(program)
        await session.flush()
        session.add(ProgramPhase(program_id=program.id, name="Weeks 1–2", start_week=1, end_week=2))  # type: ignore[arg-type]
        session.add(ProgramPhase(program_id=program.id, name="Weeks 3–4", start_week=3, end_week=4))  # type: ignore[arg-type]
        session.add(Enrolment(patient_id=patient.id, program_id=program.id, start_date=started, status=status))  # type: ignore[arg-type]

    db.run(work)


def test_phases_and_program_completion_match_the_schedule(db: Database) -> None:
    midway = _patient(db, "Mid")
    done = _patient(db, "Done")
    family_of(db, midway)
    robin = family_of(db, done)
    today = today_of(done)
    _enrol(db, midway, today - timedelta(days=15))  # weeks 1–2 ended two days ago
    _enrol(db, done, today - timedelta(days=30))  # all four weeks ended three days ago
    run_all(db)
    assert milestones(db, midway) == [("phase_completed", "Weeks 1–2", (today - timedelta(days=2)).isoformat())]
    assert sorted(milestones(db, done)) == [
        ("phase_completed", "Weeks 3–4", (today - timedelta(days=3)).isoformat()),
        ("program_completed", "Evening IOP", (today - timedelta(days=3)).isoformat()),
    ]
    assert sorted(notifications(db, robin)) == [("phase_completed", "Weeks 3–4"), ("program_completed", "Evening IOP")]

    # The batch mirrors the schedule's own per-patient answers (which evaluate_patient uses).
    async def per_patient(session: AsyncSession) -> list[Any]:
        now = utcnow()
        return [
            await schedule.completed_phases(session, done.id, now),  # type: ignore[arg-type]
            await schedule.program_completed(session, done.id, now),  # type: ignore[arg-type]
        ]

    phases, program = db.run(per_patient)
    assert ("Weeks 3–4", today - timedelta(days=3)) in phases
    assert program == ("Evening IOP", today - timedelta(days=3))
    assert run_patient(db, done).recorded == 0 and run_patient(db, midway).recorded == 0


# -- set-based: the query count doesn't grow with the number of patients -------------------------------------------


def _count_queries(db: Database) -> int:
    async def go() -> int:
        engine = create_async_engine(db.url, poolclass=NullPool)
        seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                await evaluate_all(session, utcnow())
                await session.commit()
        finally:
            await engine.dispose()
        return len(seen)

    return asyncio.run(go())


def test_the_daily_batch_makes_a_fixed_number_of_queries(db: Database) -> None:
    def add_patients(n: int, offset: int) -> None:
        for i in range(n):
            p = _patient(db, f"P{offset + i}", email=f"p{offset + i}@example.org")
            family_of(db, p, name=f"F{offset + i}", email=f"f{offset + i}@example.org")
            set_sober_since(db, p, today_of(p) - timedelta(days=30))
            add_checkin(db, p, today_of(p))
            _enrol(db, p, today_of(p) - timedelta(days=15))

    add_patients(2, 0)
    small = _count_queries(db)
    db.execute("DELETE FROM family_notification")
    db.execute("DELETE FROM milestone")
    add_patients(12, 100)
    large = _count_queries(db)
    assert count(db, "SELECT count(*) FROM milestone") == 14 * 2  # 30 days and weeks 1–2 for everyone
    assert small == large, (small, large)
    assert large <= 17  # 16, plus one asking whether the family members want milestone pushes (reminder choices)


# -- two processes at the same moment (PostgreSQL) -----------------------------------------------------------------


def test_two_processes_evaluating_at_once_record_and_tell_once(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db.url.startswith("postgresql"):
        require_postgres()
        pytest.skip("SQLite runs one writer at a time; this race is about PostgreSQL")
    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=60))
    original = family_milestones.record_milestones

    async def race() -> list[Any]:
        both_ready = asyncio.Barrier(2)

        async def record_after_both_detected(session: AsyncSession, rows: Any) -> Any:
            await both_ready.wait()  # both transactions found the milestone before either inserts it
            return await original(session, rows)

        monkeypatch.setattr(family_milestones, "record_milestones", record_after_both_detected)

        async def one_process() -> Any:
            engine = create_async_engine(db.url, poolclass=NullPool)
            try:
                async with async_sessionmaker(engine, expire_on_commit=False)() as session:
                    report = await evaluate_all(session, utcnow())
                    await session.commit()
                    return report
            finally:
                await engine.dispose()

        return await asyncio.wait_for(asyncio.gather(one_process(), one_process()), timeout=30)

    reports = asyncio.run(race())
    assert sorted(r.recorded for r in reports) == [0, 1]
    assert sorted(r.notified for r in reports) == [0, 1]
    assert milestones(db, sam) == [("sober_days", "60", (today_of(sam) - timedelta(days=60)).isoformat())]
    assert notifications(db, robin) == [("sober_days", "60")]
    assert len(_pushes(db, robin)) == 1
    assert count(db, "SELECT count(*) FROM disclosure_log WHERE kind = 'notification'") == 1


def test_record_milestone_is_idempotent(db: Database) -> None:
    sam = _patient(db)
    now = utcnow()

    async def twice(session: AsyncSession) -> list[Any]:
        first = await family_milestones.record_milestone(session, sam.id, "sober_days", 7, "2026-01-01", now)  # type: ignore[arg-type]
        second = await family_milestones.record_milestone(session, sam.id, "sober_days", 7, "2026-01-01", now)  # type: ignore[arg-type]
        other_run = await family_milestones.record_milestone(session, sam.id, "sober_days", 7, "2026-03-01", now)  # type: ignore[arg-type]
        return [first, second, other_run]

    first, second, other_run = db.run(twice)
    assert first is not None and first.id is not None and first.value == "7"
    assert second is None
    assert other_run is not None and other_run.id != first.id
    with pytest.raises(ValueError):
        family_milestones.milestone_row(sam.id, "craving", "1", "x", now)  # type: ignore[arg-type]


def test_evaluate_patient_after_setting_a_sobriety_date(db: Database) -> None:
    sam = _patient(db)
    robin = family_of(db, sam)

    async def save_and_evaluate(session: AsyncSession) -> Any:
        session.add(SobrietyDate(user_id=sam.id, substance="", started_on=today_of(sam) - timedelta(days=1)))  # type: ignore[arg-type]
        await session.flush()
        return await evaluate_patient(session, sam.id)  # type: ignore[arg-type]

    assert db.run(save_and_evaluate).recorded == 1
    assert notifications(db, robin) == [("sober_days", "1")]


def test_the_request_hook_never_breaks_the_request(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.milestones import detector, evaluate_patient_safely

    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=7))
    alone = _patient(db, "Alex", email="alex@example.org")

    async def count_queries(session: AsyncSession) -> int:
        seen: list[str] = []
        bind = session.get_bind()
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        try:
            await evaluate_patient_safely(session, alone.id)  # type: ignore[arg-type]
        finally:
            event.remove(bind, "before_cursor_execute", listener)
        return len([s for s in seen if not s.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))])

    assert db.run(count_queries) == 1  # nobody listens to Alex: one query and done

    async def boom(*_args: Any) -> Any:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(detector, "evaluate_patient", boom)

    async def request_work(session: AsyncSession) -> None:
        session.add(SobrietyDate(user_id=alone.id, substance="", started_on=today_of(alone)))  # type: ignore[arg-type]
        await session.flush()
        await evaluate_patient_safely(session, sam.id)  # type: ignore[arg-type]

    db.run(request_work)  # no exception, and the request's own write is kept
    assert count(db, "SELECT count(*) FROM sobriety_date WHERE user_id = :u", u=alone.id) == 1
    monkeypatch.undo()
    db.run(lambda session: evaluate_patient_safely(session, sam.id))  # type: ignore[arg-type]
    assert notifications(db, robin) == [("sober_days", "7")]


def test_steady_milestones_runs_the_batch_once(database_url: str, tmp_path: Any, db: Database) -> None:
    from click.testing import CliRunner

    from server.cli import main as cli

    sam = _patient(db)
    robin = family_of(db, sam)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=60))
    env = {"DATABASE_URL": database_url, "STEADY_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 48}
    first = CliRunner().invoke(cli, ["milestones"], env=env)
    assert first.exit_code == 0, first.output
    assert "Looked at 1 patients: 1 new milestones, 1 family notifications." in first.output
    again = CliRunner().invoke(cli, ["milestones"], env=env)
    assert "0 new milestones" in again.output
    assert notifications(db, robin) == [("sober_days", "60")]


def test_a_good_news_post_with_a_count_keeps_lower_automatic_counts_quiet(db: Database) -> None:
    """The issue's case: "One month sober today!" from the patient, then stop-counting and a new sobriety date:
    the automatic "1 day sober" (and 7, 14, 30) must never appear under it; 60 days of the new run may."""
    from server.family.service import share_good_news

    sam = _patient(db)
    robin = family_of(db, sam, consent_days=120)
    set_sober_since(db, sam, today_of(sam) - timedelta(days=31))

    async def post(session: AsyncSession) -> None:
        person = await session.get(User, sam.id)
        assert person is not None
        await share_good_news(session, person, "One month sober today!", "gn-1")

    db.run(post)
    assert [k for k, _ in notifications(db, robin)] == ["good_news"]
    set_sober_since(db, sam, today_of(sam))  # stop counting, then a new date
    for days in (1, 2, 8, 15, 31):
        run_all(db, utcnow() + timedelta(days=days, hours=2))
    assert [k for k, _ in notifications(db, robin)] == ["good_news"]
    run_all(db, utcnow() + timedelta(days=60, hours=2))
    assert notifications(db, robin)[-1] == ("sober_days", "60")
