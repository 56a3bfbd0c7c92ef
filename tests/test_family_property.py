"""Whatever a patient does - days pass, uses and restarts, stop counting, sobriety-date edits, good-news posts,
pauses, removing the family member - a family member never receives a sober-days count lower than one they
could already know (an earlier milestone, or the days of the run during which good news was shared), nothing at
all after removal, and so never learns of a reset. Random sequences against the real milestone detector and
database (SQLite and PostgreSQL); `FAMILY_SEQUENCES` sets how many."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import FamilyLink, Role, User
from server.checkins.models import SoberReset, SobrietyDate
from server.family import service as family_service
from tests.conftest import FROZEN_NOW, Database, empty_postgres, empty_sqlite
from tests.support.family import family_of, run_all, set_sober_since

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.sampled_from([1, 6, 13, 29, 31, 59, 91])),
        st.tuples(st.just("restart"), st.sampled_from([0, 3])),  # a use: the count starts again (back-dated)
        st.tuples(st.just("edit"), st.sampled_from([-10, 5, 40])),  # the date moved later (-) or earlier (+)
        st.tuples(st.just("stop"), st.just(0)),
        st.tuples(st.just("good_news"), st.just(0)),
        st.tuples(st.just("pause"), st.sampled_from([True, False])),
        st.tuples(st.just("remove"), st.just(0)),
    ),
    min_size=3,
    max_size=14,
)


def _delivered(db: Database, member: User) -> list[tuple[int, str, str]]:
    rows = db.run(
        lambda s: s.execute(
            text(
                "SELECT n.id, m.kind, m.value FROM family_notification n JOIN milestone m ON m.id = n.milestone_id"
                " WHERE n.family_id = :f ORDER BY n.id"
            ),
            {"f": member.id},
        )
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


@settings(
    max_examples=int(os.environ.get("FAMILY_SEQUENCES", "15")),
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(steps=STEPS)
def test_a_family_member_never_sees_a_count_go_down(db: Database, steps: list[tuple[str, Any]]) -> None:
    _empty(db)  # every sequence starts from nothing (hypothesis reuses the test's database)
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam")
    robin = family_of(db, sam, name="Robin", consent_days=365)
    now = FROZEN_NOW
    today: date = now.astimezone(UTC).date()
    start: date | None = today - timedelta(days=20)
    set_sober_since(db, sam, start)
    run_all(db, now)

    known = 0  # the most the family could know of the runs before the current one
    seen = _delivered(db, robin)
    run_shown = max((int(v) for _i, k, v in seen if k == "sober_days"), default=0)  # shown of the current run
    run_told = 0  # days of the current run when good news was shared (the post may have said so)
    removed = False
    for action, amount in steps:
        if action == "wait":
            now += timedelta(days=amount)
        elif action in ("restart", "edit", "stop"):
            known, run_shown, run_told = max(known, run_shown, run_told), 0, 0
            if action == "stop":
                db.run(lambda s: s.execute(delete(SobrietyDate).where(SobrietyDate.user_id == sam.id)))
                start = None
            else:
                base = start if (action == "edit" and start is not None) else now.date()
                new = min(base - timedelta(days=amount), now.date())
                if action == "restart" and start is not None:
                    db.run(lambda s, was=start, on=new: _reset(s, sam.id, was, on))  # type: ignore[misc]
                set_sober_since(db, sam, new)
                start = new
        elif action == "good_news":
            if start is not None:
                run_told = max(run_told, (now.date() - start).days)
            db.run(lambda s, at=now: _good_news(s, sam.id, at))  # type: ignore[misc]
        elif action == "pause" and not removed:
            db.run(lambda s, on=amount: _pause(s, sam.id, robin.id, on))  # type: ignore[misc]
        elif action == "remove" and not removed:
            db.run(lambda s: _remove(s, sam.id, robin.id))
            removed = True
        run_all(db, now)
        delivered = _delivered(db, robin)
        if removed:
            assert delivered == [], "something reached a removed family member"
            continue
        for _nid, kind, value in delivered[len(seen) :]:
            if kind == "sober_days":
                days = int(value)
                assert days > known, f"{days} days shown after the family could know of {known}: a reset shows"
                assert days > run_shown, f"the count went down from {run_shown} to {days}"
                run_shown = days
        seen = delivered


def _empty(db: Database) -> None:
    if db.url.startswith("sqlite"):
        empty_sqlite(Path(db.url.split("///", 1)[1]))
    else:
        empty_postgres(db.url)


async def _reset(session: AsyncSession, user_id: int | None, started: date, on: date) -> None:
    session.add(SoberReset(user_id=user_id, reset_on=on, previous_started_on=started,
                           previous_days=max(0, (on - started).days)))  # fmt: skip


async def _good_news(session: AsyncSession, patient_id: int | None, at: datetime) -> None:
    patient = await session.get(User, patient_id)
    assert patient is not None
    await family_service.share_good_news(session, patient, "Good news today!", f"gn-{at.timestamp()}", at)


async def _link(session: AsyncSession, patient_id: int | None, family_id: int | None) -> FamilyLink | None:
    return await session.scalar(
        select(FamilyLink).where(FamilyLink.patient_id == patient_id, FamilyLink.family_id == family_id)
    )


async def _pause(session: AsyncSession, patient_id: int | None, family_id: int | None, paused: bool) -> None:
    link = await _link(session, patient_id, family_id)
    if link is not None:
        await family_service.set_paused(session, link, paused)


async def _remove(session: AsyncSession, patient_id: int | None, family_id: int | None) -> None:
    link = await _link(session, patient_id, family_id)
    patient = await session.get(User, patient_id)
    if link is not None and patient is not None:
        await family_service.remove_member(session, patient, link)
