"""The schedule announces "this patient's program ends on <last day>" (a discharge); other domains react.

The schedule never learns who listens: `app.py` puts the listeners in the application's state (as check-ins do
with `server.checkins.events`), so consent and milestones can read the schedule without it importing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

ProgramEnded = Callable[[AsyncSession, int, date], Awaitable[None]]
LISTENERS_KEY = "schedule_program_ended_listeners"


def listeners_state(listeners: Sequence[ProgramEnded]) -> dict[str, tuple[ProgramEnded, ...]]:
    return {LISTENERS_KEY: tuple(listeners)}


async def announce_program_ended(request: Request, db: AsyncSession, patient_id: int, last_day: date) -> None:
    """Run every listener in the request's transaction (each one is responsible for its own errors)."""
    for listener in request.app.state.get(LISTENERS_KEY, ()):
        await listener(db, patient_id, last_day)
