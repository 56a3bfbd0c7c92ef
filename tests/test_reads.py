"""Small reads outside the request's session (server/reads.py) stay correct: the same values SQLAlchemy reads, a
request's own uncommitted writes seen only where they are, commits by anyone seen on the next read; on SQLite they
run on the event loop's thread and a busy file goes to aiosqlite's thread instead of stalling the loop; on
PostgreSQL a dead connection sends the read to the session and is replaced."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import asyncpg
import pytest
from litestar.testing import TestClient
from sqlalchemy import Integer, bindparam, column, event, func, select, table, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import localtime
from server.accounts.models import User, UserSession
from server.accounts.sessions import _session_statement
from server.checkins.models import CheckIn, CravingLog
from server.db import (
    _READERS,
    alchemy_config,
    as_text,
    epoch_microseconds,
    from_epoch_days,
    from_epoch_microseconds,
    json_value,
    read_first,
    read_rows,
    read_together,
    rows_text,
    table_of,
    utcnow,
)
from server.demo import DEMO_PASSWORD
from server.reads import APPLICATION_NAME, BUSY_SECONDS, NotHere
from server.settings import Settings
from server.sharing import summary
from server.today.controllers import panels_params, panels_statement
from tests.conftest import Database, login, on_test_loop
from tests.support.demo_snapshot import load_demo_snapshot

T = TypeVar("T")


@pytest.fixture
def sqlite_settings(settings: Settings) -> Settings:
    if not settings.is_sqlite:
        pytest.skip("reads on the loop are SQLite's")
    return settings


async def _using(settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """`work` with sessions on an engine built as the app builds its own (with its loop reader), disposed after."""
    engine = alchemy_config(settings).get_engine()
    try:
        return await work(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()


def _where_statements_run(engine: Engine) -> list[str]:
    """Where each statement on `engine` runs from now on (the listener stays for the engine's life): "loop" for a
    plain sqlite3 cursor, called on the listener's own thread; "aiosqlite" for SQLAlchemy's adapter, whose calls go
    to aiosqlite's thread."""
    places: list[str] = []

    def seen(_connection: Any, cursor: Any, *_statement: Any) -> None:
        on_loop = not isinstance(threading.current_thread(), aiosqlite.Connection)
        places.append("loop" if on_loop and isinstance(cursor, sqlite3.Cursor) else "aiosqlite")

    event.listen(engine, "before_cursor_execute", seen)
    return places


def test_a_page_reads_on_the_event_loops_thread_not_aiosqlites(
    sqlite_settings: Settings, client: TestClient, db: Database
) -> None:
    load_demo_snapshot(db, sqlite_settings)
    login(client, "sam@demo.steady", DEMO_PASSWORD)
    engine = client.app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine
    places: list[str] = []

    def seen(_connection: Any, cursor: Any, *_statement: Any) -> None:
        places.append("loop" if isinstance(cursor, sqlite3.Cursor) else "aiosqlite")

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/today").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert places == ["loop"]  # Today's composed read, the session look-up in it


@pytest.mark.dialect_sensitive
def test_the_reader_reads_what_sqlalchemy_reads(settings: Settings, client: TestClient, db: Database) -> None:
    """Today's composed read (JSON rows, dates, counts) and the session look-up (UTC timestamps, an enum, booleans)
    come back value for value as SQLAlchemy's own execution gives them."""
    load_demo_snapshot(db, settings)
    login(client, "sam@demo.steady", DEMO_PASSWORD)
    session_hash = db.scalar("SELECT id FROM user_session")

    async def both(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, Any]]:
        async with sessions() as session:
            sam = (await session.scalars(select(User).where(User.email == "sam@demo.steady"))).one()
            now = utcnow()
            # As a process holding none of Sam's schedule reads it: with the rows (`schedule_known`).
            today = {**panels_params(sam, now, localtime.local_today(sam, now)), "schedule_known": None}
            reads = [
                (panels_statement(), today),
                (_session_statement(), {"session_hash": session_hash}),
            ]
            reader = _READERS[session.bind.sync_engine]  # type: ignore[union-attr]
            connection = await session.connection()
            pairs = []
            for statement, params in reads:
                row = (await connection.execute(as_text(statement, connection.dialect), params)).one()
                pairs.append((await reader.first(statement, params), dict(row._mapping)))
            return pairs

    pairs = on_test_loop(_using(settings, both))
    for ours, sqlalchemys in pairs:
        assert ours == sqlalchemys
    today, session = pairs[0][0], pairs[1][0]
    assert today and today["schedule_enrolments"] and today["sobriety_dates"]  # Sam's data, decoded from JSON
    assert session and session["session_expires_at"].tzinfo is not None and session["email"] == "sam@demo.steady"


