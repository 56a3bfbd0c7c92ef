"""Routes for the daily check-in, the craving log, sober-days counters, progress and export (patients only)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_skeleton
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server import localtime as dates
from server.accounts.guards import patient_only
from server.accounts.models import User
from server.checkins import charts, events, logic, measures, progress, sober, triggers
from server.checkins.export import EXPORT_SECTIONS_KEY, csv_chunks, export_json_bytes, export_zip_bytes
from server.checkins.forms import (
    CheckInForm,
    CravingForm,
    CravingUpdateForm,
    DiarySettingForm,
    ResetForm,
    ResetNoteForm,
    SobrietyForm,
    TriggerAddForm,
    validate_form,
)
from server.checkins.models import CheckIn, CheckInRevision, CravingLog
from server.crisis import logic as crisis_logic
from server.db import DbSession, get_owned_or_404, pk, utcnow
from server.i18n import current_locale
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.skills.catalogue import default_catalogue
from server.web.forms import form_values
from server.web.replay import is_replay, recorded
from server.web.responses import download, is_htmx, redirect_to, url
from server.web.responses import render as _page
from server.web.templating import TEMPLATES_DIR

CRAVING_WORDS = measures.BY_NAME["craving"].words
ACTIONS = (
    ("skill", _l("Used a skill")),
    ("called", _l("Called or texted someone")),
    ("left", _l("Left the situation")),
    ("nothing", _l("Nothing this time")),
)
OUTCOMES = (("passed", _l("It passed")), ("used", _l("I used")), ("", _l("Not yet, it's still here")))
CRISIS_PARTIAL = "crisis/_help_now.html"


def render(request: Request, page: str, context: dict[str, Any], **kwargs: Any) -> Template:
    """The shared `render`, with date formatting in the reader's language available to every template."""
    return _page(request, page, {**charts.FORMATS, **context}, **kwargs)


def _offline_page(response: Template) -> Template:
    """Let the service worker keep this page for offline use (only if the person switched that on)."""
    response.headers["X-Steady-Offline"] = "page"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


async def _crisis_context(db: AsyncSession, user: User) -> dict[str, Any]:
    """The clinic's own crisis numbers for the crisis partial (it falls back to default lines without them)."""
    return await crisis_logic.crisis_context(db, user)


def _crisis_partial_exists() -> bool:
    return (TEMPLATES_DIR / CRISIS_PARTIAL).is_file()


def checkin_values(row: CheckIn) -> dict[str, Any]:
    """A stored check-in as form values (strings), for editing."""
    values: dict[str, Any] = {m.name: m.form_value(getattr(row, m.name)) for m in measures.MEASURES}
    values.update(substances=row.substances, amount=row.amount, note=row.note, triggers=list(row.triggers))
    return values


def measure_context() -> dict[str, Any]:
    """What the check-in templates need to lay out the measures (see `server.checkins.measures`)."""
    return {
        "measures_in": measures.in_group,
        "measure": measures.BY_NAME,
        "followers": measures.followers(),
    }


def day_word(day: date, today: date) -> str:
    """How a late entry names its day: 'Monday' within the last week, else 'November 3' (with the year if not
    this year's)."""
    locale = current_locale.get()
    if timedelta(0) < today - day < timedelta(days=7):
        return format_date(day, "EEEE", locale=locale)
    return format_skeleton("MMMMd" if day.year == today.year else "yMMMMd", day, locale=locale)


def _parse_day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if raw else None
    except ValueError:
        return None


HTML = MediaType.HTML


