"""Sections other domains add to the therapist's pages without sharing importing them (the questionnaires package
registers its own): context for the dashboard (shown at its top), context for a patient's week page, and rows for
the week's PDF and CSV. Each function gets only grants the consent gate (server/sharing/access.py) allowed, and
writes its own access-log rows for what it shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.sharing.access import AccessGrant
from server.sharing.exports import Row

DashboardContext = Callable[[AsyncSession, User, Sequence[AccessGrant], datetime], Awaitable[dict[str, Any]]]
WeekContext = Callable[[AsyncSession, User, AccessGrant], Awaitable[dict[str, Any]]]
WeekRows = Callable[[AsyncSession, User, AccessGrant], Awaitable[list[Row]]]

FnT = TypeVar("FnT")
_dashboard: list[DashboardContext] = []
_week: list[WeekContext] = []
_rows: list[WeekRows] = []


def _add(registry: list[FnT], fn: FnT) -> FnT:
    if fn not in registry:
        registry.append(fn)
    return fn


def register_dashboard_context(fn: DashboardContext) -> DashboardContext:
    return _add(_dashboard, fn)


def register_week_context(fn: WeekContext) -> WeekContext:
    return _add(_week, fn)


def register_week_rows(fn: WeekRows) -> WeekRows:
    return _add(_rows, fn)


async def dashboard_context(
    db: AsyncSession, therapist: User, grants: Sequence[AccessGrant], now: datetime
) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for fn in _dashboard:
        context.update(await fn(db, therapist, grants, now))
    return context


async def week_context(db: AsyncSession, therapist: User, grant: AccessGrant) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for fn in _week:
        context.update(await fn(db, therapist, grant))
    return context


async def week_rows(db: AsyncSession, therapist: User, grant: AccessGrant) -> list[Row]:
    rows: list[Row] = []
    for fn in _rows:
        rows += await fn(db, therapist, grant)
    return rows
