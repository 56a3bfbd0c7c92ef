"""The patient's home screen and the 'More' hub."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import patient_only
from server.accounts.models import User
from server.web.responses import render


class TodayController(Controller):
    guards = [patient_only]

    @get("/today")
    async def today(self, request: Request, db_session: AsyncSession) -> Template:
        user: User = request.user
        context: dict[str, Any] = {"user": user}
        return render(request, "today/today.html", context)

    @get("/more")
    async def more(self, request: Request) -> Template:
        return render(request, "today/more.html", {})
