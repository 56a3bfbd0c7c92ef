"""SQL statements per patient page, the session look-up included, counted over real HTTP (issue 12).

The demo clinic's Sam (8 weeks of check-ins, cravings, skills, a program with groups, family) signs in; each page
is fetched once to warm per-process caches, then again while a `before_cursor_execute` listener on the app's own
engine counts what reaches the database. Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

Every patient page runs at most 4 statements (the budget stays 4); each runs ONE now: its composed read, which checks
the session in the same statement (`server/accounts/sessions.py`'s guess, once the process has seen the session). A
page that cannot be brought back under the budget at once may carry its count in STILL_OVER, which only ever goes
down.
Today's panels are columns of ONE composed statement (server/today/controllers.py): a new panel joins there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar.testing import TestClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import localtime
from server.accounts.models import User
from server.demo import DEMO_PASSWORD
from server.questionnaires import service as questionnaires
from server.settings import Settings
from tests.conftest import Database, htmx_post, login, post_form
from tests.support.demo_snapshot import load_demo_snapshot

GOAL = 4
PAGES = {
    "today": "/today",
    "checkin": "/checkin",
    "log": "/log",
    "skills": "/skills",
    "progress": "/progress?range=30",
    "sober": "/sober",
    "groups": "/schedule",
    "crisis": "/crisis",
}
# Pages above the goal, at their current count (lower these as pages get there; never raise them).
STILL_OVER: dict[str, int] = {}


class StatementCounter:
    def __init__(self, client: TestClient) -> None:
        plugin = client.app.plugins.get(SQLAlchemyPlugin)
        self.engine = plugin.config[0].get_engine().sync_engine  # type: ignore[index]
        self.statements: list[str] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(" ".join(statement.split())[:160])

    def count(self, client: TestClient, path: str) -> tuple[int, list[str]]:
        assert client.get(path).status_code == 200, path  # warm-up
        self.statements = []
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            response = client.get(path)
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)
        assert response.status_code == 200, path
        return len(self.statements), self.statements


@pytest.fixture
def sam(client: TestClient, db: Database, settings: Settings) -> Iterator[TestClient]:
    load_demo_snapshot(db, settings)
    login(client, "sam@demo.steady", DEMO_PASSWORD)
    yield client


def _budget(page: str) -> int:
    return STILL_OVER.get(page, GOAL)


@pytest.mark.parametrize("page", list(PAGES))
def test_patient_page_statements_within_budget(sam: TestClient, page: str) -> None:
    count, statements = StatementCounter(sam).count(sam, PAGES[page])
    assert count <= _budget(page), f"{PAGES[page]} ran {count} statements:\n" + "\n".join(statements)


def test_today_stays_within_budget_after_a_strong_check_in(sam: TestClient) -> None:
    """Today's busiest state: checked in today with a strong craving (crisis-free), so every panel has data."""
    response = htmx_post(sam, "/checkin", {"mood": "4", "craving": "9", "used": "no", "sleep_hours": "6"})
    assert response.status_code == 200, response.text
    count, statements = StatementCounter(sam).count(sam, "/today")
    assert count <= _budget("today"), "/today ran " + str(count) + " statements:\n" + "\n".join(statements)


def test_today_reads_a_due_questionnaire_and_its_draft_in_the_composed_statement(sam: TestClient, db: Database) -> None:
    """A questionnaire due today with a draft half answered: Today says how far, still ONE read (the session in it)."""

    async def assign_phq9(session: AsyncSession) -> None:
        user = (await session.scalars(select(User).where(User.email == "sam@demo.steady"))).one()
        await questionnaires.assign(session, user.id, "phq9", "biweekly", localtime.local_today(user), None, None)  # type: ignore[arg-type]

    db.run(assign_phq9)
    page = sam.get("/questionnaires/phq9").text
    key = page.split('name="idempotency_key" value="', 1)[1].split('"', 1)[0]
    for step in range(3):
        answer = {"idempotency_key": key, "step": step, f"a_{step + 1}": 2, "go": "next"}
        assert post_form(sam, "/questionnaires/phq9", answer).status_code == 303
    count, statements = StatementCounter(sam).count(sam, "/today")
    assert "Carry on: Mood questionnaire (PHQ-9) (3 of 10 done)" in sam.get("/today").text
    assert count == 1, "/today ran " + str(count) + " statements:\n" + "\n".join(statements)


def test_counter_sees_every_statement(sam: TestClient) -> None:
    """The listener is on the engine the app really uses: a page that reads must show up as statements."""
    count, statements = StatementCounter(sam).count(sam, "/crisis")
    assert count >= 1 and any("FROM clinic" in s for s in statements)


@pytest.mark.dialect_sensitive  # the SQL text is compiled per dialect
def test_todays_composed_read_runs_as_its_text_and_reads_the_same(sam: TestClient, db: Database) -> None:
    """Composed statements run as the SQL text they compile to (`server.db.as_text`: SQLAlchemy's cache look-up
    by the statement's whole structure cost more than the SQL), with the same parameters, literal values and column
    types: Today's read for Sam, with every panel holding data, gives exactly what the statement itself gives."""
    from sqlalchemy import TextualSelect

    from server.db import as_text, utcnow
    from server.today.controllers import panels_params, panels_statement

    strong_craving = {"mood": "4", "craving": "9", "used": "no", "sleep_hours": "6"}
    assert htmx_post(sam, "/checkin", strong_craving).status_code == 200

    async def both(session: AsyncSession) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        user = (await session.scalars(select(User).where(User.email == "sam@demo.steady"))).one()
        now = utcnow()
        params = panels_params(user, now, localtime.local_today(user, now))
        connection = await session.connection()
        as_sql = as_text(panels_statement(), connection.dialect)
        itself = dict((await connection.execute(panels_statement(), params)).one()._mapping)
        via_text = dict((await connection.execute(as_sql, params)).one()._mapping)
        return as_sql, itself, via_text

    as_sql, itself, via_text = db.run(both)
    assert isinstance(as_sql, TextualSelect)
    assert via_text == itself
    # Rows of each kind were read (JSON decoded, JSON kept as text, a count): the comparison is not of empty reads.
    assert itself["checkin_today"] and itself["sobriety_dates"] and itself["schedule_enrolments"] != "[]", itself


def test_every_composed_statement_compiles_to_text_on_both_databases() -> None:
    """No composed read (nor the session look-up, on every request) falls back to running as a statement (a
    parameter `text()` can't find, a list expanded at run time): each compiles to SQL text for both databases."""
    from sqlalchemy import TextualSelect
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
    from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

    from server.accounts.sessions import _session_statement, _with_session_check
    from server.checkins import logic as checkins
    from server.checkins import progress, sober
    from server.crisis import logic as crisis
    from server.db import as_text
    from server.family import encouragement
    from server.schedule import views as schedule
    from server.skills import logic as skills
    from server.today.controllers import panels_statement

    statements = [
        _session_statement(), panels_statement(), checkins._save_statement({}), checkins._streak_statement(),
        checkins._today_statement(), checkins._log_statement(), progress._page_statement(), schedule._page_statement(),
        encouragement._today_statement(), skills._today_statement(), skills._library_statement(),
        sober._page_statement(), crisis._settings_statements()[0],
    ]  # fmt: skip
    statements += [_with_session_check(statement) for statement in statements[1:]]  # as a page view runs them
    for dialect in (aiosqlite_dialect(), asyncpg_dialect()):
        for statement in statements:
            assert isinstance(as_text(statement, dialect), TextualSelect), (dialect.name, str(statement)[:200])
