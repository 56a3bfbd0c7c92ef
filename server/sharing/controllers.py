"""Sharing routes.

Patient (patient_only):
- ``GET  /sharing``                                  my consents (active / ended), share or change, access log, nudge
- ``GET  /sharing/consent/new?therapist=<id>``        the consent screen (therapists of my clinic only; 404 otherwise)
- ``POST /sharing/consent``                           sign (422 with inline errors and kept values)
- ``GET  /sharing/consent/{id}``                      one signed consent, word for word
- ``POST /sharing/consent/{id}/revoke``               revoke in one tap (effective on the next request)
- ``POST /sharing/consent/{id}/narrow``               stop sharing one category in one tap (a new version)
- ``POST /sharing/nudge``                             "please look at my week" (one a day; a push to the therapist)

Therapist (therapist_only; every read goes through `access.require_shared_views` and writes the access log):
- ``GET  /therapist``                                 dashboard: ``?view=last7|since_session`` or ``?week=2026-W46``,
                                                      ``?flag=<key>`` filter (htmx: rows only)
- ``POST /therapist/patients/{id}/reviewed``          mark a patient's open flags reviewed (stored)
- ``GET  /therapist/patients/{id}?week=2026-W47``      a patient's week, week by week
- ``GET  /therapist/patients/{id}/weeks/2026-W47.pdf`` / ``.csv``  exports with the § 2.32 notice
- ``POST /therapist/patients/{id}/homework``          assign a skill card (and queue a reminder)

Admin (admin_only): ``GET/POST /admin/flags`` — the clinic's flag thresholds.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date, format_datetime
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from markupsafe import Markup
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Select, bindparam, func, select
from sqlmodel import col

from server.accounts.guards import admin_only, patient_only, therapist_only
from server.accounts.models import CareTeam, Clinic, User
from server.checkins.charts import line_chart, summary_text
from server.consent import service as consent_service
from server.consent.forms import form_context, initial_values, validate_consent_form
from server.consent.wording import FAMILY_CATEGORIES, THERAPIST_CATEGORIES, long_date
from server.db import DbSession, among_given, pk, read_rows, read_together, table_of, utcnow
from server.i18n import current_locale, ngettext
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.localtime import local_date_of, local_datetime
from server.sharing import dashboard, extensions
from server.sharing import patient as patient_side
from server.sharing.access import AccessGrant, require_shared_view, require_shared_views
from server.sharing.charts import sparkline
from server.sharing.exports import diary_grid, export_filename, summary_csv, summary_pdf, urge_label, week_range_text
from server.sharing.models import SharingNudge
from server.sharing.notify import homework_reminder
from server.sharing.summary import URGE_KINDS, Flag, WeeklySummary, sober_days, weekday_name, weekly_summary
from server.sharing.thresholds import Thresholds, ThresholdsForm
from server.sharing.weeks import Week
from server.skills.catalogue import default_catalogue
from server.skills.logic import UnknownCardError, assign_card, card_title, localised
from server.skills.models import SkillAssignment
from server.web.edge import is_bounded_id
from server.web.forms import form_values, validate
from server.web.responses import download, redirect, redirect_to, render, url

CATEGORY_LABELS = {o.id: o.label for o in (*THERAPIST_CATEGORIES, *FAMILY_CATEGORIES)}
STATE_LABELS = {
    "active": _l("Active"),
    "upcoming": _l("Not started yet"),
    "expired": _l("Ended"),
    "revoked": _l("Revoked"),
    "replaced": _l("Replaced by a newer version"),
}
LOG_KIND_LABELS = {
    "summary_view": _l("viewed your weekly summary"),
    "export_pdf": _l("downloaded your weekly summary (PDF)"),
    "export_csv": _l("downloaded your weekly summary (spreadsheet)"),
    "dashboard": _l("saw your week on their patient list"),
    "notification": _l("was sent an update"),
    "attendance_view": _l("looked at your groups and attendance"),
    "attendance_mark": _l("marked your attendance at a group"),
    "q_view": _l("looked at your questionnaire results"),
    "q_export": _l("downloaded your questionnaire results"),
    "q_followup": _l("recorded that they followed up on your questionnaire"),
}
FLAG_FILTERS: tuple[tuple[str, Any], ...] = (
    ("any", _l("Any flag")),
    ("no_checkin", _l("No recent check-in")),
    ("cravings", _l("Strong cravings")),
    ("use", _l("Substance use")),
    ("self_harm", _l("Self-harm urge")),
    ("missed_groups", _l("Missed groups")),
    ("mood_drop", _l("Mood dropped")),
    ("nudge", _l("Asked you to look")),
)
FLAG_KEYS = {key for key, _label in FLAG_FILTERS}
HISTORY_DAYS = 21  # sparklines and charts: the week plus the three before it
_EXPORT_RE = re.compile(r"^(\d{4}-W\d{2})\.(pdf|csv)$")


def category_label(category: str) -> str:
    label = CATEGORY_LABELS.get(category)
    return str(label) if label is not None else category


def _local_text(user: User, moment: Any) -> str:
    return format_datetime(local_datetime(user, moment), "medium", locale=current_locale.get())


def _local_day(user: User, moment: Any) -> date:
    return local_date_of(user, moment)


# --- the patient's side ------------------------------------------------------------------------------------


def _log_rows(patient: User, entries: list[consent_service.LogEntry]) -> list[dict[str, str]]:
    """The access log for the patient's eyes: repeats of the same look on the same day are shown once, counted."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in entries:  # newest first, so each group keeps its latest time
        key = (entry.viewer_name, entry.kind, entry.subject, _local_day(patient, entry.at))
        if key in grouped:
            grouped[key]["count"] += 1
        else:
            grouped[key] = {"count": 1, "entry": entry}
    result = []
    for row in grouped.values():
        entry = row["entry"]
        what = str(LOG_KIND_LABELS.get(entry.kind, entry.kind))
        if row["count"] > 1:
            what += " " + ngettext("(%(num)s time that day)", "(%(num)s times that day)", row["count"]) % {
                "num": row["count"]
            }
        result.append(
            {
                "when": _local_text(patient, entry.at),
                "who": entry.viewer_name or _("Someone no longer at the clinic"),
                "what": what,
                "subject": entry.subject,
            }
        )
    return result


