"""The patient's questionnaire pages: one item per screen, saved as they go (resume later), finished exactly once
(offline replays included), the item-9 safety page before any score, results in kind words with a trend.

Without JavaScript every screen is a form POST that saves the answer and redirects to the next item. With it,
static/js/questionnaire.js moves between the items on the phone and posts the whole questionnaire at the end (so
the offline queue can keep it); it also saves each answer in the background when it can.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.response import Response as LitestarResponse
from litestar.response import Template
from sqlalchemy import select
from sqlmodel import col

from server.accounts.guards import patient_only
from server.accounts.models import Clinic, User
from server.crisis import logic as crisis_logic
from server.crisis.models import PLAN_SECTIONS
from server.db import DbSession, get_owned_or_404, utcnow
from server.i18n import gettext as _
from server.localtime import local_today
from server.questionnaires import charts, service, words
from server.questionnaires.instruments import Instrument, all_instruments, get_instrument
from server.questionnaires.models import Response
from server.web.forms import form_values
from server.web.replay import is_replay, recorded
from server.web.responses import download, redirect_to, render, url

FIELD_MAX = 80


def _instrument_or_404(code: str) -> Instrument:
    instrument = get_instrument(code)
    if instrument is None:
        raise NotFoundException()
    return instrument


def _parse_client_time(raw: str, now: datetime) -> datetime | None:
    if not raw or len(raw) > FIELD_MAX:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None or not 2000 <= moment.year <= 2999:
        return None
    return min(moment, now)


async def _draft_by_key(db: Any, user: User, key: str) -> Response | None:
    return await db.scalar(
        select(Response).where(col(Response.user_id) == user.id, col(Response.idempotency_key) == key)
    )


def _offline_page(response: Template) -> Template:
    response.headers["X-Steady-Offline"] = "page"
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def offline_urls() -> list[str]:
    """Pages the More page's offline switch keeps: each questionnaire's screen."""
    return [f"/questionnaires/{code}" for code in all_instruments()]


EXPORT_FIELDS = (
    "id", "instrument", "instrument_version", "status", "local_date", "due_on", "answers", "total", "score",
    "started_at", "completed_at", "client_created_at", "shared_once_at", "shared_once_wording", "followed_up_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def export_rows(db: Any, user: User) -> list[dict[str, Any]]:
    """Every questionnaire answer this person gave, finished or not, oldest first."""
    rows = await db.scalars(
        select(Response).where(col(Response.user_id) == user.id).order_by(col(Response.started_at), col(Response.id))
    )
    return [{f: _plain(getattr(r, f)) for f in EXPORT_FIELDS} for r in rows]


async def export_section(db: Any, user: User) -> dict[str, Any]:
    """For the patient's JSON export (server/checkins/export.py sections)."""
    return {"questionnaires": await export_rows(db, user)}


async def today_context(db: Any, user: User) -> dict[str, Any]:
    """Context for questionnaires/_today_panel.html: what is due now."""
    return {"questionnaires_due": await service.due_for(db, user)}


