"""The database layer: engine settings, the session dependency and migrations."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast, overload

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from advanced_alchemy.extensions.litestar.plugins.init.config.common import SESSION_TERMINUS_ASGI_EVENTS
from advanced_alchemy.types import DateTimeUTC
from alembic import command
from alembic.config import Config as AlembicConfig
from litestar.constants import HTTP_RESPONSE_START
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.types import BeforeMessageSendHookHandler, Message, Scope
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CursorResult,
    Date,
    DateTime,
    Executable,
    Float,
    Integer,
    Select,
    String,
    Table,
    Text,
    Time,
    any_,
    bindparam,
    column,
    event,
    inspect,
    select,
    text,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.instrumentation import manager_of_class
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine
from sqlalchemy.util import await_
from sqlmodel import Field, SQLModel

from server import clock
from server.reads import SQLITE_NAMED, NotHere, Reader, reader_for
from server.settings import PROJECT_ROOT, Settings
from server.sqlite_driver import one_hop_dbapi

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
ModelT = TypeVar("ModelT", bound=SQLModel)
T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")


def utcnow() -> datetime:
    """Now, from the one injectable clock (server/clock.py)."""
    return clock.now()


def utc_field(*, index: bool = False, nullable: bool = False, default_now: bool = False) -> Any:
    """A timezone-aware UTC timestamp column that reads back aware on SQLite and PostgreSQL alike."""
    kwargs: dict[str, Any] = {"sa_type": DateTimeUTC(timezone=True), "index": index, "nullable": nullable}
    if default_now:
        kwargs["default_factory"] = utcnow
    elif nullable:
        kwargs["default"] = None
    return Field(**kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alchemy_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    if settings.is_sqlite:
        Path(settings.database_url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        # A connection per concurrent request kept in the pool: an SQLite connection is cheap to keep, but opening
        # one (a thread, the file, the pragmas) on every request past the pool's size is not.
        engine = EngineConfig(
            connect_args={"timeout": 10}, hide_parameters=True, module=one_hop_dbapi(), pool_size=20, max_overflow=20
        )
    else:
        # No pool_pre_ping: `_ping_on_checkout` does its work in one round trip instead of three.
        engine = EngineConfig(pool_size=10, max_overflow=10, hide_parameters=True)
    # hide_parameters: a database error's message would otherwise carry the statement's values (notes, names,
    # emails) into every log that records it.
    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database_url,
        metadata=SQLModel.metadata,
        session_dependency_key="db_session",
        before_send_handler="autocommit_include_redirects",  # replaced below, once the scope key is known
        session_config=AsyncSessionConfig(expire_on_commit=False),
        engine_config=engine,
        create_all=False,
    )
    # Each config gets its own scope key (a process may build several apps, as the tests do).
    config.before_send_handler = commit_if_written(config.session_scope_key)
    sync_engine = config.get_engine().sync_engine
    if settings.is_sqlite:
        event.listen(sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(sync_engine.pool, "checkout", _ping_on_checkout)
    _READERS[sync_engine] = reader_for(sync_engine, settings.database_url, settings.read_connections)
    event.listen(sync_engine, "begin", _transaction_begun)
    event.listen(sync_engine, "before_cursor_execute", _note_write)
    return config


def _ping_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection proves it is alive before a request uses it (after a database restart every
    pooled one is dead). SQLAlchemy's pool_pre_ping does the same in three round trips on asyncpg (BEGIN, the ping,
    ROLLBACK: a transaction kept for pgbouncer's transaction mode, which Steady's own reads, prepared outside any
    transaction, do not support anyway); here it is one, a third of a check-in's round trips. A failure drops every
    connection pooled before it, and the pool hands out a fresh one instead (SQLAlchemy's documented pessimistic
    disconnect handling)."""
    try:
        await_(dbapi_connection.driver_connection.fetchrow(";"))
    except Exception as dead:  # closed, reset, or a server shutting down: whatever it is, this connection is done
        raise InvalidatePoolError() from dead


