"""aiosqlite for SQLAlchemy with one thread hand-off per statement instead of four.

aiosqlite runs each sqlite3 call on its connection's own thread, and SQLAlchemy's adapter makes four such calls
per statement (cursor(), execute(), fetchall(), close()), each a round trip through a queue, a thread wake-up and
an event-loop wake-up. Here the whole statement runs as one call on that thread. COMMIT and ROLLBACK are skipped
when sqlite3 has no transaction open (a page that only read: sqlite3 begins one only before a write), which saves
two more hand-offs per request. Passed to the engine as its DBAPI module (`server/db.py`), so URLs stay
`sqlite+aiosqlite://` and SQLAlchemy's SQLite dialect is unchanged.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)


class _Ran:
    """What a finished statement left behind: the cursor attributes SQLAlchemy reads afterwards."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1, lastrowid: int | None = None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    def close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed on its thread."""


def _run(conn: sqlite3.Connection, many: bool, operation: str, parameters: Any) -> tuple[_Ran, list[Any], bool]:
    """On the connection's thread: execute, fetch every row, close; and whether a transaction is now open."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Ran(cursor.description, cursor.rowcount, cursor.lastrowid), rows, conn.in_transaction
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: OneHopConnection) -> None:  # no aiosqlite cursor: no hand-off here
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Ran()  # type: ignore[assignment]
        self._soft_closed_memoized = {}  # type: ignore[assignment]
        self._rows = deque()

    async def _go(self, many: bool, operation: Any, parameters: Any) -> None:
        adapt: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with adapt._execute_mutex:
            try:
                ran, rows, in_transaction = await connection._execute(
                    _run, connection._conn, many, operation, parameters
                )
            except BaseException:
                adapt.in_transaction = True  # a failed write may have begun one: let ROLLBACK run
                raise
        self._cursor = ran  # type: ignore[assignment]
        self._rows.clear()
        self._rows.extend(rows)
        adapt.in_transaction = in_transaction

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._go(False, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._go(True, operation, seq_of_parameters)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    # True until a statement reports otherwise: a connection whose state is unknown gets a real ROLLBACK.
    __slots__ = ("in_transaction",)
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.in_transaction = True

    def rollback(self) -> None:
        if self.in_transaction:
            super().rollback()
            self.in_transaction = False

    def commit(self) -> None:
        if self.in_transaction:
            super().commit()
            self.in_transaction = False


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect talks to, handing out `OneHopConnection`s."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        plain = super().connect(*arg, **kw)
        return OneHopConnection(self, plain._connection)


def one_hop_dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
