"""Server-side sign-in sessions.

A fresh random token is minted at every sign-in (so a token planted before sign-in is worthless),
only its hash is stored, and each row carries its own idle timeout and absolute expiry.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Role, User, UserSession
from server.db import loaded, pk, read_first, rowcount, table_of, utcnow
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
    if not token or len(token) > 128:
        return None
    values = await read_first(db, _session_statement(), {"session_hash": token_hash(token)})
    if values is None:
        return None
    session_row = loaded(UserSession, {c.key: values[f"session_{c.key}"] for c in table_of(UserSession).c})
    user = loaded(User, {c.key: values[c.key] for c in table_of(User).c})
    now = utcnow()
    if now >= session_row.expires_at or now - session_row.last_seen_at > timedelta(seconds=session_row.idle_seconds):
        await db.execute(delete(UserSession).where(col(UserSession.id) == session_row.id))
        await db.commit()
        return None
    if now - session_row.last_seen_at > TOUCH_INTERVAL:
        await db.execute(update(UserSession).where(col(UserSession.id) == session_row.id).values(last_seen_at=now))
        await db.commit()
    return user, session_row


async def end_session(db: AsyncSession, session_id: str) -> None:
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
