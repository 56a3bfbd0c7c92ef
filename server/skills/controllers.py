"""The patient's skill library: browse, open a card, practise it (offline too), favourites and history.

Routes (patients only, except the catalogue JSON):

* ``GET  /skills``                         assigned, favourites, helped most, recent, modules; ``?module=`` one
                                           module's cards, ``?q=`` search (htmx: the library region only)
* ``GET  /skills/catalogue.json``          the whole catalogue as compact JSON (public, cacheable)
* ``GET  /skills/history``                 my practices, newest first
* ``GET  /skills/practice/{id}``           one saved practice (the page after saving)
* ``GET  /skills/{card_id}``               the card (no personal data: the service worker may keep it)
* ``GET  /skills/{card_id}/mine``          my favourite switch and history for a card (htmx partial or page)
* ``POST /skills/{card_id}/practice``      save a practice (idempotent, queued offline)
* ``POST /skills/{card_id}/favourite``     set favourite on/off (``favourite=1|0``)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from server.accounts.guards import patient_only
from server.accounts.models import User
from server.db import DbSession, get_owned_or_404, utcnow
from server.i18n import gettext as _
from server.i18n import gettext as translate_text  # card text: a name Babel's extractor doesn't pick up
from server.skills import logic
from server.skills.catalogue import SkillCard, catalogue_json, default_catalogue
from server.skills.logic import localised, localised_module
from server.skills.models import NOTE_MAX, SkillFavourite, SkillPractice
from server.web.forms import read_form
from server.web.logging import get_logger
from server.web.replay import recorded
from server.web.responses import is_htmx, redirect, render, url

log = get_logger("skills")

_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# A phone clock may be off, and offline practices arrive late; beyond these bounds the server's clock wins.
_MAX_FUTURE = timedelta(hours=1)
_MAX_PAST = timedelta(days=60)
_MAX_ID = 2**31 - 1

OFFLINE_PUBLIC_HEADERS = {"X-Steady-Offline": "page", "X-Steady-Public": "1", "Cache-Control": "private, no-cache"}
OFFLINE_PERSONAL_HEADERS = {"X-Steady-Offline": "page", "Cache-Control": "private, no-cache"}


# --------------------------------------------------------------------------- forms


class PracticeForm(BaseModel):
    distress_before: int | None = Field(default=None, ge=0, le=10)
    distress_after: int | None = Field(default=None, ge=0, le=10)
    helped: Literal["yes", "somewhat", "no"] | None = None
    note: str = Field(default="", max_length=NOTE_MAX)
    started_at: datetime | None = None
    client_created_at: datetime | None = None
    idempotency_key: str | None = None

    @field_validator("idempotency_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is not None and not _KEY_RE.match(value):
            raise ValueError(_("This form is out of date. Please reload the page and try again."))
        return value

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return value.strip()


class FavouriteForm(BaseModel):
    favourite: bool = True
    next: str = ""


# --------------------------------------------------------------------------- helpers


def card_or_404(card_id: str) -> SkillCard:
    card = default_catalogue().by_id(card_id)
    if card is None:
        raise NotFoundException()
    return card


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # A phone that sends no offset is taken to mean UTC (our script always sends an ISO time with Z).
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is before datetime.min in UTC: a clock no phone has
        return None


def _sane(value: datetime | None, now: datetime) -> datetime | None:
    if value is None or value > now + _MAX_FUTURE or value < now - _MAX_PAST:
        return None
    return value


def _when(user: User) -> Callable[[datetime], str]:
    def when(moment: datetime) -> str:
        return logic.when_text(moment, user.timezone)

    return when


def _search_text(card: SkillCard) -> str:
    """What the in-page filter matches against (same fields as the server search)."""
    text = " ".join([card.title, *card.tags, card.use_when])
    return " ".join(text.casefold().replace("-", " ").split())


def _safe_next(target: str, fallback: str) -> str:
    # Only our own skills pages: never an open redirect.
    return target if target.startswith("/skills") and "//" not in target and "\\" not in target else fallback


def _same_answers(row: SkillPractice, form: PracticeForm, card_id: str) -> bool:
    return (
        row.card_id == card_id
        and row.distress_before == form.distress_before
        and row.distress_after == form.distress_after
        and row.helped == form.helped
        and row.note == form.note
    )


def _card_context(card: SkillCard, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    module = default_catalogue().module(card.module)
    return {
        "card": localised(card),
        "module": localised_module(module) if module else None,
        "values": values,
        "errors": errors,
        "timer_text": logic.timer_text(card.timer) if card.timer else "",
    }


def _card_page(card: SkillCard, values: dict[str, Any], errors: dict[str, str], request: Request) -> Template:
    return render(request, "skills/card.html", _card_context(card, values, errors), status_code=422)


# --------------------------------------------------------------------------- routes


class SkillsController(Controller):
    path = "/skills"
    # Guards sit on each handler (not here) so the generic catalogue JSON can stay public.

    @get("/", guards=[patient_only], name="skills:browse")
    async def browse(self, request: Request, db_session: DbSession, q: str = "", module: str = "") -> Template:
        user: User = request.user
        assert user.id is not None
        catalogue = default_catalogue()
        query = q.strip()[:80]
        chosen = catalogue.module(module[:40]) if module else None  # an unknown module shows them all
        context = await logic.library_context(db_session, user.id, query=query, module=chosen)
        context["search_text"] = {card.id: _search_text(card) for card in catalogue.cards}
        context["card_count"] = len(catalogue)
        context["oob"] = is_htmx(request)  # the search form's module field is refreshed out of band
        response = render(request, "skills/browse.html", context, partial="skills/_library.html")
        if not query:
            # Personal (favourites, assignments): kept offline only when the person turned offline use on.
            response.headers.update(OFFLINE_PERSONAL_HEADERS)
        return response

    @get("/catalogue.json", media_type="application/json", name="skills:catalogue_json")
    async def catalogue_json(self, request: Request) -> Response[bytes]:
        catalogue = default_catalogue()
        etag = f'"{catalogue.digest}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers, media_type="application/json")
        return Response(catalogue_json(catalogue), headers=headers, media_type="application/json")

    @get("/history", guards=[patient_only], name="skills:history")
    async def history(self, request: Request, db_session: DbSession) -> Template:
        user: User = request.user
        rows = await db_session.execute(
            select(SkillPractice)
            .where(col(SkillPractice.user_id) == user.id)
            .order_by(col(SkillPractice.started_at).desc(), col(SkillPractice.id).desc())
            .limit(100)
        )
        practices = list(rows.scalars())
        return render(
            request,
            "skills/history.html",
            {
                "practices": practices,
                "titles": {p.card_id: translate_text(logic.card_title(p.card_id)) for p in practices},
                "when": _when(user),
            },
        )

    @get("/practice/{practice_id:int}", guards=[patient_only], name="skills:practice_done")
    async def practice_done(self, request: Request, db_session: DbSession, practice_id: int) -> Template:
        user: User = request.user
        assert user.id is not None
        if not 0 < practice_id <= _MAX_ID:  # PostgreSQL would refuse the lookup outright
            raise NotFoundException()
        practice = await get_owned_or_404(db_session, SkillPractice, practice_id, user.id)
        card = default_catalogue().by_id(practice.card_id)
        return render(
            request,
            "skills/practice_done.html",
            {
                "practice": practice,
                "card": localised(card) if card else None,
                "title": translate_text(logic.card_title(practice.card_id)),
                "when": _when(user),
            },
        )

    @get("/{card_id:str}", guards=[patient_only], name="skills:card")
    async def card(self, request: Request, card_id: str) -> Template:
        card = card_or_404(card_id)
        # No personal data on this page (favourite state and history load separately), so the service worker
        # may keep it for anyone on this phone. The idempotency key is left blank: the page script makes a
        # fresh one each time the card opens, so a cached copy never reuses a key.
        response = render(request, "skills/card.html", _card_context(card, {}, {}))
        response.headers.update(OFFLINE_PUBLIC_HEADERS)
        return response

    @get("/{card_id:str}/mine", guards=[patient_only], name="skills:mine")
    async def mine(self, request: Request, db_session: DbSession, card_id: str) -> Template:
        card = card_or_404(card_id)
        user: User = request.user
        assert user.id is not None
        return render(
            request,
            "skills/mine.html",
            await self._mine_context(db_session, user, card),
            partial="skills/_mine.html",
        )

    async def _mine_context(self, db: Any, user: User, card: SkillCard) -> dict[str, Any]:
        user_id = user.id
        assert user_id is not None
        rows = await db.execute(
            select(SkillPractice)
            .where(col(SkillPractice.user_id) == user_id, col(SkillPractice.card_id) == card.id)
            .order_by(col(SkillPractice.started_at).desc(), col(SkillPractice.id).desc())
            .limit(3)
        )
        count = (
            await db.execute(
                select(func.count())
                .select_from(SkillPractice)
                .where(col(SkillPractice.user_id) == user_id, col(SkillPractice.card_id) == card.id)
            )
        ).scalar() or 0
        favourite = (
            await db.execute(
                select(col(SkillFavourite.id)).where(
                    col(SkillFavourite.user_id) == user_id,
                    col(SkillFavourite.card_id) == card.id,
                )
            )
        ).first() is not None
        assignments = [a for a in await logic.open_assignments(db, user_id) if a.card_id == card.id]
        return {
            "card": localised(card),
            "is_favourite": favourite,
            "practice_count": int(count),
            "recent_practices": list(rows.scalars()),
            "assignments": assignments,
            "when": _when(user),
            "date_text": logic.date_text,
        }

    @post("/{card_id:str}/favourite", guards=[patient_only], media_type=MediaType.HTML, name="skills:favourite")
    async def favourite(self, request: Request, db_session: DbSession, card_id: str) -> Any:
        card = card_or_404(card_id)
        user: User = request.user
        assert user.id is not None
        result = await read_form(request, FavouriteForm)
        want = result.data.favourite if result.data is not None else True
        existing = (
            await db_session.execute(
                select(SkillFavourite).where(
                    col(SkillFavourite.user_id) == user.id,
                    col(SkillFavourite.card_id) == card.id,
                )
            )
        ).scalar_one_or_none()
        if want and existing is None:
            db_session.add(SkillFavourite(user_id=user.id, card_id=card.id))
            try:
                await db_session.flush()
            except IntegrityError:
                # A double tap from two tabs: the other request already starred it.
                await db_session.rollback()
        elif not want and existing is not None:
            await db_session.delete(existing)
            await db_session.flush()
        fallback = url(request, "skills:mine", card_id=card.id)
        target = _safe_next(str(result.values.get("next") or ""), fallback)
        if is_htmx(request):
            return render(
                request,
                "skills/mine.html",
                await self._mine_context(db_session, user, card),
                partial="skills/_mine.html",
            )
        return redirect(request, target)

    @post("/{card_id:str}/practice", guards=[patient_only], media_type=MediaType.HTML, name="skills:practice")
    async def practice(self, request: Request, db_session: DbSession, card_id: str) -> Any:
        card = card_or_404(card_id)
        user: User = request.user
        assert user.id is not None
        result = await read_form(request, PracticeForm)
        if not result.ok:
            return _card_page(card, result.values, result.errors, request)
        form = result.data
        assert form is not None

        key = form.idempotency_key or uuid.uuid4().hex  # without the page script there is nothing to replay
        existing = await self._by_key(db_session, user.id, key)
        if existing is not None:
            return self._replayed(request, existing, form, card, result.values)

        now = utcnow()
        ended = _sane(_utc(form.client_created_at), now) or now
        started = _sane(_utc(form.started_at), now) or ended
        started = min(started, ended)
        practice = SkillPractice(
            user_id=user.id,
            card_id=card.id,
            started_at=started,
            ended_at=ended,
            distress_before=form.distress_before,
            distress_after=form.distress_after,
            helped=form.helped,
            note=form.note,
            idempotency_key=key,
            created_at=now,
        )
        db_session.add(practice)
        try:
            await db_session.flush()
        except IntegrityError:
            # The same submission arrived twice at once (a replay racing the original): keep the first.
            await db_session.rollback()
            existing = await self._by_key(db_session, user.id, key)
            if existing is None:
                raise
            return self._replayed(request, existing, form, card, result.values)
        completed = await logic.complete_assignments(db_session, practice)
        log.info("skill practice saved", extra={"completed_assignments": completed})
        return recorded(request, key, url(request, "skills:practice_done", practice_id=practice.id))

    async def _by_key(self, db: Any, user_id: int, key: str) -> SkillPractice | None:
        return (
            await db.execute(
                select(SkillPractice).where(
                    col(SkillPractice.user_id) == user_id,
                    col(SkillPractice.idempotency_key) == key,
                )
            )
        ).scalar_one_or_none()

    def _replayed(
        self, request: Request, existing: SkillPractice, form: PracticeForm, card: SkillCard, values: dict[str, Any]
    ) -> Any:
        if _same_answers(existing, form, card.id):
            return recorded(
                request,
                existing.idempotency_key,
                url(request, "skills:practice_done", practice_id=existing.id),
            )
        message = _(
            "This practice was already saved with different answers, and those were kept. "
            "To save these answers as a new practice, press Save again."
        )
        # A fresh key (made by the page script) lets the person save these answers as a new practice.
        return _card_page(card, {**values, "idempotency_key": ""}, {"__all__": message}, request)