# Whether the transaction open on a connection has run anything but a SELECT. Kept in the pooled connection's
# `info`, reset whenever a transaction begins on it. Anything that is not plainly a SELECT counts as a write
# (INSERT/UPDATE/DELETE, ORM flushes, Core writes run on `session.connection()`, SAVEPOINTs, DDL): when in doubt,
# commit.
_WROTE = "steady_wrote"
_log = logging.getLogger(__name__)


def _transaction_begun(conn: Any) -> None:
    conn.info[_WROTE] = False


def _note_write(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_WROTE] = True


async def _has_writes(session: Any) -> bool:
    """Whether committing `session` could change anything: pending ORM changes, or a write already sent."""
    if session.new or session.dirty or session.deleted:
        return True
    if session.sync_session.get_transaction() is None:
        return False
    # The connection the transaction runs on, as `after_begin` saw it (asking the session for it again goes through
    # its whole connection machinery, on every page view). None: begun without a statement yet; commit to be sure.
    connection = session.info.get(_CONNECTION)
    return connection is None or _wrote(connection)


def _sent_a_write(session: AsyncSession) -> bool:
    """Whether `session`'s open transaction has sent anything but a SELECT to the database."""
    connection = session.info.get(_CONNECTION)
    return connection is not None and _wrote(connection)


def _wrote(connection: Any) -> bool:
    return bool(connection.info.get(_WROTE, True))


_CONNECTION = "steady_connection"


@event.listens_for(Session, "after_begin")
def _session_began(session: Session, _transaction: Any, connection: Any) -> None:
    session.info[_CONNECTION] = connection


@event.listens_for(Session, "after_transaction_end")
def _session_ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost one: its connection goes back to the pool
        session.info.pop(_CONNECTION, None)


def commit_if_written(session_scope_key: str) -> BeforeMessageSendHookHandler:
    """The plugin's "autocommit_include_redirects" before-send handler (commit on 2xx/3xx, roll back otherwise,
    close; failures logged, as there), except that a request that wrote nothing is not committed: closing the
    session rolls its read-only transaction back, which on PostgreSQL is one round trip instead of two (COMMIT, then
    the pool's reset ROLLBACK) and skips SQLAlchemy's flush-and-commit machinery on every page view."""

    async def handler(message: Message, scope: Scope) -> None:
        session = get_aa_scope_state(scope, session_scope_key)
        if session is None:
            return
        try:
            if message["type"] == HTTP_RESPONSE_START:
                if 200 <= message["status"] < 400:
                    if await _has_writes(session):
                        await session.commit()
                else:
                    await session.rollback()
        except Exception:
            _log.debug("Session commit/rollback failed during cleanup", exc_info=True)
        finally:
            if message["type"] in SESSION_TERMINUS_ASGI_EVENTS:
                try:
                    await close_session(session)
                except Exception:
                    _log.debug("Session close failed during cleanup", exc_info=True)
                delete_aa_scope_state(scope, session_scope_key)

    return handler


async def close_session(session: AsyncSession) -> None:
    """Close a request's session, unless it never began a transaction nor held an object (Today's, whose reads all
    ran on the reader): closing that one would only empty empty collections, through a greenlet switch."""
    sync = session.sync_session
    if sync.get_transaction() is None and not sync.identity_map and not sync.new and not sync.deleted:
        return
    await session.close()


