"""Routes for programs and groups (admins), enrolment and attendance (therapists), the patient's schedule and
the public calendar feed.

Everything stays inside the signed-in person's clinic: a program, phase, group, change or enrolment of
another clinic answers 404, exactly like one that doesn't exist.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from babel.dates import format_time
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.guards import admin_only, patient_only
from server.accounts.models import Clinic, User
from server.db import DbSession, pk, utcnow
from server.i18n import current_locale
from server.i18n import gettext as _
from server.localtime import timezone_choices
from server.schedule import admin as service
from server.schedule import calendar as feed
from server.schedule import discharge, logic, views
from server.schedule.events import announce_program_ended
from server.schedule.forms import (
    WEEKDAYS,
    WEEKDAYS_PLURAL,
    AttendanceForm,
    EndForm,
    EnrolForm,
    ExtendForm,
    ExtraForm,
    GroupForm,
    HolidayForm,
    PhaseForm,
    ProgramForm,
    SessionChangeForm,
    WeeklyGroupsForm,
)
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase, SessionException
from server.settings import AppSettings, Settings
from server.web.forms import form_values, read_form, validate
from server.web.responses import form_page, is_htmx, redirect, redirect_to, render, url

NEW_GROUP_DEFAULTS = {"weekday": "0", "start_time": "18:00", "duration_minutes": "90"}
# Staff can mark attendance a little further back than the two weeks patients see.
STAFF_PAST_DAYS = 28


def _weekday_options() -> list[tuple[str, str]]:
    return [(str(i), str(name)) for i, name in enumerate(WEEKDAYS)]


def _clock(at: Any) -> str:
    return format_time(at, "short", locale=current_locale.get())


def _group_line(group: GroupPattern) -> str:
    """'Mondays, 6:00 PM · 90 min'."""
    return _("%(days)s, %(time)s · %(minutes)d min") % {
        "days": str(WEEKDAYS_PLURAL[group.weekday]),
        "time": _clock(group.start_time),
        "minutes": group.duration_minutes,
    }


def _program_values(program: Program) -> dict[str, Any]:
    return {
        "name": program.name,
        "description": program.description,
        "timezone": program.timezone,
        "family_info": program.family_info,
        "active": "on" if program.active else "",
        "alumni": "on" if program.alumni else "",
    }


def _group_values(group: GroupPattern) -> dict[str, Any]:
    return {
        "title": group.title,
        "weekday": str(group.weekday),
        "start_time": group.start_time.strftime("%H:%M"),
        "duration_minutes": str(group.duration_minutes),
        "location": group.location,
        "video_url": group.video_url,
        "facilitator": group.facilitator,
    }


async def _phases_with_groups(db: AsyncSession, program: Program) -> list[dict[str, Any]]:
    data = (await logic.load_programs(db, [program], with_changes=False))[pk(program)]
    return [
        {
            "phase": phase,
            "groups": [{"group": g, "line": _group_line(g)} for g in data.patterns.get(pk(phase), [])],
        }
        for phase in data.phases
    ]


async def _clinic_program(request: Request, db_session: DbSession, program_id: int) -> Program:
    """The program named in the path, inside the admin's own clinic: another clinic's answers 404."""
    return await service.program_or_404(db_session, request.user.clinic_id, program_id)


class ProgramAdminController(Controller):
    """Admins build programs: details, phases, weekly groups, one-off changes and enrolments."""

    path = "/admin/programs"
    guards = [admin_only]
    dependencies = {"program": Provide(_clinic_program)}  # every /{program_id} route gets its program

    # --- programs --------------------------------------------------------------------------------------

    async def _list_page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        admin: User = request.user
        programs = await service.clinic_programs(db, admin.clinic_id)
        clinic = await db.get(Clinic, admin.clinic_id)
        default_zone = clinic.timezone if clinic else "America/New_York"
        context: dict[str, Any] = {
            "programs": programs,
            "counts": await service.program_counts(db, [pk(p) for p in programs]),
            "values": {"timezone": default_zone},
            "errors": {},
        }
        context.update(extra)
        context["timezones"] = timezone_choices(str(context["values"].get("timezone", "")))
        return render(request, "schedule/admin_programs.html", context, status_code=status_code)

    @get("/", name="schedule:programs")
    async def programs(self, request: Request, db_session: DbSession) -> Template:
        return await self._list_page(request, db_session)

    @post("/", name="schedule:create_program")
    async def create_program(self, request: Request, db_session: DbSession) -> Response[Any]:
        result = await read_form(request, ProgramForm)
        if not result.ok or result.data is None:
            return await self._list_page(request, db_session, 422, **result.rejected)
        admin: User = request.user
        form = result.data
        program = Program(
            clinic_id=admin.clinic_id,
            name=form.name,
            description=form.description.strip(),
            timezone=form.timezone,
            family_info=form.family_info.strip(),
            active=True,
        )
        db_session.add(program)
        await db_session.flush()
        return redirect_to(request, "schedule:program_page", "?notice=created", program_id=program.id)

    async def _program_page(
        self, request: Request, db: AsyncSession, program: Program, status_code: int = 200, **extra: Any
    ) -> Template:
        context: dict[str, Any] = {
            "program": program,
            "phases": await _phases_with_groups(db, program),
            "values": _program_values(program),
            "errors": {},
            "failed": "",
            "notice": request.query_params.get("notice", ""),
        }
        weeks = max((p["phase"].end_week for p in context["phases"]), default=0)
        context["values"].update({"start_week": str(weeks + 1) if weeks < logic.MAX_PROGRAM_WEEKS else ""})
        context.update(extra)
        context["timezones"] = timezone_choices(str(context["values"].get("timezone", "")))
        return render(request, "schedule/admin_program.html", context, status_code=status_code)

    @get("/{program_id:int}", name="schedule:program_page")
    async def program_page(self, request: Request, db_session: DbSession, program: Program) -> Template:
        return await self._program_page(request, db_session, program)

    @post("/{program_id:int}", name="schedule:save_program")
    async def save_program(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, ProgramForm)
        if not result.ok or result.data is None:
            values = {**_program_values(program), **result.values, "active": result.values.get("active", ""),
                      "alumni": result.values.get("alumni", "")}  # fmt: skip
            return await self._program_page(
                request, db_session, program, 422, values=values, errors=result.errors, failed="program"
            )
        form = result.data
        program.name = form.name
        program.description = form.description.strip()
        program.timezone = form.timezone
        program.family_info = form.family_info.strip()
        program.active = form.active
        await discharge.set_alumni_program(db_session, program, form.alumni)
        db_session.add(program)
        return redirect_to(request, "schedule:program_page", "?notice=saved", program_id=program.id)

    # --- phases ----------------------------------------------------------------------------------------

    @post("/{program_id:int}/phases", name="schedule:add_phase")
    async def add_phase(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, PhaseForm)
        errors = dict(result.errors)
        if result.data is not None and not errors:
            errors = await service.phase_errors(db_session, program, result.data, None)
        if errors or result.data is None:
            values = {**_program_values(program), **result.values}
            return await self._program_page(
                request, db_session, program, 422, values=values, errors=errors, failed="phase"
            )
        form = result.data
        phase = ProgramPhase(
            program_id=pk(program),
            name=form.phase_name.strip(),
            start_week=form.start_week,
            end_week=form.end_week,
            groups_per_week=form.groups_per_week,
        )
        db_session.add(phase)
        await db_session.flush()
        return redirect_to(
            request,
            "schedule:program_page",
            f"?notice=phase-added#phase-{phase.id}",
            program_id=program.id,
        )

    def _phase_page(
        self,
        request: Request,
        program: Program,
        phase: ProgramPhase,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Template:
        return render(
            request,
            "schedule/admin_phase.html",
            {
                "program": program,
                "phase": phase,
                "values": values
                or {
                    "phase_name": phase.name,
                    "start_week": str(phase.start_week),
                    "end_week": str(phase.end_week),
                    "groups_per_week": str(phase.groups_per_week),
                },
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @get("/{program_id:int}/phases/{phase_id:int}", name="schedule:phase_page")
    async def phase_page(self, request: Request, db_session: DbSession, program: Program, phase_id: int) -> Template:
        phase = await service.phase_or_404(db_session, program, phase_id)
        return self._phase_page(request, program, phase)

    @post("/{program_id:int}/phases/{phase_id:int}", name="schedule:save_phase")
    async def save_phase(
        self, request: Request, db_session: DbSession, program: Program, phase_id: int
    ) -> Response[Any]:
        phase = await service.phase_or_404(db_session, program, phase_id)
        result = await read_form(request, PhaseForm)
        errors = dict(result.errors)
        if result.data is not None and not errors:
            errors = await service.phase_errors(db_session, program, result.data, phase.id)
        if errors or result.data is None:
            return self._phase_page(request, program, phase, 422, result.values, errors)
        form = result.data
        phase.name = form.phase_name.strip()
        phase.start_week = form.start_week
        phase.end_week = form.end_week
        phase.groups_per_week = form.groups_per_week
        db_session.add(phase)
        return redirect_to(
            request,
            "schedule:program_page",
            f"?notice=phase-saved#phase-{phase.id}",
            program_id=program.id,
        )

    @post("/{program_id:int}/phases/{phase_id:int}/delete", name="schedule:delete_phase")
    async def delete_phase(
        self, request: Request, db_session: DbSession, program: Program, phase_id: int
    ) -> Response[Any]:
        phase = await service.phase_or_404(db_session, program, phase_id)
        # Delete the groups explicitly too: SQLite only cascades when foreign keys are switched on.
        await db_session.execute(delete(GroupPattern).where(col(GroupPattern.phase_id) == phase.id))
        await db_session.delete(phase)
        return redirect_to(request, "schedule:program_page", "?notice=phase-removed", program_id=program.id)

    # --- weekly groups ---------------------------------------------------------------------------------

    def _group_page(
        self,
        request: Request,
        program: Program,
        phase: ProgramPhase,
        group: GroupPattern | None,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Template:
        return render(
            request,
            "schedule/admin_group.html",
            {
                "program": program,
                "phase": phase,
                "group": group,
                "values": values or (_group_values(group) if group else dict(NEW_GROUP_DEFAULTS)),
                "errors": errors or {},
                "weekdays": _weekday_options(),
            },
            status_code=status_code,
        )

    @get("/{program_id:int}/phases/{phase_id:int}/groups/new", name="schedule:new_group_page")
    async def new_group_page(
        self, request: Request, db_session: DbSession, program: Program, phase_id: int
    ) -> Template:
        phase = await service.phase_or_404(db_session, program, phase_id)
        return self._group_page(request, program, phase, None)

    @post("/{program_id:int}/phases/{phase_id:int}/groups", name="schedule:add_group")
    async def add_group(
        self, request: Request, db_session: DbSession, program: Program, phase_id: int
    ) -> Response[Any]:
        phase = await service.phase_or_404(db_session, program, phase_id)
        # One form for a group that meets on several weekdays: one weekly pattern per day ticked.
        raw = await form_values(request, list_fields=("weekday",))
        result = validate(WeeklyGroupsForm, {**raw, "weekday": raw.get("weekday") or []})
        if not result.ok or result.data is None:
            return self._group_page(request, program, phase, None, 422, result.values, result.errors)
        for day in result.data.weekday:
            group = GroupPattern(phase_id=pk(phase), title="", weekday=day, start_time=result.data.start_time)
            service.apply_group(group, result.data.for_day(day))
            db_session.add(group)
        await db_session.flush()
        notice = "groups-added" if len(result.data.weekday) > 1 else "group-added"
        count = f"&count={len(result.data.weekday)}" if len(result.data.weekday) > 1 else ""
        return redirect_to(
            request,
            "schedule:program_page",
            f"?notice={notice}{count}#phase-{phase.id}",
            program_id=program.id,
        )

    @get("/{program_id:int}/groups/{group_id:int}", name="schedule:group_page")
    async def group_page(self, request: Request, db_session: DbSession, program: Program, group_id: int) -> Template:
        group, phase = await service.group_or_404(db_session, program, group_id)
        return self._group_page(request, program, phase, group)

    @post("/{program_id:int}/groups/{group_id:int}", name="schedule:save_group")
    async def save_group(
        self, request: Request, db_session: DbSession, program: Program, group_id: int
    ) -> Response[Any]:
        group, phase = await service.group_or_404(db_session, program, group_id)
        result = await read_form(request, GroupForm)
        if not result.ok or result.data is None:
            return self._group_page(request, program, phase, group, 422, result.values, result.errors)
        service.apply_group(group, result.data)
        db_session.add(group)
        return redirect_to(
            request,
            "schedule:program_page",
            f"?notice=group-saved#phase-{phase.id}",
            program_id=program.id,
        )

    @post("/{program_id:int}/groups/{group_id:int}/delete", name="schedule:delete_group")
    async def delete_group(
        self, request: Request, db_session: DbSession, program: Program, group_id: int
    ) -> Response[Any]:
        group, phase = await service.group_or_404(db_session, program, group_id)
        await db_session.execute(delete(SessionException).where(col(SessionException.pattern_id) == group.id))
        await db_session.delete(group)
        return redirect_to(
            request,
            "schedule:program_page",
            f"?notice=group-removed#phase-{phase.id}",
            program_id=program.id,
        )

    # --- one-off changes -------------------------------------------------------------------------------

    async def _changes_page(
        self, request: Request, db: AsyncSession, program: Program, status_code: int = 200, **extra: Any
    ) -> Template:
        phases = await _phases_with_groups(db, program)
        group_options = [
            (
                str(item["group"].id),
                f"{item['group'].title} — {item['line']} ({entry['phase'].name})",
            )
            for entry in phases
            for item in entry["groups"]
        ]
        today = service.today_in(program)
        changes = list(
            await db.scalars(
                select(SessionException)
                .where(col(SessionException.program_id) == program.id)
                .order_by(col(SessionException.original_date), col(SessionException.new_date), col(SessionException.id))
            )
        )
        titles = {item["group"].id: item["group"].title for entry in phases for item in entry["groups"]}
        rows = []
        for change in changes:
            day = change.original_date or change.new_date
            if day is not None and day < today - timedelta(days=14):
                continue  # long past: keep the list about what's coming
            rows.append({"change": change, "title": titles.get(change.pattern_id, change.title), "day": day})
        rows.sort(key=lambda r: (r["day"] or date.max, r["change"].id))
        context: dict[str, Any] = {
            "program": program,
            "group_options": group_options,
            "rows": rows,
            "values": {"change_action": "cancel", "extra_time": "18:00", "extra_duration": "90"},
            "failed": "",
            "weekdays": WEEKDAYS,
        }
        return form_page(request, "schedule/admin_changes.html", context, status_code=status_code, **extra)

    @get("/{program_id:int}/changes", name="schedule:changes_page")
    async def changes_page(self, request: Request, db_session: DbSession, program: Program) -> Template:
        return await self._changes_page(request, db_session, program)

    @post("/{program_id:int}/changes/session", name="schedule:change_session")
    async def change_session(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, SessionChangeForm)
        errors = dict(result.errors)
        group = None
        if result.data is not None and not errors:
            errors, group = await service.session_change_errors(db_session, program, result.data)
        if errors or result.data is None or group is None:
            return await self._changes_page(
                request, db_session, program, 422, values=result.values, errors=errors, failed="session"
            )
        await service.save_session_change(db_session, program, group, result.data)
        return redirect_to(request, "schedule:changes_page", "?notice=saved", program_id=program.id)

    @post("/{program_id:int}/changes/holiday", name="schedule:add_holiday")
    async def add_holiday(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, HolidayForm)
        if not result.ok or result.data is None:
            return await self._changes_page(request, db_session, program, 422, **result.rejected, failed="holiday")
        await service.save_holiday(db_session, program, result.data)
        return redirect_to(request, "schedule:changes_page", "?notice=saved", program_id=program.id)

    @post("/{program_id:int}/changes/extra", name="schedule:add_extra")
    async def add_extra(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, ExtraForm)
        if not result.ok or result.data is None:
            return await self._changes_page(request, db_session, program, 422, **result.rejected, failed="extra")
        await service.save_extra(db_session, program, result.data)
        return redirect_to(request, "schedule:changes_page", "?notice=saved", program_id=program.id)

    @post("/{program_id:int}/changes/{change_id:int}/delete", name="schedule:undo_change")
    async def undo_change(
        self, request: Request, db_session: DbSession, program: Program, change_id: int
    ) -> Response[Any]:
        change = await service.change_or_404(db_session, program, change_id)
        await db_session.delete(change)
        return redirect_to(request, "schedule:changes_page", "?notice=removed", program_id=program.id)

    # --- enrolments ------------------------------------------------------------------------------------

    async def _enrolments_page(
        self, request: Request, db: AsyncSession, program: Program, status_code: int = 200, **extra: Any
    ) -> Template:
        data = (await logic.load_programs(db, [program], with_changes=False))[pk(program)]
        today = service.today_in(program)
        rows = (
            await db.execute(
                select(Enrolment, User)
                .join(User, col(User.id) == col(Enrolment.patient_id))
                .where(col(Enrolment.program_id) == program.id)
                .order_by(col(Enrolment.start_date).desc(), col(User.display_name))
            )
        ).all()
        enrolments = []
        for enrolment, patient in rows:
            state = logic.enrolment_state(enrolment, data.weeks, today)
            enrolments.append(
                {
                    "enrolment": enrolment,
                    "patient": patient,
                    "state": state,
                    "state_label": views.state_label(state),
                    "week": logic.program_week(enrolment, today),
                    "weeks": data.weeks + enrolment.extended_weeks,
                    "last_day": logic.last_day(enrolment, data.weeks),
                }
            )
        patients = await service.clinic_patients(db, program.clinic_id)
        context: dict[str, Any] = {
            "program": program,
            "weeks": data.weeks,
            "enrolments": enrolments,
            "patient_options": [(str(p.id), p.display_name) for p in patients],
            "values": {"start_date": today.isoformat()},
        }
        return form_page(request, "schedule/admin_enrolments.html", context, status_code=status_code, **extra)

    @get("/{program_id:int}/enrolments", name="schedule:enrolments_page")
    async def enrolments_page(self, request: Request, db_session: DbSession, program: Program) -> Template:
        return await self._enrolments_page(request, db_session, program)

    @post("/{program_id:int}/enrolments", name="schedule:enrol")
    async def enrol(self, request: Request, db_session: DbSession, program: Program) -> Response[Any]:
        result = await read_form(request, EnrolForm)
        errors = dict(result.errors)
        patient = None
        if result.data is not None and not errors:
            patient = await db_session.get(User, result.data.patient_id)
            errors = await service.enrol_errors(db_session, program, patient, result.data.start_date)
        if errors or result.data is None or patient is None:
            return await self._enrolments_page(request, db_session, program, 422, values=result.values, errors=errors)
        await service.enrol(db_session, program, patient, result.data.start_date)
        return redirect_to(request, "schedule:enrolments_page", "?notice=enrolled", program_id=program.id)

    async def _enrolment_page(
        self,
        request: Request,
        db: AsyncSession,
        program: Program,
        enrolment: Enrolment,
        patient: User,
        status_code: int = 200,
        **extra: Any,
    ) -> Template:
        now = utcnow()
        weeks = await service.program_weeks(db, pk(program))
        today = service.today_in(program)
        upcoming = [
            views.session_view(o, program.timezone, now)
            for o in await logic.sessions_for_patient(db, pk(patient), now, now + timedelta(days=14))
            if o.enrolment_id == enrolment.id
        ]
        state = logic.enrolment_state(enrolment, weeks, today)
        context: dict[str, Any] = {
            "program": program,
            "enrolment": enrolment,
            "patient": patient,
            "state": state,
            "state_label": views.state_label(state),
            "weeks": weeks + enrolment.extended_weeks,
            "week": logic.program_week(enrolment, today),
            "last_day": logic.last_day(enrolment, weeks),
            "upcoming": upcoming,
            "values": {"extend_weeks": "2", "end_date": today.isoformat(), "outcome": "completed"},
            "outcome_options": discharge.outcome_options(),
            "alumni_program": await discharge.alumni_program(db, program.clinic_id),
            "discharge_url": url(request, "schedule:end", program_id=program.id, enrolment_id=enrolment.id),
            "outcome_label": discharge.OUTCOME_LABELS.get(enrolment.outcome, ""),
        }
        return form_page(request, "schedule/admin_enrolment.html", context, status_code=status_code, **extra)

    @get("/{program_id:int}/enrolments/{enrolment_id:int}", name="schedule:enrolment_page")
    async def enrolment_page(
        self, request: Request, db_session: DbSession, program: Program, enrolment_id: int
    ) -> Template:
        enrolment, patient = await service.enrolment_or_404(db_session, program, enrolment_id)
        return await self._enrolment_page(request, db_session, program, enrolment, patient)

    @post("/{program_id:int}/enrolments/{enrolment_id:int}/extend", name="schedule:extend")
    async def extend(
        self, request: Request, db_session: DbSession, program: Program, enrolment_id: int
    ) -> Response[Any]:
        enrolment, patient = await service.enrolment_or_404(db_session, program, enrolment_id)
        result = await read_form(request, ExtendForm)
        errors = dict(result.errors)
        if result.data is not None and not errors:
            errors = service.extend_errors(enrolment, result.data.extend_weeks)
        if errors or result.data is None:
            values = {"end_date": service.today_in(program).isoformat(), "outcome": "completed", **result.values}
            return await self._enrolment_page(
                request, db_session, program, enrolment, patient, 422, values=values, errors=errors
            )
        enrolment.extended_weeks += result.data.extend_weeks
        db_session.add(enrolment)
        return redirect_to(
            request,
            "schedule:enrolment_page",
            "?notice=extended",
            program_id=program.id,
            enrolment_id=enrolment.id,
        )

    @post("/{program_id:int}/enrolments/{enrolment_id:int}/end", name="schedule:end")
    async def end(self, request: Request, db_session: DbSession, program: Program, enrolment_id: int) -> Response[Any]:
        enrolment, patient = await service.enrolment_or_404(db_session, program, enrolment_id)
        result = await read_form(request, EndForm)
        errors = dict(result.errors)
        if result.data is not None and not errors:
            weeks = await service.program_weeks(db_session, pk(program))
            errors = discharge.discharge_errors(enrolment, result.data.end_date, weeks, service.today_in(program))
        if errors or result.data is None:
            values = {"extend_weeks": "2", **result.values}
            return await self._enrolment_page(
                request, db_session, program, enrolment, patient, 422, values=values, errors=errors
            )
        await discharge.record_discharge(
            db_session, enrolment, outcome=result.data.outcome, end_date=result.data.end_date, by=request.user
        )
        if result.data.join_alumni:
            await discharge.join_alumni(db_session, pk(patient), program.clinic_id, result.data.end_date)
        await announce_program_ended(request, db_session, pk(patient), result.data.end_date)
        return redirect_to(
            request,
            "schedule:enrolment_page",
            "?notice=ended",
            program_id=program.id,
            enrolment_id=enrolment.id,
        )

    @post("/{program_id:int}/enrolments/{enrolment_id:int}/reopen", name="schedule:reopen")
    async def reopen(
        self, request: Request, db_session: DbSession, program: Program, enrolment_id: int
    ) -> Response[Any]:
        enrolment, _patient = await service.enrolment_or_404(db_session, program, enrolment_id)
        discharge.reopen(enrolment)
        db_session.add(enrolment)
        return redirect_to(
            request,
            "schedule:enrolment_page",
            "?notice=reopened",
            program_id=program.id,
            enrolment_id=enrolment.id,
        )


# --- attendance, shared by the patient's and the therapist's pages -------------------------------------------


async def mark_attendance(
    request: Request, db: AsyncSession, patient: User, marker: User, back: str, page: Any
) -> Response[Any]:
    """Save one attendance mark: an htmx request gets the updated row, a plain form a redirect back."""
    result = await read_form(request, AttendanceForm)
    if not result.ok or result.data is None:
        return await page(422, errors={"__all__": _("Please choose whether the session happened for you.")})
    now = utcnow()
    occ = await logic.find_markable(db, pk(patient), result.data.occurrence_id, now)
    if occ is None:
        raise NotFoundException()
    mark = await logic.mark_attendance(db, pk(patient), occ, result.data.status, pk(marker))
    if is_htmx(request):
        view = views.session_view(occ, marker.timezone, now, {occ.occurrence_id: mark})
        return render(
            request,
            "schedule/_session_row.html",
            {"s": view, "mark_url": request.url.path, "staff": marker.id != patient.id, "announce": True},
        )
    return redirect(request, f"{back}#{views.session_view(occ, marker.timezone, now).dom_id}")


class PatientScheduleController(Controller):
    """The patient's own sessions, attendance and calendar feed."""

    path = "/schedule"
    guards = [patient_only]

    async def _page(
        self, request: Request, db: AsyncSession, settings: Settings, status_code: int = 200, **extra: Any
    ) -> Template:
        patient: User = request.user
        context, calendar_feed = await views.schedule_page_context(db, patient)
        token = feed.feed_token(settings.secret_key, calendar_feed.salt) if calendar_feed is not None else None
        feed_url = feed.feed_url(settings.base_url, token) if token else ""
        context.update(
            {
                "feed_url": feed_url,
                "webcal_url": feed.webcal_url(feed_url) if feed_url else "",
                "mark_url": url(request, "schedule:attendance"),
            }
        )
        return form_page(request, "schedule/patient_schedule.html", context, status_code=status_code, **extra)

    @get("/", name="schedule:schedule")
    async def schedule(self, request: Request, db_session: DbSession, settings: AppSettings) -> Template:
        return await self._page(request, db_session, settings)

    @post("/attendance", name="schedule:attendance")
    async def attendance(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        patient: User = request.user

        async def page(status: int, **extra: Any) -> Template:
            return await self._page(request, db_session, settings, status, **extra)

        return await mark_attendance(request, db_session, patient, patient, url(request, "schedule:schedule"), page)

    @post("/calendar", name="schedule:calendar_on")
    async def calendar_on(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        """Turn the feed on, or give it a new address (the old one stops working)."""
        patient: User = request.user
        had = await feed.get_feed(db_session, pk(patient))
        await feed.turn_on_or_reset(db_session, pk(patient), settings.secret_key)
        return redirect_to(
            request,
            "schedule:schedule",
            f"?notice={'calendar-reset' if had else 'calendar-on'}#calendar",
        )

    @post("/calendar/off", name="schedule:calendar_off")
    async def calendar_off(self, request: Request, db_session: DbSession) -> Response[Any]:
        await feed.turn_off(db_session, request.user.id)
        return redirect_to(request, "schedule:schedule", "?notice=calendar-off#calendar")


class CalendarFeedController(Controller):
    """The .ics feed. No sign-in: calendar apps fetch it with the secret address alone."""

    include_in_schema = False

    @get("/calendar/{filename:str}", name="schedule:ics")
    async def ics(
        self, request: Request, db_session: DbSession, settings: AppSettings, filename: str
    ) -> Response[bytes]:
        token = filename.removesuffix(".ics") if filename.endswith(".ics") else ""
        patient_id = await feed.patient_for_token(db_session, token) if token else None
        patient = await db_session.get(User, patient_id) if patient_id else None
        if patient is None:
            raise NotFoundException()
        # The feed speaks the patient's language, whatever the calendar app asks for.
        current_locale.set(patient.locale or current_locale.get())
        now = utcnow()
        occurrences = await logic.sessions_for_patient(
            db_session,
            pk(patient),
            now - feed.FEED_PAST,
            now + feed.FEED_FUTURE,
        )
        extra: list[feed.CalendarItem] = []
        for source in request.app.state.get(feed.EXTRA_EVENTS_KEY, ()):
            extra += await source(db_session, patient, now - feed.FEED_PAST, now + feed.FEED_FUTURE)
        return Response(
            feed.build_ics(occurrences, base_url=settings.base_url, extra=extra),
            media_type="text/calendar; charset=utf-8",
            headers={
                "Content-Disposition": 'inline; filename="steady-groups.ics"',
                "Cache-Control": "private, no-cache",
            },
        )