class SharingController(Controller):
    path = "/sharing"
    guards = [patient_only]

    async def _overview_context(self, request: Request, db: Any, notice: str = "") -> dict[str, Any]:
        patient: User = request.user
        rows = await consent_service.consents_for_patient(db, pk(patient), recipient_kind="therapist")
        active = [r for r in rows if r.state == "active"]
        ended = [r for r in rows if r.state != "active"]
        sharing_with = {r.consent.recipient_id for r in active}
        therapists = await patient_side.clinic_therapists(db, patient)
        log = await consent_service.disclosures_for_patient(db, pk(patient), limit=500)
        return {
            "active": active,
            "ended": ended,
            "therapists": therapists,
            "sharing_with": sharing_with,
            "log": _log_rows(patient, log),
            "nudged_today": await patient_side.nudged_today(db, patient),
            "notice": notice,
            "category_label": category_label,
            "state_label": lambda s: str(STATE_LABELS.get(s, s)),
            "when": lambda m: _local_text(patient, m),
            "last_day": lambda c: long_date(_local_day(patient, c.ends_at - timedelta(seconds=1))),
        }

    @get("/", name="sharing:overview")
    async def overview(self, request: Request, db_session: DbSession, notice: str = "") -> Template:
        known = {"signed", "revoked", "narrowed", "nudge_sent", "nudge_already", "nudge_not_sharing", "unchanged"}
        context = await self._overview_context(request, db_session, notice if notice in known else "")
        return render(request, "sharing/overview.html", context)

    async def _therapist_or_404(self, request: Request, db: Any, raw: Any) -> User:
        if not is_bounded_id(str(raw).strip()):
            raise NotFoundException()
        therapist_id = int(str(raw).strip())
        therapist = await patient_side.clinic_therapist(db, request.user, therapist_id)
        if therapist is None:
            raise NotFoundException()
        return therapist

    @get("/consent/new", name="sharing:new_consent")
    async def new_consent(self, request: Request, db_session: DbSession, therapist: str = "") -> Template:
        person = await self._therapist_or_404(request, db_session, therapist)
        spec = await patient_side.consent_spec(db_session, request.user, person)
        previous = await consent_service.active_consent(db_session, pk(request.user), pk(person))
        context = {
            "consent": form_context(spec, initial_values(spec, previous)),
            "therapist": person,
            "changing": previous is not None,
        }
        return render(request, "sharing/consent_new.html", context)

    @post("/consent", media_type=MediaType.HTML, name="sharing:sign")
    async def sign(self, request: Request, db_session: DbSession) -> Any:
        raw = await form_values(request, list_fields=("categories",))
        person = await self._therapist_or_404(request, db_session, raw.get("therapist"))
        patient: User = request.user
        spec = await patient_side.consent_spec(db_session, patient, person)
        result = validate_consent_form(raw, spec, patient)
        if result.choice is None:
            previous = await consent_service.active_consent(db_session, pk(patient), pk(person))
            context = {
                "consent": form_context(spec, result.values, result.errors),
                "therapist": person,
                "changing": previous is not None,
            }
            return render(request, "sharing/consent_new.html", context, status_code=422)
        await consent_service.sign_consent(
            db_session,
            patient=patient,
            recipient=person,
            recipient_kind="therapist",
            purpose=spec.terms.purpose,
            locale=current_locale.get(),
            **result.choice.sign_kwargs(),
        )
        return redirect_to(request, "sharing:overview", "?notice=signed")

    @get("/consent/{consent_id:int}", name="sharing:record")
    async def record(self, request: Request, db_session: DbSession, consent_id: int) -> Template:
        consent = await consent_service.get_patient_consent(db_session, request.user.id, consent_id)
        if consent is None:
            raise NotFoundException()
        recipient = await db_session.get(User, consent.recipient_id)
        return render(
            request,
            "sharing/consent_record.html",
            {
                "consent": consent,
                "recipient_name": recipient.display_name if recipient else "",
                "state": str(STATE_LABELS.get(consent.state(utcnow()), "")),
                "signed_when": _local_text(request.user, consent.signed_at),
            },
        )

    @post("/consent/{consent_id:int}/revoke", media_type=MediaType.HTML, name="sharing:revoke")
    async def revoke(self, request: Request, db_session: DbSession, consent_id: int) -> Any:
        consent = await consent_service.revoke(db_session, patient_id=request.user.id, consent_id=consent_id)
        if consent is None:
            raise NotFoundException()
        return redirect_to(request, "sharing:overview", "?notice=revoked")

    @post("/consent/{consent_id:int}/narrow", media_type=MediaType.HTML, name="sharing:narrow")
    async def narrow(self, request: Request, db_session: DbSession, consent_id: int) -> Any:
        consent = await consent_service.get_patient_consent(db_session, request.user.id, consent_id)
        if consent is None:
            raise NotFoundException()
        values = await form_values(request)
        category = str(values.get("category") or "")
        if consent.state(utcnow()) != "active" or category not in consent.categories:
            return redirect_to(request, "sharing:overview", "?notice=unchanged")
        if len(consent.categories) == 1:
            # Taking away the last thing shared is stopping altogether.
            await consent_service.revoke(db_session, patient_id=request.user.id, consent_id=consent_id)
            return redirect_to(request, "sharing:overview", "?notice=revoked")
        new = await patient_side.narrow(db_session, request.user, consent, category)
        return redirect_to(request, "sharing:overview", "?notice=narrowed" if new is not None else "?notice=unchanged")

    @post("/nudge", media_type=MediaType.HTML, name="sharing:nudge")
    async def nudge(self, request: Request, db_session: DbSession) -> Any:
        values = await form_values(request)
        raw = str(values.get("therapist") or "").strip()
        if not is_bounded_id(raw):
            return redirect_to(request, "sharing:overview", "?notice=nudge_not_sharing")
        therapist_id = int(raw)
        result = await patient_side.send_nudge(db_session, request.user, therapist_id)
        return redirect_to(request, "sharing:overview", f"?notice=nudge_{result.status}")


