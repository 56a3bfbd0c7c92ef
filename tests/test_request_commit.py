"""The request's database session is committed only when the request wrote something (server/db.py,
`commit_if_written`): every kind of write still commits, a failed request still rolls back, and a request that
only read sends no COMMIT. Real HTTP, real SQL, both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar, get, post
from litestar.exceptions import ValidationException
from litestar.testing import TestClient
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.accounts.models import Clinic
from server.db import alchemy_config, alchemy_plugin, close_session
from server.settings import Settings
from tests.conftest import Database, on_test_loop

pytestmark = pytest.mark.dialect_sensitive
# A Core insert gets none of the model's Python-side defaults.
_COLUMNS = {"timezone": "America/New_York", "phone": "", "settings": {}, "created_at": datetime.now(UTC)}


@get("/read")
async def read_only(db_session: AsyncSession) -> str:
    return ",".join(name for (name,) in (await db_session.execute(select(Clinic.name).order_by(Clinic.id))).all())


@post("/orm")
async def orm_add(db_session: AsyncSession) -> None:
    db_session.add(Clinic(id=11, name="added"))


@post("/orm-flushed")
async def orm_flushed(db_session: AsyncSession) -> None:
    db_session.add(Clinic(id=12, name="flushed"))
    await db_session.flush()  # nothing pending any more: only the statement it sent tells


@post("/core")
async def core_on_session(db_session: AsyncSession) -> None:
    await db_session.execute(insert(Clinic).values(id=13, name="core", **_COLUMNS))


@post("/core-connection")
async def core_on_connection(db_session: AsyncSession) -> None:
    connection = await db_session.connection()
    await connection.execute(update(Clinic).where(Clinic.id == 11).values(name="renamed"))


@post("/commit-then-write")
async def commit_then_write(db_session: AsyncSession) -> None:
    """A handler that commits half-way: the write after it is in a new transaction, maybe on another connection."""
    await db_session.execute(insert(Clinic).values(id=15, name="first", **_COLUMNS))
    await db_session.commit()
    await db_session.execute(update(Clinic).where(Clinic.id == 15).values(name="second"))


@post("/write-then-fail")
async def write_then_fail(db_session: AsyncSession) -> None:
    await db_session.execute(insert(Clinic).values(id=14, name="failed", **_COLUMNS))
    raise ValidationException("no")


def test_writes_commit_failures_roll_back_and_reads_send_no_commit(settings: Settings, db: Database) -> None:
    config = alchemy_config(settings)
    commits: list[Any] = []
    event.listen(config.get_engine().sync_engine, "commit", commits.append)
    app = Litestar(
        [read_only, orm_add, orm_flushed, core_on_session, core_on_connection, commit_then_write, write_then_fail],
        plugins=[alchemy_plugin(config)],
    )

    def name(clinic_id: int) -> Any:
        return db.scalar("SELECT name FROM clinic WHERE id = :i", i=clinic_id)

    with TestClient(app=app) as client:
        assert client.get("/read").text == ""
        assert commits == []

        for path, clinic_id, expected in [
            ("/orm", 11, "added"),
            ("/orm-flushed", 12, "flushed"),
            ("/core", 13, "core"),
            ("/core-connection", 11, "renamed"),
        ]:
            before = len(commits)
            assert client.post(path).status_code == 201, path
            assert len(commits) == before + 1, path
            assert name(clinic_id) == expected, path

        # The pooled connection that just wrote serves the next read: its mark was reset with the new transaction.
        before = len(commits)
        assert client.get("/read").text == "renamed,flushed,core"
        assert len(commits) == before

        assert client.post("/commit-then-write").status_code == 201
        assert name(15) == "second"
        assert len(commits) == before + 2  # the handler's own, then the request's
        before = len(commits)

        assert client.post("/write-then-fail").status_code == 400
        assert name(14) is None
        assert len(commits) == before


def test_closing_a_requests_session_ends_what_it_began_and_lets_go_of_its_objects(settings: Settings) -> None:
    """`close_session` skips only a session that has nothing to end or let go of."""
    engine = alchemy_config(settings).get_engine()
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def scenario() -> tuple[int, int, bool]:
        try:
            async with sessions() as reading:
                await reading.execute(select(Clinic.id))
                held_while_open = engine.sync_engine.pool.checkedout()
                await close_session(reading)
                assert reading.sync_session.get_transaction() is None
                held_after = engine.sync_engine.pool.checkedout()
            adding = sessions()
            clinic = Clinic(id=21, name="never sent")
            adding.add(clinic)
            await close_session(adding)
            return held_while_open, held_after, clinic in adding
        finally:
            await engine.dispose()

    assert on_test_loop(scenario()) == (1, 0, False)
