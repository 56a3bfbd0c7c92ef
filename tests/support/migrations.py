"""Walking the schema down and up in a test: a plain (sync) function on a database's connection, and a PostgreSQL
database of the test's own (migrations change the schema, which the shared test database must keep)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import require_postgres

T = TypeVar("T")


def on_connection(url: str, fn: Callable[[sa.Connection], T]) -> T:
    """Run a plain (sync) function on a connection of an async URL, in one transaction."""

    async def go() -> T:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database next to the test one, dropped afterwards."""
    base = make_url(require_postgres())
    name = f"steady_migration_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(
            user=base.username, password=base.password, host=base.host, port=base.port, database=base.database
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