# --- the therapist's side ----------------------------------------------------------------------------------


@dataclass
class DashboardRow:
    grant: AccessGrant
    summary: WeeklySummary
    flags: list[Flag]  # open flags: unreviewed days in the rolling views, the week's own in a picked week
    sober_days: int | None
    nudged: bool
    mood_spark: Markup | None
    craving_spark: Markup | None
    words: RowWords

    @property
    def weight(self) -> tuple[int, int]:
        return (len(self.flags), 1 if self.nudged else 0)

    @property
    def shown(self) -> tuple[Any, ...]:
        """Everything of this row its HTML shows (`sharing/_dashboard_row.html`), the key it is remembered under."""
        grant = self.grant
        return (grant.patient_id, grant.patient.display_name, tuple(self.flags), self.sober_days, self.nudged,
                self.mood_spark, self.craving_spark, self.words)  # fmt: skip

    def matches(self, flag: str) -> bool:
        if flag == "any":
            return bool(self.flags) or self.nudged
        if flag == "nudge":
            return self.nudged
        return any(f.key == flag for f in self.flags)


@dataclass(frozen=True)
class RowWords:
    """A row's words, translated as the template's `_()`/`ngettext()` would (autoescaped: the translation is markup,
    the numbers are escaped into it). Computed here, not in the template: a hundred rows made ~500 calls through
    Jinja's context, and the same few figures recur across rows and reloads (`_row_words` remembers them)."""

    span: str  # the days shown: "Nov 30 – Dec 6"
    checkins: Markup | None  # "6 of 7 days", with a check-in category shared
    mood: Markup | None  # "avg 5.3", with a mood average
    peak: Markup | None  # "peak 8", with a craving peak
    shares_use: bool  # whether the sober-days column is shared