class QuestionnaireController(Controller):
    path = "/questionnaires"
    guards = [patient_only]

    # -- the list, the trend ---------------------------------------------------------------------------------

    async def _results_context(self, db: Any, user: User) -> dict[str, Any]:
        assert user.id is not None
        rows = await service.completed(db, user.id)
        trends = []
        for code, instrument in all_instruments().items():
            mine = [r for r in rows if r.instrument == code]
            if not mine:
                continue
            trends.append(
                {
                    "instrument": instrument,
                    "latest": mine[0],
                    "chart": charts.trend_chart(instrument, list(reversed(mine)), chart_id=f"trend-{code}"),
                }
            )
        return {"trends": trends, "results": rows[:30], "instruments": all_instruments()}

    @get("/", media_type=MediaType.HTML, name="questionnaires:index")
    async def index(self, request: Request, db_session: DbSession) -> Template:
        user: User = request.user
        context = {
            "due": await service.due_for(db_session, user),
            "schedules": await service.schedules_for(db_session, user),
            **(await self._results_context(db_session, user)),
        }
        return render(request, "questionnaires/index.html", context)

    @get("/answers.csv", name="questionnaires:answers_csv")
    async def answers_csv(self, request: Request, db_session: DbSession) -> LitestarResponse[bytes]:
        """Every answer, one row per questionnaire (items as columns), for the patient's own download."""
        user: User = request.user
        rows = await export_rows(db_session, user)
        item_ids = list(dict.fromkeys(i.id for ins in all_instruments().values() for i in ins.items))
        out = io.StringIO()
        writer = csv.writer(out)
        head = ["id", "instrument", "status", "local_date", "total", "started_at", "completed_at"]
        writer.writerow([*head, *(f"item_{i}" for i in item_ids)])
        for row in rows:
            answers = row["answers"] or {}
            writer.writerow(
                [row[h] if row[h] is not None else "" for h in head] + [answers.get(i, "") for i in item_ids]
            )
        content = ("\ufeff" + out.getvalue()).encode("utf-8")
        return download(content, "text/csv; charset=utf-8", f"steady-questionnaires-{local_today(user)}.csv")

    @get("/panel", media_type=MediaType.HTML, name="questionnaires:progress_panel")
    async def progress_panel(self, request: Request, db_session: DbSession) -> Template:
        """The trend on Progress (loaded into the Progress page; its no-script link opens /questionnaires)."""
        return render(
            request, "questionnaires/_progress_panel.html", await self._results_context(db_session, request.user)
        )

    # -- answering -------------------------------------------------------------------------------------------

    async def _answer_page(
        self,
        request: Request,
        db: Any,
        instrument: Instrument,
        draft: Response,
        step: int,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        answers = instrument.clean(draft.answers or {})
        asked = instrument.asked(answers)
        step = max(0, min(step, len(asked) - 1))
        context = {
            "instrument": instrument,
            "items": instrument.items,
            "asked_ids": [i.id for i in asked],
            "current": asked[step],
            "step": step,
            "total": len(asked),
            "answers": answers,
            "key": draft.idempotency_key,
            "errors": errors or {},
        }
        page = render(request, "questionnaires/answer.html", context, status_code=status_code)
        return _offline_page(page) if status_code == 200 else page

    @get("/{code:str}", media_type=MediaType.HTML, name="questionnaires:answer")
    async def answer(self, request: Request, db_session: DbSession, code: str, item: int | None = None) -> Template:
        instrument = _instrument_or_404(code)
        user: User = request.user
        due = [d for d in await service.due_for(db_session, user) if d.instrument.code == code]
        draft = await service.draft_for(db_session, user, instrument, due[0].due_on if due else None, create=False)
        if item is None:  # resume at the first unanswered item
            asked = instrument.asked(instrument.clean(draft.answers or {}))
            missing = instrument.missing(draft.answers or {})
            item = asked.index(missing[0]) if missing else 0
        return await self._answer_page(request, db_session, instrument, draft, item)

    @post("/{code:str}", media_type=MediaType.HTML, name="questionnaires:submit")
    async def submit(self, request: Request, db_session: DbSession, code: str) -> Any:
        instrument = _instrument_or_404(code)
        user: User = request.user
        assert user.id is not None
        raw = await form_values(request)
        answers, errors = service.parse_answers(instrument, raw)
        go = str(raw.get("go") or "next")
        key = str(raw.get("idempotency_key") or raw.get("draft_key") or "")
        try:
            step = max(0, min(int(str(raw.get("step") or 0)), 100))
        except ValueError:
            step = 0
        if len(key) > service.KEY_MAX:
            key = ""
        # The draft this screen belongs to: the one with its key, else the person's open draft.
        draft = await _draft_by_key(db_session, user, key) if key else None
        if (draft is not None and draft.status == "complete") or (draft is None and key and go == "finish"):
            return await self._finish(request, db_session, user, instrument, answers, key, raw)
        if draft is None or draft.instrument != code:
            draft = await service.draft_for(db_session, user, instrument, None, key=key if draft is None else "")
        if errors:
            return await self._answer_page(request, db_session, instrument, draft, step, errors=errors, status_code=422)
        await service.save_draft(db_session, draft, instrument, answers)
        if raw.get("draft_key") and not raw.get("idempotency_key"):
            return LitestarResponse(content=b"", status_code=204, headers={"Cache-Control": "no-store"})
        merged = instrument.clean(draft.answers or {})
        asked = instrument.asked(merged)
        step = min(step, len(asked) - 1)
        current = asked[step]
        if go == "back":
            return redirect_to(request, "questionnaires:answer", f"?item={max(step - 1, 0)}", code=code)
        if merged.get(current.id) is None and not current.optional:
            return await self._answer_page(
                request,
                db_session,
                instrument,
                draft,
                step,
                errors={f"a_{current.id}": str(_("Please choose one of the answers."))},
                status_code=422,
            )
        if go != "finish" and step + 1 < len(asked) and not is_replay(request):
            return redirect_to(request, "questionnaires:answer", f"?item={step + 1}", code=code)
        return await self._finish(request, db_session, user, instrument, answers, draft.idempotency_key, raw)

    async def _finish(
        self,
        request: Request,
        db: Any,
        user: User,
        instrument: Instrument,
        answers: dict[str, int],
        key: str,
        raw: dict[str, Any],
    ) -> Any:
        now = utcnow()
        client_time = _parse_client_time(str(raw.get("client_created_at") or ""), now)
        outcome = await service.complete(db, user, instrument, answers, key, client_created_at=client_time, now=now)
        if outcome.missing:
            draft = await _draft_by_key(db, user, key)
            if draft is None or draft.status != "draft":
                draft = await service.draft_for(db, user, instrument, None)
                await service.save_draft(db, draft, instrument, answers)
            asked = [i.id for i in instrument.asked(instrument.clean(draft.answers or {}))]
            first = outcome.missing[0]
            return await self._answer_page(
                request,
                db,
                instrument,
                draft,
                asked.index(first) if first in asked else 0,
                errors={f"a_{first}": str(_("Please choose one of the answers."))},
                status_code=422,
            )
        if outcome.response is None:
            draft = await service.draft_for(db, user, instrument, None)
            return await self._answer_page(request, db, instrument, draft, 0, errors=outcome.errors, status_code=422)
        row = outcome.response
        target = url(request, "questionnaires:support" if row.safety else "questionnaires:result", response_id=row.id)
        return recorded(request, row.idempotency_key, target)

    # -- results ---------------------------------------------------------------------------------------------

    async def _own_result(self, db: Any, user: User, response_id: int) -> tuple[Response, Instrument]:
        assert user.id is not None
        row = await get_owned_or_404(db, Response, response_id, user.id)
        instrument = get_instrument(row.instrument)
        if row.status != "complete" or instrument is None:
            raise NotFoundException()
        return row, instrument

    @get("/results/{response_id:int}", media_type=MediaType.HTML, name="questionnaires:result")
    async def result(self, request: Request, db_session: DbSession, response_id: int) -> Template:
        user: User = request.user
        row, instrument = await self._own_result(db_session, user, response_id)
        previous = await service.previous_of(db_session, row)
        change = service.change_between(previous, row)
        result = service.score_of(row)
        context = {
            "row": row,
            "instrument": instrument,
            "result": result,
            "summary": words.summary_sentence(result),
            "bam_lines": words.bam_sentences(result) if instrument.method == "subscales" else [],
            "band": words.band_label(result.band),
            "comparison": words.change_sentence(change, previous.local_date if previous else None)
            if instrument.method == "sum"
            else words.bam_previous_sentence(
                service.score_of(previous) if previous else None, previous.local_date if previous else None
            ),
            "day": words.day_text(row.local_date),
            "who_sees": await service.who_sees(db_session, user, row),
        }
        return render(request, "questionnaires/result.html", context)

    @get("/results/{response_id:int}/support", media_type=MediaType.HTML, name="questionnaires:support")
    async def support(self, request: Request, db_session: DbSession, response_id: int, shared: str = "") -> Template:
        """Shown before any score when item 9 is above 0: crisis help, the safety plan, who will see this."""
        user: User = request.user
        row, instrument = await self._own_result(db_session, user, response_id)
        if not row.safety:
            raise NotFoundException()
        clinic = await db_session.get(Clinic, user.clinic_id)
        assert user.id is not None
        context = {
            "row": row,
            "instrument": instrument,
            "who_sees": await service.who_sees(db_session, user, row),
            "therapists": await service.therapists_of(db_session, user),
            "clinic": clinic,
            "clinic_href": crisis_logic.CareContact(name="", phone=clinic.phone if clinic else "", role="clinic").href,
            "plan": await crisis_logic.get_plan(db_session, user.id),
            "contacts": await crisis_logic.care_contacts(db_session, user),
            "sections": PLAN_SECTIONS,
            "section_text": crisis_logic.SECTION_TEXT,
            "phone_parts": crisis_logic.phone_parts,
            "step_heading": "h3",
            "shared": shared == "1",
            "share_texts": {
                t.id: service.share_once_wording(user, t, row, user.locale)
                for t in await service.therapists_of(db_session, user)
            },
            "today": local_today(user, utcnow()),
            **(await crisis_logic.crisis_context(db_session, user)),
        }
        return render(request, "questionnaires/support.html", context)

    @post("/results/{response_id:int}/share", media_type=MediaType.HTML, name="questionnaires:share")
    async def share(self, request: Request, db_session: DbSession, response_id: int) -> Any:
        user: User = request.user
        row, _instrument = await self._own_result(db_session, user, response_id)
        raw = await form_values(request)
        try:
            therapist_id = int(str(raw.get("therapist_id") or ""))
        except ValueError:
            raise NotFoundException() from None
        if not row.safety or not await service.share_once(db_session, user, row, therapist_id):
            raise NotFoundException()
        return redirect_to(request, "questionnaires:support", "?shared=1", response_id=row.id)