def _count_sessions() -> Any:
    return select(func.count().label("sessions")).select_from(table_of(UserSession))


@pytest.mark.dialect_sensitive
def test_a_session_sees_its_own_uncommitted_writes_and_others_see_them_once_committed(
    settings: Settings, db: Database
) -> None:
    patient = db.make_user("patient")
    counted = _count_sessions()

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
        counts = []
        async with sessions() as writer, sessions() as other:
            counts.append((await read_first(writer, counted, {}))["sessions"])  # type: ignore[index]
            now = utcnow()
            writer.add(UserSession(id="h" * 64, user_id=patient.id, created_at=now, last_seen_at=now,
                                   expires_at=now + timedelta(hours=1), idle_seconds=600))  # fmt: skip
            await writer.flush()
            counts.append((await read_first(writer, counted, {}))["sessions"])  # type: ignore[index]
            counts.append((await read_first(other, counted, {}))["sessions"])  # type: ignore[index]
            await writer.commit()
            counts.append((await read_first(other, counted, {}))["sessions"])  # type: ignore[index]
        return counts

    assert on_test_loop(_using(settings, scenario)) == [0, 1, 0, 1]


def test_a_busy_file_is_read_on_aiosqlites_thread_and_leaves_the_loop_free(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """Another process holds the file exclusively (SQLite's EXCLUSIVE locking mode: even WAL readers wait). The read
    on the loop gives up after BUSY_SECONDS; aiosqlite's thread waits out the lock; the loop keeps serving others."""
    path = tmp_path / "busy.db"
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE user_session (id TEXT PRIMARY KEY)")
    setup.close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO user_session VALUES ('written while holding the file')")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def read_while_busy(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, bool]:
        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        before = ticks
        places = _where_statements_run(sessions.kw["bind"].sync_engine)
        async with sessions() as session:
            found = await read_first(session, _count_sessions(), {})
        ticking.cancel()
        assert found is not None
        return found["sessions"], ticks - before, places == ["aiosqlite"]

    busy_settings = replace(sqlite_settings, database_url=f"sqlite+aiosqlite:///{path}")
    reading = asyncio.run_coroutine_threadsafe(_using(busy_settings, read_while_busy), _test_loop())
    release = threading.Timer(10 * BUSY_SECONDS, lambda: (holder.execute("COMMIT"), holder.close()))
    release.start()
    sessions_seen, ticks_while_reading, read_by_aiosqlite = reading.result(timeout=30)
    release.join()
    assert read_by_aiosqlite  # the loop's try failed opening its connection, before any statement
    assert sessions_seen == 1  # read after the holder committed, by the connection that waited for it
    # The lock was held for 10 × BUSY_SECONDS; a loop blocked all that time would not have ticked more than once.
    assert ticks_while_reading >= 5


def _test_loop() -> asyncio.AbstractEventLoop:
    on_test_loop(asyncio.sleep(0))  # starts the tests' loop if nothing has yet
    from tests import conftest

    assert conftest._TEST_LOOP is not None
    return conftest._TEST_LOOP


def test_a_read_the_loop_cannot_plan_runs_on_the_session(sqlite_settings: Settings, db: Database) -> None:
    """A list expanded at run time (`IN` of a list parameter) has no fixed SQL text: it goes the usual way."""
    first, second = db.make_user("patient"), db.make_user("patient")
    users = table_of(User)
    statement = select(func.count().label("people")).where(users.c.id.in_([first.id, second.id]))

    async def read(sessions: async_sessionmaker[AsyncSession]) -> tuple[Any, list[str]]:
        places = _where_statements_run(sessions.kw["bind"].sync_engine)
        async with sessions() as session:
            return await read_first(session, statement, {}), places

    found, places = on_test_loop(_using(sqlite_settings, read))
    assert found == {"people": 2}
    assert places == ["aiosqlite"]


def test_the_loops_reads_keep_one_connection_which_the_engines_disposal_closes(
    sqlite_settings: Settings, db: Database
) -> None:
    """Each thread that reads on its loop keeps one connection (no pool checkout per read); disposing the app engine
    closes it, and the next read opens another."""
    db.make_user("patient")

    async def read_twice_then_dispose(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Any], int]:
        engine = sessions.kw["bind"]
        connections: list[Any] = []
        event.listen(engine.sync_engine, "before_cursor_execute", lambda c, *_: connections.append(c))
        for _ in range(2):
            async with sessions() as session:
                await read_first(session, _count_sessions(), {})
        await engine.dispose()
        async with sessions() as session:
            found = await read_first(session, _count_sessions(), {})
        return connections, found["sessions"] if found else -1

    connections, sessions_after = on_test_loop(_using(sqlite_settings, read_twice_then_dispose))
    first, second, after_disposal = connections
    assert isinstance(first, sqlite3.Connection) and first is second
    with pytest.raises(sqlite3.ProgrammingError):  # closed by the disposal
        first.execute("SELECT 1")
    assert after_disposal is not first and sessions_after == 0