def _row_words(summary: WeeklySummary) -> RowWords:
    return _words(
        current_locale.get(), summary.week, summary.shows_adherence, summary.days_counted, summary.checkin_days,
        summary.mood_avg, summary.craving_peak, summary.shares("substance_use"),
    )  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _words(
    locale: str, week: Week, adherence: bool, days: int, checked: int | None, mood: float | None, peak: int | None,
    use: bool,
) -> RowWords:  # fmt: skip
    # `locale` is part of the key only: gettext reads the current language itself.
    return RowWords(
        span=_week_choice_label(week),
        checkins=Markup(ngettext("%(n)s of %(num)s day", "%(n)s of %(num)s days", days)) % {"n": checked, "num": days}
        if adherence
        else None,
        mood=Markup(_("avg %(n)s")) % {"n": mood} if mood is not None else None,
        peak=Markup(_("peak %(n)s")) % {"n": peak} if peak is not None else None,
        shares_use=use,
    )


class HomeworkForm(BaseModel):
    card_id: str = Field(min_length=1, max_length=80)
    note: str = Field(default="", max_length=500)
    due_on: date | None = None

    @field_validator("card_id")
    @classmethod
    def _known(cls, value: str) -> str:
        if default_catalogue().by_id(value) is None:
            raise ValueError(_("Please pick a card from the list."))
        return value


def _week_choice_label(week: Week) -> str:
    """'Nov 16 – Nov 22' for the week picker (and each dashboard row)."""
    return _span_label(week.monday, week.sunday, current_locale.get())


@functools.lru_cache(maxsize=1024)
def _span_label(first: date, last: date, locale: str) -> str:
    # Babel's format_date costs ~20 µs and the dashboard labels every row, mostly with the same few spans.
    return _("%(start)s – %(end)s") % {
        "start": format_date(first, "MMM d", locale=locale),
        "end": format_date(last, "MMM d", locale=locale),
    }


async def _thresholds(db: Any, user: User) -> Thresholds:
    return Thresholds.for_clinic(await db.get(Clinic, user.clinic_id))


def _charts(summary: WeeklySummary, prefix: str) -> dict[str, Markup]:
    charts: dict[str, Markup] = {}
    if summary.shares("mood_sleep") and summary.mood_history:
        title = _("Mood")
        charts["mood"] = line_chart(
            summary.mood_history,
            chart_id=f"{prefix}-mood",
            title=title,
            description=summary_text(summary.mood_history, title),
            series="mood",
        )
    if summary.shares("cravings_triggers") and summary.craving_history:
        title = _("Craving")
        charts["craving"] = line_chart(
            summary.craving_history,
            chart_id=f"{prefix}-craving",
            title=title,
            description=summary_text(summary.craving_history, title),
            series="craving",
        )
    return charts


@dataclass(frozen=True)
class SparkWords:
    """A sparkline's series and its words, translated once per request (not twice per row: two hundred gettext
    calls)."""

    series: str
    name: str
    title: str

    @classmethod
    def of(cls, series: str) -> SparkWords:
        if series == "mood":
            return cls(series, _("Mood"), _("Mood, last 4 weeks"))
        return cls(series, _("Craving"), _("Craving, last 4 weeks"))


def _spark(
    summary: WeeklySummary, category: str, points: list[tuple[date, int | None]], chart_id: str, words: SparkWords
) -> Markup | None:
    if not summary.shares(category):
        return None
    return sparkline(points, chart_id=chart_id, title=words.title, name=words.name, series=words.series)


