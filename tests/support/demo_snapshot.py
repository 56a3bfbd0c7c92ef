"""The demo clinic (server.demo.load_demo) in a test's emptied database, loaded for real once per database and moment,
then copied back from a snapshot: load_demo inserts some 3,000 rows through the ORM (about a second of CPU), a copy
takes a few milliseconds. The rows are the ones load_demo wrote, ids included, so a test cannot tell the difference;
tests about load_demo itself call it directly."""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import time_machine
from sqlalchemy.engine import make_url

from server.demo import load_demo
from server.settings import Settings
from tests.conftest import Database, kept_postgres, on_test_loop

_SNAPSHOTS: dict[tuple[str, datetime], Any] = {}  # (database, minute) → a SQLite file, or PostgreSQL's rows


def load_demo_snapshot(db: Database, settings: Settings) -> None:
    """The demo clinic, in a database the test has not written to yet (else load_demo runs as it would anyway)."""
    minute = datetime.now(UTC).replace(second=0, microsecond=0)  # the clock is frozen: tests share this minute
    if db.scalar("SELECT count(*) FROM user_account"):
        db.run(lambda session: load_demo(session, settings))
    elif (db.url, minute) in _SNAPSHOTS:
        _restore(db.url, _SNAPSHOTS[db.url, minute])
    else:
        # Loaded as if a minute ago, so that no row written while it loads (a second or two) is ahead of the clock of
        # a later test that gets the copy (an answer "from the future" is left out of the dashboard).
        with time_machine.travel(minute - timedelta(minutes=1), tick=True):
            db.run(lambda session: load_demo(session, settings))
        _SNAPSHOTS[db.url, minute] = _take(db.url)


def _sqlite_path(url: str) -> str:
    return str(make_url(url).database)


def _take(url: str) -> Any:
    if url.startswith("sqlite"):
        copy = Path(tempfile.mkdtemp()) / "demo.db"
        with closing(sqlite3.connect(_sqlite_path(url))) as conn:
            conn.execute("VACUUM INTO ?", (str(copy),))
        return copy

    async def rows() -> dict[str, list[asyncpg.Record]]:
        conn = await kept_postgres(url)
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        found = {t["tablename"]: await conn.fetch(f'SELECT * FROM "{t["tablename"]}"') for t in tables}
        return {table: records for table, records in found.items() if records}

    return on_test_loop(rows())


def _restore(url: str, snapshot: Any) -> None:
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(_sqlite_path(url), isolation_level=None)) as conn:
            conn.execute("ATTACH DATABASE ? AS demo", (str(snapshot),))
            tables = [name for (name,) in conn.execute(
                "SELECT name FROM demo.sqlite_master WHERE type = 'table' AND name <> 'alembic_version'"
                " AND name NOT LIKE 'sqlite_%'"
            )]  # fmt: skip
            # OR REPLACE: the schedule's triggers have written schedule_revision's one row by the time its turn comes.
            inserts = "".join(f'INSERT OR REPLACE INTO main."{name}" SELECT * FROM demo."{name}";' for name in tables)
            if conn.execute("SELECT 1 FROM demo.sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
                # AUTOINCREMENT counters come back with the rows: ids carry on after the demo's, as after load_demo.
                inserts += "DELETE FROM main.sqlite_sequence;"
                inserts += "INSERT INTO main.sqlite_sequence SELECT * FROM demo.sqlite_sequence;"
            conn.executescript(f"PRAGMA synchronous=OFF; BEGIN; PRAGMA defer_foreign_keys=ON; {inserts} COMMIT;")
            conn.execute("DETACH DATABASE demo")
        return

    async def copy() -> None:
        conn = await kept_postgres(url)
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # no FK order to follow
            for table, records in snapshot.items():
                # Emptied before each test, but the schedule's triggers write schedule_revision's one row again when
                # its tables are emptied after it.
                await conn.execute(f'DELETE FROM "{table}"')
                await conn.copy_records_to_table(table, records=records, columns=list(records[0].keys()))
            # Sequences carry on after the copied ids, as they would after load_demo's inserts.
            for (statement,) in await conn.fetch(_SEQUENCE_CATCH_UP):
                await conn.execute(statement)

    on_test_loop(copy())


_SEQUENCE_CATCH_UP = """
SELECT format('SELECT setval(%L, coalesce(max(%I), 1), max(%I) IS NOT NULL) FROM %I',
              pg_get_serial_sequence(format('%I', c.table_name), c.column_name), c.column_name, c.column_name,
              c.table_name)
FROM information_schema.columns c
WHERE c.table_schema = 'public' AND pg_get_serial_sequence(format('%I', c.table_name), c.column_name) IS NOT NULL
"""