@pytest.mark.dialect_sensitive
def test_a_dead_postgres_connection_sends_the_read_to_the_session_and_is_replaced(
    settings: Settings, db: Database
) -> None:
    """The reader's connections are not pinged before use (a round trip per read): when PostgreSQL has dropped one
    (a restart, an idle timeout), that read runs on the request's session instead and the next one on a new
    connection."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's reader")
    db.make_user("patient")
    counted = select(func.count().label("people")).select_from(table_of(User))

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, int]]:
        heard: list[str] = []
        event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", lambda *s: heard.append(s[2]))
        reads = []
        for kill_first in (False, True, False):
            async with sessions() as session:
                if kill_first:
                    await session.execute(text(KILL_READERS), {"name": APPLICATION_NAME})
                    await session.commit()
                    heard.clear()
                before = len(heard)
                reads.append((await read_first(session, counted, {}), len(heard) - before))
        return reads

    first, after_kill, again = on_test_loop(_using(settings, scenario))
    assert first == ({"people": 1}, 1)  # the reader
    # Either asyncpg's pool heard of the kill first and opened a new connection for this read, or the read failed on
    # the dead one and ran on the session: the right answer both ways.
    assert after_kill in (({"people": 1}, 1), ({"people": 1}, 2))
    assert again == ({"people": 1}, 1)  # the reader again, on a new connection


@pytest.mark.dialect_sensitive
def test_the_readers_plan_for_a_read_is_made_once_per_connection(settings: Settings, db: Database) -> None:
    """PostgreSQL plans a prepared read again at every run while a plan for its values looks cheaper, and always for
    its first five runs on a connection; the reader's connections keep one plan for any values (`READER_SETTINGS`).
    The read asks PostgreSQL how it has planned that very read on the connection it runs on (reads rotate over the
    pool's connections): never for its values. The request's own session plans as PostgreSQL chooses."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's reader")
    prepared = table("pg_prepared_statements", column("statement"), column("custom_plans"), column("generic_plans"))
    # The most over this read's statements on the connection: asyncpg may hold two of the same text (one prepared to
    # learn the columns, never run).
    custom, generic = func.max(prepared.c.custom_plans), func.max(prepared.c.generic_plans)
    plans = select(custom.label("custom_plans"), generic.label("generic_plans")).where(
        prepared.c.statement.contains(bindparam("marker"))
    )

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[Any], Any]:
        async with sessions() as session:
            seen = [await read_first(session, plans, {"marker": "pg_prepared_statements"}) for _ in range(8)]
            mode = await session.scalar(text("SELECT current_setting('plan_cache_mode')"))
            return seen, mode

    seen, session_mode = on_test_loop(_using(settings, scenario))
    assert all(plan is not None and plan["custom_plans"] == 0 and plan["generic_plans"] >= 1 for plan in seen), seen
    assert sum(plan["generic_plans"] for plan in seen) >= 8  # each run counted on the connection it ran on
    assert session_mode == "auto"