async def _recently_nudged(db: DbSession, therapist_id: int, ids: list[int], now: datetime) -> set[int]:
    """Patients this therapist nudged about sharing in the last 7 days."""
    if not ids:
        return set()
    params = {"therapist_id": therapist_id, "ids": ids, "since": now - timedelta(days=7)}
    return {pid for (pid,) in await read_rows(db, _nudges_read(db.get_bind().dialect.name), params)}


@functools.lru_cache(maxsize=4)
def _nudges_read(dialect_name: str) -> Select[Any]:
    return select(col(SharingNudge.patient_id)).where(
        col(SharingNudge.therapist_id) == bindparam("therapist_id"),
        among_given(dialect_name, col(SharingNudge.patient_id), "ids"),
        col(SharingNudge.created_at) >= bindparam("since"),
    )


async def _not_sharing(db: DbSession, therapist_id: int, ids: list[int]) -> int:
    """Patients on this therapist's care team who don't share with them now (`ids`: those who do)."""
    params = {"therapist_id": therapist_id, "ids": ids or [-1]}
    [(count,)] = await read_rows(db, _not_sharing_read(db.get_bind().dialect.name), params)
    return int(count)


@functools.lru_cache(maxsize=4)
def _not_sharing_read(dialect_name: str) -> Select[Any]:
    team = table_of(CareTeam).c
    return select(func.count(team.id)).where(
        team.therapist_id == bindparam("therapist_id"), ~among_given(dialect_name, team.patient_id, "ids")
    )


def _dashboard_rows(grants: Any, days: Any, sober: dict[int, int], nudged: set[int]) -> list[DashboardRow]:
    """One row per shared patient, the most flagged first, then by name."""
    rows: list[DashboardRow] = []
    mood, craving = SparkWords.of("mood"), SparkWords.of("craving")
    for grant in grants:
        pid = grant.patient_id
        summary = days[pid].summary
        rows.append(
            DashboardRow(
                grant=grant,
                summary=summary,
                flags=days[pid].flags_from.flags,
                sober_days=sober.get(pid) if summary.shares("substance_use") else None,
                nudged=pid in nudged,
                mood_spark=_spark(summary, "mood_sleep", summary.mood_history, f"m{pid}", mood),
                craving_spark=_spark(summary, "cravings_triggers", summary.craving_history, f"c{pid}", craving),
                words=_row_words(summary),
            )
        )
    rows.sort(key=lambda r: (-r.weight[0], -r.weight[1], r.grant.patient.display_name.casefold(), r.grant.patient_id))
    return rows


