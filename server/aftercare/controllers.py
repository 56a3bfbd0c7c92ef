"""The patient's aftercare plan: read it (kept offline and printable), edit it (before and after discharge)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import patient_only
from server.accounts.models import User
from server.aftercare import plan as plans
from server.aftercare.today import alumni_status, moment_seen
from server.checkins.triggers import trigger_set
from server.db import DbSession, pk
from server.skills.logic import card_title
from server.web.forms import form_values, validate
from server.web.responses import redirect_to, render

# The plan is personal: kept on the phone only when the person switched offline use on (see CONTRIBUTING).
OFFLINE_PERSONAL_HEADERS = {"X-Steady-Offline": "page", "Cache-Control": "private, no-cache"}
LIST_FIELDS = ("trigger_ids", "checkin_days", "supporter_name", "supporter_phone")


def offline_urls() -> list[str]:
    """What the More page's offline switch keeps: the plan itself (the crisis page is always kept)."""
    return ["/aftercare"]


class AftercareController(Controller):
    path = "/aftercare"
    guards = [patient_only]

    @get("/", name="aftercare:plan")
    async def plan(self, request: Request, db_session: DbSession, saved: str = "") -> Template:
        user: User = request.user
        context = {
            "view": await plans.plan_view(db_session, user),
            "section_text": plans.SECTION_TEXT,
            "default_after_slip": plans.DEFAULT_AFTER_SLIP,
            "alumni": await alumni_status(db_session, user),
            "saved": saved == "1",
            "card_title": card_title,
        }
        page = render(request, "aftercare/plan.html", context)
        page.headers.update(OFFLINE_PERSONAL_HEADERS)
        return page

    @post("/finished/seen", name="aftercare:finished_seen")
    async def finished_seen(self, request: Request, db_session: DbSession) -> Response[Any]:
        await moment_seen(db_session, request.user)
        return redirect_to(request, "today:today")

    async def _edit_page(
        self, request: Request, db: AsyncSession, values: dict[str, Any], errors: dict[str, str], status_code: int
    ) -> Template:
        user: User = request.user
        triggers = await trigger_set(db, pk(user))
        chosen = set(values.get("trigger_ids") or [])
        rows = plans.supporter_rows(values)
        rows += [{"name": "", "phone": ""}] * max(plans.SPARE_ROWS, 0)
        context = {
            "values": values,
            "errors": errors,
            "section_text": plans.SECTION_TEXT,
            "text_fields": plans.TEXT_FIELDS,
            "max_chars": plans.MAX_TEXT,
            "trigger_options": [t for t in triggers.all if not t.hidden or t.id in chosen],
            "chosen_triggers": chosen,
            "supporter_rows": rows[: plans.MAX_SUPPORTERS + plans.SPARE_ROWS],
            "weekdays": [(str(i), str(name)) for i, name in enumerate(plans.WEEKDAY_NAMES)],
            "chosen_days": set(values.get("checkin_days") or []),
        }
        return render(request, "aftercare/plan_edit.html", context, status_code=status_code)

    @get("/edit", name="aftercare:edit")
    async def edit(self, request: Request, db_session: DbSession) -> Template:
        plan = await plans.get_plan(db_session, pk(request.user))
        return await self._edit_page(request, db_session, plans.form_values_of(plan), {}, 200)

    @post("/edit", name="aftercare:save")
    async def save(self, request: Request, db_session: DbSession) -> Response[Any]:
        user: User = request.user
        values = await form_values(request, list_fields=LIST_FIELDS)
        result = validate(plans.PlanForm, values)  # control characters refused in every field, supporters too
        people, people_errors = plans.validate_supporters(plans.supporter_rows(values))
        errors = {**result.errors, **people_errors}
        if errors or result.data is None:
            return await self._edit_page(request, db_session, {**values, **result.values}, errors, 422)
        await plans.save_plan(db_session, user, result.data, people, await trigger_set(db_session, pk(user)))
        return redirect_to(request, "aftercare:plan", "?saved=1")
