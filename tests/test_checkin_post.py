"""The check-in POST's fast path (issue 12): a day's first check-in is saved in one read and one write (three INSERTs
on SQLite), answered from the row just written, and the milestone listener runs only when someone listens — with the
same answers, rows and milestones as the slower path. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar.testing import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.checkins import logic
from server.checkins.forms import CheckInForm
from server.checkins.models import CheckIn, TriggerHit
from tests.conftest import Database, htmx_post
from tests.support.checkins import add_checkin, checkin_data, count, get_row, signed_in_patient, today_for
from tests.support.family import family_of, notifications

pytestmark = pytest.mark.dialect_sensitive


@contextmanager
def statements(client: TestClient) -> Iterator[list[str]]:
    """Every statement the app's engine sends meanwhile."""
    engine = client.app.plugins.get(SQLAlchemyPlugin).config[0].get_engine().sync_engine  # type: ignore[index]
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_a_days_first_check_in_is_one_read_and_one_write(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    htmx_post(client, "/checkin", checkin_data(date=(today_for(user) - timedelta(days=3)).isoformat()))  # warm-up
    with statements(client) as seen:
        response = htmx_post(client, "/checkin", checkin_data(craving="4", triggers=["stress", "tired"]))
    assert response.status_code == 200 and "Saved. Thank you for checking in." in response.text
    assert "Stress, Tired" in response.text
    # The session, the save's one read (replay, triggers, the day's check-in, whether family listens), then the
    # check-in, its trigger hits and the submission: no read-back, no SAVEPOINT for nobody. PostgreSQL writes all
    # three in one statement (data-modifying CTEs); SQLite, which has none, in three INSERTs (the hits one
    # executemany).
    writes = ["WITH"] if db.url.startswith("postgresql") else ["INSERT", "INSERT", "INSERT"]
    assert [s.split()[0] for s in seen] == ["SELECT", "SELECT", *writes], seen
    day = today_for(user)

    async def hits_of_the_check_in(session: AsyncSession) -> list[tuple[str, int, date]]:
        made = select(func.max(CheckIn.id)).where(col(CheckIn.user_id) == user.id).scalar_subquery()
        found = await session.scalars(select(TriggerHit).where(col(TriggerHit.checkin_id) == made))
        return sorted((hit.trigger_id, hit.intensity, hit.local_date) for hit in found)

    assert db.run(hits_of_the_check_in) == [("stress", 4, day), ("tired", 4, day)]
    submission = db.scalar(
        "SELECT count(*) FROM checkin_submission s JOIN checkin c ON c.id = s.checkin_id WHERE s.user_id = :u "
        "AND c.local_date = :d AND s.created_at = c.created_at AND s.idempotency_key = c.idempotency_key",
        u=user.id,
        d=day,
    )
    assert submission == 1 and count(db, "checkin_submission", user) == 2


def test_the_answer_from_the_row_just_written_is_the_answer_read_back(client: TestClient, db: Database) -> None:
    """The first POST answers from what it wrote; the double tap (a replay) reads the row back: same fragment."""
    user = signed_in_patient(client, db)
    data = checkin_data(
        date=(today_for(user) - timedelta(days=2)).isoformat(),
        mood="4",
        craving="5",
        used="yes",
        substances="alcohol",
        amount="two beers",
        sleep_hours="6.5",
        note="a long day <b>really</b>",
        triggers=["lonely", "stress", "lonely"],
        diary_section="1",
        emo_joy="3",
        urge_use="2",
        acted_use="on",
        client_created_at=(logic.utcnow() - timedelta(minutes=10)).isoformat(),
    )
    first = htmx_post(client, "/checkin", data)
    again = htmx_post(client, "/checkin", data)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    assert "Check-in for" in first.text and "Lonely, Stress" in first.text and "later, on another day" in first.text
    assert count(db, "checkin", user) == 1 and count(db, "checkin_submission", user) == 1


def test_an_edit_is_answered_from_the_row_as_updated(client: TestClient, db: Database) -> None:
    """An edit of the day's check-in answers from the row it just updated (its revisions read): the same fragment a
    replay of the edit, which reads everything back, gets."""
    user = signed_in_patient(client, db)
    assert htmx_post(client, "/checkin", checkin_data(mood="3", triggers=["angry"])).status_code == 200
    edit = checkin_data(mood="7", triggers=["tired"], note="better now")  # no base: the first is kept as a revision
    with statements(client) as seen:
        first = htmx_post(client, "/checkin", edit)
    again = htmx_post(client, "/checkin", edit)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text
    assert "7 / 10" in first.text and "Tired" in first.text and "Also saved for this day" in first.text
    assert sum(s.startswith("SELECT checkin.") for s in seen) == 1, seen  # the row is read once, not again after
    assert count(db, "checkin", user) == 1 and count(db, "checkin_revision", user) == 1


def test_the_row_a_save_hands_back_is_the_row_stored(db: Database) -> None:
    """Every column of the check-in the save built (without the ORM) equals the row read back from the database."""
    user = db.make_user("patient", "columns@example.org", timezone="America/Chicago")
    form = CheckInForm.model_validate(
        {k: v for k, v in checkin_data(mood="2", used="yes", substances="pills", triggers=["angry"]).items() if v}
    )

    async def save(session: Any) -> logic.SaveResult:
        return await logic.save_checkin(session, user, form, include_diary=False)

    result = db.run(save)
    assert result.ok and result.checkin is not None and not result.replayed
    stored = get_row(db, CheckIn, result.record_id)  # type: ignore[arg-type]
    built = result.checkin
    for column in CheckIn.__table__.columns:  # type: ignore[attr-defined]
        assert getattr(built, column.key) == getattr(stored, column.key), column.key


def test_a_check_in_completing_a_streak_tells_family_through_the_request(client: TestClient, db: Database) -> None:
    """With a family member listening, the save's read says so and the detector runs in the same request."""
    user = signed_in_patient(client, db)
    robin = family_of(db, user)
    today = today_for(user)
    for back in range(6, 0, -1):
        add_checkin(db, user, today - timedelta(days=back))
    with statements(client) as seen:
        response = htmx_post(client, "/checkin", checkin_data())
    assert response.status_code == 200
    assert any(s.startswith("SAVEPOINT") for s in seen)
    assert notifications(db, robin) == [("checkin_streak", "7")]
    htmx_post(client, "/checkin", checkin_data(mood="8"))  # an edit of today: not news again
    assert notifications(db, robin) == [("checkin_streak", "7")]


def test_paused_family_is_not_listening(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    robin = family_of(db, user, paused=True)
    today = today_for(user)
    for back in range(6, 0, -1):
        add_checkin(db, user, today - timedelta(days=back))
    with statements(client) as seen:
        assert htmx_post(client, "/checkin", checkin_data()).status_code == 200
    assert not any(s.startswith("SAVEPOINT") for s in seen)
    assert notifications(db, robin) == []
