"""`server.db.loaded`: a row read as Core columns becomes a model instance exactly as the ORM would hand it over
once its session let it go (detached, with its identity), so a handler can change it and add it back for an
UPDATE. Every signed-in request loads the person and their session this way."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from server.accounts.models import Role, User
from server.db import loaded, pk, table_of
from tests.conftest import Database


def _row(values: dict[str, Any], model: type) -> dict[str, Any]:
    return {column.key: values[column.key] for column in table_of(model).c}


def test_loaded_is_what_the_orm_would_hand_over_and_can_be_updated(db: Database) -> None:
    person = db.make_user(Role.PATIENT, name="Before")

    async def read(session: AsyncSession) -> dict[str, Any]:
        users = table_of(User)
        connection = await session.connection()
        return dict((await connection.execute(select(*users.c).where(users.c.id == pk(person)))).one()._mapping)

    values = db.run(read)
    ours = loaded(User, values)
    theirs = manager_of_class(User).new_instance()
    theirs.__dict__.update(values)
    make_transient_to_detached(theirs)
    mine, reference = inspect(ours), inspect(theirs)
    assert mine.key == reference.key and mine.detached and not mine.modified
    assert mine.committed_state == reference.committed_state == {}
    assert {c.key: getattr(ours, c.key) for c in table_of(User).c} == _row(values, User)

    async def rename(session: AsyncSession) -> None:
        ours.display_name = "After"
        session.add(ours)  # detached with its identity: an UPDATE of that row, not an INSERT

    db.run(rename)
    assert db.scalar("SELECT display_name FROM user_account WHERE id = :i", i=pk(person)) == "After"
    assert db.scalar("SELECT count(*) FROM user_account") == 1