class TherapistController(Controller):
    path = "/therapist"
    guards = [therapist_only]

    @get("/", name="sharing:dashboard")
    async def dashboard(
        self, request: Request, db_session: DbSession, flag: str = "", view: str = "", week: str = ""
    ) -> Template:
        therapist: User = request.user
        now = utcnow()
        flag = flag if flag in FLAG_KEYS else ""
        # One picker for the days shown: a rolling view, or an ISO week (as ?view= from the form or ?week=).
        picked = Week.parse(week or view) if (week or view) and view not in dashboard.VIEWS else None
        view = view if view in dashboard.VIEWS and picked is None else ("" if picked else "last7")
        grants = await require_shared_views(
            db_session, therapist, kind=None, now=now, week=picked.label if picked else None
        )
        # Kept while the page is built: the questionnaires' panel reads the same clinic's settings, which the session
        # then has in its identity map (weakly held: without this reference it would be read again).
        clinic = await db_session.get(Clinic, therapist.clinic_id)
        thresholds = Thresholds.for_clinic(clinic)
        ids = [g.patient_id for g in grants]
        since_session = view == "since_session" and picked is None
        sessions = await dashboard.last_session_days(db_session, grants, now) if since_session else {}
        # Independent reads, made together: on PostgreSQL the request waits for the longest, not for their sum.
        days, sober, nudged, not_sharing = await read_together(
            dashboard.dashboard_days(
                db_session, pk(therapist), grants, thresholds,
                view=view, picked=picked, sessions=sessions, history_days=HISTORY_DAYS,
            ),
            sober_days(db_session, {g.patient_id: g.today for g in grants if "substance_use" in g.categories}),
            _recently_nudged(db_session, pk(therapist), ids, now),
            _not_sharing(db_session, pk(therapist), ids),
        )  # fmt: skip
        rows = _dashboard_rows(grants, days, sober, nudged)
        shown = [r for r in rows if r.matches(flag)] if flag else rows
        # Only rows actually shown are disclosed, so only they are logged (one INSERT for all of them).
        await consent_service.record_disclosures(
            db_session,
            [(r.grant.patient_id, r.grant.consent.id, r.summary.week.label) for r in shown],
            viewer=therapist,
            kind="dashboard",
            at=now,
        )
        this_week = Week.of(local_date_of(therapist, now))
        context = {
            "rows": shown,
            "total": len(rows),
            "flag": flag,
            "flag_filters": [(k, str(v)) for k, v in FLAG_FILTERS],
            "view": picked.label if picked else view,
            "picked": picked,
            "back": str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
            "views": [(k, str(v)) for k, v in dashboard.VIEWS.items()],
            "span_text": _week_choice_label,
            "week_choices": [(w.label, _week_choice_label(w)) for w in (this_week.shift(-i) for i in range(12))],
            "not_sharing": not_sharing,
            "thresholds": thresholds,
            "redisclosure": consent_service.redisclosure_notice(),
            "redisclosure_translation": consent_service.redisclosure_translation(current_locale.get()),
        }
        context.update(await extensions.dashboard_context(db_session, therapist, grants, now))
        return render(request, "sharing/dashboard.html", context, partial="sharing/_dashboard_rows.html")

    @post("/patients/{patient_id:int}/reviewed", name="sharing:mark_reviewed")
    async def mark_reviewed(self, request: Request, db_session: DbSession, patient_id: int) -> Response[Any]:
        """Flags up to the patient's today are reviewed: they stop showing until something new comes up."""
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind=None)
        await dashboard.mark_reviewed(db_session, pk(therapist), grant, utcnow())
        raw = await form_values(request)
        back = str(raw.get("back") or "")
        home = url(request, "sharing:dashboard")
        target = back if back.startswith(home) and "//" not in back and len(back) < 200 else home
        return redirect(request, target)

    async def _patient_page(
        self,
        request: Request,
        db: Any,
        patient_id: int,
        week: str | None,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        notice: str = "",
    ) -> Template:
        therapist: User = request.user
        grant = await require_shared_view(db, therapist, patient_id, week, kind="summary_view")
        thresholds = await _thresholds(db, therapist)
        summary = await weekly_summary(db, grant.week_request(history_days=HISTORY_DAYS), thresholds)
        weeks: list[Week] = []
        w = grant.current_week
        while w >= grant.first_week and len(weeks) < 60:
            weeks.append(w)
            w = w.shift(-1)
        assignments = list(
            await db.scalars(
                select(SkillAssignment)
                .where(col(SkillAssignment.patient_id) == patient_id, col(SkillAssignment.therapist_id) == therapist.id)
                .order_by(col(SkillAssignment.assigned_at).desc())
                .limit(20)
            )
        )
        cards = sorted((localised(c) for c in default_catalogue().cards), key=lambda c: c.title.casefold())
        prev_week, next_week = grant.week.shift(-1), grant.week.shift(1)
        context = {
            "grant": grant,
            "patient": grant.patient,
            "summary": summary,
            "week_range": week_range_text(summary),
            "weeks": weeks,
            "prev_week": prev_week if grant.visible(prev_week) else None,
            "next_week": next_week if grant.visible(next_week) else None,
            "charts": _charts(summary, "p"),
            "grid": diary_grid(summary),
            "categories": [
                category_label(c)
                for c in sorted(
                    grant.categories, key=lambda c: list(CATEGORY_LABELS).index(c) if c in CATEGORY_LABELS else 99
                )
            ],
            "assignments": [(a, card_title(a.card_id)) for a in assignments],
            "shows_completion": "skill_practice" in grant.categories,
            "cards": cards,
            "values": values or {},
            "errors": errors or {},
            "notice": notice,
            "urge_kinds": URGE_KINDS,
            "urge_label": urge_label,
            "weekday": weekday_name,
            "redisclosure": consent_service.redisclosure_notice(),
            "redisclosure_translation": consent_service.redisclosure_translation(current_locale.get()),
            "consent_ends": long_date(_local_day(grant.patient, grant.consent.ends_at - timedelta(seconds=1))),
            "thresholds": thresholds,
        }
        context.update(await extensions.week_context(db, therapist, grant))
        return render(request, "sharing/patient.html", context, partial="sharing/_week.html", status_code=status_code)

    @get("/patients/{patient_id:int}", name="sharing:patient")
    async def patient(
        self, request: Request, db_session: DbSession, patient_id: int, week: str | None = None, notice: str = ""
    ) -> Template:
        return await self._patient_page(
            request, db_session, patient_id, week, notice="assigned" if notice == "assigned" else ""
        )

    @get("/patients/{patient_id:int}/weeks/{filename:str}", name="sharing:export")
    async def export(self, request: Request, db_session: DbSession, patient_id: int, filename: str) -> Response[bytes]:
        match = _EXPORT_RE.match(filename)
        if match is None:
            raise NotFoundException()
        label, ext = match.group(1), match.group(2)
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, label, kind=f"export_{ext}")
        thresholds = await _thresholds(db_session, therapist)
        summary = await weekly_summary(db_session, grant.week_request(), thresholds)
        extra = await extensions.week_rows(db_session, therapist, grant)
        if ext == "csv":
            content, media = summary_csv(summary, grant.patient.display_name, extra), "text/csv; charset=utf-8"
        else:
            clinic = await db_session.get(Clinic, therapist.clinic_id)
            content = summary_pdf(summary, grant.patient.display_name, clinic.name if clinic else "", extra)
            media = "application/pdf"
        return download(content, media, export_filename(summary, ext))

    @post("/patients/{patient_id:int}/homework", media_type=MediaType.HTML, name="sharing:homework")
    async def homework(self, request: Request, db_session: DbSession, patient_id: int) -> Any:
        therapist: User = request.user
        grant = await require_shared_view(db_session, therapist, patient_id, kind=None)
        raw = await form_values(request)
        values = {k: raw.get(k, "") for k in ("card_id", "note", "due_on", "week")}
        result = validate(HomeworkForm, {k: values[k] for k in ("card_id", "note", "due_on")})
        errors = dict(result.errors)
        data = result.data
        if data is not None and data.due_on is not None and data.due_on < grant.today:
            errors["due_on"] = _("Please choose today or a later day.")
        week = str(values.get("week") or "") or None
        if errors or data is None:
            return await self._patient_page(
                request,
                db_session,
                patient_id,
                week if Week.parse(week) else None,
                values=values,
                errors=errors,
                status_code=422,
            )
        try:
            assignment = await assign_card(db_session, patient_id, therapist.id, data.card_id, data.note, data.due_on)
        except UnknownCardError:
            return await self._patient_page(
                request,
                db_session,
                patient_id,
                None,
                values=values,
                errors={"card_id": _("Please pick a card from the list.")},
                status_code=422,
            )
        await homework_reminder(db_session, grant.patient, pk(assignment))
        target = url(request, "sharing:patient", "?notice=assigned", patient_id=patient_id)
        if week and Week.parse(week):
            target += f"&week={week}"
        return redirect(request, target + "#homework")


