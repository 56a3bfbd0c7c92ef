"""The patient's home screen and the 'More' hub."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from server.accounts.guards import patient_only
from server.accounts.models import User
from server.db import DbSession
from server.web.responses import render


class TodayController(Controller):
    guards = [patient_only]

    @get("/today")
    async def today(self, request: Request, db_session: DbSession) -> Template:
        user: User = request.user
        context: dict[str, Any] = {"user": user}
        # Each domain adds its panel's context here (one line each), e.g.
        # context.update(await checkins_today.today_context(db_session, user))
        return render(request, "today/today.html", context)

    @get("/more")
    async def more(self, request: Request) -> Template:
        return render(request, "today/more.html", {})
