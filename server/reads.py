"""Small reads outside the request's session: the session look-up and a page's composed read (`server/db.py`'s
`read_first` decides when, and falls back to the session when a reader raises `NotHere`).

Through SQLAlchemy's AsyncSession each such read costs several times what the database spends on it: greenlets,
the execution context, a transaction begun and rolled back around it, and on SQLite a trip to aiosqlite's thread
and back (event-loop and thread wake-ups, the GIL handed back and forth under load). Here a statement runs with the
SQL text, literal values and type conversions SQLAlchemy compiled for it, once per statement:
- SQLite: as plain sqlite3 calls on the event loop's own thread (~0.1 ms in SQLite for Today), on a small pool of
  read-only connections to the same file;
- PostgreSQL: as one asyncpg `fetchrow` on a connection of its own pool, outside any transaction (no BEGIN, no
  ROLLBACK, no ping before each checkout: a connection that turns out dead sends the read to the session).

Why that is safe: a statement outside a transaction sees everything committed before it began (SQLite in WAL mode
never waits for a writer), so a sign-out or a revoked consent counts on the next request exactly as it does on the
request's own session. What a request has written but not committed is seen only on its own connection:
`read_first` sends those reads there. On SQLite a read that finds the file busy (recovery after a crash, another
process holding an exclusive lock) gives up after `BUSY_SECONDS` and goes to aiosqlite's thread, where waiting
blocks nobody else.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Select, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_

# How long a read on the loop may wait for a busy SQLite file before it goes the usual way instead.
BUSY_SECONDS = 0.05
# How the PostgreSQL reader's connections name themselves (pg_stat_activity).
APPLICATION_NAME = "steady-reads"
SQLITE_NAMED = sqlite.dialect(paramstyle="named")  # `:name` parameters: sqlite3 binds them from a dict


class NotHere(Exception):
    """This read cannot run on the reader (a busy file, a dead connection, a list expanded at run time): run it on
    the request's session."""


