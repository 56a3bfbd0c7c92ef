"""Server-side sign-in sessions.

A fresh random token is minted at every sign-in (so a token planted before sign-in is worthless),
only its hash is stored, and each row carries its own idle timeout and absolute expiry.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.exceptions import NotAuthorizedException
from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Role, User, UserSession
from server.db import carry, loaded, pk, put_newest, read_first, rowcount, table_of, utcnow
from server.settings import Settings

COOKIE_NAME = "steady_session"
# Writing last_seen on every request would turn every read into a write.
TOUCH_INTERVAL = timedelta(seconds=60)


def cookie_name(settings: Settings) -> str:
    # The __Host- prefix pins the cookie to this exact origin over https.
    return f"__Host-{COOKIE_NAME}" if settings.https else COOKIE_NAME


def csrf_cookie_name(settings: Settings) -> str:
    """The CSRF cookie, `__Host-` over https (no subdomain can plant one); a new one after every sign-in."""
    return "__Host-csrftoken" if settings.https else "csrftoken"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetimes(role: Role, settings: Settings) -> tuple[timedelta, timedelta]:
    if role.is_staff:
        return timedelta(minutes=settings.staff_idle_minutes), timedelta(hours=settings.staff_absolute_hours)
    return timedelta(minutes=settings.patient_idle_minutes), timedelta(hours=settings.patient_absolute_hours)


async def start_session(db: AsyncSession, user: User, settings: Settings, device_label: str = "") -> str:
    idle, absolute = lifetimes(user.role, settings)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        UserSession(
            id=token_hash(token),
            user_id=pk(user),
            created_at=now,
            last_seen_at=now,
            expires_at=now + absolute,
            idle_seconds=int(idle.total_seconds()),
            device_label=device_label[:120],
        )
    )
    await db.flush()
    return token


@functools.cache
def _session_statement() -> Select[Any]:
    """The session row and its user in one Core statement, built once (the token's hash is a bound parameter)."""
    sessions, users = table_of(UserSession), table_of(User)
    return (
        select(*(column.label(f"session_{column.key}") for column in sessions.c), *users.c)
        .join_from(sessions, users, users.c.id == sessions.c.user_id)
        .where(sessions.c.id == bindparam("session_hash"))
    )


async def resolve_session(db: AsyncSession, token: str) -> tuple[User, UserSession] | None:
    """The signed-in user for a cookie token, or None if it is unknown, idle too long or expired. Both come back
    detached (never in the request's session): read as Core columns, not through the ORM, as every request does."""
    if not _well_formed(token):
        return None
    session_hash = token_hash(token)
    values = await read_first(db, _session_statement(), {"session_hash": session_hash})
    if values is None:
        return None
    user, session_row = _identity(values)
    now = utcnow()
    if now >= session_row.expires_at or now - session_row.last_seen_at > timedelta(seconds=session_row.idle_seconds):
        await db.execute(delete(UserSession).where(col(UserSession.id) == session_row.id))
        await db.commit()
        return None
    if _fresh(session_row.expires_at, session_row.last_seen_at, now):
        _remember(session_hash, values)
    elif _begin_touch(session_hash, now):  # due for its touch, and no request of this process is making it
        await db.execute(update(UserSession).where(col(UserSession.id) == session_row.id).values(last_seen_at=now))
        await db.commit()
    return user, session_row


# When this process last began each session's touch (by the token's hash, bounded as `_LAST_READ` is). The requests
# in flight when a session falls due all read it as due; each used to write the same minute, one after another (on
# SQLite each waited its turn in the busy handler: p99 400 ms under 16 connections, docs/performance.md, "Tenth
# pass"). Now the first writes it and the others use the session as read. A touch that failed (rolled back) is
# begun again by the first request TOUCH_RETRY later: idle timeouts are many minutes.
_TOUCHES_BEGUN: dict[str, datetime] = {}
TOUCH_RETRY = timedelta(seconds=5)


def _begin_touch(session_hash: str, now: datetime) -> bool:
    """True, and noted, if no touch of this session began in this process within TOUCH_RETRY of `now` (a clock set
    back counts as none)."""
    begun = _TOUCHES_BEGUN.get(session_hash)
    if begun is not None and timedelta(0) <= now - begun < TOUCH_RETRY:
        return False
    put_newest(_TOUCHES_BEGUN, session_hash, now, _LAST_READ_MAX)
    return True


def _fresh(expires_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
    """Neither expired nor due for its touch (TOUCH_INTERVAL is shorter than any idle timeout): a session that can
    be used as read, with nothing to write."""
    return now < expires_at and now - last_seen_at <= TOUCH_INTERVAL


def _well_formed(token: str) -> bool:
    return bool(token) and len(token) <= 128


def _identity(values: dict[str, Any]) -> tuple[User, UserSession]:
    """New detached instances from the session statement's row (a handler may change them)."""
    session_row = loaded(UserSession, {c.key: values[f"session_{c.key}"] for c in table_of(UserSession).c})
    return loaded(User, {c.key: values[c.key] for c in table_of(User).c}), session_row


# A page view (a GET) need not read the session row in a statement of its own. This process remembers each token's
# last read (its session and user row, by the token's hash); a GET starts from that guess, and the page's first
# composed read (`server/db.py`'s `read_composed`) reads the row again in the same statement and compares. A GET
# with no composed read, or one that fails before it, reads the row before its answer starts (the middleware). A
# guess that is wrong in any column (signed out, revoked, expired, a changed name or language) is dropped and the
# request runs again the usual way; nothing built from it is sent or committed. So a sign-out or revocation still
# counts on the next request, in every process. Bounded: the oldest guesses go first.
_LAST_READ: dict[str, dict[str, Any]] = {}
_LAST_READ_MAX = 10_000


def _remember(session_hash: str, values: dict[str, Any]) -> None:
    put_newest(_LAST_READ, session_hash, values, _LAST_READ_MAX)


def forget(token: str) -> None:
    _LAST_READ.pop(token_hash(token), None)


class SessionChanged(NotAuthorizedException):
    """A GET's guessed session did not match the database. Whatever answer the app builds for it is dropped and the
    request runs again the usual way (the middleware); as a NotAuthorizedException it is not logged as an error,
    and anywhere else it would send the person to sign in."""


@dataclass(eq=False)
class SessionGuess:
    """Who a GET is from, as last read (`_LAST_READ`), until the database confirms it (`settled`)."""

    session_hash: str
    values: dict[str, Any]
    settled: bool = False  # confirmed
    wrong: bool = False

    def identity(self) -> tuple[User, UserSession]:
        return _identity(self.values)

    def joined(self, statement: Select[Any]) -> tuple[Select[Any], dict[str, Any]]:
        return _with_session_check(statement), {"session_hash": self.session_hash}

    def verified(self, row: dict[str, Any] | None) -> dict[str, Any]:
        # No row: no session (signed out). Otherwise every column must be as guessed.
        if row is None or any(row.pop(_CHECKED + name) != expected for name, expected in self.values.items()):
            self.wrong = True
            raise SessionChanged
        self.settled = True
        return row

    async def confirm(self, db: AsyncSession) -> None:
        """Read the session row on its own (a GET with no composed read, or one that failed before it)."""
        holds = await read_first(db, _session_statement(), {"session_hash": self.session_hash}) == self.values
        self.settled, self.wrong = holds, not holds


def guess_session(db: AsyncSession, token: str) -> SessionGuess | None:
    """A guess of the session for `token`, carried by `db` to its first composed read; None when this process has
    none, or when the session as last read has expired or is due to be touched (the usual way does both)."""
    if not _well_formed(token):
        return None
    session_hash = token_hash(token)
    values = _LAST_READ.get(session_hash)
    if values is None:
        return None
    if not _fresh(values["session_expires_at"], values["session_last_seen_at"], utcnow()):
        return None
    guess = SessionGuess(session_hash, values)
    carry(db, guess)
    return guess


_CHECKED = "checked_"
_WITH_CHECK: weakref.WeakKeyDictionary[Select[Any], Select[Any]] = weakref.WeakKeyDictionary()


def _with_session_check(statement: Select[Any]) -> Select[Any]:
    """A composed statement (one row of scalar reads, no FROM) with the session row beside its reads: one row when the
    session exists, none otherwise. Built once per statement. The session statement is a derived table of its own,
    so a read that names the same tables is not correlated with it."""
    if (joined := _WITH_CHECK.get(statement)) is None:
        checked = _session_statement().subquery("session_check")
        joined = _WITH_CHECK[statement] = statement.add_columns(
            *(column.label(_CHECKED + column.key) for column in checked.c)
        ).select_from(checked)
    return joined


async def end_session(db: AsyncSession, session_id: str) -> None:
    _LAST_READ.pop(session_id, None)
    await db.execute(delete(UserSession).where(col(UserSession.id) == session_id))


async def end_other_sessions(db: AsyncSession, user_id: int, keep_session_id: str | None) -> int:
    stmt = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_session_id:
        stmt = stmt.where(col(UserSession.id) != keep_session_id)
    return await rowcount(db, stmt)


async def list_sessions(db: AsyncSession, user_id: int) -> list[UserSession]:
    rows = await db.scalars(
        select(UserSession).where(col(UserSession.user_id) == user_id).order_by(col(UserSession.last_seen_at).desc())
    )
    return list(rows)
