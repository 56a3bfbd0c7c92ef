"""The therapist's and admin's side of questionnaires.

Therapists: the same-day follow-up flags and questionnaire flags at the top of the dashboard, a questionnaire
section in each week's summary (page, PDF, CSV), a per-patient page with every result (scores, bands, item
answers, reliable change) and a chart over the whole program with its phases, a CSV of every answer, assigning
instruments with a cadence, and recording a follow-up. Every read passes the consent gate
(server/sharing/access.py, category "questionnaires") and writes an access-log row; a result the patient shared
once (item-9 path) is readable by that therapist alone, logged the same way.

Admins: the clinic's default questionnaires (Clinic.settings["questionnaire_defaults"]) and the flag thresholds
(Clinic.settings["questionnaire_thresholds"]).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from litestar import Controller, Request, get, post
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.response import Response as LitestarResponse
from litestar.response import Template
from sqlalchemy import Date, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.guards import admin_only, therapist_only
from server.accounts.models import Clinic, User
from server.accounts.service import own_clinic
from server.consent import service as consent_service
from server.db import DbSession, among_given, pk, utcnow
from server.i18n import current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.localtime import local_today
from server.questionnaires import charts, service, words
from server.questionnaires.instruments import Instrument, all_instruments, get_instrument
from server.questionnaires.models import CADENCES, Response
from server.questionnaires.scoring import LIMITS, Score, Thresholds, flags
from server.schedule.models import Enrolment, ProgramPhase
from server.sharing import extensions
from server.sharing.access import AccessGrant, require_shared_view
from server.sharing.exports import Row
from server.web.forms import form_values
from server.web.responses import download, redirect, redirect_to, render

CATEGORY = service.CATEGORY
CADENCE_LABELS = {"weekly": _l("Every week"), "biweekly": _l("Every 2 weeks"), "monthly": _l("Every month")}


async def thresholds_for(db: AsyncSession, user: User) -> Thresholds:
    clinic = await db.get(Clinic, user.clinic_id)
    return Thresholds.from_settings(clinic.settings if clinic else None)


def visible(grant: AccessGrant, row: Response) -> bool:
    return row.local_date is not None and grant.data_from <= row.local_date <= grant.today


@dataclass(frozen=True)
class ResultLine:
    row: Response
    instrument: Instrument
    flags: list[str]
    change: Any

    @property
    def flag_labels(self) -> list[str]:
        return [str(words.FLAG_LABELS[f]) for f in self.flags]

    @property
    def score_text(self) -> str:
        result = service.score_of(self.row)
        if result.total is not None:
            return _("%(score)s of %(max)s (%(band)s)") % {
                "score": result.total,
                "max": self.instrument.max,
                "band": words.band_label(result.band),
            }
        return "; ".join(
            f"{words.SUBSCALE_LABELS[k]} {v}" for k, v in result.subscales.items() if k in words.SUBSCALE_LABELS
        )

    @property
    def change_text(self) -> str:
        return words.change_note(self.change)

    @property
    def items_text(self) -> str:
        answers = self.row.answers or {}
        return ", ".join(f"{i.id}: {answers[i.id]}" for i in self.instrument.items if i.id in answers)


def _lines(rows: Sequence[Response], thresholds: Thresholds) -> list[ResultLine]:
    """Newest first, each with its change from the one before it of the same instrument."""
    lines = []
    ordered = sorted(rows, key=lambda r: (r.completed_at or datetime.min, r.id or 0))
    last: dict[str, Response] = {}
    for row in ordered:
        instrument = get_instrument(row.instrument)
        if instrument is None:
            continue
        change = service.change_between(last.get(row.instrument), row)
        lines.append(ResultLine(row, instrument, flags(service.score_of(row), thresholds), change))
        last[row.instrument] = row
    return list(reversed(lines))


# -- registered into the therapist's pages (server/sharing/extensions.py) ------------------------------------


@lru_cache(maxsize=4)
def _recent_scores_read(dialect_name: str) -> Select[Any]:
    """The patients `ids`' completed results since `since`, oldest first. Built once per database: built per request,
    its list of patients was left in a reference cycle for the collector."""
    return (
        select(col(Response.user_id), col(Response.instrument), col(Response.local_date), col(Response.score))
        .where(
            among_given(dialect_name, col(Response.user_id), "ids"),
            col(Response.status) == "complete",
            col(Response.local_date) >= bindparam("since", type_=Date()),
        )
        .order_by(col(Response.completed_at))
    )


async def dashboard_context(
    db: AsyncSession, therapist: User, grants: Sequence[AccessGrant], now: datetime
) -> dict[str, Any]:
    """Same-day follow-ups (item 9 above 0, not yet followed up) first, then the latest result's flags per
    patient. Only grants with the "questionnaires" category, results inside their window, and results shared once
    with this therapist."""
    sharing = {g.patient_id: g for g in grants if CATEGORY in g.categories}
    followups = []
    for patient, row in await service.open_followups(db, therapist, sharing):
        grant = sharing.get(pk(patient))
        if (grant is not None and visible(grant, row)) or row.shared_once_with_id == therapist.id:
            followups.append((patient, row, grant))
    thresholds = await thresholds_for(db, therapist)
    flagged = []
    if sharing:
        # Only the columns the flags need (no ORM objects): the latest result of each instrument per patient.
        latest: dict[tuple[int, str], dict[str, Any]] = {}
        since = now.date() - timedelta(days=62)
        rows = await db.execute(_recent_scores_read(db.get_bind().dialect.name), {"ids": list(sharing), "since": since})
        for user_id, code, day, score_json in rows:
            grant_ = sharing[user_id]
            if day is not None and grant_.data_from <= day <= grant_.today:
                latest[(user_id, code)] = score_json
        by_patient: dict[int, list[str]] = {}
        for (pid, code), score_json in latest.items():
            found = [f for f in flags(Score.from_json(code, score_json), thresholds) if f != "item9"]
            if found:
                by_patient.setdefault(pid, []).extend(str(words.FLAG_LABELS[f]) for f in found)
        flagged = [(sharing[pid].patient, labels) for pid, labels in by_patient.items()]
        flagged.sort(key=lambda p: p[0].display_name.casefold())
    # What this panel shows is disclosed, so each patient in it gets an access-log row.
    shown: dict[int, int | None] = {}
    for patient, _row, grant in followups:
        shown[pk(patient)] = grant.consent.id if grant else None
    for patient, _labels in flagged:
        shown[pk(patient)] = sharing[pk(patient)].consent.id
    if shown:  # one INSERT for all of them
        await consent_service.record_disclosures(
            db, [(pid, cid, "questionnaires") for pid, cid in shown.items()], viewer=therapist, kind="q_view", at=now
        )
    return {"q_followups": followups, "q_flagged": flagged}


async def week_context(db: AsyncSession, therapist: User, grant: AccessGrant) -> dict[str, Any]:
    if CATEGORY not in grant.categories:
        return {}
    return {"q_week": await _week_lines(db, therapist, grant), "q_patient_id": grant.patient_id}


async def _week_lines(db: AsyncSession, therapist: User, grant: AccessGrant) -> list[ResultLine]:
    monday, sunday = grant.week.monday, grant.week.sunday
    rows = await service.completed(db, grant.patient_id, since=monday - timedelta(days=120))
    lines = _lines([r for r in rows if visible(grant, r)], await thresholds_for(db, therapist))
    return [line for line in lines if line.row.local_date and monday <= line.row.local_date <= sunday]


async def week_rows(db: AsyncSession, therapist: User, grant: AccessGrant) -> list[Row]:
    if CATEGORY not in grant.categories:
        return []
    section = _("Questionnaires")
    rows: list[Row] = []
    for line in await _week_lines(db, therapist, grant):
        label = f"{line.instrument.short_name} · {line.row.local_date}"
        rows.append(Row(section, label, line.score_text))
        if line.change_text:
            rows.append(Row(section, label + " · " + _("change"), line.change_text))
        rows.append(Row(section, label + " · " + _("item answers"), line.items_text))
        if line.flags:
            rows.append(Row(section, label + " · " + _("flags"), "; ".join(line.flag_labels)))
    if not rows:
        rows.append(Row(section, _("Results this week"), _("none")))
    return rows


extensions.register_dashboard_context(dashboard_context)
extensions.register_week_context(week_context)
extensions.register_week_rows(week_rows)


# -- discharge ------------------------------------------------------------------------------------------------


async def program_ended(db: AsyncSession, patient_id: int, last_day: date) -> None:
    """A discharge: nothing is due after the program's last day."""
    await service.end_assignments(db, patient_id, last_day + timedelta(days=1))