@pytest.mark.dialect_sensitive
def test_a_pooled_connection_the_database_ended_is_replaced_before_a_session_uses_it(settings: Settings) -> None:
    """The app engine's pooled PostgreSQL connections prove they are alive on checkout (`server.db`'s one-round-trip
    ping): after a restart or an idle timeout ended one behind the pool's back, the next session gets a new
    connection, not an error."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's pool")

    async def backend(sessions: async_sessionmaker[AsyncSession]) -> int:
        async with sessions() as session:
            return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, bool, int, int]:
        first = await backend(sessions)  # back in the pool, idle
        url = sessions.kw["bind"].url.set(drivername="postgresql").render_as_string(hide_password=False)
        outsider = await asyncpg.connect(url)
        try:
            ended = await outsider.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await outsider.close()
        return first, ended, await backend(sessions), await backend(sessions)

    first, ended, then, again = on_test_loop(_using(settings, scenario))
    assert ended
    assert then != first  # a new connection, and the request's statement ran on it
    assert again == then  # which the pool keeps


@pytest.mark.dialect_sensitive
def test_reads_made_together_take_turns_on_a_session_that_has_written(settings: Settings, db: Database) -> None:
    """`read_together` (the dashboard's bulk reads at once): once the request's session has written, its reads run
    on that session, the only place its uncommitted write is seen: made together, every one of them still runs
    there and sees the write."""
    patient = db.make_user("patient")
    users = table_of(User).c
    name_of = select(users.display_name).where(users.id == bindparam("id"))
    everyone = select(users.id, users.display_name).order_by(users.id)

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> tuple[Any, ...]:
        async with sessions() as session:
            await session.execute(update(User).where(users.id == patient.id).values(display_name="Written"))
            found = await read_together(
                *(read_rows(session, name_of, {"id": patient.id}) for _ in range(3)),
                read_first(session, name_of, {"id": patient.id}),
                read_rows(session, everyone, {}),
            )
            await session.rollback()
            return found

    *each, first, every = on_test_loop(_using(settings, scenario))
    assert each == [[("Written",)]] * 3
    assert first == {"display_name": "Written"}
    assert (patient.id, "Written") in every


@pytest.mark.dialect_sensitive
def test_reads_made_together_on_a_session_not_yet_begun(settings: Settings, db: Database) -> None:
    """Reads made together that must run on the session before it has a connection (SQLite's lists expanded at run
    time; on PostgreSQL the reader takes them): one of them opens the session's transaction, the others wait their
    turn rather than open a second."""
    people = [db.make_user("patient") for _ in range(3)]
    users = table_of(User).c
    some = select(users.id).where(users.id.in_(bindparam("ids", expanding=True))).order_by(users.id)

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple[Any, ...]], ...]:
        async with sessions() as session:
            reads = (read_rows(session, some, {"ids": [p.id for p in people[:n]]}) for n in (1, 2, 3))
            return await read_together(*reads)

    found = on_test_loop(_using(settings, scenario))
    assert found == tuple([(p.id,) for p in people[:n]] for n in (1, 2, 3))


@pytest.mark.dialect_sensitive
def test_reads_made_together_fail_with_the_error_as_it_is(settings: Settings, db: Database) -> None:
    """When one of the reads made together fails, its own error comes out (a page's error handling knows it; an
    exception group would be a 500), and the session is left usable."""
    patient = db.make_user("patient")
    some = select(table_of(User).c.id).where(table_of(User).c.id.in_(bindparam("ids", expanding=True)))

    async def missing() -> None:
        raise LookupError("no such row")

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
        async with sessions() as session:
            with pytest.raises(LookupError):
                await read_together(read_rows(session, some, {"ids": [patient.id]}), missing())
            return await read_rows(session, some, {"ids": [patient.id]})

    assert on_test_loop(_using(settings, scenario)) == [(patient.id,)]


@pytest.mark.dialect_sensitive
def test_a_read_that_fails_on_the_reader_runs_on_the_session_and_fails_there_the_usual_way(
    settings: Settings, db: Database
) -> None:
    """Any error on the reader sends the read to the session: a real error (here a division by zero) is then
    reported by the session as any statement's would be, and the reader keeps working."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's reader (SQLite divides by zero into NULL; its busy file is tested above)")
    db.make_user("patient")
    failing = select((func.count() / bindparam("zero", type_=Integer)).label("x")).select_from(table_of(User))
    counted = select(func.count().label("people")).select_from(table_of(User))

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[str], Any]:
        heard: list[str] = []
        event.listen(sessions.kw["bind"].sync_engine, "before_cursor_execute", lambda *s: heard.append(s[2]))
        async with sessions() as session:
            with pytest.raises(DBAPIError):
                await read_first(session, failing, {"zero": 0})
        async with sessions() as session:
            return heard, await read_first(session, counted, {})

    heard, found = on_test_loop(_using(settings, scenario))
    # The reader, then the session (the reader is skipped only when it cannot connect at all: a busy test server at
    # its connection limit); then the reader again.
    assert [" ".join(sql.split())[:22] for sql in heard] in (
        ["SELECT count(*) / CAST"] * 2 + ["SELECT count(*) AS peo"],
        ["SELECT count(*) / CAST", "SELECT count(*) AS peo"],
    ), heard
    assert found == {"people": 1}