class Reader(Protocol):
    async def first(self, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """The statement's first row by column name, or None; raises NotHere when it has to run elsewhere."""
        ...

    async def rows(self, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of the statement as a plain tuple; raises NotHere when it has to run elsewhere."""
        ...


@dataclass(slots=True)
class _Plan:
    """A statement as the driver runs it: SQL text, the values of its literal parameters, how each parameter and
    each result column converts (dates, JSON, enums), as SQLAlchemy would on execution, and for positional
    parameters (PostgreSQL's $1, $2…) their names in order."""

    sql: str
    literal_values: dict[str, Any]
    bind_conversions: tuple[tuple[str, Callable[[Any], Any]], ...]
    positions: tuple[str, ...]
    selected: tuple[tuple[str, TypeEngine[Any]], ...]  # each result column's name and type, for this dialect
    # Set at the first run, once the driver has said what type each column comes back as (PostgreSQL's result
    # conversions depend on it: a NUMERIC and a FLOAT8 convert differently).
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...] | None = None

    def arguments(self, params: dict[str, Any]) -> dict[str, Any]:
        values = {**self.literal_values, **params}
        for name, convert in self.bind_conversions:
            values[name] = convert(values[name])
        return values

    def learn_columns(self, dialect: Dialect, column_types: list[Any]) -> None:
        self.columns = tuple(
            (name, kind.result_processor(dialect, column_type))
            for (name, kind), column_type in zip(self.selected, column_types, strict=True)
        )

    def row(self, row: Any) -> dict[str, Any] | None:
        if row is None:
            return None
        assert self.columns is not None, "learn_columns first"
        found = zip(self.columns, row, strict=True)
        return {name: value if convert is None else convert(value) for (name, convert), value in found}

    def tuples(self, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
        assert self.columns is not None, "learn_columns first"
        # Only the columns that convert (a dashboard's consents and patients: 6 of 28), by position: a generator over
        # every value of every row cost four times as much.
        converted = [(i, convert) for i, (_name, convert) in enumerate(self.columns) if convert is not None]
        if not converted:  # the usual case (ids, dates, numbers, text): the driver's values as they come
            return [tuple(row) for row in rows]
        found = []
        for row in rows:
            values = list(row)
            for i, convert in converted:
                values[i] = convert(values[i])
            found.append(tuple(values))
        return found


def _plan(statement: Select[Any], compile_with: Dialect, dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=compile_with)
    if "POSTCOMPILE" in compiled.string:
        return None
    literal_values: dict[str, Any] = {}
    bind_conversions: dict[str, Callable[[Any], Any]] = {}  # by name: a parameter used in several places converts once
    for bind, name in compiled.bind_names.items():
        if not bind.required:
            literal_values[name] = bind.effective_value
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            bind_conversions.setdefault(name, convert)
    selected = tuple((column.name, column.type.dialect_impl(dialect)) for column in statement.selected_columns)
    positions = tuple(compiled.positiontup or ())
    return _Plan(compiled.string, literal_values, tuple(bind_conversions.items()), positions, selected)


class _Plans:
    """Each statement's plan while the statement lives (the statements read here are built once per process)."""

    def __init__(self, compile_with: Dialect, dialect: Dialect) -> None:
        self._compile_with, self._dialect = compile_with, dialect
        self._plans: weakref.WeakKeyDictionary[Select[Any], _Plan | None] = weakref.WeakKeyDictionary()

    def of(self, statement: Select[Any]) -> _Plan:
        if statement in self._plans:
            plan = self._plans[statement]
        else:
            plan = self._plans[statement] = _plan(statement, self._compile_with, self._dialect)
        if plan is None:
            raise NotHere
        return plan


def _heard_by(app_engine: weakref.ref[Engine], connection: Any, cursor: Any, sql: str, arguments: Any) -> None:
    """Statements read here are still the app's: its engine's listeners (statement counts, tracing) hear them."""
    if (engine := app_engine()) is not None:
        engine.dispatch.before_cursor_execute(connection, cursor, sql, arguments, None, False)


class SqliteReader:
    """Read-only connections to the app engine's SQLite file, used on the event loop's thread: one per thread that
    reads (the loop's; the tests run apps in portal threads), kept open. A read never awaits between its statement
    and its rows, so a thread never has two reads on its connection at once; and a pool's checkout and return for
    each read cost ~60 times what handing over a kept connection does (6.7 vs 0.1 µs, timeit)."""

    def __init__(self, app_engine: Engine, database_url: str) -> None:
        self._dialect = sqlite.dialect()  # pysqlite's: its result conversions (dates, JSON)
        cargs, cparams = self._dialect.create_connect_args(make_url(database_url).set(drivername="sqlite+pysqlite"))
        # check_same_thread off: the app engine's disposal closes them all, from whichever thread it runs on.
        [self._database] = cargs
        self._connect_options = {**cparams, "check_same_thread": False, "timeout": BUSY_SECONDS}
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._plans = _Plans(SQLITE_NAMED, self._dialect)
        self._app_engine = weakref.ref(app_engine)  # not a strong one: the app engine owns this reader
        event.listen(app_engine, "engine_disposed", lambda _engine: self._close_all())

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        plan, found = self._run(statement, params, every=False)
        return plan.row(found[0] if found else None)

    async def rows(self, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        plan, found = self._run(statement, params, every=True)
        return plan.tuples(found)

    def _run(self, statement: Select[Any], params: dict[str, Any], *, every: bool) -> tuple[_Plan, Sequence[Any]]:
        plan = self._plans.of(statement)
        if plan.columns is None:  # sqlite3 reports no column types
            plan.learn_columns(self._dialect, [None] * len(plan.selected))
        arguments = plan.arguments(params)
        connection = self._connection()
        try:
            cursor = connection.cursor()
            _heard_by(self._app_engine, connection, cursor, plan.sql, arguments)
            try:
                cursor.execute(plan.sql, arguments)
                found = cursor.fetchall() if every else cursor.fetchmany(1)
            finally:
                cursor.close()  # ends the statement's read of the file: the next one sees newer commits
        except sqlite3.OperationalError as busy:
            raise NotHere from busy
        return plan, found

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened at its first read."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._database, **self._connect_options)
            try:
                _read_only(connection)
            except sqlite3.OperationalError as busy:  # busy while opening (setting the journal mode)
                connection.close()
                raise NotHere from busy
            with self._opened_lock:
                self._opened.append(connection)
            self._local.connection = connection
        return connection

    def _close_all(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()  # every thread opens a new one at its next read
        for connection in opened:
            connection.close()


def _read_only(dbapi_connection: sqlite3.Connection) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file: a no-op once the app's engine has set it
    cursor.execute("PRAGMA query_only=ON")  # a read here can never write
    cursor.close()


class PostgresReader:
    """A pool of asyncpg connections beside the app engine's, for reads outside any transaction."""

    def __init__(self, app_engine: Engine, database_url: str, connections: int) -> None:
        # asyncpg's own pool, not SQLAlchemy's: SQLAlchemy's async pool checks a connection out and back in through
        # greenlets (~0.2 ms of CPU per read, a tenth of Today on PostgreSQL). No ping on checkout and nothing sent
        # when a connection comes back (`_as_it_is`: asyncpg's default reset is a round trip per read, and a read
        # outside any transaction leaves nothing to reset): a dead connection fails the read, which then runs on the
        # request's session (whose pool pings), and is dropped from this pool. A fixed number of connections:
        # measured at 16 requests in flight, 16 connections gave Today a p99 of 44 ms, 4 gave 122 ms (a read
        # waiting for a connection can be overtaken again and again), and opening and closing overflow connections
        # (a PostgreSQL backend started and ended each time) halved the requests/s.
        self._dialect = app_engine.dialect
        # Connected as the app engine connects (host, credentials and the URL's own options, such as ssl), less what
        # only SQLAlchemy's adapter reads.
        _args, connect = self._dialect.create_connect_args(make_url(database_url))
        self._connect = {k: v for k, v in connect.items() if k not in _ADAPTER_ONLY}
        self._size = connections
        self._pool: asyncpg.Pool | None = None
        self._pool_loop: asyncio.AbstractEventLoop | None = None
        self._plans = _Plans(self._dialect, self._dialect)
        self._app_engine = weakref.ref(app_engine)
        # Called inside the app engine's own (awaited) dispose, in a greenlet: the pool's close is awaited there.
        event.listen(app_engine, "engine_disposed", lambda _engine: self._close())

    async def first(self, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        plan, found = await self._run(statement, params, every=False)
        return plan.row(found[0] if found else None)

    async def rows(self, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
        plan, found = await self._run(statement, params, every=True)
        return plan.tuples(found)

    async def _run(
        self, statement: Select[Any], params: dict[str, Any], *, every: bool
    ) -> tuple[_Plan, Sequence[Any]]:
        plan = self._plans.of(statement)
        arguments = plan.arguments(params)
        positional = [arguments[name] for name in plan.positions]
        try:
            pool = await self._started()
            connection = await pool.acquire()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as unreachable:
            raise NotHere from unreachable
        try:
            _heard_by(self._app_engine, connection, None, plan.sql, positional)
            if plan.columns is None:
                prepared = await connection.prepare(plan.sql)
                plan.learn_columns(self._dialect, [a.type.oid for a in prepared.get_attributes()])
            if every:
                found = await connection.fetch(plan.sql, *positional)
            else:
                row = await connection.fetchrow(plan.sql, *positional)
                found = [] if row is None else [row]
        except Exception as failed:
            # Dead, most likely: the server restarted or dropped it (seen as OSError, a PostgresError, an
            # InterfaceError, or asyncpg's InternalClientError when the news arrives mid-call). The pool opens a new
            # one next time; this read runs on the session, which reports any real error the usual way.
            with contextlib.suppress(asyncpg.InterfaceError):  # closed under it: the pool has taken it back already
                connection.terminate()
            raise NotHere from failed
        finally:
            await pool.release(connection)
        return plan, found

    async def _started(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._pool_loop is not loop:  # the app served again on a new loop (tests)
            self._pool.terminate()
            self._pool = None
        if self._pool is None:
            # With no connection opened up front, making the pool never suspends: two first reads make one pool.
            self._pool = await asyncpg.create_pool(
                min_size=0, max_size=self._size, max_inactive_connection_lifetime=0, init=self._as_the_app_reads,
                reset=_as_it_is, server_settings=READER_SETTINGS, **self._connect,
            )  # fmt: skip
            self._pool_loop = loop
        return self._pool

    async def _as_the_app_reads(self, connection: asyncpg.Connection) -> None:
        """JSON decoded by asyncpg as on the app engine's connections (SQLAlchemy's asyncpg dialect sets these up
        on each connection it opens, and its result conversions count on them)."""
        adapted = SimpleNamespace(_connection=connection)  # what the dialect's setup reads
        await self._dialect.setup_asyncpg_json_codec(adapted)  # type: ignore[attr-defined]
        await self._dialect.setup_asyncpg_jsonb_codec(adapted)  # type: ignore[attr-defined]

    def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await_(pool.close())


# Each read planned once per connection (asyncpg prepares every statement), not again at every run. PostgreSQL plans
# a prepared statement's first five runs for their values (Today's composed read: ~3 ms each, on every new
# connection), then keeps doing so for as long as such a plan looks cheaper than one for any values, which it does for
# the dashboard's reads by arrays of ids: its consents read spent 0.52 ms planning per run for 0.8 ms running. The
# reads select by ids and dates through indexes, so one plan for any values runs as fast (measured: the same run
# times, the planning gone; docs/performance.md, "Twelfth pass").
READER_SETTINGS = {"application_name": APPLICATION_NAME, "plan_cache_mode": "force_generic_plan"}

_ADAPTER_ONLY = {"prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"}


async def _as_it_is(_connection: asyncpg.Connection) -> None:
    """A reader's connection goes back to its pool as it is: a read outside any transaction changes nothing."""


def reader_for(app_engine: Engine, database_url: str, connections: int) -> Reader:
    """`connections`: how many the PostgreSQL reader keeps (SQLite's opens one per event loop reading at once)."""
    if app_engine.dialect.name == "sqlite":
        return SqliteReader(app_engine, database_url)
    return PostgresReader(app_engine, database_url, connections)