class CheckInController(Controller):
    guards = [patient_only]

    # ------------------------------------------------------------------------------------------ check-in

    async def _form_context(
        self,
        db: AsyncSession,
        user: User,
        *,
        values: dict[str, Any],
        errors: dict[str, str],
        day: date | None,
        late: bool,
        existing: CheckIn | None = None,
        page: logic.FormPage | None = None,
    ) -> dict[str, Any]:
        """`page`: what `logic.form_page` read already for this day (else read here, for its trigger list and
        diary switch)."""
        assert user.id is not None
        today = dates.local_today(user)
        page = page or await logic.form_page(db, user.id, day or today)
        trigger_set = page.trigger_set
        chosen = values.get("triggers") or []
        chosen_list = [t for t in chosen if isinstance(t, str)] if isinstance(chosen, list) else []
        offered = list(trigger_set.visible)
        offered += [t for t in trigger_set.all if t.hidden and t.id in chosen_list]  # keep what was ticked
        values = dict(values)
        values["triggers"] = chosen_list
        if not values.get("idempotency_key") or errors:  # nothing was stored under a refused key
            values["idempotency_key"] = logic.new_key()
        return {
            "values": values,
            "errors": errors,
            "day": day,
            "late": late,
            "day_word": day_word(day, today) if late and day else "",
            "weekday_name_of": lambda d: format_date(d, "EEEE", locale=current_locale.get()),
            "existing": existing,
            "today": today,
            "trigger_choices": offered,
            "diary_on": page.diary_on,
            **measure_context(),
        }

    @get("/checkin", media_type=HTML, name="checkins:checkin_page")
    async def checkin_page(self, request: Request, db_session: DbSession, date: str | None = None) -> Any:
        user: User = request.user
        assert user.id is not None
        today = dates.local_today(user)
        if date is not None:
            day = _parse_day(date)
            error = None
            if day is None:
                error = _("Please enter a date like 2026-11-23.")
            elif day > today:
                error = _("This day hasn't come yet. Please pick today or an earlier day.")
            elif (today - day).days > logic.MAX_DAYS_BACK:
                error = _("You can fill in days from the past year.")
            if error or day is None:
                ctx = await self._form_context(
                    db_session, user, values={"date": date}, errors={"date": error or ""}, day=None, late=False
                )
                ctx["date_picker_only"] = True
                return render(request, "checkins/checkin.html", ctx, status_code=422)
            if day != today:
                page = await logic.form_page(db_session, user.id, day)
                existing = page.existing
                if existing is not None and not logic.checkin_editable(user, existing, utcnow()):
                    return redirect_to(request, "checkins:checkin_detail", checkin_id=existing.id)
                values = checkin_values(existing) if existing else {}
                values["date"] = day.isoformat()
                ctx = await self._form_context(
                    db_session, user, values=values, errors={}, day=day, late=True, existing=existing, page=page
                )
                return render(request, "checkins/checkin.html", ctx)
        page = await logic.form_page(db_session, user.id, today)
        existing = page.existing
        values = checkin_values(existing) if existing else {}
        ctx = await self._form_context(
            db_session, user, values=values, errors={}, day=None, late=False, existing=existing, page=page
        )
        ctx["form_day"] = today
        return _offline_page(render(request, "checkins/checkin.html", ctx))

    @post("/checkin", media_type=HTML, name="checkins:checkin_submit")
    async def checkin_submit(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        assert user.id is not None
        values = await form_values(request, list_fields=("triggers",))
        result = validate_form(CheckInForm, values)
        errors = dict(result.errors)
        outcome: logic.SaveResult | None = None
        if result.ok and result.data is not None:
            outcome = await logic.save_checkin(
                db_session,
                user,
                result.data,
                include_diary=result.values.get("diary_section") == "1",
                also=events.interest_reads(request),  # whether a "saved" listener has anything to do, read at once
            )
            errors = outcome.errors
        if outcome is None or not outcome.ok:
            day = _parse_day(str(values.get("date") or "")) if values.get("date") else None
            ctx = await self._form_context(
                db_session, user, values=values, errors=errors, day=day, late=bool(values.get("date"))
            )
            status = 409 if outcome is not None and outcome.conflict else 422
            return render(
                request, "checkins/checkin.html", ctx, partial="checkins/_checkin_form.html", status_code=status
            )
        assert outcome.record_id is not None
        # Commit before rendering the answer, so SQLite's write lock is held as briefly as possible.
        await db_session.commit()
        # A streak milestone may have been reached (listeners with nothing to do for this patient are skipped).
        if await events.announce_record_saved(request, db_session, user.id, outcome.interest):
            await db_session.commit()
        key = result.data.idempotency_key if result.data is not None else None
        if key and is_replay(request):
            return recorded(
                request,
                key,
                url(request, "checkins:checkin_detail", "?saved=1", checkin_id=outcome.record_id),
            )
        if is_htmx(request):
            # Answered from the row as just written (a day's first check-in has no revisions yet); a replay reads back.
            row = outcome.checkin or await get_owned_or_404(db_session, CheckIn, outcome.record_id, user.id)
            return render(
                request,
                "checkins/checkin_detail.html",
                await self._saved_context(
                    db_session,
                    user,
                    row,
                    trigger_set=outcome.trigger_set,
                    revisions=[] if outcome.created else None,
                ),
                partial="checkins/_checkin_saved.html",
            )
        return redirect_to(request, "checkins:checkin_detail", "?saved=1", checkin_id=outcome.record_id)

    async def _saved_context(
        self,
        db: AsyncSession,
        user: User,
        row: CheckIn,
        saved: bool = True,
        *,
        trigger_set: triggers.TriggerSet | None = None,
        revisions: list[CheckInRevision] | None = None,
    ) -> dict[str, Any]:
        """What the saved check-in's page or fragment shows; `trigger_set` and `revisions` when already known."""
        assert user.id is not None
        trigger_set = trigger_set or await triggers.trigger_set(db, user.id)
        worrying = logic.is_worrying(row)
        reset_candidates = await sober.counters_affected_by_use(db, user, row.local_date) if row.used else []
        strong = row.craving >= logic.HIGH_CRAVING or (row.urge_use or 0) >= 3
        extra = await _crisis_context(db, user) if worrying and saved else {}
        return {
            **extra,
            "checkin": row,
            "saved": saved,
            "trigger_labels": [trigger_set.label(t) for t in row.triggers],
            "show_crisis_help": worrying,
            "crisis_partial": CRISIS_PARTIAL if _crisis_partial_exists() else None,
            "reset_candidates": reset_candidates,
            "suggested_cards": await logic.suggested_cards_for_craving(db, user.id) if strong or row.used else [],
            "editable": logic.checkin_editable(user, row, utcnow()),
            "revisions": [
                {
                    "answers": rev.answers,
                    "filled_at": charts.date_time(dates.local_datetime(user, rev.client_created_at))
                    if rev.client_created_at
                    else "",
                }
                for rev in (revisions if revisions is not None else await logic.revisions_for(db, pk(row)))
            ],
            "encouragement": logic.encouragement(row.local_date),
            **measure_context(),
            "today": dates.local_today(user),
        }

    @get("/checkins/{checkin_id:int}", media_type=HTML, name="checkins:checkin_detail")
    async def checkin_detail(
        self, request: Request, db_session: DbSession, checkin_id: int, saved: str = ""
    ) -> Template:
        user: User = request.user
        assert user.id is not None
        row = await get_owned_or_404(db_session, CheckIn, checkin_id, user.id)
        ctx = await self._saved_context(db_session, user, row, saved=saved == "1")
        if not ctx["saved"]:
            ctx["show_crisis_help"] = False
            ctx["suggested_cards"] = []
            ctx["reset_candidates"] = []
        return render(request, "checkins/checkin_detail.html", ctx)

    # ------------------------------------------------------------------------------------------ settings

    async def _settings_page(
        self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any
    ) -> Template:
        user: User = request.user
        assert user.id is not None
        ctx = {
            "trigger_set": await triggers.trigger_set(db, user.id),
            "diary_on": await logic.diary_card_on(db, user.id),
            "values": {},
            "errors": {},
            **extra,
        }
        return render(request, "checkins/settings.html", ctx, status_code=status_code)

    @get("/checkin/settings", media_type=HTML, name="checkins:settings_page")
    async def settings_page(self, request: Request, db_session: DbSession) -> Template:
        return await self._settings_page(request, db_session)

    @post("/checkin/settings", media_type=HTML, name="checkins:settings_submit")
    async def settings_submit(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        assert user.id is not None
        result = validate_form(DiarySettingForm, await form_values(request))
        on = bool(result.data and result.data.diary_card)
        await logic.set_diary_card(db_session, user.id, on)
        return redirect_to(request, "checkins:settings_page", "?saved=1")

    @post("/checkin/triggers", media_type=HTML, name="checkins:trigger_add")
    async def trigger_add(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        assert user.id is not None
        result = validate_form(TriggerAddForm, await form_values(request))
        errors = dict(result.errors)
        if result.data is not None:
            problem = await triggers.add_custom(db_session, user.id, result.data.label)
            if problem:
                errors["label"] = problem
        if errors:
            return await self._settings_page(request, db_session, 422, values=result.values, errors=errors)
        return redirect_to(request, "checkins:settings_page", "?saved=1")

    @post("/checkin/triggers/{trigger_id:str}/hide", media_type=HTML, name="checkins:trigger_hide")
    async def trigger_hide(self, request: Request, db_session: DbSession, trigger_id: str) -> Any:
        user: User = request.user
        assert user.id is not None
        if not await triggers.set_hidden(db_session, user.id, trigger_id, True):
            raise NotFoundException()
        return redirect_to(request, "checkins:settings_page", "?saved=1")

    @post("/checkin/triggers/{trigger_id:str}/show", media_type=HTML, name="checkins:trigger_show")
    async def trigger_show(self, request: Request, db_session: DbSession, trigger_id: str) -> Any:
        user: User = request.user
        assert user.id is not None
        if not await triggers.set_hidden(db_session, user.id, trigger_id, False):
            raise NotFoundException()
        return redirect_to(request, "checkins:settings_page", "?saved=1")

    # ------------------------------------------------------------------------------------------ cravings

    async def _log_context(
        self, db: AsyncSession, user: User, *, values: dict[str, Any], errors: dict[str, str]
    ) -> dict[str, Any]:
        assert user.id is not None
        today = dates.local_today(user)
        page = await logic.log_page(db, user, today)
        trigger_set = page.trigger_set
        values = dict(values)
        chosen = values.get("triggers") or []
        values["triggers"] = [t for t in chosen if isinstance(t, str)] if isinstance(chosen, list) else []
        if not values.get("idempotency_key") or errors:  # nothing was stored under a refused key
            values["idempotency_key"] = logic.new_key()
        return {
            "values": values,
            "errors": errors,
            "trigger_choices": trigger_set.visible,
            "trigger_set": trigger_set,
            "recent": page.recent,
            "today": today,
            "checked_in_today": page.checked_in_today,
            "actions": ACTIONS,
            "action_labels": dict(ACTIONS),
            "outcomes": OUTCOMES,
            "outcome_labels": dict(OUTCOMES),
            "skill_cards": sorted(default_catalogue().cards, key=lambda c: c.title),
            "quick_cards": page.quick_cards,
            "craving_words": CRAVING_WORDS,
            "local_time": lambda moment: dates.local_datetime(user, moment),
        }

    @get("/log", media_type=HTML, name="checkins:log_page")
    async def log_page(self, request: Request, db_session: DbSession, saved: int | None = None) -> Template:
        user: User = request.user
        assert user.id is not None
        ctx = await self._log_context(db_session, user, values={}, errors={})
        if saved is not None:
            row = await db_session.get(CravingLog, saved)
            if row is not None and row.user_id == user.id:
                ctx.update(await self._craving_saved_context(db_session, row))
        response = render(request, "checkins/log.html", ctx)
        return response if saved is not None else _offline_page(response)

    async def _craving_saved_context(self, db: AsyncSession, row: CravingLog) -> dict[str, Any]:
        strong = row.intensity >= logic.HIGH_CRAVING or row.outcome == "used"
        return {
            "saved_craving": row,
            "saved_cards": await logic.suggested_cards_for_craving(db, row.user_id) if strong else [],
        }

    @post("/cravings", media_type=HTML, name="checkins:craving_submit")
    async def craving_submit(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        assert user.id is not None
        values = await form_values(request, list_fields=("triggers",))
        result = validate_form(CravingForm, values)
        errors = dict(result.errors)
        outcome: logic.SaveResult | None = None
        if result.ok and result.data is not None:
            outcome = await logic.save_craving(db_session, user, result.data)
            errors = outcome.errors
        if outcome is None or not outcome.ok:
            ctx = await self._log_context(db_session, user, values=values, errors=errors)
            status = 409 if outcome is not None and outcome.conflict else 422
            # The form posts into the small result box; a form with errors replaces the form itself.
            return render(
                request,
                "checkins/log.html",
                ctx,
                partial="checkins/_craving_form.html",
                status_code=status,
                re_target="#craving-area",
                re_swap="outerHTML",
            )
        assert outcome.record_id is not None
        await db_session.commit()  # as above: release the write lock before rendering
        key = result.data.idempotency_key if result.data is not None else None
        if key and is_replay(request):
            return recorded(request, key, url(request, "checkins:log_page", f"?saved={outcome.record_id}"))
        if is_htmx(request):
            row = await get_owned_or_404(db_session, CravingLog, outcome.record_id, user.id)
            ctx = await self._log_context(db_session, user, values={}, errors={})
            ctx.update(await self._craving_saved_context(db_session, row))
            return render(request, "checkins/log.html", ctx, partial="checkins/_craving_saved.html")
        return redirect_to(request, "checkins:log_page", f"?saved={outcome.record_id}")

    @get("/cravings/{craving_id:int}", media_type=HTML, name="checkins:craving_detail")
    async def craving_detail(self, request: Request, db_session: DbSession, craving_id: int) -> Template:
        user: User = request.user
        assert user.id is not None
        row = await get_owned_or_404(db_session, CravingLog, craving_id, user.id)
        return render(request, "checkins/craving_detail.html", await self._craving_detail_ctx(db_session, user, row))

    async def _craving_detail_ctx(
        self,
        db: AsyncSession,
        user: User,
        row: CravingLog,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        assert user.id is not None
        trigger_set = await triggers.trigger_set(db, user.id)
        card = default_catalogue().by_id(row.skill_card_id) if row.skill_card_id else None
        return {
            "craving": row,
            "card": card,
            "trigger_labels": [trigger_set.label(t) for t in row.triggers],
            "values": values
            if values is not None
            else {
                "outcome": row.outcome,
                "intensity_after": "" if row.intensity_after is None else str(row.intensity_after),
                "note": row.note,
            },
            "errors": errors or {},
            "action_labels": dict(ACTIONS),
            "outcomes": OUTCOMES,
            "outcome_labels": dict(OUTCOMES),
            "when": dates.local_datetime(user, row.occurred_at),
            "reset_candidates": await sober.counters_affected_by_use(db, user, row.local_date)
            if row.outcome == "used"
            else [],
        }

    @post("/cravings/{craving_id:int}", media_type=HTML, name="checkins:craving_update")
    async def craving_update(self, request: Request, db_session: DbSession, craving_id: int) -> Any:
        user: User = request.user
        assert user.id is not None
        row = await get_owned_or_404(db_session, CravingLog, craving_id, user.id)
        result = validate_form(CravingUpdateForm, await form_values(request))
        if not result.ok or result.data is None:
            ctx = await self._craving_detail_ctx(db_session, user, row, result.values, result.errors)
            return render(request, "checkins/craving_detail.html", ctx, status_code=422)
        row.outcome = result.data.outcome or ""
        row.intensity_after = result.data.intensity_after
        row.note = result.data.note
        return redirect_to(request, "checkins:craving_detail", "?saved=1", craving_id=row.id)

    # ------------------------------------------------------------------------------------------ sober days

    async def _sober_page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        user: User = request.user
        today = dates.local_today(user)
        counters, history = await sober.page_data(db, user, today)
        ctx = {
            "counters": counters,
            "history": history,
            "today": today,
            "values": {},
            "errors": {},
            **extra,
        }
        return render(request, "checkins/sober.html", ctx, status_code=status_code)

    @get("/sober", media_type=HTML, name="checkins:sober_page")
    async def sober_page(self, request: Request, db_session: DbSession) -> Template:
        return await self._sober_page(request, db_session)

    @post("/sober", media_type=HTML, name="checkins:sober_set")
    async def sober_set(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        result = validate_form(SobrietyForm, await form_values(request))
        errors = dict(result.errors)
        if result.data is not None:
            errors = await sober.set_sobriety_date(db_session, user, result.data.substance, result.data.started_on)
        if errors:
            return await self._sober_page(request, db_session, 422, values=result.values, errors=errors)
        await events.announce_record_saved(request, db_session, pk(user))  # a back-dated start may be a milestone
        return redirect_to(request, "checkins:sober_page", "?saved=1")

    @get("/sober/{date_id:int}/stop", media_type=HTML, name="checkins:sober_stop_confirm")
    async def sober_stop_confirm(self, request: Request, db_session: DbSession, date_id: int) -> Template:
        """Stopping a count is asked first: a plain page, so it works without JavaScript."""
        user: User = request.user
        counter = next((c for c in await sober.sober_counters(db_session, user) if c.id == date_id), None)
        if counter is None:
            raise NotFoundException()
        return render(request, "checkins/stop_confirm.html", {"counter": counter})

    @post("/sober/{date_id:int}/delete", media_type=HTML, name="checkins:sober_delete")
    async def sober_delete(self, request: Request, db_session: DbSession, date_id: int) -> Any:
        user: User = request.user
        assert user.id is not None
        confirmed = (await form_values(request)).get("confirm") == "yes"
        removed = await sober.remove_sobriety_date(db_session, user.id, date_id, confirmed=confirmed)
        if removed is None:
            raise NotFoundException()
        if not confirmed:
            return redirect_to(request, "checkins:sober_stop_confirm", date_id=date_id)
        # The undo offer carries what is needed to put the count back exactly (the person's own data).
        query = urlencode({"stopped": "1", "substance": removed.substance, "since": removed.started_on.isoformat()})
        return redirect_to(request, "checkins:sober_page", f"?{query}")

    @post("/sober/undo", media_type=HTML, name="checkins:sober_undo")
    async def sober_undo(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        result = validate_form(SobrietyForm, await form_values(request))
        if result.data is None:
            return await self._sober_page(request, db_session, 422, **result.rejected)
        errors = await sober.restore_sobriety_date(db_session, user, result.data.substance, result.data.started_on)
        if errors:
            return await self._sober_page(request, db_session, 422, values=result.values, errors=errors)
        await events.announce_record_saved(request, db_session, pk(user))
        return redirect_to(request, "checkins:sober_page", "?restored=1")

    @get("/sober/reset", media_type=HTML, name="checkins:reset_confirm")
    async def reset_confirm(self, request: Request, db_session: DbSession, on: str = "") -> Template:
        user: User = request.user
        today = dates.local_today(user)
        day = _parse_day(on) or today
        errors: dict[str, str] = {}
        if on and _parse_day(on) is None:
            errors["reset_on"] = _("Please enter a date like 2026-11-23.")
        if day > today:
            day = today
        counters = await sober.sober_counters(db_session, user, today)
        ctx = {
            "counters": counters,
            "affected": {c.substance for c in counters if c.started_on <= day},
            "day": day,
            "today": today,
            "values": {"reset_on": on or day.isoformat(), "note": ""},
            "errors": errors,
        }
        return render(request, "checkins/reset_confirm.html", ctx, status_code=422 if errors else 200)

    @post("/sober/reset", media_type=HTML, name="checkins:reset_submit")
    async def reset_submit(self, request: Request, db_session: DbSession) -> Any:
        user: User = request.user
        values = await form_values(request, list_fields=("substance",))
        result = validate_form(ResetForm, values)
        errors = dict(result.errors)
        made: list[Any] = []
        if result.data is not None:
            made, errors = await sober.reset_counters(
                db_session, user, result.data.substance, result.data.reset_on, result.data.note
            )
        if errors:
            today = dates.local_today(user)
            counters = await sober.sober_counters(db_session, user, today)
            chosen = values.get("substance") or []
            ctx = {
                "counters": counters,
                "affected": {c.substance for c in counters if c.substance in chosen},
                "day": _parse_day(str(values.get("reset_on") or "")) or today,
                "today": today,
                "values": values,
                "errors": errors,
            }
            return render(request, "checkins/reset_confirm.html", ctx, status_code=422)
        return redirect_to(request, "checkins:sober_page", "?restarted=1" if made else "?unchanged=1")

    @post("/sober/resets/{reset_id:int}/note", media_type=HTML, name="checkins:reset_note")
    async def reset_note(self, request: Request, db_session: DbSession, reset_id: int) -> Any:
        user: User = request.user
        assert user.id is not None
        result = validate_form(ResetNoteForm, await form_values(request))
        if result.data is None:
            return await self._sober_page(
                request,
                db_session,
                422,
                note_errors={reset_id: result.errors.get("note", "")},
                note_values={reset_id: result.values.get("note", "")},
            )
        if await sober.update_reset_note(db_session, user.id, reset_id, result.data.note) is None:
            raise NotFoundException()
        return redirect_to(request, "checkins:sober_page", f"?noted={reset_id}#reset-{reset_id}")

    # ------------------------------------------------------------------------------------------ progress

    @get("/progress", media_type=HTML, name="checkins:progress_page")
    async def progress_page(
        self, request: Request, db_session: DbSession, range: str = "30", month: str = ""
    ) -> Template:
        user: User = request.user
        assert user.id is not None
        days = int(range) if range in ("7", "30", "90") else 30
        today = dates.local_today(user)
        year, mon = today.year, today.month
        if month:
            try:
                parsed = datetime.strptime(month, "%Y-%m")
                if date(2000, 1, 1) <= date(parsed.year, parsed.month, 1) <= today:
                    year, mon = parsed.year, parsed.month
            except ValueError:
                pass
        start = progress.range_start(today, days)
        month_first, month_last = progress.month_bounds(year, mon)
        figures = await progress.page_figures(db_session, user.id, start, today)
        series, summary, top = figures.series, figures.summary, figures.top
        week = series[-7:]
        by_day = {p.day: p for p in series}
        if month_first < start:  # an earlier month: read just that month
            month_points = await progress.daily_points(db_session, user.id, month_first, min(month_last, today))
            by_day = {p.day: p for p in month_points}
        mood_points = [(p.day, p.mood) for p in series]
        craving_points = [(p.day, p.craving) for p in series]
        mood_name, craving_name = _("Mood"), _("Craving")
        prev_month = date(year - (mon == 1), (mon - 2) % 12 + 1, 1)
        next_month = month_last + timedelta(days=1)
        ctx = {
            "range_days": days,
            "ranges": progress.RANGES,
            "today": today,
            "series": series,
            "week": week,
            "weeks": progress.month_weeks(by_day, year, mon, today),
            "month_first": month_first,
            "prev_month": prev_month,
            "next_month": next_month if next_month <= today else None,
            "summary": summary,
            "top_triggers": top,
            "counters": sober.counters_from(figures.values, today),
            "mood_chart": charts.line_chart(
                mood_points,
                chart_id="mood-chart",
                title=_("Mood over the last %(n)s days") % {"n": days},
                description=charts.summary_text(mood_points, mood_name),
                series="mood",
            ),
            "craving_chart": charts.line_chart(
                craving_points,
                chart_id="craving-chart",
                title=_("Craving over the last %(n)s days") % {"n": days},
                description=charts.summary_text(craving_points, craving_name),
                series="craving",
            ),
            "days_chart": charts.bar_pair(
                summary.used_days,
                summary.not_used_days,
                summary.missing_days,
                chart_id="days-chart",
                title=_("Days used and not used"),
                description=_(
                    "%(not_used)s days without use, %(used)s days with use, %(missing)s days without a check-in."
                )
                % {"not_used": summary.not_used_days, "used": summary.used_days, "missing": summary.missing_days},
            ),
        }
        return render(request, "checkins/progress.html", ctx)

    # ------------------------------------------------------------------------------------------ export

    @get("/export", media_type=HTML, name="checkins:export_page")
    async def export_page(self, request: Request) -> Template:
        return render(request, "checkins/export.html", {})

    @get("/export.csv", name="checkins:export_csv")
    async def export_csv(self, request: Request, db_session: DbSession) -> Response[bytes]:
        user: User = request.user
        assert user.id is not None
        body = b"".join([chunk async for chunk in csv_chunks(db_session, user.id)])
        return download(body, "text/csv; charset=utf-8", f"steady-{dates.local_today(user)}.csv")

    @get("/export.zip", name="checkins:export_zip")
    async def export_zip(self, request: Request, db_session: DbSession) -> Response[bytes]:
        user: User = request.user
        body = await export_zip_bytes(db_session, user, request.app.state.get(EXPORT_SECTIONS_KEY, ()))
        return download(body, "application/zip", f"steady-{dates.local_today(user)}.zip")

    @get("/export.json", name="checkins:export_json")
    async def export_json(self, request: Request, db_session: DbSession) -> Response[bytes]:
        user: User = request.user
        body = await export_json_bytes(db_session, user, request.app.state.get(EXPORT_SECTIONS_KEY, ()))
        return download(body, "application/json", f"steady-{dates.local_today(user)}.json")
