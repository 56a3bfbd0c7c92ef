"""Sign-in throttling that slows attackers without locking the owner out, shared by every app process through the
database.

- Per address: too many failures from one address (any accounts) refuse that address for the window.
- Per (account, address): too many failures for one account from one address refuse that pair.
- Per account, from anywhere: only a short delay on each attempt. Five wrong passwords from a stranger's address
  must never keep the owner, at home with the right password, out of their own account.
- `/join` (invite codes) is counted per address too.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import LoginFailure
from server.db import utcnow
from server.settings import Settings

ACCOUNT_WIDE_DELAY_SECONDS = 1.0
JOIN_FAILURES_PER_ADDRESS = 10


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def account_key(email: str) -> str:
    return "a:" + _digest(email.strip().lower())


def address_key(address: str) -> str:
    return "i:" + _digest(address)


def pair_key(email: str, address: str) -> str:
    return "p:" + _digest(email.strip().lower() + "\n" + address)


def join_key(address: str) -> str:
    return "j:" + _digest(address)


@dataclass(frozen=True)
class Decision:
    wait_minutes: int  # > 0: refuse now, and say for how long
    delay_seconds: float  # slow this attempt down (account-wide failures), never refuse for them


async def _minutes_left(db: AsyncSession, key: str, limit: int, window: timedelta) -> int:
    since = utcnow() - window
    count, oldest = (
        await db.execute(
            select(func.count(), func.min(col(LoginFailure.at))).where(
                col(LoginFailure.key) == key, col(LoginFailure.at) > since
            )
        )
    ).one()
    if count < limit or oldest is None:
        return 0
    if oldest.tzinfo is None:  # SQLite aggregates come back as naive UTC
        oldest = oldest.replace(tzinfo=utcnow().tzinfo)
    return max(1, math.ceil((oldest + window - utcnow()).total_seconds() / 60))


async def decide(db: AsyncSession, settings: Settings, email: str, address: str) -> Decision:
    window = timedelta(minutes=settings.login_window_minutes)
    wait = max(
        await _minutes_left(db, address_key(address), settings.login_max_failures_per_ip, window),
        await _minutes_left(db, pair_key(email, address), settings.login_max_failures_per_account, window),
    )
    busy = await _minutes_left(db, account_key(email), settings.login_max_failures_per_account, window)
    return Decision(wait_minutes=wait, delay_seconds=ACCOUNT_WIDE_DELAY_SECONDS if busy else 0.0)


async def record_failure(db: AsyncSession, email: str, address: str) -> None:
    for key in (account_key(email), address_key(address), pair_key(email, address)):
        db.add(LoginFailure(key=key))
    await db.flush()


async def clear_failures(db: AsyncSession, email: str, address: str) -> None:
    """After the right password: this account's counts start again (the address's own count stays)."""
    await db.execute(
        delete(LoginFailure).where(col(LoginFailure.key).in_([account_key(email), pair_key(email, address)]))
    )


async def join_minutes_locked(db: AsyncSession, settings: Settings, address: str) -> int:
    window = timedelta(minutes=settings.login_window_minutes)
    return await _minutes_left(db, join_key(address), JOIN_FAILURES_PER_ADDRESS, window)


async def record_join_failure(db: AsyncSession, address: str) -> None:
    db.add(LoginFailure(key=join_key(address)))
    await db.flush()
