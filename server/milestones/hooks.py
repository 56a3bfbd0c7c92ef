"""Running milestone detection from the push dispatcher, and checking family pushes at send time.

The dispatcher calls its planners every minute or so (with a PostgreSQL advisory lock, so one process plans at a
time). The milestone batch only needs to run when someone's local day may have changed, so it runs once per
UTC hour per process: every patient's new day is looked at within an hour of its start, and the pushes wait for
the family member's quiet hours to end like any other reminder. Running it more than once is harmless (each
milestone is recorded once).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.family.push_checks import encouragement_still_wanted, milestone_still_wanted
from server.milestones.detector import evaluate_all
from server.push.dispatcher import DispatcherHooks, StillWanted

_last_run_hour: dict[str, datetime] = {}


async def plan_milestones(db: AsyncSession, now: datetime, user_ids: set[int] | None) -> int:
    """A dispatcher planner: the milestone batch, at most once per UTC hour in this process."""
    if user_ids is not None:
        return 0  # someone changed their reminder settings: nothing to do with milestones
    hour = now.replace(minute=0, second=0, microsecond=0)
    if _last_run_hour.get("hour") == hour:
        return 0
    report = await evaluate_all(db, now)
    _last_run_hour["hour"] = hour
    return report.notified


def _both(first: StillWanted | None, second: StillWanted) -> StillWanted:
    if first is None:
        return second

    async def check(db: AsyncSession, reminders: list, now: datetime) -> set[int]:
        return await first(db, reminders, now) & await second(db, reminders, now)

    return check


def with_milestone_hooks(hooks: DispatcherHooks | None = None) -> DispatcherHooks:
    """The given hooks plus the milestone planner and the family send-time checks (each check only judges the
    reminders it queued and lets every other one through)."""
    hooks = hooks or DispatcherHooks()
    still = dict(hooks.still_wanted)
    still["milestone"] = _both(still.get("milestone"), milestone_still_wanted)
    still["encouragement"] = _both(still.get("encouragement"), encouragement_still_wanted)
    return replace(hooks, planners=[*hooks.planners, plan_milestones], still_wanted=still)


def dispatcher_hooks() -> DispatcherHooks:
    """The reminder planners plus milestones and questionnaires: a module-level factory, so worker processes can
    import it."""
    from server.questionnaires.reminders import with_questionnaire_hooks
    from server.reminders import reminder_hooks

    return with_questionnaire_hooks(with_milestone_hooks(reminder_hooks()))
