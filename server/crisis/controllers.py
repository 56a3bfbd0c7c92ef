"""Crisis help: the public /crisis page, the patient's safety plan, and the clinic's own crisis numbers."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Template
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import admin_only, patient_only
from server.accounts.models import Clinic, Role, User
from server.accounts.service import own_clinic
from server.crisis import forms, logic
from server.crisis.models import PLAN_SECTIONS
from server.db import pk
from server.localtime import timezone_choices
from server.web.forms import form_values, validate
from server.web.logging import get_logger
from server.web.responses import is_htmx, redirect_to, render

log = get_logger("crisis")

# Pages phones may keep for offline use (see docs/CONTRIBUTING.md). /crisis holds no personal data, so the
# service worker keeps it for everyone; the plan is kept only when the person turned on offline use.
OFFLINE_PUBLIC_HEADERS = {"X-Steady-Offline": "page", "X-Steady-Public": "1", "Cache-Control": "private, no-cache"}
OFFLINE_PERSONAL_HEADERS = {"X-Steady-Offline": "page", "Cache-Control": "private, no-cache"}


def _with_headers(response: Template, headers: dict[str, str]) -> Template:
    response.headers.update(headers)
    return response


class CrisisController(Controller):
    """No guard on purpose: anyone who reaches /crisis, signed in or not, gets the numbers."""

    path = "/crisis"

    @get("/", name="crisis:crisis")
    async def crisis(self, request: Request, db_session: AsyncSession) -> Template:
        user: User | None = request.scope.get("user")
        try:
            lines = await logic.lines_for(db_session, user)
        except SQLAlchemyError as exc:
            # The crisis page must open even when the database doesn't: fall back to the default numbers.
            log.error("crisis lines unavailable: %s", type(exc).__name__)
            with suppress(SQLAlchemyError):
                await db_session.rollback()
            lines = logic.default_lines()
        # Nothing personal goes in this page (phones cache it): the safety plan comes separately from /crisis/plan.
        page = render(request, "crisis/crisis.html", {"lines": lines})
        return _with_headers(page, OFFLINE_PUBLIC_HEADERS)

    @get("/plan", name="crisis:plan")
    async def plan(self, request: Request, db_session: AsyncSession, saved: str = "") -> Template:
        """The signed-in patient's own plan, and only theirs: there is no id to ask for anyone else's.

        Not behind the `patient_only` guard because the public crisis page loads it with htmx: a guard's 401
        would make htmx send someone in crisis to the sign-in page. htmx gets a short note instead; plain
        requests get the usual sign-in redirect (401) or 403.
        """
        user: User | None = request.scope.get("user")
        if user is None or user.role is not Role.PATIENT:
            if is_htmx(request):
                return Template(template_name="crisis/_plan_unavailable.html", context={"signed_out": user is None})
            if user is None:
                raise NotAuthorizedException()
            raise PermissionDeniedException()
        context: dict[str, Any] = {
            "plan": await logic.get_plan(db_session, pk(user)),
            "contacts": await logic.care_contacts(db_session, user),
            "sections": PLAN_SECTIONS,
            "section_text": logic.SECTION_TEXT,
            "phone_parts": logic.phone_parts,
            "saved": saved == "1",
            # Inside the crisis page the plan sits under an h2; on its own page under the h1.
            "step_heading": "h3" if is_htmx(request) else "h2",
        }
        page = render(request, "crisis/plan.html", context, partial="crisis/_plan.html")
        # Also after a save, so a phone with offline use on replaces its kept copy with the new plan.
        return _with_headers(page, OFFLINE_PERSONAL_HEADERS)


class SafetyPlanController(Controller):
    path = "/crisis/plan/edit"
    guards = [patient_only]

    async def _page(
        self, request: Request, db: AsyncSession, values: dict[str, Any], errors: dict[str, str], status_code: int
    ) -> Template:
        context = {
            "values": values,
            "errors": errors,
            "sections": PLAN_SECTIONS,
            "section_text": logic.SECTION_TEXT,
            "contacts": await logic.care_contacts(db, request.user),
            "max_chars": logic.MAX_SECTION_CHARS,
        }
        return render(request, "crisis/plan_edit.html", context, status_code=status_code)

    @get("/", name="crisis:edit")
    async def edit(self, request: Request, db_session: AsyncSession) -> Template:
        plan = await logic.get_plan(db_session, request.user.id)
        return await self._page(request, db_session, logic.plan_values(plan), {}, 200)

    @post("/", name="crisis:safety_plan_save")
    async def save(self, request: Request, db_session: AsyncSession) -> Response[Any]:
        raw = await form_values(request)
        # Browsers send line breaks as CRLF; count them as one character, as the textarea's maxlength does.
        values = {k: v.replace("\r\n", "\n") if isinstance(v, str) else v for k, v in raw.items()}
        result = validate(forms.SafetyPlanForm, values)
        if not result.ok or result.data is None:
            return await self._page(request, db_session, result.values, result.errors, 422)
        form = result.data
        sections = {name: logic.split_items(getattr(form, name)) for name in PLAN_SECTIONS}
        await logic.save_plan(db_session, request.user.id, sections)
        return redirect_to(request, "crisis:plan", "?saved=1")


class ClinicSettingsController(Controller):
    """The clinic's name, phone, time zone and its own crisis lines (which replace the US defaults)."""

    path = "/admin/clinic"
    guards = [admin_only]

    def _page(
        self,
        request: Request,
        clinic: Clinic,
        values: dict[str, Any],
        rows: list[dict[str, Any]],
        errors: dict[str, str],
        status_code: int = 200,
        notice: str = "",
    ) -> Template:
        zone = str(values.get("timezone", ""))
        context = {
            "values": values,
            "rows": rows or [forms.blank_row()],
            "errors": errors,
            "timezones": timezone_choices(zone),
            "uses_own_lines": bool(logic.stored_clinic_lines(clinic)),
            "default_lines": logic.default_lines(),
            "max_lines": logic.MAX_CLINIC_LINES,
            "notice": notice,
        }
        return render(request, "crisis/clinic_settings.html", context, status_code=status_code)

    @get("/", name="crisis:settings_page")
    async def settings_page(self, request: Request, db_session: AsyncSession, saved: str = "") -> Template:
        clinic = await own_clinic(db_session, request.user)
        values = {"name": clinic.name, "phone": clinic.phone, "timezone": clinic.timezone}
        rows = [{**line.to_setting(), "remove": False} for line in logic.stored_clinic_lines(clinic)]
        return self._page(request, clinic, values, [*rows, forms.blank_row()], {}, notice="saved" if saved else "")

    @post("/", name="crisis:clinic_settings_save")
    async def save(self, request: Request, db_session: AsyncSession) -> Response[Any]:
        clinic = await own_clinic(db_session, request.user)
        values = await form_values(request, list_fields=(*forms.LINE_FIELDS, "line_remove"))
        rows = forms.line_rows(values)
        if values.get("action") == "add_line":
            # "Add another line" without JavaScript: show the form again with a spare row; nothing is saved yet.
            return self._page(request, clinic, values, [*rows, forms.blank_row()], {}, notice="not_saved")
        result = validate(forms.ClinicForm, {k: values.get(k, "") for k in ("name", "phone", "timezone")})
        lines, line_errors = forms.validate_lines(rows)
        errors = {**result.errors, **line_errors}
        if errors or result.data is None:
            return self._page(request, clinic, values, rows, errors, status_code=422)
        clinic.name = result.data.name
        clinic.phone = result.data.phone
        clinic.timezone = result.data.timezone
        # A new dict (not an in-place change) so the JSON column is written; other settings are kept.
        clinic.settings = {**(clinic.settings or {}), "crisis_lines": [line.to_setting() for line in lines]}
        db_session.add(clinic)
        return redirect_to(request, "crisis:settings_page", "?saved=1")
