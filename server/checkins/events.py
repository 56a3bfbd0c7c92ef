"""Check-ins announce "this patient's record changed" (a check-in or a sobriety date was saved); other domains react.

Check-ins never learn who listens: `app.py` puts the listeners in the application's state, so the import graph keeps
pointing one way (milestones reads check-ins; check-ins never imports milestones).

A listener may say, as an SQL condition on the patient (bound to `PATIENT`), whether it has anything to do for them
(`Listener.interested`). A check-in save asks that in its own first statement (`interest_reads`), so a listener with
nothing to do costs the save no statement of its own; announcing without those answers runs every listener.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Request
from sqlalchemy import Integer, bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

RecordSaved = Callable[[AsyncSession, int], Awaitable[None]]
LISTENERS_KEY = "checkin_record_saved_listeners"
READS_KEY = "checkin_record_saved_reads"
# The patient whose record was saved, in a listener's `interested` condition.
PATIENT = bindparam("record_saved_patient", type_=Integer())


@dataclass(frozen=True, eq=False)
class Listener:
    """`run(db, patient_id)` after a save; `interested`, if given, an SQL boolean (bound to `PATIENT`) that is false
    when `run` would have nothing to do for that patient."""

    run: RecordSaved
    interested: ColumnElement[bool] | None = None


def listeners_state(listeners: Sequence[RecordSaved | Listener]) -> dict[str, Any]:
    """The application-state entries that `announce_record_saved` and `interest_reads` read."""
    made = tuple(item if isinstance(item, Listener) else Listener(item) for item in listeners)
    reads = {_read_name(n): item.interested for n, item in enumerate(made) if item.interested is not None}
    return {LISTENERS_KEY: made, READS_KEY: reads}


def _read_name(index: int) -> str:
    return f"record_saved_interest_{index}"


def interest_reads(request: Request) -> dict[str, ColumnElement[Any]]:
    """The listeners' conditions as named columns, for the saving request's own statement (bound to `PATIENT`; the
    same dict object every time, so a statement built from it can be kept)."""
    reads: dict[str, ColumnElement[Any]] = request.app.state.get(READS_KEY, {})
    return reads


def interest_params(patient_id: int) -> dict[str, Any]:
    return {PATIENT.key: patient_id}


async def announce_record_saved(
    request: Request, db: AsyncSession, patient_id: int, interest: Mapping[str, Any] | None = None
) -> bool:
    """Run every listener in the request's transaction (each one is responsible for never raising), except those
    whose condition, read in `interest` (the values of `interest_reads`), says they have nothing to do. Whether any
    ran."""
    ran = False
    for index, listener in enumerate(request.app.state.get(LISTENERS_KEY, ())):
        if interest is not None and listener.interested is not None and not interest.get(_read_name(index), True):
            continue
        await listener.run(db, patient_id)
        ran = True
    return ran