# -- the per-patient pages ------------------------------------------------------------------------------------


async def _phases(db: AsyncSession, patient_id: int) -> list[tuple[date, str]]:
    """(first day, name) of each phase of the patient's program enrolments."""
    rows = await db.execute(
        select(Enrolment, ProgramPhase)
        .join(ProgramPhase, col(ProgramPhase.program_id) == col(Enrolment.program_id))
        .where(col(Enrolment.patient_id) == patient_id)
        .order_by(col(Enrolment.start_date), col(ProgramPhase.start_week))
    )
    found = []
    for enrolment, phase in rows:
        first = enrolment.start_date + timedelta(weeks=phase.start_week - 1)
        if enrolment.end_date is None or first <= enrolment.end_date:
            found.append((first, phase.name))
    return found


def _csv_cell(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


class TherapistQuestionnaireController(Controller):
    path = "/therapist"
    guards = [therapist_only]

    async def _page(
        self,
        request: Request,
        db: AsyncSession,
        patient_id: int,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        notice: str = "",
    ) -> Template:
        therapist: User = request.user
        grant = await require_shared_view(db, therapist, patient_id, kind="q_view", category=CATEGORY)
        rows = [r for r in await service.completed(db, patient_id) if visible(grant, r)]
        lines = _lines(rows, await thresholds_for(db, therapist))
        phases = await _phases(db, patient_id)
        trend = []
        for code, instrument in all_instruments().items():
            mine = [r for r in reversed(rows) if r.instrument == code]
            if mine:
                chart = charts.trend_chart(
                    instrument, mine, chart_id=f"tq-{code}", phases=phases, start=phases[0][0] if phases else None
                )
                trend.append((instrument, chart))
        open_followups = [line for line in lines if line.row.safety and line.row.followed_up_at is None]
        context = {
            "patient": grant.patient,
            "lines": lines,
            "trend": trend,
            "open_followups": open_followups,
            "schedules": await service.schedules_for(db, grant.patient),
            "instruments": all_instruments(),
            "cadences": [(k, str(v)) for k, v in CADENCE_LABELS.items()],
            "instrument_options": [(code, i.short_name) for code, i in all_instruments().items()],
            "cadence_options": [*((k, str(v)) for k, v in CADENCE_LABELS.items()), ("stop", _("Stop from this date"))],
            "values": values or {"starts_on": grant.today.isoformat()},
            "errors": errors or {},
            "notice": notice,
            "redisclosure": consent_service.redisclosure_notice(),
            "redisclosure_translation": consent_service.redisclosure_translation(current_locale.get()),
        }
        return render(request, "questionnaires/therapist_patient.html", context, status_code=status_code)

    @get("/patients/{patient_id:int}/questionnaires", media_type=MediaType.HTML, name="questionnaires:patient")
    async def patient(self, request: Request, db_session: DbSession, patient_id: int, notice: str = "") -> Template:
        return await self._page(
            request, db_session, patient_id, notice=notice if notice in ("assigned", "followed") else ""
        )

    @get("/patients/{patient_id:int}/questionnaires.csv", name="questionnaires:patient_csv")
    async def patient_csv(self, request: Request, db_session: DbSession, patient_id: int) -> LitestarResponse[bytes]:
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind="q_export", category=CATEGORY)
        rows = [r for r in await service.completed(db_session, patient_id) if visible(grant, r)]
        lines = _lines(rows, await thresholds_for(db_session, therapist))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([consent_service.redisclosure_notice().replace("\n", " ")])
        writer.writerow([_("Patient"), _csv_cell(grant.patient.display_name)])
        writer.writerow([])
        item_ids = [i.id for ins in all_instruments().values() for i in ins.items]
        writer.writerow([_("Date"), _("Questionnaire"), _("Score"), _("Change"), _("Flags"), *item_ids])
        for line in reversed(lines):
            answers = line.row.answers or {}
            writer.writerow(
                [
                    str(line.row.local_date),
                    line.instrument.short_name,
                    line.score_text,
                    line.change_text,
                    "; ".join(line.flag_labels),
                    *[answers.get(i) if line.instrument.item(i) is not None and i in answers else "" for i in item_ids],
                ]
            )
        content = ("\ufeff" + out.getvalue()).encode("utf-8")
        return download(content, "text/csv; charset=utf-8", f"steady-questionnaires-patient-{patient_id}.csv")

    @post("/patients/{patient_id:int}/questionnaires/assign", media_type=MediaType.HTML, name="questionnaires:assign")
    async def assign(self, request: Request, db_session: DbSession, patient_id: int) -> Any:
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind=None, category=CATEGORY)
        raw = await form_values(request)
        values = {k: str(raw.get(k) or "") for k in ("instrument", "cadence", "starts_on")}
        errors: dict[str, str] = {}
        if values["instrument"] not in all_instruments():
            errors["instrument"] = _("Please pick a questionnaire from the list.")
        if values["cadence"] not in (*CADENCES, "stop"):
            errors["cadence"] = _("Please pick how often.")
        starts: date | None = None
        try:
            starts = date.fromisoformat(values["starts_on"])
        except ValueError:
            errors["starts_on"] = _("Please enter a date.")
        if starts is not None and not grant.today - timedelta(days=31) <= starts <= grant.today + timedelta(days=366):
            errors["starts_on"] = _("Please choose a date within the next year.")
        if errors or starts is None:
            return await self._page(request, db_session, patient_id, values=values, errors=errors, status_code=422)
        cadence = None if values["cadence"] == "stop" else values["cadence"]
        await service.assign(db_session, patient_id, values["instrument"], cadence, starts, None, therapist)
        return redirect_to(request, "questionnaires:patient", "?notice=assigned", patient_id=patient_id)

    @post("/questionnaires/{response_id:int}/followed-up", media_type=MediaType.HTML, name="questionnaires:followed_up")
    async def followed_up(self, request: Request, db_session: DbSession, response_id: int) -> Any:
        """Record the same-day follow-up of an item-9 answer; the flag clears. The result must be visible to this
        therapist (consent with the category, or shared with them once)."""
        therapist: User = request.user
        row = await db_session.get(Response, response_id)
        if row is None or not row.safety or row.status != "complete":
            raise NotFoundException()
        consent_id: int | None = None
        if row.shared_once_with_id != therapist.id:
            grant = await require_shared_view(db_session, therapist, row.user_id, kind=None, category=CATEGORY)
            if not visible(grant, row):
                raise NotFoundException()
            consent_id = grant.consent.id
        elif row.user_id not in {p.id for p in await _care_patients(db_session, therapist)}:
            raise NotFoundException()
        raw = await form_values(request)
        note = str(raw.get("note") or "")[:500]
        await service.record_followup(db_session, therapist, row, note)
        await consent_service.record_disclosure(
            db_session,
            patient_id=row.user_id,
            viewer=therapist,
            kind="q_followup",
            subject=str(row.id),
            consent_id=consent_id,
        )
        back = str(raw.get("back") or "")
        dashboard = request.app.route_reverse("sharing:dashboard")  # only back to a therapist page: no open redirect
        return redirect(request, back if back.startswith(dashboard) and "//" not in back else dashboard)