# --- the clinic's thresholds -------------------------------------------------------------------------------


class FlagSettingsController(Controller):
    path = "/admin/flags"
    guards = [admin_only]

    @get("/", name="sharing:page")
    async def page(self, request: Request, db_session: DbSession, saved: str = "") -> Template:
        thresholds = Thresholds.for_clinic(await db_session.get(Clinic, request.user.clinic_id))
        values = {k: str(v) for k, v in thresholds.as_dict().items()}
        return render(request, "sharing/flags.html", {"values": values, "errors": {}, "saved": bool(saved)})

    @post("/", media_type=MediaType.HTML, name="sharing:save")
    async def save(self, request: Request, db_session: DbSession) -> Any:
        clinic = await db_session.get(Clinic, request.user.clinic_id)
        if clinic is None:
            raise NotFoundException()
        raw = await form_values(request)
        values = {k: raw.get(k, "") for k in Thresholds().as_dict()}
        result = validate(ThresholdsForm, values)
        if result.data is None:
            return render(
                request,
                "sharing/flags.html",
                {"values": values, "errors": result.errors, "saved": False},
                status_code=422,
            )
        # A new dict so the JSON column is written; the clinic's other settings are kept.
        clinic.settings = {**(clinic.settings or {}), "flag_thresholds": result.data.model_dump()}
        db_session.add(clinic)
        return redirect_to(request, "sharing:page", "?saved=1")
