"""Check-ins announce "this patient's record changed" (a check-in or a sobriety date was saved); other domains react.

Check-ins never learn who listens: `app.py` puts the listeners in the application's state, so the import graph keeps
pointing one way (milestones reads check-ins; check-ins never imports milestones).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

RecordSaved = Callable[[AsyncSession, int], Awaitable[None]]
LISTENERS_KEY = "checkin_record_saved_listeners"


def listeners_state(listeners: Sequence[RecordSaved]) -> dict[str, tuple[RecordSaved, ...]]:
    """The application-state entry that `announce_record_saved` reads."""
    return {LISTENERS_KEY: tuple(listeners)}


async def announce_record_saved(request: Request, db: AsyncSession, patient_id: int) -> None:
    """Run every listener in the request's transaction; each one is responsible for never raising."""
    for listener in request.app.state.get(LISTENERS_KEY, ()):
        await listener(db, patient_id)
