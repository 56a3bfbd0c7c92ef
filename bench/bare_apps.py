"""The two yardsticks bench/pages_bench.py measures Steady against, served by uvicorn like Steady itself:

- `hello`: a bare Litestar app answering "hello" in plain text;
- `one_query`: a bare Litestar app that renders a Jinja page listing 20 rows read with ONE SELECT, through
  aiosqlite (BARE_SQLITE_PATH) or asyncpg (BARE_PG_DSN). With BARE_CONNECT_PER_REQUEST=1 each request opens and
  closes its own connection (aiosqlite's README pattern; this reproduces issue 12's 861 requests/s yardstick),
  otherwise connections opened at start-up are kept (one aiosqlite connection; an asyncpg pool of 10), the
  stricter yardstick.

No middleware, no sessions, no ORM: the best a one-query page can do on this stack.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

ROWS_SQL = "SELECT id, name, score FROM bench_row ORDER BY id LIMIT 20"


@get("/", media_type=MediaType.TEXT)
async def hello_page() -> str:
    return "hello"


hello = Litestar(route_handlers=[hello_page], openapi_config=None)


class _Rows:
    """One kept connection and the fetch that the page makes."""

    fetch: Any = None


@asynccontextmanager
async def _connection(app: Litestar) -> AsyncIterator[None]:
    dsn = os.environ.get("BARE_PG_DSN")
    per_request = os.environ.get("BARE_CONNECT_PER_REQUEST") == "1"
    if dsn:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_row (id int PRIMARY KEY, name text, score int)")
        await conn.execute("DELETE FROM bench_row")
        await conn.executemany("INSERT INTO bench_row VALUES ($1, $2, $3)", [(i, f"row {i}", i * 7) for i in range(50)])

        # Kept connections: a pool of 10, as Steady's engine has on PostgreSQL (one asyncpg connection can't
        # serve concurrent requests).
        pool = None if per_request else await asyncpg.create_pool(dsn, min_size=10, max_size=10)

        async def fetch_pg() -> list[tuple[Any, ...]]:
            if pool is None:
                fresh = await asyncpg.connect(dsn)
                try:
                    return [tuple(r) for r in await fresh.fetch(ROWS_SQL)]
                finally:
                    await fresh.close()
            return [tuple(r) for r in await pool.fetch(ROWS_SQL)]

        _Rows.fetch = fetch_pg
        try:
            yield
        finally:
            if pool is not None:
                await pool.close()
            await conn.close()
        return
    import aiosqlite

    path = os.environ["BARE_SQLITE_PATH"]
    if per_request:
        async with aiosqlite.connect(path) as db:
            await db.execute("CREATE TABLE IF NOT EXISTS bench_row (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
            await db.executemany("INSERT OR REPLACE INTO bench_row VALUES (?, ?, ?)",
                                 [(i, f"row {i}", i * 7) for i in range(50)])
            await db.commit()

        async def fetch_connecting() -> list[tuple[Any, ...]]:
            # aiosqlite's own README pattern: open, query, close (a new connection thread per request).
            async with aiosqlite.connect(path) as db, db.execute(ROWS_SQL) as cursor:
                return [tuple(r) for r in await cursor.fetchall()]

        _Rows.fetch = fetch_connecting
        yield
        return
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE IF NOT EXISTS bench_row (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
        await db.executemany("INSERT OR REPLACE INTO bench_row VALUES (?, ?, ?)",
                             [(i, f"row {i}", i * 7) for i in range(50)])
        await db.commit()

        async def fetch_sqlite() -> list[tuple[Any, ...]]:
            async with db.execute(ROWS_SQL) as cursor:
                return [tuple(r) for r in await cursor.fetchall()]

        _Rows.fetch = fetch_sqlite
        yield


@get("/", media_type=MediaType.HTML)
async def rows_page() -> Template:
    return Template(template_name="rows.html", context={"title": "Twenty rows", "rows": await _Rows.fetch()})


one_query = Litestar(
    route_handlers=[rows_page],
    lifespan=[_connection],
    template_config=TemplateConfig(directory=Path(__file__).parent / "bare_templates", engine=JinjaTemplateEngine),
    openapi_config=None,
)
