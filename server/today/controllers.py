"""The patient's home screen and the 'More' hub."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from server.accounts.guards import patient_only
from server.accounts.models import User
from server.aftercare import today as aftercare_today
from server.aftercare.controllers import offline_urls as aftercare_offline_urls
from server.checkins.logic import checkins_today_context
from server.checkins.logic import offline_urls as checkins_offline_urls
from server.crisis import logic as crisis_logic
from server.db import DbSession
from server.family import encouragement as family_encouragement
from server.questionnaires import controllers as questionnaires
from server.schedule import views as schedule_views
from server.skills import logic as skills_logic
from server.today.celebrate import celebration
from server.web.responses import render


class TodayController(Controller):
    guards = [patient_only]

    @get("/today", name="today:today")
    async def today(self, request: Request, db_session: DbSession) -> Template:
        user: User = request.user
        context: dict[str, Any] = {"user": user}
        # Each domain adds its panel's context here (one line each).
        context.update(await aftercare_today.today_context(db_session, user))
        context.update(await checkins_today_context(db_session, user))
        context.update(await skills_logic.today_context(db_session, user))
        context.update(await schedule_views.today_context(db_session, user))
        context.update(await family_encouragement.today_context(db_session, user))
        context.update(await questionnaires.today_context(db_session, user))
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
