"""The therapist's side."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy import select

from server.accounts.guards import therapist_only
from server.accounts.models import CareTeam, User
from server.db import DbSession
from server.web.responses import render


class TherapistController(Controller):
    path = "/therapist"
    guards = [therapist_only]

    @get("/")
    async def dashboard(self, request: Request, db_session: DbSession) -> Template:
        therapist: User = request.user
        patients = list(
            await db_session.scalars(
                select(User)
                .join(CareTeam, CareTeam.patient_id == User.id)  # type: ignore[arg-type]
                .where(CareTeam.therapist_id == therapist.id)
                .order_by(User.display_name)
            )
        )
        return render(request, "sharing/dashboard.html", {"patients": patients})