KILL_READERS = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = :name AND datname = current_database() AND pid <> pg_backend_pid()"""


@pytest.mark.dialect_sensitive
def test_a_parameter_used_in_several_places_is_converted_once(settings: Settings, db: Database) -> None:
    """A statement built once may compare one bound value with several columns (the family's listeners: `now`
    against a consent's signing, start, end and revocation): the reader converts it once, as SQLAlchemy does, and
    reads what SQLAlchemy reads."""
    load_demo_snapshot(db, settings)
    users = table_of(User)
    now = bindparam("now")
    exactly = select(users.c.email).where(users.c.created_at <= now, users.c.created_at >= now)

    async def both(sessions: async_sessionmaker[AsyncSession]) -> tuple[Any, list[tuple[Any, ...]], list[Any]]:
        async with sessions() as session:
            sam = await session.scalar(select(users.c.created_at).where(users.c.email == "sam@demo.steady"))
            reader = _READERS[session.bind.sync_engine]  # type: ignore[union-attr]
            ours = await reader.rows(exactly, {"now": sam})
            theirs = [tuple(row) for row in await session.execute(exactly, {"now": sam})]
            return sam, ours, theirs

    sam, ours, theirs = on_test_loop(_using(settings, both))
    assert sam is not None
    assert ours == theirs
    assert ("sam@demo.steady",) in ours


@pytest.mark.dialect_sensitive
def test_bulk_rows_come_back_as_sqlalchemy_reads_them(settings: Settings, client: TestClient, db: Database) -> None:
    """`read_rows` (the dashboard's bulk reads, on the reader): plain tuples, value for value SQLAlchemy's rows; the
    dashboard's reads give one row per patient with the rows as JSON text (`rows_text`), where timestamps are epoch
    microseconds that turn back into the very datetimes stored."""
    load_demo_snapshot(db, settings)
    sam = db.scalar("SELECT id FROM user_account WHERE email = 'sam@demo.steady'")
    users = table_of(User)
    everyone = select(users.c.id, users.c.email, users.c.role, users.c.created_at).where(users.c.id >= bindparam("low"))

    async def both(sessions: async_sessionmaker[AsyncSession]) -> tuple[list[tuple[Any, Any, Any]], set[datetime]]:
        dialect = sessions.kw["bind"].dialect.name
        far: dict[str, Any] = {"start": utcnow() - timedelta(days=400), "end": utcnow() + timedelta(days=1)}
        ever = {"first": date(2000, 1, 1), "last": date(2100, 1, 1)}
        reads: list[tuple[Any, dict[str, Any]]] = [
            (everyone, {"low": 0}),
            (summary._cravings_read(dialect, brief=False), {"ids": [sam], **far}),
            (summary._marks_read(dialect), {"ids": [sam], **far}),
            (summary._brief_checkins_read(dialect), {"ids": [sam], **ever}),
        ]
        found = []
        async with sessions() as session:
            reader = _READERS[session.bind.sync_engine]  # type: ignore[union-attr]
            for statement, params in reads:
                theirs = [tuple(row) for row in await session.execute(statement, params)]
                try:
                    ours = await reader.rows(statement, params)
                except NotHere:  # SQLite's IN of a list: expanded at run time, so read_rows gives it to the session
                    assert dialect == "sqlite" and "ids" in params
                    ours = theirs
                found.append((ours, theirs, await read_rows(session, statement, params)))
            logs = table_of(CravingLog).c
            stored = set(await session.scalars(select(logs.occurred_at).where(logs.user_id == sam)))
        return found, stored

    found, stored = on_test_loop(_using(settings, both))
    for ours, theirs, via_read_rows in found:
        assert ours == theirs == via_read_rows
        assert all(type(row) is tuple for row in ours)
    people, cravings, marks, checkins = (ours for ours, _theirs, _read in found)
    assert len(people) >= 3 and any(row[2] == "patient" for row in people)
    # One row per patient: Sam's rows as the text of a JSON array, all of his history in the window.
    assert [row[0] for row in cravings] == [row[0] for row in marks] == [row[0] for row in checkins] == [sam]
    logs = json.loads(cravings[0][1])
    assert len(logs) == len(stored) and len(json.loads(marks[0][1])) > 10 and len(json.loads(checkins[0][1])) > 40
    assert all(isinstance(json_value(log[4]), list) for log in logs)  # the triggers' JSON, within
    assert {from_epoch_microseconds(log[1]) for log in logs} == stored


@pytest.mark.dialect_sensitive
@pytest.mark.parametrize("fraction", [0, 1, 123456, 999999])
def test_epoch_microseconds_turn_back_into_the_stored_moment(settings: Settings, db: Database, fraction: int) -> None:
    patient = db.make_user("patient")
    moment = datetime(2031, 7, 4, 23, 59, 59, fraction, tzinfo=UTC)
    sessions = table_of(UserSession)

    async def read(makers: async_sessionmaker[AsyncSession]) -> list[Any]:
        async with makers() as session:
            await session.execute(
                sessions.insert().values(id="e" * 64, user_id=patient.id, created_at=moment, last_seen_at=moment,
                                         expires_at=moment, idle_seconds=600)
            )  # fmt: skip
            if settings.is_sqlite and fraction == 0:  # as another writer may store it: no fraction at all
                await session.execute(text("UPDATE user_session SET created_at = '2031-07-04 23:59:59'"))
            found = await session.execute(select(sessions.c.created_at, epoch_microseconds(sessions.c.created_at)))
            return list(found.one())

    stored, micros = on_test_loop(_using(settings, read))
    assert stored == moment
    assert micros == int(moment.timestamp()) * 1_000_000 + fraction
    assert from_epoch_microseconds(micros) == moment


@pytest.mark.dialect_sensitive
@pytest.mark.parametrize("note", ['plain', 'quotes " and \\ and , ; ] [', "línea\nnueva\ttab \u2028 \U0001f600", ""])
def test_rows_text_is_json_of_every_value_as_stored(settings: Settings, db: Database, note: str) -> None:
    """`rows_text` writes each patient's rows as JSON by string concatenation: text is quoted and escaped (quotes,
    backslashes, separators, newlines, emoji), NULL is null, a date is its day number, a boolean 0/1, JSON as is;
    on both databases, in the order asked."""
    from tests.test_sharing_support import add_rows, checkin

    patient, other = db.make_user("patient"), db.make_user("patient")
    first = date(2031, 3, 1)
    add_rows(db, [
        checkin(patient, first, 3, 4, note=note, used=True, triggers=["stress", "people"]),
        checkin(patient, first - timedelta(days=400), 7, 0, note="", used=False, triggers=[], sleep_hours=None),
        checkin(other, first, 5, 5, note="x", used=False, triggers=["lonely"]),
    ])  # fmt: skip
    c = table_of(CheckIn).c

    async def read(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
        dialect = sessions.kw["bind"].dialect.name
        rows = select(c.user_id, c.local_date, c.used, c.note, c.triggers, c.sleep_hours, c.mood, c.id)
        statement = rows_text(dialect, rows, by="user_id", values=["local_date", "used", "note", "triggers", "mood"],
                              order=["local_date", "id"])  # fmt: skip
        async with sessions() as session:
            return await read_rows(session, statement, {})

    found = {patient_id: json.loads(text) for patient_id, text in on_test_loop(_using(settings, read))}
    assert found == {
        patient.id: [
            [(first - timedelta(days=400) - date(1970, 1, 1)).days, 0, "", [], 7],
            [(first - date(1970, 1, 1)).days, 1, note, ["stress", "people"], 3],
        ],
        other.id: [[(first - date(1970, 1, 1)).days, 0, "x", ["lonely"], 5]],
    }
    assert from_epoch_days(found[patient.id][1][0]) == first


@pytest.mark.dialect_sensitive
def test_rows_text_of_numbers_only_is_the_same_json(settings: Settings, db: Database) -> None:
    """Rows of integers, booleans and dates only (the dashboard's check-ins) are written another way on PostgreSQL
    (one array per row, the group's as JSON at once): the same text as the concatenation writes, NULL as null, in
    the order asked, on both databases."""
    from tests.test_sharing_support import add_rows, checkin

    patient = db.make_user("patient")
    first = date(2031, 3, 1)
    add_rows(db, [
        checkin(patient, first, 3, 4, used=True, diary=True, urge_use=5),
        checkin(patient, first - timedelta(days=400), 7, 0, used=False, diary=False, urge_use=None),
    ])  # fmt: skip
    c = table_of(CheckIn).c

    async def read(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
        dialect = sessions.kw["bind"].dialect.name
        rows = select(c.user_id, c.local_date, c.used, c.diary, c.urge_use, c.mood, c.id)
        statement = rows_text(dialect, rows, by="user_id", values=["local_date", "used", "diary", "urge_use", "mood"],
                              order=["local_date", "id"])  # fmt: skip
        async with sessions() as session:
            return await read_rows(session, statement, {})

    [(patient_id, text_read)] = on_test_loop(_using(settings, read))
    day = (first - date(1970, 1, 1)).days
    assert patient_id == patient.id
    assert text_read == f"[[{day - 400},0,0,null,7],[{day},1,1,5,3]]"


@pytest.mark.dialect_sensitive
def test_a_reader_connection_that_dies_during_its_read_sends_the_read_to_the_session(
    settings: Settings, db: Database
) -> None:
    """The connection closes while its read runs (here the read ends its own backend): asyncpg's pool takes the
    connection back at once, and the read still goes to the session (which ends its backend too, and reports that the
    usual way) instead of failing on the connection it no longer holds. The next read has a new connection."""
    if settings.is_sqlite:
        pytest.skip("PostgreSQL's reader")
    db.make_user("patient")
    ends_itself = select(func.pg_terminate_backend(func.pg_backend_pid()).label("gone"))
    counted = select(func.count().label("people")).select_from(table_of(User))

    async def scenario(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session:
            with pytest.raises(DBAPIError):
                await read_first(session, ends_itself, {})
        async with sessions() as session:
            return await read_first(session, counted, {})

    assert on_test_loop(_using(settings, scenario)) == {"people": 1}
