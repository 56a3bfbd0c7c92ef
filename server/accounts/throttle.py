"""Sign-in throttling per account and per client address, shared by every app process through the database."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import LoginFailure
from server.db import utcnow
from server.settings import Settings


def account_key(email: str) -> str:
    return "a:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def address_key(address: str) -> str:
    return "i:" + hashlib.sha256(address.encode()).hexdigest()[:40]


async def minutes_locked(db: AsyncSession, settings: Settings, email: str, address: str) -> int:
    """0 if sign-in may be tried now, else how many whole minutes until it may."""
    window = timedelta(minutes=settings.login_window_minutes)
    since = utcnow() - window
    wait = 0
    for key, limit in (
        (account_key(email), settings.login_max_failures_per_account),
        (address_key(address), settings.login_max_failures_per_ip),
    ):
        count, oldest = (
            await db.execute(
                select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at > since)
            )
        ).one()
        if count >= limit and oldest is not None:
            if oldest.tzinfo is None:  # SQLite aggregates come back as naive UTC
                oldest = oldest.replace(tzinfo=utcnow().tzinfo)
            remaining = (oldest + window - utcnow()).total_seconds()
            wait = max(wait, math.ceil(remaining / 60))
    return wait


async def record_failure(db: AsyncSession, email: str, address: str) -> None:
    db.add(LoginFailure(key=account_key(email)))
    db.add(LoginFailure(key=address_key(address)))
    await db.flush()


async def clear_failures(db: AsyncSession, email: str) -> None:
    await db.execute(delete(LoginFailure).where(LoginFailure.key == account_key(email)))
