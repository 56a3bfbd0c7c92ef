"""A therapist's view of a patient's groups: enrolment and attendance, only with the patient's consent to share
"Group attendance" (the same gate as every other therapist read: care team, consent in force, category granted,
data window; each view and each mark written to the access log the patient sees)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import therapist_only
from server.accounts.models import User
from server.db import DbSession, pk, utcnow
from server.i18n import gettext as _
from server.schedule import admin as service
from server.schedule import discharge, logic, views
from server.schedule.controllers import STAFF_PAST_DAYS, mark_attendance
from server.schedule.events import announce_program_ended
from server.schedule.forms import EndForm, TherapistEnrolForm
from server.schedule.models import Enrolment, Program
from server.sharing.access import AccessGrant, require_shared_view
from server.sharing.weeks import local_midnight
from server.web.forms import read_form
from server.web.responses import form_page, redirect_to, url

ATTENDANCE = "attendance"


class TherapistScheduleController(Controller):
    """A therapist enrols their own patients and marks their attendance."""

    path = "/therapist/patients/{patient_id:int}/schedule"
    guards = [therapist_only]

    async def _page(
        self, request: Request, db: AsyncSession, grant: AccessGrant, status_code: int = 200, **extra: Any
    ) -> Template:
        therapist: User = request.user
        patient = grant.patient
        now = utcnow()
        # Nothing from before the consent's data window, whatever the page's usual reach.
        since = max(now - timedelta(days=STAFF_PAST_DAYS), local_midnight(grant.data_from, patient.timezone))
        occurrences = await logic.sessions_for_patient(
            db,
            pk(patient),
            since,
            now + timedelta(days=views.UPCOMING_DAYS),
        )
        marks = await logic.attendance_marks(db, pk(patient), [o.occurrence_id for o in occurrences])
        sessions = [views.session_view(o, therapist.timezone, now, marks) for o in occurrences]
        enrolments = await views.enrolment_views(db, pk(patient), now)
        programs = await service.clinic_programs(db, therapist.clinic_id, open_only=True)
        current = next((e for e in enrolments if e.state == "active" and not e.alumni), None)
        summary = await logic.attendance_summary(db, pk(patient), since, now)
        context: dict[str, Any] = {
            "patient": patient,
            "enrolments": enrolments,
            "can_enrol": not any(e.state in ("upcoming", "active") for e in enrolments),
            "program_options": [(str(p.id), p.name) for p in programs],
            "upcoming_days": views.group_by_day([s for s in sessions if not s.started or s.in_progress]),
            "past_sessions": [s for s in reversed(sessions) if s.started and not s.in_progress and not s.occ.cancelled],
            "summary": summary,
            "mark_url": url(request, "sharing:attendance", patient_id=patient.id),
            "values": {
                "start_date": utcnow().astimezone(logic.zone(therapist.timezone)).date().isoformat(),
                "end_date": utcnow().astimezone(logic.zone(patient.timezone)).date().isoformat(),
                "outcome": "completed",
            },
            "current_enrolment": current,
            "discharge_url": url(request, "sharing:discharge", patient_id=patient.id),
            "outcome_options": discharge.outcome_options(),
            "alumni_program": await discharge.alumni_program(db, therapist.clinic_id),
            "viewer_zone": views.zone_city(therapist.timezone),
            "past_days": STAFF_PAST_DAYS,
        }
        return form_page(request, "schedule/therapist_schedule.html", context, status_code=status_code, **extra)

    @get("/", name="sharing:schedule")
    async def schedule(self, request: Request, db_session: DbSession, patient_id: int) -> Template:
        grant = await require_shared_view(
            db_session, request.user, patient_id, kind="attendance_view", category=ATTENDANCE
        )
        return await self._page(request, db_session, grant)

    @post("/enrol", name="sharing:enrol")
    async def enrol(self, request: Request, db_session: DbSession, patient_id: int) -> Response[Any]:
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind=None, category=ATTENDANCE)
        patient = grant.patient
        result = await read_form(request, TherapistEnrolForm)
        errors = dict(result.errors)
        program = None
        if result.data is not None and not errors:
            program = await db_session.get(Program, result.data.program_id)
            if program is None or program.clinic_id != therapist.clinic_id or not program.active:
                errors = {"program_id": _("Please pick a program from the list.")}
                program = None
            else:
                errors = await service.enrol_errors(db_session, program, patient, result.data.start_date)
        if errors or result.data is None or program is None:
            return await self._page(request, db_session, grant, 422, values=result.values, errors=errors)
        await service.enrol(db_session, program, patient, result.data.start_date)
        return redirect_to(request, "sharing:schedule", "?notice=enrolled", patient_id=patient.id)

    @post("/discharge", name="sharing:discharge")
    async def discharge(self, request: Request, db_session: DbSession, patient_id: int) -> Response[Any]:
        """Record the end of the patient's program (the same rules as the admin's enrolment page)."""
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind=None, category=ATTENDANCE)
        patient = grant.patient
        enrolment, program = await _current_enrolment(db_session, pk(patient), therapist.clinic_id)
        result = await read_form(request, EndForm)
        errors = dict(result.errors)
        if enrolment is None or program is None:
            errors = {"__all__": _("There is no program in progress to discharge from.")}
        elif result.data is not None and not errors:
            weeks = await service.program_weeks(db_session, pk(program))
            errors = discharge.discharge_errors(enrolment, result.data.end_date, weeks, service.today_in(program))
        if errors or result.data is None or enrolment is None:
            return await self._page(request, db_session, grant, 422, values=result.values, errors=errors)
        await discharge.record_discharge(
            db_session, enrolment, outcome=result.data.outcome, end_date=result.data.end_date, by=therapist
        )
        if result.data.join_alumni:
            await discharge.join_alumni(db_session, pk(patient), therapist.clinic_id, result.data.end_date)
        await announce_program_ended(request, db_session, pk(patient), result.data.end_date)
        return redirect_to(request, "sharing:schedule", "?notice=discharged", patient_id=patient.id)

    @post("/attendance", name="sharing:attendance")
    async def attendance(self, request: Request, db_session: DbSession, patient_id: int) -> Response[Any]:
        therapist: User = request.user
        grant = await require_shared_view(
            db_session, therapist, patient_id, kind="attendance_mark", category=ATTENDANCE
        )
        patient = grant.patient

        async def page(status: int, **extra: Any) -> Template:
            return await self._page(request, db_session, grant, status, **extra)

        back = url(request, "sharing:schedule", patient_id=patient.id)
        return await mark_attendance(request, db_session, patient, therapist, back, page)


async def _current_enrolment(
    db: AsyncSession, patient_id: int, clinic_id: int
) -> tuple[Enrolment | None, Program | None]:
    """The patient's enrolment in progress in this clinic (alumni programs aside), newest first."""
    for enrolment, program in reversed(await logic.enrolments_with_programs(db, patient_id)):
        if enrolment.status == "active" and not program.alumni and program.clinic_id == clinic_id:
            return enrolment, program
    return None, None
