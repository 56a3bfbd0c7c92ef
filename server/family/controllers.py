"""The family member's side."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy import select

from server.accounts.guards import family_only
from server.accounts.models import FamilyLink, User
from server.db import DbSession
from server.web.responses import render


class FamilyController(Controller):
    path = "/family"
    guards = [family_only]

    @get("/")
    async def feed(self, request: Request, db_session: DbSession) -> Template:
        member: User = request.user
        people = list(
            await db_session.scalars(
                select(User.display_name)
                .join(FamilyLink, FamilyLink.patient_id == User.id)  # type: ignore[arg-type]
                .where(FamilyLink.family_id == member.id)
            )
        )
        return render(request, "family/feed.html", {"people": people})
