"""Small reads on SQLite, run on the event loop's own thread (`server/db.py`'s `read_first` decides when).

SQLite answers a page's reads (the session look-up, a page's composed read) in about 0.1 ms, while sending each to
aiosqlite's thread and back through SQLAlchemy's AsyncSession costs several times that in CPU: thread and event-loop
wake-ups, the GIL handed back and forth under load, greenlets, the execution context. So they run here as plain
sqlite3 calls on the loop's thread, on a small pool of read-only connections to the same file, with the SQL text
and the type conversions SQLAlchemy compiled for the statement, once.

Why that is safe: in WAL mode a reader never waits for a writer, and a statement outside a transaction sees
everything committed before it began, so a sign-out or a revoked consent counts on the next request exactly as it
does on the request's own session. What a request has written but not committed is seen only on its own connection:
`read_first` sends those reads there. A read that finds the file busy (recovery after a crash, another process
holding an exclusive lock) gives up after `BUSY_SECONDS` and goes to aiosqlite's thread, where waiting blocks
nobody else.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Select, create_engine, event
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import OperationalError

# How long a read on the loop may wait for a busy file before it goes the usual way instead.
BUSY_SECONDS = 0.05
_NAMED = sqlite.dialect(paramstyle="named")  # `:name` parameters: sqlite3 binds them from a dict


class NotOnTheLoop(Exception):
    """This read cannot run on the loop (the file is busy; a list expanded at run time): run it the usual way."""


class _Plan(NamedTuple):
    """A statement as sqlite3 runs it: SQL text, the values of its literal parameters, and how each parameter and
    each result column converts (dates to text and back, JSON), as SQLAlchemy would on execution."""

    sql: str
    literal_values: dict[str, Any]
    bind_conversions: tuple[tuple[str, Callable[[Any], Any]], ...]
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]


def _plan(statement: Select[Any], dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=_NAMED)
    if "POSTCOMPILE" in compiled.string:
        return None
    literal_values, bind_conversions = {}, []
    for bind, name in compiled.bind_names.items():
        if not bind.required:
            literal_values[name] = bind.effective_value
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            bind_conversions.append((name, convert))
    columns = tuple(
        (selected.name, selected.type.dialect_impl(dialect).result_processor(dialect, None))
        for selected in statement.selected_columns
    )
    return _Plan(compiled.string, literal_values, tuple(bind_conversions), columns)


# Per statement while it lives (the statements read here are built once per process).
_PLANS: weakref.WeakKeyDictionary[Select[Any], _Plan | None] = weakref.WeakKeyDictionary()


class LoopReader:
    """Read-only connections to the app engine's SQLite file, for reads on the event loop's thread."""

    def __init__(self, app_engine: Engine, database_url: str) -> None:
        self._pool_engine = create_engine(
            make_url(database_url).set(drivername="sqlite+pysqlite"),
            # Any thread that runs an event loop may read (the tests run apps in a portal thread), one read at a
            # time per loop; never blocks waiting for a connection (no overflow limit).
            connect_args={"check_same_thread": False, "timeout": BUSY_SECONDS},
            pool_size=2,
            max_overflow=-1,
        )
        event.listen(self._pool_engine, "connect", _read_only)
        self._app_engine = weakref.ref(app_engine)  # not a strong one: the app engine owns this reader
        event.listen(app_engine, "engine_disposed", lambda _engine: self._pool_engine.dispose())

    def first(self, statement: Select[Any], params: dict[str, Any]) -> dict[str, Any] | None:
        """The statement's first row by column name, or None; raises NotOnTheLoop when it has to run elsewhere."""
        if statement in _PLANS:
            plan = _PLANS[statement]
        else:
            plan = _PLANS[statement] = _plan(statement, self._pool_engine.dialect)
        if plan is None:
            raise NotOnTheLoop
        values = {**plan.literal_values, **params}
        for name, convert in plan.bind_conversions:
            values[name] = convert(values[name])
        try:
            row = self._fetch_one(plan.sql, values)
        except (sqlite3.OperationalError, OperationalError) as busy:  # OperationalError: busy while connecting
            raise NotOnTheLoop from busy
        if row is None:
            return None
        found = zip(plan.columns, row, strict=True)
        return {name: value if convert is None else convert(value) for (name, convert), value in found}

    def _fetch_one(self, sql: str, values: dict[str, Any]) -> Any:
        connection = self._pool_engine.raw_connection()
        try:
            cursor = connection.cursor()
            # Statements read here are still the app's: its engine's listeners (statement counts, tracing) hear them.
            if (app_engine := self._app_engine()) is not None:
                app_engine.dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
            try:
                return cursor.execute(sql, values).fetchone()
            finally:
                cursor.close()  # ends the statement's read of the file: the next one sees newer commits
        finally:
            connection.close()


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file: a no-op once the app's engine has set it
    cursor.execute("PRAGMA query_only=ON")  # a read on the loop can never write
    cursor.close()