def alchemy_plugin(config: SQLAlchemyAsyncConfig) -> SQLAlchemyPlugin:
    return SQLAlchemyPlugin(config=config)


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def migrate(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`. Blocking: call it from a thread inside an event loop."""
    command.upgrade(alembic_config(database_url), revision)


async def get_owned_or_404(
    session: AsyncSession, model: type[ModelT], row_id: int, owner_id: int, owner_field: str = "user_id"
) -> ModelT:
    """Load a row only if it belongs to `owner_id`; anything else looks exactly like a missing row."""
    row = await session.get(model, row_id)
    if row is None or getattr(row, owner_field) != owner_id:
        raise NotFoundException()
    return row


class Keyed(Protocol):
    @property
    def id(self) -> int | None: ...


def pk(row: Keyed) -> int:
    """A stored row's primary key. SQLModel types `id` as `int | None` because it is None until the first flush;
    after that a None is a bug, so it fails here, once, instead of being waved through at every use."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet (not flushed)")
    return row.id


def id_col(column: int | None) -> Mapped[int]:
    """A primary key selected in a query, typed as what it reads back: never None (SQLModel types the attribute
    `int | None` for rows not yet flushed)."""
    return cast(Mapped[int], column)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for `Table.c` in bulk statements (SQLModel doesn't type `__table__`)."""
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


def dialect_insert(session: AsyncSession, target: type[SQLModel] | Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT in the session's own dialect, so the caller can add ON CONFLICT (spelled alike on both): the one
    place that turns "insert this once, even when two requests race" into SQL."""
    table = target if isinstance(target, Table) else table_of(target)
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table)


def among_given(dialect_name: str, column: ColumnElement[Any] | Mapped[Any], name: str) -> ColumnElement[bool]:
    """`column IN ids` for a statement built once, the ids given at each execution as parameter `name`. On
    PostgreSQL one array parameter (`= ANY($1::INTEGER[])`) instead of an expanding IN, whose hundred parameters
    SQLAlchemy builds, renders and asyncpg encodes on every execution (~0.4 ms of CPU a statement); on SQLite an IN
    expanded at run time (which `read_rows` leaves to the session). Built per request instead, either one left its
    parameter in a reference cycle for the collector."""
    target = cast(ColumnElement[Any], column)
    if dialect_name == "postgresql":
        return target == any_(bindparam(name, type_=postgresql.ARRAY(Integer)))
    return target.in_(bindparam(name, expanding=True))


async def insert_or_existing(
    session: AsyncSession, row: ModelT, existing: Callable[[], Awaitable[ModelT | None]]
) -> tuple[ModelT, bool]:
    """Insert `row` in a savepoint. If a concurrent request inserted its twin first (a unique constraint says so),
    return that row instead, with False, for the caller to update: two first saves at once leave one row."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
        return row, True
    except IntegrityError:
        other = await existing()
        if other is None:
            raise
        return other, False


async def rowcount(session: AsyncSession, statement: Executable) -> int:
    """Run an INSERT/UPDATE/DELETE and return how many rows it matched (the driver's rowcount)."""
    result = await session.execute(statement)
    # A DML statement always answers with a CursorResult; AsyncSession.execute is typed with the generic Result.
    return cast(CursorResult[Any], result).rowcount


# Route handlers declare `db_session: DbSession` (the request's session, committed before the response is sent).
DbSession = NamedDependency[AsyncSession]


# ---------------------------------------------------------------------------------------- composed reads
# A page made of several small reads (Today's panels) asks for them in ONE statement: each read becomes a column
# of a SELECT without FROM, either a scalar subquery or, for a list of rows, `json_rows(...)`. One round trip,
# one thread hand-off on SQLite, however many panels.


class _JsonRows(FunctionElement[Any]):
    """The rows of a subquery as a JSON array of objects keyed by column name (SQLite: json_group_array; PostgreSQL:
    json_agg). Rows keep the subquery's ORDER BY in practice; callers that need an order sort again."""

    inherit_cache = True
    name = "json_rows"


@compiles(_JsonRows, "sqlite")
def _json_rows_sqlite(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    pairs = ", ".join(f"'{c.key}', {compiler.process(c, **kw)}" for c in element.clauses)
    return f"json_group_array(json_object({pairs}))"


@compiles(_JsonRows, "postgresql")
def _json_rows_postgresql(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    pairs = ", ".join(f"'{c.key}', {compiler.process(c, **kw)}" for c in element.clauses)
    return f"coalesce(json_agg(json_build_object({pairs})), '[]'::json)"


# Build a composed statement ONCE (functools.cache) with `bindparam`s for the person and the day, and pass their
# values at each request: building Core statements with subqueries costs more than running them.
def compose(reads: dict[str, ColumnElement[Any]]) -> Select[Any]:
    """Reads given as named columns (scalar subqueries, `json_rows`, EXISTS) as ONE statement."""
    return select(*(column.label(name) for name, column in reads.items()))


async def read_composed(session: AsyncSession, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any]:
    """Run a `compose`d statement; its values by read name. The first one of a request also checks its `Rider`, in
    the same statement."""
    rider = session.info.get(_RIDER)
    if rider is not None and not rider.settled:
        joined, rider_params = rider.joined(statement)
        return rider.verified(await read_first(session, joined, {**params, **rider_params}))
    row = await read_first(session, statement, params)
    assert row is not None  # a SELECT without FROM has exactly one row
    return dict(row)


class Rider(Protocol):
    """A condition a request's answer depends on, checked in the same statement as the page's own reads: one round
    trip, and one snapshot of the database for both. The session look-up's guess is one (`server/accounts`)."""

    settled: bool

    def joined(self, statement: Select[Any]) -> tuple[Select[Any], dict[str, Any]]:
        """A `compose`d statement with the condition's columns added, and the parameters they need."""
        ...

    def verified(self, row: dict[str, Any] | None) -> dict[str, Any]:
        """The joined statement's row less the condition's columns, once they hold (`settled` then); otherwise
        raises, before anything is built from the row."""
        ...


def carry(session: AsyncSession, rider: Rider) -> None:
    """Have the first `read_composed` on `session` check `rider`. Until then, committing `session` is refused: what
    a request writes may depend on the condition."""
    session.info[_RIDER] = rider


_RIDER = "steady_rider"


@event.listens_for(Session, "before_commit")
def _refuse_unsettled_commit(session: Session) -> None:
    if (rider := session.info.get(_RIDER)) is not None and not rider.settled:
        raise RuntimeError("a commit before the request's rider was checked")


async def read_first(session: AsyncSession, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
    """The first row of a small read-only statement by column name, or None. As Core: the ORM's execution path
    (compile state, row loading) has nothing to do for plain columns. Outside the request's session, on a reader of
    its own (`server/reads.py`: on SQLite on the event loop's own thread), unless `session` has written: what it
    wrote, not yet committed, is seen only on its own connection, where the read then runs."""
    if (reader := _reader_for(session)) is not None:
        try:
            return await reader.first(statement, params)
        except NotHere:
            pass
    async with _turn_on(session):
        connection = await session.connection()
        row = (await connection.execute(as_text(statement, connection.dialect), params)).first()
    return None if row is None else dict(row._mapping)


async def read_rows(session: AsyncSession, statement: Select[Any], params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every row of a read-only statement, as plain tuples, the way `read_first` reads (on the reader unless the
    session has written). For bulk reads (the dashboard's thousands of rows): SQLAlchemy's rows cost more to build
    and to compare than the driver's values. `statement` is built once (its values are bound parameters, given in
    `params`); a list expanded at run time (SQLite's IN) runs on the session."""
    if (reader := _reader_for(session)) is not None:
        try:
            return await reader.rows(statement, params)
        except NotHere:
            pass
    async with _turn_on(session):
        return [tuple(row) for row in await session.execute(statement, params)]


@overload
async def read_together(a: Coroutine[Any, Any, T1], b: Coroutine[Any, Any, T2], /) -> tuple[T1, T2]: ...
@overload
async def read_together(
    a: Coroutine[Any, Any, T1], b: Coroutine[Any, Any, T2], c: Coroutine[Any, Any, T3], /
) -> tuple[T1, T2, T3]: ...
@overload
async def read_together(
    a: Coroutine[Any, Any, T1], b: Coroutine[Any, Any, T2], c: Coroutine[Any, Any, T3], d: Coroutine[Any, Any, T4], /
) -> tuple[T1, T2, T3, T4]: ...
@overload
async def read_together(*reads: Coroutine[Any, Any, T]) -> tuple[T, ...]: ...
async def read_together(*reads: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
    """Independent reads at once, each made ONLY through `read_first` / `read_rows` (nothing else may touch the
    session meanwhile). On PostgreSQL's reader each runs on a connection of its own, so the database works on them
    side by side and the request waits for the longest instead of their sum (the dashboard's three bulk reads: ~11
    ms one after another). Where they run on the request's session (SQLite's lists, a session that has written) they
    take turns there: a session runs one statement at a time. If one fails, the others are cancelled and waited for
    (nothing still reading when the request's error handling closes the session), and its error is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(read) for read in reads]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return tuple(task.result() for task in running)


def _turn_on(session: AsyncSession) -> asyncio.Lock:
    """The lock reads falling back to `session` take, so that reads made together take turns on it."""
    lock = session.info.get(_TURN)
    if lock is None:
        lock = session.info[_TURN] = asyncio.Lock()
    return cast(asyncio.Lock, lock)


_TURN = "steady_read_turn"


def _reader_for(session: AsyncSession) -> Reader | None:
    reader = _READERS.get(session.bind.sync_engine) if session.bind is not None else None
    return None if reader is None or _sent_a_write(session) else reader


# Each app engine's reader (see `alchemy_config`).
_READERS: weakref.WeakKeyDictionary[Engine, Reader] = weakref.WeakKeyDictionary()


# A statement's SQL text per dialect, while the statement lives (composed statements are built once per process).
_TEXT_OF: weakref.WeakKeyDictionary[Select[Any], dict[str, Executable]] = weakref.WeakKeyDictionary()
# Dialects that write bound parameters as `:name`, as `text()` reads them, with no casts after them (PostgreSQL's
# drivers add theirs when the text is compiled for them, as for any statement).
_NAMED_DIALECTS = {"sqlite": SQLITE_NAMED, "postgresql": PGDialect(paramstyle="named")}


def as_text(statement: Select[Any], dialect: Dialect) -> Executable:
    """`statement` as the SQL text it compiles to, with the same bound parameters (types, literal values) and
    result columns (types, so JSON is still decoded), compiled once per dialect.

    SQLAlchemy finds a statement's compiled form in its cache by the statement's cache key, a nested tuple that
    mirrors the whole statement; Python hashes a tuple anew at each look-up, and for Today's composed statement of
    twenty subqueries that hash cost about a quarter of running it. A text statement's key is its text. Statements
    with lists expanded at run time (`in_` of a list parameter) are left as they are."""
    by_dialect = _TEXT_OF.setdefault(statement, {})
    found = by_dialect.get(dialect.name)
    if found is None:
        found = by_dialect[dialect.name] = _compiled_text(statement, dialect)
    return found


def _compiled_text(statement: Select[Any], dialect: Dialect) -> Executable:
    named = _NAMED_DIALECTS.get(dialect.name)
    if named is None:
        return statement
    compiled = statement.compile(dialect=named)
    if "POSTCOMPILE" in compiled.string:
        return statement
    binds = [
        bindparam(name, value=None if bind.required else bind.effective_value, type_=bind.type)
        for bind, name in compiled.bind_names.items()
    ]
    columns = [column(selected.name, selected.type) for selected in statement.selected_columns]
    try:
        return text(compiled.string).bindparams(*binds).columns(*columns)
    except ArgumentError:  # a parameter `text()` doesn't find in the SQL as written: run the statement itself
        _log.warning("composed statement kept as a statement: its text doesn't name every parameter")
        return statement


def json_rows(statement: Select[Any] | Any) -> ColumnElement[list[dict[str, Any]]]:
    """`statement`'s rows as one column value: a list of dicts (dates and times as ISO text: `as_date`, `as_utc`;
    booleans as 0/1 on SQLite). Column names must be plain words (label them)."""
    sub = statement.subquery()
    return type_coerce(select(_JsonRows(*sub.c)).select_from(sub).scalar_subquery(), JSON)


class _JsonRowsText(_JsonRows):
    """`_JsonRows` read as the JSON text itself (not decoded by the driver)."""

    inherit_cache = True
    name = "json_rows_text"


@compiles(_JsonRowsText, "sqlite")
def _json_rows_text_sqlite(element: _JsonRowsText, compiler: SQLCompiler, **kw: Any) -> str:
    return _json_rows_sqlite(element, compiler, **kw)


@compiles(_JsonRowsText, "postgresql")
def _json_rows_text_postgresql(element: _JsonRowsText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({_json_rows_postgresql(element, compiler, **kw)})::text"


def json_text_rows(statement: Select[Any] | Any) -> ColumnElement[str]:
    """`json_rows` as its JSON text (`json.loads` gives `json_rows`' value): for reads whose text keys a cache of
    what is built from it — the same text, the same rows, so a change made anywhere is a different key on the next
    request and nothing is served stale."""
    sub = statement.subquery()
    return type_coerce(select(_JsonRowsText(*sub.c)).select_from(sub).scalar_subquery(), Text)


class _RowsText(FunctionElement[str]):
    """A group's rows as the text of a JSON array of arrays, each row's values in column order, written by plain
    string concatenation (building JSON values row by row took PostgreSQL ~3 times as long as the read itself).
    Two clauses: a tuple of the values, then a tuple of the columns to order the rows by (PostgreSQL orders inside
    the aggregate; SQLite 3.40 cannot, and keeps the ordered subquery's order in practice)."""

    type = Text()
    inherit_cache = True
    name = "rows_text"


def _json_value(column: Any, sql: str, dialect_name: str) -> str:
    """`column`'s value (rendered as `sql`) as JSON text, by its type: integers as they are, booleans as 0/1, dates as
    days since 1970-01-01 (`from_epoch_days`; not text, whose form PostgreSQL's DateStyle would decide), text as a
    JSON string, JSON as its text; NULL as null."""
    kind = column.type._type_affinity  # a decorated type (sqlmodel's AutoString) as what it stores
    postgres = dialect_name == "postgresql"
    if issubclass(kind, String):
        return f"coalesce(CAST(to_json({sql}) AS TEXT), 'null')" if postgres else f"json_quote({sql})"
    if not issubclass(kind, Boolean | Date | Integer | JSON):
        raise TypeError(f"rows_text has no JSON form for {kind!r}")
    if postgres:
        return f"coalesce(CAST({sql if issubclass(kind, JSON) else _json_number(column, sql)} AS TEXT), 'null')"
    text_of = f"CAST(julianday({sql}) - 2440587.5 AS INTEGER)" if issubclass(kind, Date) else sql
    return f"ifnull({text_of}, 'null')"


def _row_text(element: _RowsText, compiler: SQLCompiler, dialect_name: str, **kw: Any) -> str:
    values = element.clauses.clauses[0].clauses
    parts = " || ',' || ".join(_json_value(c, compiler.process(c, **kw), dialect_name) for c in values)
    return f"'[' || {parts} || ']'"


@compiles(_RowsText, "sqlite")
def _rows_text_sqlite(element: _RowsText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"'[' || group_concat({_row_text(element, compiler, 'sqlite', **kw)}, ',') || ']'"


@compiles(_RowsText, "postgresql")
def _rows_text_postgresql(element: _RowsText, compiler: SQLCompiler, **kw: Any) -> str:
    order = ", ".join(compiler.process(column, **kw) for column in element.clauses.clauses[1].clauses)
    values = element.clauses.clauses[0].clauses
    if all(issubclass(column.type._type_affinity, Integer | Boolean | Date) for column in values):
        # Numbers only (the dashboard's check-ins): one integer array per row, and the group's two-dimensional array
        # written as JSON at once, the same text for ~17% less of PostgreSQL's time than concatenating each value.
        numbers = ", ".join(_json_number(column, compiler.process(column, **kw)) for column in values)
        return f"CAST(array_to_json(array_agg(ARRAY[{numbers}] ORDER BY {order})) AS TEXT)"
    return f"'[' || string_agg({_row_text(element, compiler, 'postgresql', **kw)}, ',' ORDER BY {order}) || ']'"


def _json_number(column: Any, sql: str) -> str:
    """PostgreSQL: an integer, boolean or date column's value as the integer `rows_text` writes (0/1, days since
    1970)."""
    kind = column.type._type_affinity
    if issubclass(kind, Boolean):
        return f"CAST({sql} AS INTEGER)"
    if issubclass(kind, Date):
        return f"({sql} - DATE '1970-01-01')"
    return sql


def rows_text(
    dialect_name: str, statement: Select[Any], *, by: str, values: Sequence[str], order: Sequence[str]
) -> Select[Any]:
    """`statement`'s rows grouped by its column `by`: one row per group, (`by`, the text of a JSON array holding each
    row's `values` as an array, in `order`). For bulk reads whose rows key a cache of what is built from them: the
    driver makes one string per group instead of a Python object per value, and a string hashes and compares at C
    speed. `json.loads` gives the rows back, with dates as `from_epoch_days` numbers and booleans as 0/1; values may
    be integers, booleans, dates, text and JSON (a timestamp: `epoch_microseconds`)."""
    if dialect_name == "sqlite":  # in the order GROUP BY reads them, so it keeps it
        statement = statement.order_by(*(statement.selected_columns[name] for name in (by, *order)))
    rows = statement.subquery()
    grouped = _RowsText(tuple_(*(rows.c[name] for name in values)), tuple_(*(rows.c[name] for name in order)))
    return select(rows.c[by], grouped).group_by(rows.c[by])


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def from_epoch_days(days: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + days)


def _sql_function(name: str, kind: TypeEngine[Any], **by_dialect: Callable[[str], str]) -> type[FunctionElement[Any]]:
    """A one-argument SQL function spelled per dialect: `by_dialect[dialect name](the argument's SQL)`."""
    function = type(f"_{name}", (FunctionElement,), {"type": kind, "inherit_cache": True, "name": name})
    for dialect_name, spelled in by_dialect.items():

        def compile_it(element: Any, compiler: SQLCompiler, spelled: Callable[[str], str] = spelled, **kw: Any) -> str:
            return spelled(compiler.process(element.clauses, **kw))

        compiles(function, dialect_name)(compile_it)
    return function


_EpochMicroseconds = _sql_function(
    "epoch_microseconds",
    BigInteger(),
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (the fraction, when missing, read as zero).
    sqlite=lambda value: (
        f"(CAST(strftime('%s', substr({value}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({value} || '.000000', 21, 6) AS INTEGER))"
    ),
    postgresql=lambda value: f"CAST(EXTRACT(EPOCH FROM {value}) * 1000000 AS BIGINT)",
)


def epoch_microseconds(column: ColumnElement[datetime] | Mapped[datetime]) -> ColumnElement[int]:
    """A UTC timestamp column read as whole microseconds since 1970 (`from_epoch_microseconds` turns it back), for
    bulk reads: a driver makes a timezone-aware datetime ~5 times slower than an integer (asyncpg: ~1.2 µs, the
    dashboard's costliest values), and an integer hashes and compares faster in a cache key."""
    return _EpochMicroseconds(column)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_epoch_microseconds(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


_DayBefore = _sql_function(
    "day_before", Date(), sqlite=lambda day: f"date({day}, '-1 day')", postgresql=lambda day: f"(({day}) - 1)"
)


def day_before(day: ColumnElement[date] | Any) -> ColumnElement[date]:
    """The calendar day before a DATE column, in SQL."""
    return _DayBefore(day)


def _json_reader(column: Any) -> Callable[[Any], Any] | None:
    """How a column's JSON value (ISO text, 0/1, JSON text) turns back into its Python type; None: as it is."""
    kind = column.type._type_affinity  # DateTimeUTC reads as DateTime
    if kind is None:
        return None
    if issubclass(kind, DateTime):
        return as_utc
    if issubclass(kind, Date):
        return as_date
    if issubclass(kind, Time):
        return time.fromisoformat
    if issubclass(kind, Boolean):
        return bool
    if issubclass(kind, Float):
        return float
    if issubclass(kind, JSON):
        return json_value
    return None


def json_value(value: Any) -> Any:
    """A JSON column's value read through `json_rows`."""
    return json.loads(value) if isinstance(value, str) else value  # SQLite's json_object keeps JSON as its text


@functools.cache
def _json_readers(model: type[SQLModel]) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    return tuple((column.key, _json_reader(column)) for column in table_of(model).columns)


def from_json(model: type[ModelT], rows: list[dict[str, Any]]) -> list[ModelT]:
    """Model instances (not attached to any session) from `json_rows(select(*table_of(model).c))` values, each
    column's text turned back into its Python type.

    Built the way the ORM builds a row it loaded (a bare instance, the values straight into its `__dict__`), not
    through `Model(**values)`: SQLModel's constructor sets each attribute through SQLAlchemy's and pydantic's
    `__setattr__`, which cost more than the whole SQL read of a page like Today."""
    new_instance = manager_of_class(model).new_instance
    readers = _json_readers(model)
    found = []
    for row in rows:
        instance = new_instance()
        values = instance.__dict__
        for key, read in readers:
            value = row.get(key)
            values[key] = read(value) if read is not None and value is not None else value
        found.append(instance)
    return found


def put_newest(remembered: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """`value` as the newest entry of a per-process map of what was read, bounded at `limit` (the oldest goes
    first)."""
    remembered.pop(key, None)
    if len(remembered) >= limit:
        remembered.pop(next(iter(remembered)), None)
    remembered[key] = value


def loaded(model: type[ModelT], values: Mapping[str, Any]) -> ModelT:
    """A model instance from a Core row's column values, as if the ORM had loaded it and the session let it go
    (detached, with its identity): cheaper than an ORM read, and a handler may still change it and `add` it back
    to its session for an UPDATE. `values` holds every column of the model's table.

    What `make_transient_to_detached` does for a model without relationships, on a state nothing has touched yet
    (no history to commit, nothing unloaded to expire): set the identity. Every signed-in request loads two."""
    identity_class, key_name = _identity_of(model)
    instance = manager_of_class(model).new_instance()
    instance.__dict__.update(values)
    instance_state(instance).key = (identity_class, (values[key_name],), None)
    return instance


@functools.cache
def _identity_of(model: type[SQLModel]) -> tuple[type, str]:
    mapper = inspect(model)
    if mapper.relationships or len(mapper.primary_key) != 1:
        raise TypeError(f"loaded() is for models with one primary key column and no relationships: {model.__name__}")
    identity_class = mapper.identity_key_from_primary_key((0,))[0]
    return identity_class, mapper.get_property_by_column(mapper.primary_key[0]).key


def as_date(value: str) -> date:
    return date.fromisoformat(value[:10])


def as_utc(value: str) -> datetime:
    """A timestamp read through `json_rows` (naive UTC text on SQLite, ISO with offset on PostgreSQL)."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
