"""The patient's home screen and the 'More' hub."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy import Select

from server import localtime as dates
from server.accounts.guards import patient_only
from server.accounts.models import User
from server.aftercare import today as aftercare_today
from server.aftercare.controllers import offline_urls as aftercare_offline_urls
from server.checkins import logic as checkins_logic
from server.checkins.logic import offline_urls as checkins_offline_urls
from server.crisis import logic as crisis_logic
from server.db import DbSession, compose, pk, read_composed, utcnow
from server.family import encouragement as family_encouragement
from server.questionnaires import controllers as questionnaires
from server.questionnaires import service as questionnaire_service
from server.schedule import logic as schedule_logic
from server.schedule import views as schedule_views
from server.schedule.discharge import discharge_from
from server.skills import logic as skills_logic
from server.today.celebrate import celebration
from server.web.responses import render


@functools.cache
def panels_statement() -> Select[Any]:
    """Built once: each domain's `today_reads` (columns with bound parameters) in one SELECT."""
    return compose(
        {
            **checkins_logic.today_reads(),
            **skills_logic.today_reads(),
            **family_encouragement.today_reads(),
            **schedule_logic.today_reads(),
            **questionnaire_service.today_reads(),
        }
    )


def panels_params(user: User, now: datetime, today: date) -> dict[str, Any]:
    """`panels_statement`'s parameters: this person, now, and their local day."""
    return {
        **checkins_logic.today_params(user, today),
        **skills_logic.today_params(user),
        **family_encouragement.today_params(user, now),
        **schedule_logic.today_params(pk(user), now),
        **questionnaire_service.today_params(user),
    }


class TodayController(Controller):
    guards = [patient_only]

    @get("/today", name="today:today")
    async def today(self, request: Request, db_session: DbSession) -> Template:
        user: User = request.user
        now = utcnow()
        today = dates.local_today(user, now)
        # Panels whose reads are columns of ONE composed statement (`panels_statement`), bound to this person
        # and day; each domain's `today_panel` builds its context from the values. A new panel joins here.
        params = panels_params(user, now, today)
        values = await read_composed(db_session, panels_statement(), params)
        context: dict[str, Any] = {"user": user}
        context.update(checkins_logic.today_panel(values, today))
        context.update(skills_logic.today_panel(user, values, now))
        context.update(family_encouragement.today_panel(values))
        enrolled = await schedule_logic.enrolled_from(db_session, values, params)
        context.update(schedule_views.today_panel(user, enrolled, now))
        # These read more only when there is something to show (an alumnus; a questionnaire due).
        context.update(await aftercare_today.today_panel(db_session, user, discharge_from(enrolled.pairs)))
        context["questionnaires_due"] = questionnaire_service.due_from(user, values, today)
        context["celebration"] = celebration(context["checkins_today"])
        return render(request, "today/today.html", context)

    @get("/more", name="today:more")
    async def more(self, request: Request) -> Template:
        # Pages the offline switch stores on the phone; each domain adds its own (one line each).
        offline_pages: list[str] = []
        offline_pages += skills_logic.offline_urls()
        offline_pages += checkins_offline_urls()
        offline_pages += crisis_logic.offline_urls()
        offline_pages += questionnaires.offline_urls()
        offline_pages += aftercare_offline_urls()
        return render(request, "today/more.html", {"offline_pages": offline_pages})