async def _care_patients(db: AsyncSession, therapist: User) -> list[User]:
    from server.accounts.models import CareTeam

    rows = await db.scalars(
        select(User)
        .join(CareTeam, col(CareTeam.patient_id) == col(User.id))
        .where(col(CareTeam.therapist_id) == therapist.id, col(User.clinic_id) == therapist.clinic_id)
    )
    return list(rows)


# -- admin: clinic defaults and thresholds --------------------------------------------------------------------


class QuestionnaireSettingsController(Controller):
    path = "/admin/questionnaires"
    guards = [admin_only]

    def _context(self, clinic: Clinic, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 saved: bool = False) -> dict[str, Any]:  # fmt: skip
        defaults = service.clinic_defaults(clinic)
        thresholds = Thresholds.from_settings(clinic.settings)
        if values is None:
            values = {f"default_{code}": defaults.get(code, {}).get("cadence", "") for code in all_instruments()}
            values.update({k: str(v) for k, v in thresholds.as_dict().items()})
        return {
            "instruments": all_instruments(),
            "cadence_options": [("", _("Not by default")), *((k, str(v)) for k, v in CADENCE_LABELS.items())],
            "limits": LIMITS,
            "values": values,
            "errors": errors or {},
            "saved": saved,
        }

    @get("/", media_type=MediaType.HTML, name="questionnaires:page")
    async def page(self, request: Request, db_session: DbSession, saved: str = "") -> Template:
        clinic = await own_clinic(db_session, request.user)
        return render(request, "questionnaires/admin.html", self._context(clinic, saved=bool(saved)))

    @post("/", media_type=MediaType.HTML, name="questionnaires:save")
    async def save(self, request: Request, db_session: DbSession) -> Any:
        clinic = await own_clinic(db_session, request.user)
        raw = await form_values(request)
        values = {f"default_{c}": str(raw.get(f"default_{c}") or "") for c in all_instruments()}
        values.update({k: str(raw.get(k) or "") for k in LIMITS})
        errors: dict[str, str] = {}
        for code in all_instruments():
            if values[f"default_{code}"] not in ("", *CADENCES):
                errors[f"default_{code}"] = _("Please pick how often.")
        numbers: dict[str, int] = {}
        for key, (low, high) in LIMITS.items():
            try:
                numbers[key] = int(values[key])
            except ValueError:
                numbers[key] = -1
            if not low <= numbers[key] <= high:
                errors[key] = _("Please enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
        if errors:
            return render(request, "questionnaires/admin.html", self._context(clinic, values, errors), status_code=422)
        today = local_today(clinic, utcnow()).isoformat()
        old = service.clinic_defaults(clinic)
        defaults = {
            code: {
                "cadence": values[f"default_{code}"],
                # Keep the start of an unchanged default, so its schedule doesn't shift.
                "since": old[code]["since"] if old.get(code, {}).get("cadence") == values[f"default_{code}"] else today,
            }
            for code in all_instruments()
            if values[f"default_{code}"]
        }
        clinic.settings = {
            **(clinic.settings or {}),
            service.DEFAULTS_KEY: defaults,
            "questionnaire_thresholds": numbers,
        }
        db_session.add(clinic)
        return redirect_to(request, "questionnaires:page", "?saved=1")
